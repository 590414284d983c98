"""A worker's gallery follows changes through the change log, on the real databases.

Every change goes through the API's own data functions (add_faces, delete_face,
delete_person, reembed_all); after each one the delta-applied index must hold exactly
what a full reload holds, found without that reload.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine, select, update

import api.db.gallery as db_gallery
from api.db.gallery import load_delta, load_snapshot
from api.db.people import NewFace, add_faces, create_person, delete_face, delete_person
from api.db.schema import gallery_changes, gallery_state
from api.recognition.classifier import LinearClassifier
from api.recognition.gallery import Gallery, GalleryIndex
from api.recognition.matcher import identify
from api.recognition.release import Release
from api.training import TrainingContext, reembed_all
from api.vision import Face

DIM = 16
EMBEDDER = "facenet128"


def unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@cache
def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 90, 60)).save(out, format="PNG")
    return out.getvalue()


def enrol(engine: Engine, person: str, vectors: np.ndarray, new: bool = True) -> list[int]:
    faces = [
        NewFace(tiny_png(), "png", "0" * 64, 8, 8, (0.0, 0.0, 8.0, 8.0), 1.0, vector)
        for vector in vectors
    ]
    with engine.begin() as conn:
        if new:
            create_person(conn, person, person)
        return add_faces(conn, person, EMBEDDER, faces)


class Worker:
    """One API worker's Gallery, refreshed as services.gallery_index does, counting reloads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.gallery = Gallery(DIM)
        self.reloads = 0
        self.deltas: list[int] = []  # rows re-read by each delta

    def refresh(self) -> GalleryIndex:
        def load() -> db_gallery.GallerySnapshot:
            self.reloads += 1
            return load_snapshot(conn, EMBEDDER, DIM)

        def changes(since: int) -> db_gallery.GalleryDelta | None:
            delta = load_delta(conn, since, EMBEDDER, DIM)
            if delta is not None:
                self.deltas.append(delta.rows.size)
            return delta

        with self.engine.connect() as conn:
            return self.gallery.current(db_gallery.current_version(conn), load, changes)


def fresh(engine: Engine) -> GalleryIndex:
    with engine.connect() as conn:
        return GalleryIndex.build(load_snapshot(conn, EMBEDDER, DIM))


def by_person(index: GalleryIndex) -> dict[str, dict[int, bytes]]:
    """Each person's faces (id -> vector bytes), read through the index's own blocks."""
    snap, starts = index.snapshot, index.segments.starts
    out = {}
    for i, person in enumerate(index.segments.people):
        rows = range(starts[i], starts[i + 1])
        assert all(snap.person_ids[r] == person for r in rows), "block holds another's row"
        ids = snap.face_ids[starts[i] : starts[i + 1]]
        assert list(ids) == sorted(ids), "block not in face id order"
        out[person] = {int(snap.face_ids[r]): snap.vectors[r].tobytes() for r in rows}
    return out


def assert_same(delta_applied: GalleryIndex, reloaded: GalleryIndex, probes: np.ndarray) -> None:
    assert delta_applied.version == reloaded.version
    assert delta_applied.snapshot.size == len(delta_applied.snapshot.person_ids)
    assert len(delta_applied.segments.starts) == delta_applied.people_count + 1
    assert by_person(delta_applied) == by_person(reloaded)
    for probe in probes:
        got = delta_applied.view(None).best_untrained(probe, 5)
        want = reloaded.view(None).best_untrained(probe, 5)
        assert [p for p, _ in got] == [p for p, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-6)
        for person in reloaded.segments.people:
            assert delta_applied.person_similarity(probe, person) == pytest.approx(
                reloaded.person_similarity(probe, person), abs=1e-6
            )


class FakeAnalyzer:
    """The models, replaced: re-embedding needs a face and a new vector, not their quality."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.embedder = SimpleNamespace(name=EMBEDDER)
        self.rng = rng

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return [Face((0.0, 0.0, 8.0, 8.0), 1.0, ())]

    def embed_faces(self, rgb: np.ndarray, faces: list[Face]) -> list[SimpleNamespace]:
        return [SimpleNamespace(embedding=unit(self.rng, 1)[0])]


def reembed(engine: Engine, rng: np.random.Generator) -> None:
    """Full training's re-embedding: every stored face gets a new vector."""
    context = TrainingContext(
        engine=engine,
        analyzer=FakeAnalyzer(rng),  # type: ignore[arg-type]
        model_dir=Path("/nonexistent"),
        threshold=0.5,
        keep_releases=1,
        max_image_pixels=10**6,
        threads=1,
    )
    reembed_all(context, lambda _: None)


