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

When the database's gallery version moves, a worker applies the logged changes instead of
reloading (`GalleryIndex.apply`): only the blocks of the people they touch are rebuilt,
the other rows are copied in runs, and the database is asked only for the changed faces.
Indexes are immutable, so a request keeps the one it took while the next is built.

Rows are held as float16 (GALLERY_DTYPE): half the memory of float32, so a worker holds
1,000,000 128-d faces in 244 MiB instead of 488 MiB, for a cosine off by at most about
1e-3 (unit vectors; 3 significant digits per component), far below any threshold's
margin. Products are taken in float32 (numpy widens float16 at about a seventh of the
speed of a float32 product): the rows a release view searches on every request are widened
once, when the view is built, and a person's block when it is compared. Before the first
training the view is the whole matrix, so a worker then also holds it widened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from api.db.gallery import GalleryDelta, GallerySnapshot
from api.recognition.release import Release

GALLERY_DTYPE = np.float16


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


# Room for appended rows left after the matrix when a delta copies it (share of the rows,
# at least APPEND_ROOM_MIN): the enrolments of new people that follow write into it.
APPEND_ROOM = 0.125
APPEND_ROOM_MIN = 1024


@dataclass
class _Storage:
    """The arrays an index's rows are the first `used` of. Only the index that took the
    last rows may append after them: the older ones keep seeing their own prefix."""

    vectors: np.ndarray  # (capacity, dim) GALLERY_DTYPE
    face_ids: np.ndarray  # (capacity,) int64
    used: int


