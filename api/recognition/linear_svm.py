"""One-vs-rest linear SVM (LinearSVC's objective), solved exactly on per-class working sets.

The objective is LinearSVC's default, for each class k:

    min_w  1/2 |w|^2 + C * sum_i max(0, 1 - y_ik * w . [x_i, 1])^2

(squared hinge, L2; the bias is the weight of a constant feature 1 and is regularised, as
liblinear does with intercept_scaling=1). LinearSVC hands liblinear all n faces for each
of the K classes: with LFW's 5,749 identities and 13,233 faces that is minutes (measured in
benchmarks/training_benchmark.py). Yet a class's optimum depends only on the faces inside
its margin; every other face adds nothing to the loss and nothing to the gradient. So each
class is solved by the same liblinear solver on a small working set (its own faces and the
other faces nearest to them); then every face is scored against every class in one matrix
product, the faces that violate a margin join that class's working set and the class is
solved again. When no face violates any margin, each working-set solution is the optimum of
the full problem: the same SVM as LinearSVC, in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# liblinear as LinearSVC calls it (sklearn.svm._base._fit_liblinear), minus the per-call
# input validation that would cost more than solving a working set. Pinned with
# scikit-learn; tests/training/test_linear_svm.py compares the result with LinearSVC.
from sklearn.svm import _liblinear

_liblinear.set_verbosity_wrap(0)
L2_LOSS_DUAL = 1  # liblinear's L2R_L2LOSS_SVC_DUAL, LinearSVC(dual=True)'s solver
TOLERANCE = 1e-4  # LinearSVC's default
MAX_PASSES = 1000  # LinearSVC's default max_iter

# Nearest other faces each class starts with; the margin check adds what is missing.
INITIAL_NEGATIVES = 96
# Most violating faces a class takes in per round: keeps working sets near the faces
# that end up inside the margin instead of all that a rough early solution misplaced.
ADDED_PER_ROUND = 48
# liblinear stops at TOLERANCE, so faces sit a hair inside a margin they should touch.
MARGIN_SLACK = 1e-3
MAX_ROUNDS = 50
SCORE_CHUNK = 512


@dataclass(frozen=True)
class OvrSolution:
    coef: np.ndarray  # (K, dim) float64
    intercept: np.ndarray  # (K,) float64
    rounds: int  # working-set rounds until no margin was violated
    working: tuple[np.ndarray, ...]  # each class's final working set (row indices)

    @property
    def working_rows(self) -> int:
        return sum(len(rows) for rows in self.working)


def _solve_classes(
    embeddings: np.ndarray,
    signs_of: Callable[[np.ndarray, int], np.ndarray],
    classes: np.ndarray,
    working: list[np.ndarray],
    weights: np.ndarray,
    c: float,
    threads: int,
) -> None:
    """Solve `classes` on their working sets; writes [w, b] rows of `weights`."""

    def solve(k: int) -> None:
        signs = signs_of(working[k], k)
        kept = signs != 0
        rows = np.ascontiguousarray(embeddings[working[k][kept]])
        positive = (signs[kept] > 0).astype(np.float64)
        raw, _ = _liblinear.train_wrap(
            rows,
            positive,
            False,
            L2_LOSS_DUAL,
            TOLERANCE,
            1.0,  # bias feature value: LinearSVC's intercept_scaling
            c,
            np.ones(2),
            MAX_PASSES,
            0,
            0.1,
            np.ones(len(rows)),
        )
        weights[k] = raw[0]

    # liblinear releases the GIL while it trains.
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(solve, classes))


def _nearest_negatives(
    faces: np.ndarray, targets: np.ndarray, rows: np.ndarray, n_classes: int, count: int
) -> list[np.ndarray]:
    """Each class's own faces plus the `count` other faces closest to its mean (of `rows`)."""
    candidates = faces[rows]
    owners = targets[rows]
    sums = np.zeros((n_classes, faces.shape[1]), dtype=np.float32)
    np.add.at(sums, owners, candidates)
    working: list[np.ndarray] = []
    count = min(count, len(rows) - 1)
    for first in range(0, n_classes, SCORE_CHUNK):
        chunk = np.arange(first, min(n_classes, first + SCORE_CHUNK))
        scores = sums[chunk] @ candidates.T  # (classes, faces): one class per row
        scores[owners[None, :] == chunk[:, None]] = -np.inf
        nearest = np.argpartition(-scores, count - 1, axis=1)[:, :count]
        for line, k in enumerate(chunk):
            others = nearest[line]
            others = rows[others[np.isfinite(scores[line, others])]]
            working.append(np.union1d(rows[owners == k], others))
    return working


