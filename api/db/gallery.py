"""Reading the enrolled embeddings and the counter that says when they changed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, select, update

from api.db.schema import face_embeddings, face_images, gallery_state


@dataclass(frozen=True)
class GallerySnapshot:
    """Every enrolled embedding of one embedder as one contiguous float32 matrix."""

    version: int
    face_ids: np.ndarray  # (N,) int64
    person_ids: tuple[str, ...]  # (N,) the owner of each row
    vectors: np.ndarray  # (N, dim) float32, unit length

    @property
    def size(self) -> int:
        return len(self.person_ids)


def current_version(conn: Connection) -> int:
    return int(
        conn.execute(select(gallery_state.c.version).where(gallery_state.c.id == 1)).scalar_one()
    )


def bump_version(conn: Connection) -> None:
    """Call in the same transaction as any change to faces or people."""
    conn.execute(
        update(gallery_state)
        .where(gallery_state.c.id == 1)
        .values(version=gallery_state.c.version + 1)
    )


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def decode_vector(data: bytes, dim: int) -> np.ndarray:
    vector = np.frombuffer(data, dtype="<f4")
    if vector.shape != (dim,):
        raise ValueError(f"stored embedding has {vector.size} values, expected {dim}")
    return vector


def load_snapshot(conn: Connection, embedder: str, dim: int) -> GallerySnapshot:
    """All embeddings of `embedder`, ordered by face id, with the version they reflect."""
    version = current_version(conn)
    rows = conn.execute(
        select(face_embeddings.c.face_id, face_images.c.person_id, face_embeddings.c.vector)
        .join(face_images, face_images.c.face_id == face_embeddings.c.face_id)
        .where(face_embeddings.c.embedder == embedder)
        .order_by(face_embeddings.c.face_id)
    ).all()
    vectors = np.empty((len(rows), dim), dtype=np.float32)
    for index, row in enumerate(rows):
        vectors[index] = decode_vector(row.vector, dim)
    return GallerySnapshot(
        version=version,
        face_ids=np.fromiter((row.face_id for row in rows), dtype=np.int64, count=len(rows)),
        person_ids=tuple(row.person_id for row in rows),
        vectors=vectors,
    )
