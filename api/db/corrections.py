"""Corrections of sightings (who said what, when) and the negative faces they leave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, insert, select, update

from api.db.engine import utcnow
from api.db.schema import event_corrections, negative_faces, recognition_events, sighting_faces


@dataclass(frozen=True)
class NegativeSnapshot:
    """Every negative face of one embedder, with the version it reflects."""

    version: tuple[int, int]
    person_ids: tuple[str, ...]
    vectors: np.ndarray  # (n, dim) float32


def relabel(conn: Connection, event_id: int, person_id: str | None) -> None:
    conn.execute(
        update(recognition_events)
        .where(recognition_events.c.event_id == event_id)
        .values(person_id=person_id, corrected=True)
    )


def add_correction(
    conn: Connection,
    event_id: int,
    previous_person_id: str | None,
    person_id: str | None,
    key_id: str | None,
) -> None:
    conn.execute(
        insert(event_corrections).values(
            event_id=event_id,
            previous_person_id=previous_person_id,
            person_id=person_id,
            key_id=key_id,
            created_at=utcnow(),
        )
    )


def corrections_of(conn: Connection, event_id: int) -> list[dict[str, Any]]:
    """The event's corrections, oldest first."""
    rows = conn.execute(
        select(event_corrections)
        .where(event_corrections.c.event_id == event_id)
        .order_by(event_corrections.c.correction_id)
    ).all()
    return [
        {
            "previous_person_id": row.previous_person_id,
            "person_id": row.person_id,
            "key_id": row.key_id,
            "created_at": row.created_at,
        }
        for row in rows
    ]


def add_negative(
    conn: Connection, person_id: str, event_id: int, embedder: str, vector: np.ndarray
) -> None:
    conn.execute(
        insert(negative_faces).values(
            person_id=person_id,
            event_id=event_id,
            embedder=embedder,
            dim=int(vector.shape[0]),
            vector=np.asarray(vector, dtype="<f4").tobytes(),
            created_at=utcnow(),
        )
    )


def negatives_version(conn: Connection) -> tuple[int, int]:
    """(count, newest id): changes with every negative added and every one deleted with
    its person, so a worker compares it once per request instead of re-reading."""
    row = conn.execute(
        select(func.count(), func.coalesce(func.max(negative_faces.c.negative_id), 0))
    ).one()
    return int(row[0]), int(row[1])


def load_negatives(conn: Connection, embedder: str, dim: int) -> NegativeSnapshot:
    version = negatives_version(conn)
    rows = conn.execute(
        select(negative_faces.c.person_id, negative_faces.c.vector)
        .where(negative_faces.c.embedder == embedder, negative_faces.c.dim == dim)
        .order_by(negative_faces.c.negative_id)
    ).all()
    vectors = np.frombuffer(b"".join(row.vector for row in rows), dtype="<f4")
    return NegativeSnapshot(
        version=version,
        person_ids=tuple(row.person_id for row in rows),
        vectors=vectors.reshape(len(rows), dim),
    )


@dataclass(frozen=True)
class StoredFace:
    jpeg: bytes
    embedder: str
    vector: np.ndarray


def stored_face(conn: Connection, event_id: int) -> StoredFace | None:
    """The sighting's face, None when it has none (purged, or stored before v1.1)."""
    row = conn.execute(
        select(sighting_faces.c.image, sighting_faces.c.embedder, sighting_faces.c.vector).where(
            sighting_faces.c.event_id == event_id
        )
    ).first()
    if row is None:
        return None
    return StoredFace(row.image, row.embedder, np.frombuffer(row.vector, dtype="<f4"))
