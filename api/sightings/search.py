"""Search by face: which stored sightings look like this face, best first.

Each worker keeps every sighting embedding of the current embedder in one float32 matrix
and answers a search with one exact matrix-vector product (cosine similarity of unit
vectors), then filters by camera and time with boolean masks. Measured on 2 cores
(benchmarks/sighting_search.py): exact and the fastest of what was tried at 1,000,000
sightings, with memory per worker of 4 * dim bytes a sighting plus 20 bytes of metadata.

The matrix is refreshed before each search by reading only the sightings whose event_id
is above what the worker has settled: ids are handed out in order but may commit out of
order, so an id missing just below the newest one seen (within GAP_WINDOW) stays open for
GAP_SECONDS and is read again until it appears or is given up as rolled back. Sightings
deleted since (a person's deletion, a retention purge) are noticed when a search would
return them, and dropped from the matrix; the purged oldest range by one MIN(event_id).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection

from api.db.sightings import StoredVectors, oldest_event_id, vectors_after

BATCH = 20_000  # rows per read while loading
GAP_SECONDS = 30.0  # how long an id missing below the newest one may still commit
GAP_WINDOW = 1_000  # how far below the newest id a missing one may still commit
COMPACT_FRACTION = 0.25  # rebuild the arrays once this share of rows is dead


def micros(moment: datetime) -> int:
    """Naive UTC datetime -> microseconds since the epoch (for vectorised comparisons)."""
    return int(moment.replace(tzinfo=UTC).timestamp() * 1_000_000)


@dataclass(frozen=True)
class SearchFilter:
    camera_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Hit:
    event_id: int
    similarity: float


class _Columns:
    """The arrays of the index; grown by amortised doubling, read through [:count] views
    so that a search never sees a half-written row."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.count = 0
        self.vectors = np.empty((capacity, dim), dtype=np.float32)
        self.event_ids = np.empty(capacity, dtype=np.int64)
        self.times = np.empty(capacity, dtype=np.int64)
        self.cameras = np.empty(capacity, dtype=np.int32)
        self.alive = np.empty(capacity, dtype=bool)

    def _grow(self, needed: int) -> None:
        capacity = len(self.event_ids)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 3 // 2)
        for name in ("vectors", "event_ids", "times", "cameras", "alive"):
            old = getattr(self, name)
            new = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
            new[: self.count] = old[: self.count]
            setattr(self, name, new)

    def append(self, batch: StoredVectors, times: np.ndarray, cameras: np.ndarray) -> None:
        start, stop = self.count, self.count + len(batch.event_ids)
        self._grow(stop)
        self.vectors[start:stop] = batch.vectors
        self.event_ids[start:stop] = batch.event_ids
        self.times[start:stop] = times
        self.cameras[start:stop] = cameras
        self.alive[start:stop] = True
        self.count = stop

    def compacted(self) -> _Columns:
        keep = np.flatnonzero(self.alive[: self.count])
        fresh = _Columns(self.vectors.shape[1], max(1024, len(keep)))
        fresh.count = len(keep)
        for name in ("vectors", "event_ids", "times", "cameras", "alive"):
            getattr(fresh, name)[: len(keep)] = getattr(self, name)[keep]
        return fresh


