"""Synthetic model releases: written straight to a model volume, no training needed."""

from __future__ import annotations

import numpy as np

from api.recognition.classifier import LinearClassifier
from api.recognition.release import Release, new_version


def release(people: int) -> Release:
    """A facenet128 release of `people` labels p0, p1, ... with random weights."""
    rng = np.random.default_rng(people)
    classifier = LinearClassifier(
        labels=tuple(f"p{i}" for i in range(people)),
        coef=rng.standard_normal((people, 128)).astype(np.float32),
        intercept=rng.standard_normal(people).astype(np.float32),
        temperature=7.5,
    )
    return Release(new_version(), "facenet128", 0.55, "2026-01-01T00:00:00", classifier, people * 3)