def _violators(
    faces: np.ndarray, targets: np.ndarray, weights: np.ndarray, working: list[np.ndarray]
) -> dict[int, np.ndarray]:
    """Per class, the worst faces outside its working set that fall inside its margin.

    A class's own faces are always in its working set, so only other faces can be
    missing: those scoring above -1. Rows whose target is negative take part in no class
    (held out by the caller).
    """
    held_out = targets < 0
    found: dict[int, np.ndarray] = {}
    for first in range(0, len(weights), SCORE_CHUNK):
        chunk = np.arange(first, min(len(weights), first + SCORE_CHUNK))
        scores = weights[chunk, :-1].astype(np.float32) @ faces.T
        scores += weights[chunk, -1:].astype(np.float32)
        inside = scores > -1.0 + MARGIN_SLACK
        inside[:, held_out] = False
        members = [working[k] for k in chunk]
        lines = np.repeat(np.arange(len(chunk)), [len(rows) for rows in members])
        inside[lines, np.concatenate(members)] = False
        for line in np.flatnonzero(inside.any(axis=1)):
            missing = np.flatnonzero(inside[line])
            if len(missing) > ADDED_PER_ROUND:
                worst = np.argpartition(-scores[line, missing], ADDED_PER_ROUND - 1)
                missing = missing[worst[:ADDED_PER_ROUND]]
            found[int(chunk[line])] = missing
    return found


def fit_ovr_l2svm(
    embeddings: np.ndarray,
    targets: np.ndarray,
    n_classes: int,
    c: float = 1.0,
    threads: int = 1,
    warm: OvrSolution | None = None,
) -> OvrSolution:
    """One-vs-rest squared-hinge linear SVM; needs at least two classes.

    `targets` are class indices 0..n_classes-1; a row with target -1 is left out of every
    class (held out for calibration) but keeps its index, so the working sets of a fit on
    all rows (`warm`) can start a fit on fewer.
    """
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float64)
    # liblinear solves in float64; scoring every face, each round, is done in float32,
    # converted here once per fit rather than once per round.
    faces = embeddings.astype(np.float32)
    targets = np.asarray(targets, dtype=np.int64)
    if warm is None:
        rows = np.flatnonzero(targets >= 0)
        working = _nearest_negatives(faces, targets, rows, n_classes, INITIAL_NEGATIVES)
    else:
        working = list(warm.working)

    def signs_of(rows: np.ndarray, k: int) -> np.ndarray:
        return np.where(targets[rows] == k, 1.0, np.where(targets[rows] >= 0, -1.0, 0.0))

    weights = np.zeros((n_classes, embeddings.shape[1] + 1))
    pending = np.arange(n_classes)
    for round_number in range(1, MAX_ROUNDS + 1):
        _solve_classes(embeddings, signs_of, pending, working, weights, c, threads)
        missing = _violators(faces, targets, weights, working)
        if not missing:
            return OvrSolution(
                coef=weights[:, :-1],
                intercept=weights[:, -1],
                rounds=round_number,
                working=tuple(working),
            )
        for k, rows in missing.items():
            working[k] = np.union1d(working[k], rows)
        pending = np.fromiter(missing, dtype=np.int64)
    raise RuntimeError(f"working sets still growing after {MAX_ROUNDS} rounds")