class GalleryIndex:
    """One gallery version: its snapshot with rows grouped by person."""

    def __init__(
        self,
        snapshot: GallerySnapshot,
        segments: Segments,
        storage: _Storage | None = None,
        positions: dict[str, int] | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.segments = segments
        self._storage = storage or _Storage(snapshot.vectors, snapshot.face_ids, snapshot.size)
        self._person = positions or {person: i for i, person in enumerate(segments.people)}
        self._view: ReleaseView | None = None
        self._lock = threading.Lock()

    @classmethod
    def build(cls, snapshot: GallerySnapshot) -> GalleryIndex:
        """Group the rows by person (first appearance order, stable), as GALLERY_DTYPE."""
        snapshot = replace(snapshot, vectors=snapshot.vectors.astype(GALLERY_DTYPE, copy=False))
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

    def apply(self, delta: GalleryDelta) -> GalleryIndex:
        """This index with `delta` applied, as a new index (this one stays valid).

        The same rows and blocks as a full reload: each touched person's block is its rows
        minus the touched faces plus their re-read ones, in face id order; new people are
        appended in order of first face id. A person's block keeps its position when their
        first face goes, where a reload would move it: searches do not depend on it.

        New people only (the usual enrolment): their rows are written after the matrix,
        in the room left there. Otherwise (or when there is no room, as after a full
        reload) the blocks are copied into a new matrix with room after it: one copy of
        the matrix, no read of it from the database.
        """
        snap, starts, people = self.snapshot, self.segments.starts, self.segments.people
        fresh = delta.rows
        new_rows: dict[str, list[int]] = {}
        for row, person in enumerate(fresh.person_ids):
            new_rows.setdefault(person, []).append(row)
        affected = sorted(
            {self._person[p] for p in (*delta.touched, *new_rows) if p in self._person}
        )
        storage = self._storage
        if not affected and storage.used == snap.size <= len(storage.vectors) - fresh.size:
            return self._append(delta.version, fresh, new_rows)
        blocks = _Blocks(snap.vectors.shape[1])
        done = 0  # people before this one are placed
        for i in affected:
            blocks.copy_run(snap, people[done:i], starts[done : i + 1])
            person, first, stop = people[i], starts[i], starts[i + 1]
            gone = np.fromiter(delta.touched.get(person, ()), np.int64)
            kept = first + np.flatnonzero(~np.isin(snap.face_ids[first:stop], gone))
            blocks.add_person(person, snap, kept, fresh, new_rows.pop(person, []))
            done = i + 1
        blocks.copy_run(snap, people[done:], starts[done:])
        for person, rows in new_rows.items():  # not in this index: new people, at the end
            blocks.add_person(person, snap, np.empty(0, np.int64), fresh, rows)
        return blocks.index(delta.version)

    def _append(
        self, version: int, fresh: GallerySnapshot, new_rows: dict[str, list[int]]
    ) -> GalleryIndex:
        """New people's blocks written after this index's rows, in its storage's room."""
        storage, size = self._storage, self.snapshot.size
        order = np.concatenate([np.empty(0, np.int64), *(np.array(r) for r in new_rows.values())])
        end = size + len(order)
        storage.vectors[size:end] = fresh.vectors[order]
        storage.face_ids[size:end] = fresh.face_ids[order]
        storage.used = end
        snapshot = GallerySnapshot(
            version=version,
            face_ids=storage.face_ids[:end],
            person_ids=self.snapshot.person_ids + tuple(fresh.person_ids[i] for i in order),
            vectors=storage.vectors[:end],
        )
        sizes = [len(rows) for rows in new_rows.values()]
        segments = Segments(
            self.segments.people + tuple(new_rows),
            np.concatenate([self.segments.starts, size + np.cumsum(sizes, dtype=np.int64)]),
        )
        positions = self._person.copy()
        positions.update((p, self.people_count + i) for i, p in enumerate(new_rows))
        return GalleryIndex(snapshot, segments, storage, positions)

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
        return float((rows.astype(np.float32) @ probe).max())

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
        if len(keep) == self.people_count:  # nobody trained yet: the whole matrix
            untrained = self.snapshot.vectors.astype(np.float32)
            return ReleaseView(version_of(release), live, untrained, self.segments)
        firsts = starts[:-1][keep]
        lengths = starts[1:][keep] - firsts
        new_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        rows = np.arange(new_starts[-1]) + np.repeat(firsts - new_starts[:-1], lengths)
        segments = Segments(tuple(self.segments.people[i] for i in keep), new_starts)
        untrained = self.snapshot.vectors[rows].astype(np.float32)
        return ReleaseView(version_of(release), live, untrained, segments)


class _Blocks:
    """The pieces of a new index, in order: runs of untouched rows, rebuilt person blocks."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vectors: list[np.ndarray] = []
        self.face_ids: list[np.ndarray] = []
        self.person_ids: list[str] = []
        self.people: list[str] = []
        self.sizes: list[np.ndarray] = []

    def copy_run(self, snap: GallerySnapshot, people: tuple[str, ...], starts: np.ndarray) -> None:
        """Untouched people, whose blocks are rows starts[0]:starts[-1]: one slice in all."""
        if not people:
            return
        rows = slice(int(starts[0]), int(starts[-1]))
        self.vectors.append(snap.vectors[rows])
        self.face_ids.append(snap.face_ids[rows])
        self.person_ids.extend(snap.person_ids[rows])
        self.people.extend(people)
        self.sizes.append(np.diff(starts))

    def add_person(
        self,
        person: str,
        old: GallerySnapshot,
        kept: np.ndarray,
        fresh: GallerySnapshot,
        rows: list[int],
    ) -> None:
        """One person's block: their kept old rows and fresh rows, by face id; none if empty."""
        face_ids = np.concatenate([old.face_ids[kept], fresh.face_ids[rows]])
        if len(face_ids) == 0:
            return
        order = np.argsort(face_ids, kind="stable")
        self.vectors.append(np.concatenate([old.vectors[kept], fresh.vectors[rows]])[order])
        self.face_ids.append(face_ids[order])
        self.person_ids.extend([person] * len(face_ids))
        self.people.append(person)
        self.sizes.append(np.array([len(face_ids)]))

    def index(self, version: int) -> GalleryIndex:
        """Everything placed, as one index: the only full-size copy is the matrix's."""
        size = len(self.person_ids)
        capacity = size + max(APPEND_ROOM_MIN, int(size * APPEND_ROOM))
        storage = _Storage(
            np.empty((capacity, self.dim), GALLERY_DTYPE), np.empty(capacity, np.int64), size
        )
        row = 0
        for vectors, face_ids in zip(self.vectors, self.face_ids, strict=True):
            storage.vectors[row : row + len(vectors)] = vectors
            storage.face_ids[row : row + len(vectors)] = face_ids
            row += len(vectors)
        sizes = np.concatenate([np.zeros(1, np.int64), *self.sizes])
        snapshot = GallerySnapshot(
            version=version,
            face_ids=storage.face_ids[:size],
            person_ids=tuple(self.person_ids),
            vectors=storage.vectors[:size],
        )
        segments = Segments(tuple(self.people), np.cumsum(sizes))
        return GalleryIndex(snapshot, segments, storage)


def version_of(release: Release | None) -> str | None:
    return release.version if release is not None else None


class Gallery:
    """The latest index, brought up to date when the database's gallery version moves."""

    def __init__(self, dim: int) -> None:
        empty = GallerySnapshot(
            version=-1,
            face_ids=np.empty(0, np.int64),
            person_ids=(),
            vectors=np.empty((0, dim), GALLERY_DTYPE),
        )
        self._index = GalleryIndex.build(empty)
        self._lock = threading.Lock()

    def current(
        self,
        version: int,
        load: Callable[[], GallerySnapshot],
        changes: Callable[[int], GalleryDelta | None],
    ) -> GalleryIndex:
        """The index for `version`: `changes(v)` reads what changed since v (None when the
        log cannot tell), `load` a full snapshot. One thread refreshes while the others
        wait, which a delta keeps short: a read of the changed faces and a matrix copy."""
        index = self._index
        if index.version == version:
            return index
        with self._lock:
            index = self._index
            if index.version != version:
                # The empty start (version -1) has nothing to patch.
                delta = changes(index.version) if index.version >= 0 else None
                if delta is None:
                    self._index = GalleryIndex.build(load())
                else:
                    self._index = index.apply(delta)
            return self._index
