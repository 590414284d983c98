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


# Rows assembled per step: joining a slice's vector bytes costs one copy of the slice.
ASSEMBLE_BATCH = 50_000


def load_snapshot(conn: Connection, embedder: str, dim: int) -> GallerySnapshot:
    """All embeddings of `embedder`, ordered by face id, with the version they reflect.

    The vector bytes of each slice of rows are joined and viewed as one float32 block: no
    per-row numpy call (1M faces: about half the row-by-row time, see
    benchmarks/gallery_benchmark.py).
    """
    version = current_version(conn)
    rows = conn.execute(
        select(face_embeddings.c.face_id, face_images.c.person_id, face_embeddings.c.vector)
        .join(face_images, face_images.c.face_id == face_embeddings.c.face_id)
        .where(face_embeddings.c.embedder == embedder)
        .order_by(face_embeddings.c.face_id)
    ).all()
    face_ids = np.empty(len(rows), dtype=np.int64)
    vectors = np.empty((len(rows), dim), dtype=np.float32)
    person_ids: list[str] = []
    for start in range(0, len(rows), ASSEMBLE_BATCH):
        ids, owners, blobs = zip(*rows[start : start + ASSEMBLE_BATCH], strict=True)
        data = b"".join(blobs)
        if len(data) != len(blobs) * dim * 4:
            raise ValueError(f"stored {embedder} embeddings do not all have {dim} values")
        stop = start + len(blobs)
        vectors[start:stop] = np.frombuffer(data, dtype="<f4").reshape(len(blobs), dim)
        face_ids[start:stop] = ids
        person_ids.extend(owners)
    return GallerySnapshot(
        version=version, face_ids=face_ids, person_ids=tuple(person_ids), vectors=vectors
    )
