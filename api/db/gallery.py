"""Reading the enrolled embeddings, the counter that says when they changed, and the log
of what each change touched.

Every change to faces goes through `record_changes`, in the transaction of the change: it
bumps the counter and logs each face with its owner. A worker that is behind reads the
log since its version and re-reads only the embeddings of those faces (`load_delta`); when
the log does not cover its version (pruned: it is kept for KEEP_VERSIONS versions) or the
change is large, it reloads everything (`load_snapshot`), which is always correct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, Row, Select, delete, insert, select, update

from api.db.schema import face_embeddings, face_images, gallery_changes, gallery_state

ADDED = "added"  # the face has a new embedding (enrolled, or re-embedded): re-read it
REMOVED = "removed"

# Versions the change log keeps. Safe at any value: it only decides how far behind a
# worker may fall and still catch up from the log; one further behind (idle for
# KEEP_VERSIONS changes) finds versions missing and reloads in full. It bounds the table:
# an enrolment logs its few faces, a full training one row per re-embedded face.
KEEP_VERSIONS = 10_000
# More logged faces than this (a full training's re-embedding, read late) are read by a
# full reload: such a change touches much of the gallery, one sequential read is then
# the cheaper way, and it bounds what a delta holds in memory.
MAX_DELTA_FACES = 20_000
# Face ids per `IN (...)` query: well under SQLite's bound-parameter limit.
FETCH_CHUNK = 1000


@dataclass(frozen=True)
class GallerySnapshot:
    """Enrolled embeddings of one embedder as one contiguous float32 matrix."""

    version: int
    face_ids: np.ndarray  # (N,) int64
    person_ids: tuple[str, ...]  # (N,) the owner of each row
    vectors: np.ndarray  # (N, dim) float32, unit length

    @property
    def size(self) -> int:
        return len(self.person_ids)


@dataclass(frozen=True)
class GalleryDelta:
    """What changed after some version: drop `touched`, then add `rows`."""

    touched: dict[str, frozenset[int]]  # owner -> face ids logged for them (any kind)
    rows: GallerySnapshot  # today's embeddings of the faces whose last change is ADDED

    @property
    def version(self) -> int:
        return self.rows.version


def current_version(conn: Connection) -> int:
    return int(
        conn.execute(select(gallery_state.c.version).where(gallery_state.c.id == 1)).scalar_one()
    )


def record_changes(conn: Connection, kind: str, faces: Mapping[int, str]) -> None:
    """Bump the version and log `faces` (face id -> owner) as `kind`, in the same
    transaction as the change itself.

    Nothing to log, no new version: every version has rows, which is how `load_delta`
    tells a version the log does not cover. The counter's row lock orders concurrent
    changes, so the version read back is this transaction's own.
    """
    if not faces:
        return
    conn.execute(
        update(gallery_state)
        .where(gallery_state.c.id == 1)
        .values(version=gallery_state.c.version + 1)
    )
    version = current_version(conn)
    conn.execute(
        insert(gallery_changes),
        [
            {"version": version, "face_id": face_id, "person_id": owner, "kind": kind}
            for face_id, owner in faces.items()
        ],
    )
    # Usually the rows of one version: the log stays KEEP_VERSIONS long at little cost.
    conn.execute(
        delete(gallery_changes).where(gallery_changes.c.version <= version - KEEP_VERSIONS)
    )


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


# Rows assembled per step: joining a slice's vector bytes costs one copy of the slice.
ASSEMBLE_BATCH = 50_000


def load_snapshot(conn: Connection, embedder: str, dim: int) -> GallerySnapshot:
    """All embeddings of `embedder`, ordered by face id, with the version they reflect."""
    version = current_version(conn)
    rows = conn.execute(_embeddings(embedder).order_by(face_embeddings.c.face_id)).all()
    return _assemble(version, rows, embedder, dim)


def load_delta(conn: Connection, since: int, embedder: str, dim: int) -> GalleryDelta | None:
    """The changes after version `since`, reading only the faces they touched; None when
    a full reload is needed: the log misses a version after `since`, or too much changed.

    Read outside one snapshot (SQLite reads in autocommit), a face may be newer than
    `version`: harmless, as the change that made it so is in the next delta.
    """
    version = current_version(conn)
    if not since < version <= since + KEEP_VERSIONS:
        return None
    log = conn.execute(
        select(
            gallery_changes.c.version,
            gallery_changes.c.face_id,
            gallery_changes.c.person_id,
            gallery_changes.c.kind,
        )
        .where((gallery_changes.c.version > since) & (gallery_changes.c.version <= version))
        .order_by(gallery_changes.c.version)
        .limit(MAX_DELTA_FACES + 1)
    ).all()
    if len(log) > MAX_DELTA_FACES or {row.version for row in log} != set(
        range(since + 1, version + 1)
    ):
        return None
    touched: dict[str, set[int]] = {}
    last_kind: dict[int, str] = {}
    for row in log:
        touched.setdefault(row.person_id, set()).add(row.face_id)
        last_kind[row.face_id] = row.kind
    added = sorted(face_id for face_id, kind in last_kind.items() if kind == ADDED)
    rows = []
    for start in range(0, len(added), FETCH_CHUNK):
        chunk = added[start : start + FETCH_CHUNK]
        rows += conn.execute(
            _embeddings(embedder)
            .where(face_embeddings.c.face_id.in_(chunk))
            .order_by(face_embeddings.c.face_id)
        ).all()
    return GalleryDelta(
        touched={owner: frozenset(ids) for owner, ids in touched.items()},
        rows=_assemble(version, rows, embedder, dim),
    )


def _embeddings(embedder: str) -> Select:
    return (
        select(face_embeddings.c.face_id, face_images.c.person_id, face_embeddings.c.vector)
        .join(face_images, face_images.c.face_id == face_embeddings.c.face_id)
        .where(face_embeddings.c.embedder == embedder)
    )


def _assemble(version: int, rows: Sequence[Row], embedder: str, dim: int) -> GallerySnapshot:
    """Rows of (face id, owner, vector bytes) as one snapshot.

    The vector bytes of each slice of rows are joined and viewed as one float32 block: no
    per-row numpy call (1M faces: about half the row-by-row time, see
    benchmarks/gallery_benchmark.py).
    """
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
