"""A linear one-vs-rest SVM with temperature-calibrated probabilities, stored as arrays.

Why not the original `SVC(kernel="linear", probability=True)`: it is one-vs-one (n^2/2
binary problems) with 5-fold Platt scaling inside, which does not scale to thousands of
identities. LinearSVC (liblinear, one-vs-rest) fits n problems; its decision values are
turned into probabilities by a single softmax temperature fitted on held-out folds
(temperature scaling, Guo et al. 2017). The result is three arrays and a float: no pickle
ever leaves or enters the model volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC


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
        return softmax(self.temperature * self.decision_function(embeddings), axis=1)


def _fit_svm(embeddings: np.ndarray, targets: np.ndarray, c: float) -> LinearSVC:
    return LinearSVC(C=c, dual="auto", max_iter=5000).fit(embeddings, targets)


def _decision(model: LinearSVC, embeddings: np.ndarray, n_classes: int) -> np.ndarray:
    scores = model.decision_function(embeddings)
    if n_classes == 2:  # liblinear keeps one column for two classes
        scores = np.column_stack([-scores, scores])
    full = np.full((len(embeddings), n_classes), -1e3, dtype=np.float64)
    full[:, model.classes_] = scores
    return full


def _fit_temperature(decisions: np.ndarray, targets: np.ndarray) -> float:
    def negative_log_likelihood(log_t: float) -> float:
        log_probs = log_softmax(np.exp(log_t) * decisions, axis=1)
        return float(-log_probs[np.arange(len(targets)), targets].mean())

    result = minimize_scalar(negative_log_likelihood, bounds=(-3.0, 5.0), method="bounded")
    return float(np.exp(result.x))


def train_linear_classifier(
    embeddings: np.ndarray, person_ids: list[str], c: float = 1.0, folds: int = 3
) -> LinearClassifier:
    """Fit on all data; calibrate the temperature on out-of-fold decision values.

    With a single identity there is nothing to separate: the classifier answers that
    identity with probability 1 and the open-set threshold on similarity does the rest.
    """
    labels = tuple(sorted(set(person_ids)))
    index = {label: position for position, label in enumerate(labels)}
    targets = np.array([index[pid] for pid in person_ids], dtype=np.int64)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    dim = embeddings.shape[1]
    if len(labels) == 1:
        return LinearClassifier(
            labels, np.zeros((1, dim), np.float32), np.zeros(1, np.float32), 1.0
        )
    model = _fit_svm(embeddings, targets, c)
    coef = model.coef_ if len(labels) > 2 else np.vstack([-model.coef_[0], model.coef_[0]])
    intercept = (
        model.intercept_
        if len(labels) > 2
        else np.array([-model.intercept_[0], model.intercept_[0]])
    )
    smallest_class = int(np.bincount(targets).min())
    n_folds = min(folds, smallest_class)
    temperature = 10.0
    if n_folds >= 2:
        decisions = np.zeros((len(targets), len(labels)))
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=0)
        for train_rows, held_rows in splitter.split(embeddings, targets):
            fold_model = _fit_svm(embeddings[train_rows], targets[train_rows], c)
            decisions[held_rows] = _decision(fold_model, embeddings[held_rows], len(labels))
        temperature = _fit_temperature(decisions, targets)
    return LinearClassifier(
        labels=labels,
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float32),
        temperature=temperature,
    )
