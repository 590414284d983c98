"""A linear one-vs-rest SVM with temperature-calibrated probabilities, stored as arrays.

Why not the original `SVC(kernel="linear", probability=True)`: it is one-vs-one (n^2/2
binary problems) with 5-fold Platt scaling inside, which does not scale to thousands of
identities. One-vs-rest fits n problems (LinearSVC's objective, solved on working sets by
`linear_svm`: seconds for LFW's 5,749 identities where LinearSVC takes minutes); its
decision values become probabilities through one softmax temperature fitted on held-out
faces (temperature scaling, Guo et al. 2017). The result is two arrays and a float: no
pickle ever leaves or enters the model volume.

This module is the serving half, numpy only; fitting is `api.recognition.fitting`, which
needs SciPy and scikit-learn: 100 MiB resident that a worker which only recognises never
loads (its softmax is the three lines below instead of scipy.special's, 25 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearClassifier:
    """Decision = X @ coef.T + intercept; probability = softmax(temperature * decision)."""

    labels: tuple[str, ...]
    coef: np.ndarray  # (n_classes, dim) float32
    intercept: np.ndarray  # (n_classes,) float32
    temperature: float

    def decision_function(self, embeddings: np.ndarray) -> np.ndarray:
        return embeddings @ self.coef.T + self.intercept

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, dim) -> (N, n_classes) probabilities, columns in `labels` order."""
        logits = self.temperature * self.decision_function(embeddings)
        odds = np.exp(logits - logits.max(axis=1, keepdims=True))
        return odds / odds.sum(axis=1, keepdims=True)
