"""Nearest-neighbour search over every enrolled embedding, kept in memory per worker.

The classifier only knows the people of the last training; the gallery knows everyone
enrolled right now. It answers for people enrolled since (until the next training) and
tells which classifier labels have been deleted.

Rows are grouped by person (one contiguous block each), so a person's best similarity is
a slice and "best distinct people" is one matrix-vector product plus one
`np.maximum.reduceat`, exact and without a sort of the whole gallery. What depends on the
live release (which labels are still enrolled, which rows belong to people the
classifier does not know) is computed once per (gallery version, release version), not
per request: with a release covering most people, a request searches only the few rows
of people enrolled since. benchmarks/gallery_benchmark.py measures it up to 1M faces.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from api.db.gallery import GallerySnapshot
from api.recognition.release import Release


@dataclass(frozen=True)
class Segments:
    """Rows of a matrix grouped by person: person i owns rows starts[i]:starts[i+1]."""

    people: tuple[str, ...]
    starts: np.ndarray  # (len(people) + 1,) int64

    def best(self, similarities: np.ndarray, count: int) -> list[tuple[str, float]]:
        """The `count` people whose best row is most similar, best first."""
        if not self.people or count <= 0:
            return []
        per_person = np.maximum.reduceat(similarities, self.starts[:-1])
        count = min(count, len(self.people))
        top = np.argpartition(-per_person, count - 1)[:count]
        top = top[np.argsort(-per_person[top], kind="stable")]
        return [(self.people[i], float(per_person[i])) for i in top]


@dataclass(frozen=True)
class ReleaseView:
    """What a request needs from one (gallery, release) pair, computed once."""

    release_version: str | None
    live: np.ndarray  # (n_labels,) bool: the label is still enrolled
    untrained: np.ndarray  # (R, dim) float32: faces of people the release does not know
    untrained_segments: Segments

    def best_untrained(self, probe: np.ndarray, count: int) -> list[tuple[str, float]]:
        if len(self.untrained) == 0:
            return []
        return self.untrained_segments.best(self.untrained @ probe, count)


class GalleryIndex:
    """One gallery version: its snapshot with rows grouped by person."""

    def __init__(self, snapshot: GallerySnapshot, segments: Segments) -> None:
        self.snapshot = snapshot
        self.segments = segments
        self._person = {person: i for i, person in enumerate(segments.people)}
        self._view: ReleaseView | None = None
        self._lock = threading.Lock()

    @classmethod
    def build(cls, snapshot: GallerySnapshot) -> GalleryIndex:
        """Group the rows by person (first appearance order, stable); copies only if needed."""
        codes_of: dict[str, int] = {}
        codes = np.fromiter(
            (codes_of.setdefault(person, len(codes_of)) for person in snapshot.person_ids),
            dtype=np.int64,
            count=snapshot.size,
        )
        if snapshot.size and np.any(np.diff(codes) < 0):
            order = np.argsort(codes, kind="stable")
            codes = codes[order]
            snapshot = GallerySnapshot(
                version=snapshot.version,
                face_ids=snapshot.face_ids[order],
                person_ids=tuple(snapshot.person_ids[i] for i in order),
                vectors=snapshot.vectors[order],
            )
        starts = np.searchsorted(codes, np.arange(len(codes_of) + 1))
        return cls(snapshot, Segments(tuple(codes_of), starts))

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def people_count(self) -> int:
        return len(self.segments.people)

    def has_person(self, person_id: str) -> bool:
        return person_id in self._person

    def person_similarity(self, probe: np.ndarray, person_id: str) -> float | None:
        """Best cosine similarity of a unit probe to the person's enrolled faces."""
        i = self._person.get(person_id)
        if i is None:
            return None
        rows = self.snapshot.vectors[self.segments.starts[i] : self.segments.starts[i + 1]]
        return float((rows @ probe).max())

    def view(self, release: Release | None) -> ReleaseView:
        """The per-release view, cached for the latest release seen by this index."""
        version = version_of(release)
        view = self._view
        if view is not None and view.release_version == version:
            return view
        with self._lock:
            if self._view is None or self._view.release_version != version:
                self._view = self._build_view(release)
            return self._view

    def _build_view(self, release: Release | None) -> ReleaseView:
        labels = release.classifier.labels if release is not None else ()
        live = np.fromiter((label in self._person for label in labels), bool, len(labels))
        known = set(labels)
        keep = [i for i, person in enumerate(self.segments.people) if person not in known]
        starts = self.segments.starts
        if len(keep) == self.people_count:  # nobody trained yet: the whole matrix, no copy
            return ReleaseView(version_of(release), live, self.snapshot.vectors, self.segments)
        firsts = starts[:-1][keep]
        lengths = starts[1:][keep] - firsts
        new_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        rows = np.arange(new_starts[-1]) + np.repeat(firsts - new_starts[:-1], lengths)
        segments = Segments(tuple(self.segments.people[i] for i in keep), new_starts)
        return ReleaseView(version_of(release), live, self.snapshot.vectors[rows], segments)


def version_of(release: Release | None) -> str | None:
    return release.version if release is not None else None


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
        if index.version == version:
            return index
        with self._lock:
            if self._index.version != version:
                self._index = GalleryIndex.build(load())
            return self._index
