"""Nearest-neighbour search over every enrolled embedding, kept in memory per worker.

The classifier only knows the people of the last training; the gallery knows everyone
enrolled right now. It answers for people enrolled since (until the next training) and
tells which classifier labels have been deleted. One contiguous float32 matrix: a
matrix-vector product over 1M x 128 floats is a few milliseconds on one core.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from api.db.gallery import GallerySnapshot


@dataclass(frozen=True)
class GalleryIndex:
    """A snapshot plus, for each person, the rows holding their faces."""

    snapshot: GallerySnapshot
    rows_by_person: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, snapshot: GallerySnapshot) -> GalleryIndex:
        owners = np.asarray(snapshot.person_ids, dtype=object)
        rows: dict[str, list[int]] = {}
        for row, person in enumerate(owners):
            rows.setdefault(person, []).append(row)
        return cls(snapshot, {p: np.asarray(r, dtype=np.int64) for p, r in rows.items()})

    @property
    def people(self) -> set[str]:
        return set(self.rows_by_person)

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of one unit query to every enrolled face."""
        return self.snapshot.vectors @ query

    def person_similarity(self, similarities: np.ndarray, person_id: str) -> float | None:
        rows = self.rows_by_person.get(person_id)
        return None if rows is None else float(similarities[rows].max())

    def best_people(
        self, similarities: np.ndarray, count: int, exclude: frozenset[str] = frozenset()
    ) -> list[tuple[str, float]]:
        """The `count` most similar distinct people not in `exclude`, best first."""
        size = self.snapshot.size
        if size == 0 or count <= 0:
            return []
        # Enough rows to find `count` distinct people even when each has many faces;
        # widened when excluded people crowd the top.
        rows = min(size, max(64, count * 16))
        while True:
            if rows < size:
                top = np.argpartition(-similarities, rows - 1)[:rows]
            else:
                top = np.arange(size)
            top = top[np.argsort(-similarities[top], kind="stable")]
            found: dict[str, float] = {}
            for row in top:
                person = self.snapshot.person_ids[row]
                if person not in exclude and person not in found:
                    found[person] = float(similarities[row])
                    if len(found) == count:
                        return list(found.items())
            if rows >= size:
                return list(found.items())
            rows = min(size, rows * 8)


class Gallery:
    """The latest index, reloaded only when the database's gallery version moves."""

    def __init__(self, dim: int) -> None:
        empty = GallerySnapshot(
            version=-1,
            face_ids=np.empty(0, np.int64),
            person_ids=(),
            vectors=np.empty((0, dim), np.float32),
        )
        self._index = GalleryIndex.build(empty)
        self._lock = threading.Lock()

    def current(self, version: int, load: Callable[[], GallerySnapshot]) -> GalleryIndex:
        """The index for `version`; `load` reads a fresh snapshot from the database."""
        index = self._index
        if index.snapshot.version == version:
            return index
        with self._lock:
            if self._index.snapshot.version != version:
                self._index = GalleryIndex.build(load())
            return self._index
