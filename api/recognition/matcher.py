"""The open-set decision: a known person, or unknown — never forced onto the nearest.

The classifier of the live release ranks the people it was trained on (deleted ones
masked out); the gallery ranks people enrolled since. The winner is the one whose own
enrolled faces are most similar to the probe, and it is accepted only when that cosine
similarity reaches the threshold (calibrated per embedder on LFW, overridable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from api.recognition.gallery import GalleryIndex
from api.recognition.release import Release

# Cosine similarity a face must reach to be named (open-set identification). Stricter
# than the 1:1 verification threshold: with N enrolled people a stranger gets N chances
# to look like someone. Chosen with benchmarks/open_set_identification.py (20 LFW people
# enrolled, unseen probes, strangers; its figures are in REPORT.md). On LFW DevTrain the
# similarity only 1 in 1,000 impostor pairs reaches is lower (benchmarks/lfw_recipe.py,
# "identify_similarity"): this one errs towards refusing.
IDENTIFY_THRESHOLDS: dict[str, float] = {"facenet128": 0.55, "facenet512": 0.55}


@dataclass(frozen=True)
class Candidate:
    person_id: str
    confidence: float  # classifier probability; similarity for people not yet trained
    similarity: float


@dataclass(frozen=True)
class Identification:
    person_id: str | None
    confidence: float
    similarity: float
    candidates: tuple[Candidate, ...]


def _classifier_candidates(
    release: Release, probe: np.ndarray, gallery: GalleryIndex, live: np.ndarray, top_k: int
) -> list[Candidate]:
    classifier = release.classifier
    probs = classifier.predict_proba(probe[None, :])[0]
    probs = np.where(live, probs, 0.0)
    total = probs.sum()
    if total <= 0:
        return []
    probs = probs / total
    order = np.argsort(-probs)[:top_k]
    candidates = []
    for column in order:
        if probs[column] <= 0:
            break
        person = classifier.labels[column]
        similarity = gallery.person_similarity(probe, person)
        if similarity is not None:
            candidates.append(Candidate(person, float(probs[column]), similarity))
    return candidates


def identify(
    probe: np.ndarray,
    release: Release | None,
    gallery: GalleryIndex,
    threshold: float,
    top_k: int,
) -> Identification:
    """Decide who `probe` (a unit embedding) is among the people enrolled now."""
    view = gallery.view(release)
    trained: list[Candidate] = []
    if release is not None:
        trained = _classifier_candidates(release, probe, gallery, view.live, top_k)
    untrained = [
        Candidate(person, max(0.0, similarity), similarity)
        for person, similarity in view.best_untrained(probe, top_k)
    ]
    contenders = [c for c in (trained[:1] + untrained[:1]) if c]
    if not contenders:
        return Identification(None, 0.0, 0.0, ())
    best = max(contenders, key=lambda candidate: candidate.similarity)
    others = sorted(
        (c for c in trained + untrained if c.person_id != best.person_id),
        key=lambda candidate: -candidate.similarity,
    )
    candidates = tuple([best, *others][:top_k])
    person_id = best.person_id if best.similarity >= threshold else None
    return Identification(person_id, best.confidence, best.similarity, candidates)