class SightingIndex:
    """Every sighting embedding of one embedder, for one worker (its threads share it)."""

    def __init__(self, embedder: str, dim: int) -> None:
        self.embedder = embedder
        self.dim = dim
        self._lock = threading.Lock()
        self._columns = _Columns(dim)
        self._camera_codes: dict[str, int] = {}
        self._settled = 0  # every id <= this is in the matrix, deleted, or given up
        self._gaps: dict[int, float] = {}  # open gap id -> when first seen missing
        self._dead = 0

    def __len__(self) -> int:
        return self._columns.count - self._dead

    @property
    def memory_bytes(self) -> int:
        columns = self._columns
        return sum(
            getattr(columns, name).nbytes
            for name in ("vectors", "event_ids", "times", "cameras", "alive")
        )

    def camera_code(self, camera_id: str) -> int:
        return self._camera_codes.setdefault(camera_id, len(self._camera_codes))

    def refresh(self, conn: Connection) -> None:
        """Read the sightings stored since the last refresh (all of them the first time)."""
        with self._lock:
            self._drop_purged(conn)
            settled = self._settled
            cursor = settled
            while True:
                batch = vectors_after(conn, cursor, self.embedder, self.dim, BATCH)
                fresh = self._new_rows(batch)
                if len(fresh.event_ids):
                    times = np.array([micros(t) for t in fresh.captured_at], dtype=np.int64)
                    cameras = np.array(
                        [self.camera_code(c) for c in fresh.camera_ids], dtype=np.int32
                    )
                    self._columns.append(fresh, times, cameras)
                if len(batch.event_ids):
                    cursor = int(batch.event_ids[-1])
                if len(batch.event_ids) < BATCH:
                    break
            self._settled = self._settle(settled, cursor)

    def _new_rows(self, batch: StoredVectors) -> StoredVectors:
        """`batch` less the rows already held (those above the settled id are re-read)."""
        columns = self._columns
        held = columns.event_ids[: columns.count]
        recent = held[held > self._settled] if self._gaps else held[:0]
        keep = ~np.isin(batch.event_ids, recent)
        if keep.all():
            return batch
        indices = np.flatnonzero(keep)
        return StoredVectors(
            event_ids=batch.event_ids[keep],
            captured_at=[batch.captured_at[i] for i in indices],
            camera_ids=[batch.camera_ids[i] for i in indices],
            vectors=batch.vectors[keep],
        )

    def _settle(self, settled: int, newest: int) -> int:
        """The new settled id: `newest`, unless an id among the last GAP_WINDOW below it is
        missing, and was first missed less than GAP_SECONDS ago (it may still commit).
        Ids further back without a face (events stored before faces were, or with another
        embedder) are settled at once."""
        now = time.monotonic()
        start = max(settled, newest - GAP_WINDOW)
        columns = self._columns
        held = columns.event_ids[: columns.count]
        expected = np.arange(start + 1, newest + 1, dtype=np.int64)
        missing = expected[~np.isin(expected, held[held > start])].tolist()
        self._gaps = {gap: self._gaps.get(gap, now) for gap in missing}
        self._gaps = {g: t for g, t in self._gaps.items() if now - t <= GAP_SECONDS}
        return min(self._gaps) - 1 if self._gaps else newest

    def _drop_purged(self, conn: Connection) -> None:
        oldest = oldest_event_id(conn)
        columns = self._columns
        ids = columns.event_ids[: columns.count]
        purged = columns.alive[: columns.count] & (
            ids < oldest if oldest is not None else np.ones(len(ids), dtype=bool)
        )
        self._kill(np.flatnonzero(purged))

    def _kill(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        self._columns.alive[rows] = False
        self._dead += len(rows)
        if self._dead > COMPACT_FRACTION * self._columns.count:
            self._columns = self._columns.compacted()
            self._dead = 0

    def forget(self, event_ids: list[int]) -> None:
        """Drop sightings found deleted from the database."""
        with self._lock:
            columns = self._columns
            rows = np.flatnonzero(
                np.isin(columns.event_ids[: columns.count], event_ids)
                & columns.alive[: columns.count]
            )
            self._kill(rows)

    def search(
        self, probe: np.ndarray, threshold: float, where: SearchFilter
    ) -> tuple[np.ndarray, np.ndarray]:
        """(event ids, similarities) of every sighting at or above `threshold` that passes
        `where`, best first."""
        with self._lock:
            columns = self._columns
            count = columns.count
            code = self._camera_codes.get(where.camera_id) if where.camera_id else None
        if where.camera_id is not None and code is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores = columns.vectors[:count] @ probe.astype(np.float32)
        mask = (scores >= threshold) & columns.alive[:count]
        if code is not None:
            mask &= columns.cameras[:count] == code
        if where.since is not None:
            mask &= columns.times[:count] >= micros(where.since)
        if where.until is not None:
            mask &= columns.times[:count] < micros(where.until)
        rows = np.flatnonzero(mask)
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        return columns.event_ids[rows], scores[rows]
