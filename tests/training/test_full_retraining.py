"""A full retraining never fails the whole job for one image and never drops a face
silently: every face it could not re-embed is named in the job's message with its reason,
keeps its earlier embedding where it has one of this embedder, and is left out otherwise.
Real gunicorn, real models, on SQLite and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, delete, select, update

from api.db.schema import face_embeddings, face_images
from tests.api.client import call, create_person, enrol, train
from tests.api.conftest import start_api
from tests.api.images import blank_png
from tests.databases import mariadb_database, sqlite_url
from tests.live_api import ApiProcess
from tests.shared_data import ident20_people


def _vectors(conn: Connection) -> dict[int, bytes]:
    return {row.face_id: row.vector for row in conn.execute(select(face_embeddings))}


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiProcess]:
    with ExitStack() as stack:
        url = sqlite_url(tmp_path) if request.param == "sqlite" else None
        url = url or stack.enter_context(mariadb_database())
        server = start_api(tmp_path, url, workers=1)
        stack.callback(server.stop)
        yield server


def test_faces_that_cannot_be_reembedded_are_reported_and_kept(api: ApiProcess) -> None:
    people = list(ident20_people().items())[:2]
    face_ids: list[int] = []
    for person, images in people:
        assert create_person(api.url, person).status_code == 201
        face_ids += [f["face_id"] for f in enrol(api.url, person, images[:3])["faces"]]
    assert len(face_ids) == 6
    faceless, undecodable, orphan = face_ids[0], face_ids[1], face_ids[3]
    engine = create_engine(api.env["DATABASE_URL"])
    try:
        with engine.begin() as conn:
            # A stored image MTCNN no longer finds a face in, one that no longer decodes,
            # and one whose embedding of this embedder is gone (as after an EMBEDDER change).
            for face_id, image in ((faceless, blank_png()), (orphan, blank_png()),
                                   (undecodable, b"\xff\xd8\xff not a jpeg any more")):  # fmt: skip
                conn.execute(
                    update(face_images).where(face_images.c.face_id == face_id).values(image=image)
                )
            conn.execute(delete(face_embeddings).where(face_embeddings.c.face_id == orphan))
            before = _vectors(conn)
        job = train(api.url, mode="full", timeout=300)
        assert job["status"] == "succeeded", job
        message = job["message"]
        assert message.startswith("3 of 6 faces not re-embedded: "), message
        owner = {face_ids[i]: people[i // 3][0] for i in range(6)}
        assert (
            f"face {faceless} of {owner[faceless]} (NO_FACE_FOUND: MTCNN no longer finds a face; "
            "its earlier facenet128 embedding kept)"
        ) in message
        assert f"face {undecodable} of {owner[undecodable]} (IMAGE_UNREADABLE: " in message
        assert (
            f"face {orphan} of {owner[orphan]} (NO_FACE_FOUND: MTCNN no longer finds a face; "
            "no facenet128 embedding: left out of this release)"
        ) in message
        with engine.connect() as conn:
            after = _vectors(conn)
        assert after[faceless] == before[faceless] and after[undecodable] == before[undecodable]
        assert orphan not in after
        reembedded = set(face_ids) - {faceless, undecodable, orphan}
        assert reembedded <= set(after)
        model = call("GET", f"{api.url}/api/v1/model").json()
        assert model["version"] == job["release_version"] and model["faces"] == 5
        assert job["faces"] == 5 and job["people"] == 2
    finally:
        engine.dispose()
