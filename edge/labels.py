"""Which name belongs on which box: the cloud's answers, attached to tracks.

Answers arrive asynchronously and per crop, so the name is kept per track id and drawn
on that track's own box (the original program paired the answers list with the boxes
list by position, which put names on the wrong faces as soon as one request was slower).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Identity:
    person_id: str | None
    name: str | None
    confidence: float
    similarity: float

    @property
    def known(self) -> bool:
        return self.person_id is not None

    def better_than(self, other: Identity | None) -> bool:
        """A known identity beats an unknown one; then the higher confidence wins."""
        if other is None:
            return True
        return (self.known, self.confidence) > (other.known, other.confidence)


def identity_from_answer(answer: dict[str, Any]) -> Identity | None:
    """The identity of the main face of a crop: the largest box the cloud found in it
    (the crop's margin can take in a slice of a neighbour's face)."""
    faces = answer.get("faces") or []
    if not faces:
        return None

    def area(face: dict[str, Any]) -> float:
        box = face.get("box") or {}
        return (box.get("right", 0) - box.get("left", 0)) * (
            box.get("bottom", 0) - box.get("top", 0)
        )

    face = max(faces, key=area)
    return Identity(
        person_id=face.get("person_id"),
        name=face.get("name"),
        confidence=float(face.get("confidence") or 0.0),
        similarity=float(face.get("similarity") or 0.0),
    )


TrackStatus = Literal["known", "unknown", "no_face", "waiting"]

# What a box shows for each status but "known" (which shows the name and confidence).
_STATUS_TEXT = {"unknown": "unknown", "no_face": "no face", "waiting": "..."}


class TrackLabels:
    """Best identity per track id; written by sender threads, read by the display loop.

    A track the cloud answered for without finding a face (an edge false positive) maps
    to None, so answered and still waiting tracks stay apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._identities: dict[int, Identity | None] = {}

    def update(self, track_id: int, identity: Identity) -> None:
        with self._lock:
            if identity.better_than(self._identities.get(track_id)):
                self._identities[track_id] = identity

    def record(self, track_id: int, answer: dict[str, Any]) -> None:
        """Take one recognize answer for a crop of this track; an answer without a face
        (the cloud's MTCNN found none: an edge false positive) is remembered as such."""
        identity = identity_from_answer(answer)
        if identity is not None:
            self.update(track_id, identity)
        else:
            with self._lock:
                self._identities.setdefault(track_id, None)

    def answered(self, track_id: int) -> bool:
        with self._lock:
            return track_id in self._identities

    def get(self, track_id: int) -> Identity | None:
        with self._lock:
            return self._identities.get(track_id)

    def status(
        self, track_id: int, min_confidence: float = 0.0
    ) -> tuple[TrackStatus, Identity | None]:
        """The track's status and best identity, read together (answers keep arriving):
        "known" (named with `min_confidence` or more), "unknown", "no_face" (the cloud
        found none in any crop of it) or "waiting" (no answer yet)."""
        with self._lock:
            answered = track_id in self._identities
            identity = self._identities.get(track_id)
        if identity is None:
            return ("no_face" if answered else "waiting"), None
        if identity.known and identity.confidence >= min_confidence:
            return "known", identity
        return "unknown", identity

    def text(self, track_id: int | None, min_confidence: float = 0.0) -> str:
        """What to draw: the name and confidence, "unknown", "no face" (the cloud found
        none in the crop), or "..." while waiting."""
        if track_id is None:
            return "..."
        status, identity = self.status(track_id, min_confidence)
        if status == "known" and identity is not None:
            return f"{identity.name or identity.person_id} {identity.confidence:.2f}"
        return _STATUS_TEXT[status]
