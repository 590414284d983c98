"""The per-worker search index over stored sightings, against a real database of each
kind: it follows new sightings incrementally, picks up an id that committed after a
higher one, drops deleted and purged sightings, and filters by camera and time."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, delete, insert

from api.db.events import NewEvent, add_events
from api.db.schema import recognition_events, sighting_faces
from api.db.sightings import NewSightingFace
from api.sightings.record import record_sightings
from api.sightings.search import SearchFilter, SightingIndex

DIM = 128
START = datetime(2026, 6, 1, 12, 0, 0)


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(vector: np.ndarray, seed: int) -> np.ndarray:
    noisy = vector + 0.05 * unit(seed)
    return (noisy / np.linalg.norm(noisy)).astype(np.float32)


def event_at(minutes: int, camera: str = "lobby") -> NewEvent:
    return NewEvent(
        captured_at=START + timedelta(minutes=minutes),
        camera_id=camera,
        location=None,
        person_id=None,
        confidence=0.0,
        similarity=0.0,
        box=(0, 0, 10, 10),
        model_version=None,
        quality=0.9,
    )


def store(engine: Engine, vector: np.ndarray, camera: str, minutes: int) -> int:
    event = event_at(minutes, camera)
    with engine.begin() as conn:
        [event_id] = record_sightings(
            conn, [event], [NewSightingFace(b"\xff\xd8jpeg", "facenet128", vector)]
        )
    return event_id


def found(index: SightingIndex, engine: Engine, probe: np.ndarray, **where: object) -> list[int]:
    with engine.connect() as conn:
        index.refresh(conn)
    ids, scores = index.search(probe, 0.8, SearchFilter(**where))
    assert list(scores) == sorted(scores, reverse=True)
    return ids.tolist()


def test_index_follows_new_sightings_and_filters(engine: Engine) -> None:
    face, other = unit(1), unit(2)
    index = SightingIndex("facenet128", DIM)
    first = store(engine, near(face, 10), "lobby", 0)
    store(engine, other, "lobby", 1)
    assert found(index, engine, face) == [first]
    second = store(engine, near(face, 11), "garage", 30)
    assert sorted(found(index, engine, face)) == sorted([first, second])
    assert len(index) == 3
    assert found(index, engine, face, camera_id="garage") == [second]
    assert found(index, engine, face, camera_id="nowhere") == []
    assert found(index, engine, face, since=START + timedelta(minutes=10)) == [second]
    assert found(index, engine, face, until=START + timedelta(minutes=10)) == [first]
    # Another embedder's sightings are never mixed in.
    assert found(SightingIndex("facenet512", DIM), engine, face) == []


def insert_with_id(engine: Engine, event_id: int, vector: np.ndarray) -> None:
    """A sighting under an id handed out earlier (as by a transaction that ran late)."""
    with engine.begin() as conn:
        conn.execute(
            insert(recognition_events).values(
                event_id=event_id,
                captured_at=START,
                received_at=START,
                camera_id="lobby",
                box_left=0,
                box_top=0,
                box_right=1,
                box_bottom=1,
                corrected=False,
            )
        )
        conn.execute(
            insert(sighting_faces).values(
                event_id=event_id,
                image=b"jpeg",
                embedder="facenet128",
                dim=DIM,
                vector=vector.tobytes(),
            )
        )


def test_an_id_committed_after_a_higher_one_is_picked_up(engine: Engine) -> None:
    face = unit(3)
    index = SightingIndex("facenet128", DIM)
    low = store(engine, near(face, 20), "lobby", 0)
    late, high = low + 1, low + 2
    insert_with_id(engine, high, near(face, 21))  # commits while `late` is in flight
    assert sorted(found(index, engine, face)) == [low, high]
    insert_with_id(engine, late, near(face, 22))
    assert sorted(found(index, engine, face)) == [low, late, high]
    assert len(index) == 3  # nothing read twice


def test_deleted_and_purged_sightings_are_dropped(engine: Engine) -> None:
    face = unit(4)
    index = SightingIndex("facenet128", DIM)
    ids = [store(engine, near(face, 30 + i), "lobby", i) for i in range(4)]
    assert sorted(found(index, engine, face)) == ids
    # A retention purge deletes the oldest events; their faces go by the foreign key.
    with engine.begin() as conn:
        conn.execute(delete(recognition_events).where(recognition_events.c.event_id == ids[0]))
    assert sorted(found(index, engine, face)) == ids[1:]
    # A deletion in the middle is dropped once noticed (the search route calls forget).
    index.forget([ids[2]])
    assert sorted(found(index, engine, face)) == [ids[1], ids[3]]
    assert len(index) == 2


def test_events_without_faces_never_stall_the_refresh(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events stored before faces were (or by another embedder) leave holes in the ids;
    read in small batches, every sighting is still found once and the refresh ends."""
    monkeypatch.setattr("api.sightings.search.BATCH", 3)
    face = unit(5)
    expected = []
    for i in range(7):
        with engine.begin() as conn:
            add_events(conn, [event_at(i)])  # no face: a hole in the ids with faces
        expected.append(store(engine, near(face, 40 + i), "lobby", i))
    index = SightingIndex("facenet128", DIM)
    assert sorted(found(index, engine, face)) == expected
    assert sorted(found(index, engine, face)) == expected
    assert len(index) == 7
