"""Fitting the linear classifier (api/recognition/classifier.py): the one-vs-rest SVM of
`linear_svm`, then one softmax temperature calibrated on held-out faces.

Imported only when a training job runs (api/training.py): SciPy and scikit-learn hold about
100 MiB of a worker's resident memory, which a worker that only recognises does not need.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from api.recognition.classifier import LinearClassifier
from api.recognition.linear_svm import fit_ovr_l2svm

# Without a held-out face to calibrate on (every identity has one face): a temperature
# that makes a decision margin of 0.5 worth ~e^5 in odds, a moderately confident softmax.
DEFAULT_TEMPERATURE = 10.0


def _fit_temperature(decisions: np.ndarray, targets: np.ndarray) -> float:
    def negative_log_likelihood(log_t: float) -> float:
        log_probs = log_softmax(np.exp(log_t) * decisions, axis=1)
        return float(-log_probs[np.arange(len(targets)), targets].mean())

    result = minimize_scalar(negative_log_likelihood, bounds=(-3.0, 5.0), method="bounded")
    return float(np.exp(result.x))


def _held_out_rows(targets: np.ndarray, seed: int = 0) -> np.ndarray:
    """One face of every identity that has two or more: the rest still covers every class."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(targets))
    _, first = np.unique(targets[order], return_index=True)
    candidates = order[first]
    return candidates[np.bincount(targets)[targets[candidates]] >= 2]


def train_linear_classifier(
    embeddings: np.ndarray, person_ids: list[str], c: float = 1.0, threads: int = 1
) -> LinearClassifier:
    """Fit on all faces; calibrate the temperature on faces held out of a second fit.

    The second fit starts from the first one's working sets, so calibration costs less
    than the fit itself. With a single identity there is nothing to separate: the
    classifier answers that identity with probability 1 and the open-set threshold on
    similarity does the rest.
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
    solution = fit_ovr_l2svm(embeddings, targets, len(labels), c, threads)
    temperature = DEFAULT_TEMPERATURE
    held = _held_out_rows(targets)
    if len(held):
        partial = targets.copy()
        partial[held] = -1
        fold = fit_ovr_l2svm(embeddings, partial, len(labels), c, threads, warm=solution)
        decisions = embeddings[held] @ fold.coef.T + fold.intercept
        temperature = _fit_temperature(decisions, targets[held])
    return LinearClassifier(
        labels=labels,
        coef=solution.coef.astype(np.float32),
        intercept=solution.intercept.astype(np.float32),
        temperature=temperature,
    )
