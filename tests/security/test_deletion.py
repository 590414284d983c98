"""Deleting a person deletes their biometric data for real: read from the tables.

Images and embeddings go at once; sightings go too by default
(DELETE_EVENTS_WITH_PERSON=true) or stay as history, without their face crops, when the
operator chose so; the
classifier stops naming them at once and the next release no longer knows them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import func, select

from api.db.schema import face_embeddings, face_images, recognition_events, sighting_faces
from api.recognition.release import CURRENT_LINK, RELEASE_FILE
from tests.security.lfw import LfwPerson, enrol_person, largest_face, lfw_people, recognize, train
from tests.security.server import SecuredServer
from tests.security.tally import SecurityReport

CAMERA = "deletion-cam"


def biometric_rows(server: SecuredServer, person: LfwPerson, face_ids: list[int]) -> dict:
    """What the database still holds of `person`, found by id, face id and image hash."""
    hashes = [hashlib.sha256(path.read_bytes()).hexdigest() for path in person.enrol]
    theirs = recognition_events.c.person_id == person.person_id
    with server.engine.connect() as conn:

        def count(table, condition) -> int:
            return int(
                conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
            )

        return {
            "images": count(face_images, face_images.c.person_id == person.person_id),
            "images_by_hash": count(face_images, face_images.c.image_sha256.in_(hashes)),
            "embeddings": count(face_embeddings, face_embeddings.c.face_id.in_(face_ids)),
            "events": count(recognition_events, theirs),
            "sighting_faces": count(
                sighting_faces,
                sighting_faces.c.event_id.in_(select(recognition_events.c.event_id).where(theirs)),
            ),
        }


def release_labels(server: SecuredServer) -> list[str]:
    current = server.folder / "models" / CURRENT_LINK
    return json.loads((current / RELEASE_FILE).read_text(encoding="utf-8"))["labels"]


def sighted(server: SecuredServer, person: LfwPerson, times: int) -> None:
    for probe in person.probes[:times]:
        face = largest_face(recognize(server, probe, camera_id=CAMERA))
        assert face["person_id"] == person.person_id


def test_deletion_removes_images_embeddings_events_and_the_next_release_entry(
    secured: SecuredServer, security_report: SecurityReport
) -> None:
    gone, kept = lfw_people(2, 3, first=0)
    gone_faces = enrol_person(secured, gone)
    kept_faces = enrol_person(secured, kept)
    sighted(secured, gone, 2)
    assert train(secured)["status"] == "succeeded"
    assert gone.person_id in release_labels(secured)
    before = biometric_rows(secured, gone, gone_faces)
    assert before == {
        "images": 3,
        "images_by_hash": 3,
        "embeddings": 3,
        "events": 2,
        "sighting_faces": 2,
    }

    assert secured.call("DELETE", f"/api/v1/people/{gone.person_id}").status_code == 204

    after = biometric_rows(secured, gone, gone_faces)
    assert after == dict.fromkeys(before, 0)
    assert biometric_rows(secured, kept, kept_faces)["embeddings"] == 3
    # The live release still holds a row for them, but nobody is named without their
    # enrolled faces to confirm it; the next release does not know them at all.
    answer = recognize(secured, gone.probes[2])
    assert largest_face(answer)["person_id"] is None
    assert all(c["person_id"] != gone.person_id for c in largest_face(answer)["candidates"])
    assert train(secured)["status"] == "succeeded"
    assert release_labels(secured) == [kept.person_id]
    security_report.record_deletion(
        "DELETE_EVENTS_WITH_PERSON=true (default); the next release lists only the others",
        before,
        after,
    )


def test_deletion_can_keep_sightings_as_history(
    two_workers: SecuredServer, security_report: SecurityReport
) -> None:
    (person,) = lfw_people(1, 3, first=5)
    face_ids = enrol_person(two_workers, person)
    sighted(two_workers, person, 2)
    before = biometric_rows(two_workers, person, face_ids)
    assert two_workers.call("DELETE", f"/api/v1/people/{person.person_id}").status_code == 204
    after = biometric_rows(two_workers, person, face_ids)
    assert after == {
        "images": 0,
        "images_by_hash": 0,
        "embeddings": 0,
        "events": 2,
        "sighting_faces": 0,
    }
    history = two_workers.call("GET", "/api/v1/events", params={"person_id": person.person_id})
    assert history.json()["total"] == 2
    security_report.record_deletion(
        "DELETE_EVENTS_WITH_PERSON=false: sightings kept (time, camera, box, scores, ID), "
        "their faces deleted",
        before,
        after,
    )


def _bytes_left_on_disk(folder: Path, images: list[bytes]) -> int:
    """How many 48-byte windows of the images are still in the SQLite files (db + WAL)."""
    disk = b"".join(path.read_bytes() for path in folder.glob("facerec.sqlite3*"))
    windows = [image[at : at + 48] for image in images for at in range(1000, len(image), 1500)]
    return sum(window in disk for window in windows)


def test_deleted_images_leave_no_bytes_in_the_sqlite_files(two_workers: SecuredServer) -> None:
    (person,) = lfw_people(1, 3, first=6)
    enrol_person(two_workers, person)
    images = [path.read_bytes() for path in person.enrol]
    assert _bytes_left_on_disk(two_workers.folder, images) > 0  # the check sees them
    assert two_workers.call("DELETE", f"/api/v1/people/{person.person_id}").status_code == 204
    assert _bytes_left_on_disk(two_workers.folder, images) == 0
