"""Grouping and its job without the models: stable ids, the re-grouping pass under its
lease on SQLite and MariaDB, and the negative-face rule of corrections."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine, select

from api.corrections.negatives import NegativeIndex, with_negatives
from api.db.corrections import NegativeSnapshot
from api.db.engine import utcnow
from api.db.events import NewEvent
from api.db.gallery import GallerySnapshot
from api.db.schema import recognition_events
from api.db.sightings import NewSightingFace
from api.recognition.gallery import GalleryIndex
from api.recognition.matcher import identify
from api.sightings.record import record_sightings
from api.unknowns.grouping import cluster, stable_ids
from api.unknowns.regroup import regroup
from api.unknowns.worker import RegroupWorker

DIM = 16


def unit(rng: np.random.Generator, centre: np.ndarray, noise: float) -> np.ndarray:
    vector = centre + rng.normal(scale=noise, size=DIM)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_ids_stay_with_members() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    assert stable_ids(["a", "a", "a", "b", "b"], labels) == ["a", "a", "a", "b", "b"]
    # Two groups of one stranger: the larger group's id stays.
    assert stable_ids(["a", "a", "b", "a", "b"], np.zeros(5, int)) == ["a"] * 5
    # A tie goes to the smaller id, whichever worker decides.
    assert stable_ids(["b", "a", "a", "b"], np.zeros(4, int)) == ["a"] * 4
    # A split: the larger part keeps the id, the other gets a new one; new members join.
    ids = stable_ids(["a", "a", "a", "a", None], np.array([0, 0, 0, 1, 1]))
    assert ids[:3] == ["a"] * 3 and ids[3] == ids[4] and ids[3] not in ("a", None)


def test_cluster_separates_and_joins() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, DIM))
    vectors = np.stack([unit(rng, centres[i % 3], 0.1) for i in range(12)])
    labels = cluster(vectors, 0.55)
    assert len(set(labels)) == 3
    assert all(labels[i] == labels[i % 3] for i in range(12))


def store(engine: Engine, vectors: list[np.ndarray], unknown_ids: list[str]) -> list[int]:
    now = utcnow()
    events = [
        NewEvent(now, "cam", None, None, None, None, (0, 0, 9, 9), None, 0.9, unknown_id)
        for unknown_id in unknown_ids
    ]
    faces = [NewSightingFace(b"jpeg", "test", v) for v in vectors]
    with engine.begin() as conn:
        return record_sightings(conn, events, faces)


def test_regrouping_merges_two_workers_groups_once_under_the_lease(
    engine: Engine,
) -> None:
    rng = np.random.default_rng(2)
    stranger, other = rng.normal(size=DIM), rng.normal(size=DIM)
    # Two workers each started a group for the stranger; a second stranger alone.
    ids = store(
        engine,
        [unit(rng, stranger, 0.1) for _ in range(5)] + [unit(rng, other, 0.1) for _ in range(2)],
        ["u-first"] * 3 + ["u-second"] * 2 + ["u-other"] * 2,
    )

    def run():
        return regroup(engine, "test", DIM, 0.2, 0.55, 5000)

    first = RegroupWorker(run, engine, 60, owner="pod-a:1")
    second = RegroupWorker(run, engine, 60, owner="pod-b:1")
    result = first.run_once()
    assert result is not None and result.changed == 2 and result.groups == 2
    assert second.run_once() is None  # the lease is held until the next run is due
    with engine.connect() as conn:
        groups = dict(
            conn.execute(
                select(recognition_events.c.event_id, recognition_events.c.unknown_id)
            ).all()
        )
    assert [groups[e] for e in ids] == ["u-first"] * 5 + ["u-other"] * 2
    assert first.run_once().changed == 0  # the holder again: nothing moves


def test_negative_face_refuses_only_what_is_closer_to_it() -> None:
    rng = np.random.default_rng(3)
    person, stranger = rng.normal(size=DIM), rng.normal(size=DIM)
    enrolled = np.stack([unit(rng, person, 0.3) for _ in range(3)])
    index = GalleryIndex.build(
        GallerySnapshot(1, np.arange(3), ("p", "p", "p"), np.ascontiguousarray(enrolled))
    )
    wrongly_named = unit(rng, stranger, 0.05)
    negatives = NegativeIndex.build(NegativeSnapshot((1, 1), ("p",), wrongly_named[None, :]))
    near_copy = unit(rng, wrongly_named, 0.02)
    own_photo = unit(rng, person, 0.3)
    for probe, expected in ((wrongly_named, None), (near_copy, None), (own_photo, "p")):
        match = identify(probe, None, index, -1.0, top_k=3)
        assert match.person_id == "p"  # at this threshold everyone is p...
        decided, refused = with_negatives(match, probe, negatives, -1.0)
        assert decided.person_id == expected and refused == (expected is None)
