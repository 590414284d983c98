"""What the matcher learns from "wrong person": a person is not named for a face that is
closer to one of their negative faces than to their own enrolled faces.

The rule compares like with like (the best similarity to the person's enrolled faces,
which the matcher already has, against the best similarity to the faces operators said
are not them), so it needs no threshold of its own: the corrected face itself and near
copies of it are refused, while the person's other photos, far more like their own
faces than like a stranger's, are still named (benchmarks/unknown_people.py measures
both on LFW). When the best candidate is refused, the next one still has to reach the
naming threshold and pass the same rule.

Every worker keeps the negatives in memory and reloads them when their version (count
and newest id, one query a request) moves: a correction made through one pod applies to
the next face every pod sees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from api.db.corrections import NegativeSnapshot
from api.recognition.matcher import Identification


@dataclass(frozen=True)
class NegativeIndex:
    rows: dict[str, np.ndarray]  # person -> (k, dim) float32

    @classmethod
    def build(cls, snapshot: NegativeSnapshot) -> NegativeIndex:
        rows: dict[str, list[int]] = {}
        for i, person in enumerate(snapshot.person_ids):
            rows.setdefault(person, []).append(i)
        return cls({person: snapshot.vectors[r] for person, r in rows.items()})

    def refuses(self, person_id: str, probe: np.ndarray, own_similarity: float) -> bool:
        negatives = self.rows.get(person_id)
        return negatives is not None and float((negatives @ probe).max()) > own_similarity


class Negatives:
    """The latest NegativeIndex of this worker."""

    def __init__(self) -> None:
        self._version: tuple[int, int] | None = None
        self._index = NegativeIndex({})
        self._lock = threading.Lock()

    def current(
        self, version: tuple[int, int], load: Callable[[], NegativeSnapshot]
    ) -> NegativeIndex:
        if self._version == version:
            return self._index
        with self._lock:
            if self._version != version:
                snapshot = load()
                self._index = NegativeIndex.build(snapshot)
                self._version = snapshot.version
            return self._index


def with_negatives(
    match: Identification, probe: np.ndarray, negatives: NegativeIndex, threshold: float
) -> tuple[Identification, bool]:
    """`match` after the negatives' rule, and whether it refused a name.

    The candidates are ranked by similarity; the first that reaches `threshold` and is
    not refused is the name. The candidates list itself is left as it was.
    """
    if match.person_id is None or not negatives.rows:
        return match, False
    for candidate in match.candidates:
        if candidate.similarity < threshold:
            break
        if not negatives.refuses(candidate.person_id, probe, candidate.similarity):
            if candidate.person_id == match.person_id:
                return match, False
            return replace(
                match,
                person_id=candidate.person_id,
                confidence=candidate.confidence,
                similarity=candidate.similarity,
            ), True
    return replace(match, person_id=None), True
