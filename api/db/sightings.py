"""The face of each sighting (`sighting_faces`): its JPEG crop and embedding.

Written in the event's own transaction (api/sightings/record.py); read one at a time for
the page, and in bulk, by ascending event_id, by the search index of each worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, func, insert, select

from api.db.schema import recognition_events, sighting_faces


@dataclass(frozen=True)
class NewSightingFace:
    jpeg: bytes
    embedder: str
    vector: np.ndarray  # float32 unit vector


@dataclass(frozen=True)
class StoredVectors:
    """A batch of sighting embeddings in event_id order, with what search filters on."""

    event_ids: np.ndarray  # int64
    captured_at: list[datetime]
    camera_ids: list[str]
    vectors: np.ndarray  # (n, dim) float32


def add_faces(conn: Connection, event_ids: list[int], faces: list[NewSightingFace]) -> None:
    if not faces:
        return
    conn.execute(
        insert(sighting_faces),
        [
            {
                "event_id": event_id,
                "image": face.jpeg,
                "embedder": face.embedder,
                "dim": int(face.vector.shape[0]),
                "vector": np.asarray(face.vector, dtype=np.float32).tobytes(),
            }
            for event_id, face in zip(event_ids, faces, strict=True)
        ],
    )


def face_jpeg(conn: Connection, event_id: int) -> bytes | None:
    return conn.execute(
        select(sighting_faces.c.image).where(sighting_faces.c.event_id == event_id)
    ).scalar_one_or_none()


def vectors_after(
    conn: Connection, after_event_id: int, embedder: str, dim: int, limit: int
) -> StoredVectors:
    """Up to `limit` embeddings of `embedder` with event_id > `after_event_id`, ascending."""
    rows = conn.execute(
        select(
            sighting_faces.c.event_id,
            recognition_events.c.captured_at,
            recognition_events.c.camera_id,
            sighting_faces.c.vector,
        )
        .select_from(sighting_faces.join(recognition_events))
        .where(
            sighting_faces.c.event_id > after_event_id,
            sighting_faces.c.embedder == embedder,
            sighting_faces.c.dim == dim,
        )
        .order_by(sighting_faces.c.event_id)
        .limit(limit)
    ).all()
    vectors = np.frombuffer(b"".join(row.vector for row in rows), dtype=np.float32)
    return StoredVectors(
        event_ids=np.array([row.event_id for row in rows], dtype=np.int64),
        captured_at=[row.captured_at for row in rows],
        camera_ids=[row.camera_id for row in rows],
        vectors=vectors.reshape(len(rows), dim),
    )


def oldest_event_id(conn: Connection) -> int | None:
    """The smallest event_id with a face (retention purges delete from the oldest)."""
    return conn.execute(select(func.min(sighting_faces.c.event_id))).scalar_one_or_none()