def test_each_change_is_applied_as_a_delta_equal_to_a_full_reload(engine: Engine) -> None:
    rng = np.random.default_rng(0)
    probes = unit(rng, 12)
    ids = {f"p{i:02d}": enrol(engine, f"p{i:02d}", unit(rng, 1 + i % 3)) for i in range(20)}
    worker = Worker(engine)
    first = worker.refresh()
    assert_same(first, fresh(engine), probes)
    assert worker.reloads == 1  # the first load is a full one
    held = by_person(first)  # what a request that took this index keeps seeing

    steps: list[Callable[[], object]] = [
        lambda: enrol(engine, "newcomer", unit(rng, 5)),
        lambda: enrol(engine, "p03", unit(rng, 2), new=False),  # re-enrolment: mid-gallery
        lambda: delete_in(engine, lambda c: delete_face(c, "p05", ids["p05"][0])),  # 1st face
        lambda: delete_in(engine, lambda c: delete_person(c, "p07", delete_events=False)),
        lambda: delete_in(engine, lambda c: delete_face(c, "p00", ids["p00"][0])),  # last face
        lambda: reembed(engine, rng),  # full training: every vector replaced
    ]
    for step in steps:
        step()
        index = worker.refresh()
        assert_same(index, fresh(engine), probes)
    assert worker.reloads == 1
    assert worker.deltas[:5] == [5, 2, 0, 0, 0]  # only the changed faces were read
    assert by_person(first) == held and first.version < index.version
    assert not index.has_person("p07") and not index.has_person("p00")
    assert index.has_person("newcomer")

    # Several versions at once (a worker that served no request meanwhile).
    enrol(engine, "late", unit(rng, 3))
    delete_in(engine, lambda c: delete_person(c, "newcomer", delete_events=False))
    enrol(engine, "p03", unit(rng, 1), new=False)
    assert_same(worker.refresh(), fresh(engine), probes)
    assert worker.reloads == 1 and worker.deltas[-1] == 4


def delete_in(engine: Engine, change: Callable) -> None:
    with engine.begin() as conn:
        assert change(conn)


def test_deleted_person_is_never_named_and_a_newcomer_is_at_once(engine: Engine) -> None:
    rng = np.random.default_rng(1)
    alice, bob = unit(rng, 3), unit(rng, 3)
    enrol(engine, "alice", alice)
    enrol(engine, "bob", bob)
    worker = Worker(engine)
    worker.refresh()
    labels = ("alice", "bob")
    classifier = LinearClassifier(labels, np.zeros((2, DIM), np.float32), np.zeros(2), 1.0)
    release = Release("r1", EMBEDDER, 0.5, "now", classifier, 6)  # trained before the changes
    delete_in(engine, lambda c: delete_person(c, "bob", delete_events=False))
    carol = unit(rng, 2)
    enrol(engine, "carol", carol)
    index = worker.refresh()
    assert worker.reloads == 1
    assert identify(bob[0], release, index, threshold=0.9, top_k=3).person_id is None
    match = identify(carol[1], release, index, threshold=0.9, top_k=3)
    assert match.person_id == "carol"
    assert all(candidate.person_id != "bob" for candidate in match.candidates)


def test_a_worker_the_log_no_longer_covers_reloads_in_full(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_gallery, "KEEP_VERSIONS", 2)
    rng = np.random.default_rng(2)
    enrol(engine, "a", unit(rng, 2))
    worker = Worker(engine)
    worker.refresh()
    for name in ("b", "c", "d"):  # three versions: the first of them is pruned
        enrol(engine, name, unit(rng, 2))
    assert_same(worker.refresh(), fresh(engine), unit(rng, 4))
    assert worker.reloads == 2 and worker.deltas == []

    enrol(engine, "e", unit(rng, 1))  # within the bound again: a delta
    worker.refresh()
    assert worker.reloads == 2 and worker.deltas == [1]


def test_a_version_bumped_without_a_log_row_forces_a_full_reload(engine: Engine) -> None:
    """What a pod of the previous release does during a rolling upgrade."""
    rng = np.random.default_rng(3)
    enrol(engine, "a", unit(rng, 2))
    worker = Worker(engine)
    worker.refresh()
    enrol(engine, "b", unit(rng, 2))
    with engine.begin() as conn:
        conn.execute(update(gallery_state).values(version=gallery_state.c.version + 1))
    assert_same(worker.refresh(), fresh(engine), unit(rng, 4))
    assert worker.reloads == 2 and worker.deltas == []


def test_a_large_change_is_read_by_a_full_reload(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_gallery, "MAX_DELTA_FACES", 4)
    rng = np.random.default_rng(4)
    enrol(engine, "a", unit(rng, 2))
    worker = Worker(engine)
    worker.refresh()
    enrol(engine, "b", unit(rng, 5))
    assert_same(worker.refresh(), fresh(engine), unit(rng, 4))
    assert worker.reloads == 2 and worker.deltas == []


def test_the_log_stays_bounded(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_gallery, "KEEP_VERSIONS", 3)
    rng = np.random.default_rng(5)
    for i in range(8):
        enrol(engine, f"p{i}", unit(rng, 2))
    with engine.connect() as conn:
        versions = set(conn.execute(select(gallery_changes.c.version)).scalars())
    assert sorted(versions) == [6, 7, 8]


def test_new_people_are_appended_in_place_and_older_indexes_stay_intact(engine: Engine) -> None:
    rng = np.random.default_rng(6)
    probes = unit(rng, 6)
    enrol(engine, "a", unit(rng, 3))
    worker = Worker(engine)
    worker.refresh()
    enrol(engine, "a", unit(rng, 1), new=False)
    copied = worker.refresh()  # a block changed: a new matrix, with room after it
    held = by_person(copied)
    enrol(engine, "b", unit(rng, 2))
    appended = worker.refresh()
    assert np.shares_memory(appended.snapshot.vectors, copied.snapshot.vectors)
    assert_same(appended, fresh(engine), probes)
    assert by_person(copied) == held and not copied.has_person("b")

    # The room after `copied` is taken: applying to it again must not write there.
    enrol(engine, "c", unit(rng, 2))
    after_appended = by_person(appended)
    with engine.connect() as conn:
        delta = load_delta(conn, copied.version, EMBEDDER, DIM)
    assert delta is not None
    again = copied.apply(delta)
    assert not np.shares_memory(again.snapshot.vectors, appended.snapshot.vectors)
    assert_same(again, fresh(engine), probes)
    assert by_person(appended) == after_appended and by_person(copied) == held
