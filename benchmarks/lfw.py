"""The LFW verification protocol: pairs files, folds, best threshold, ROC and TAR at FAR.

Shared by benchmarks/lfw_verification.py and the vision tests, so the accuracy the tests
assert and the accuracy the report publishes are computed by the same code.

Pairs files (Huang et al. 2007, "Labeled Faces in the Wild", README of the dataset):
- View 1 `pairsDevTest.txt` / `pairsDevTrain.txt`: a header `N`, then N same-person lines
  `name i j` followed by N different-people lines `name1 i name2 j`.
- View 2 `pairs.txt`: a header `10 300`, then 10 folds, each 300 same-person lines followed
  by 300 different-people lines. The standard figure is the mean (and std) of the accuracy
  on each fold with the threshold chosen on the other nine.
Images are `name/name_000i.jpg` under the LFW root.

Distances are "smaller = more alike" (L2 between unit embeddings); a pair whose image had
no detected face carries NaN, which never falls below a threshold: a miss counts against a
same-person pair and for a different-people pair, as a deployed system would behave.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from api.vision import Embedder, Face, MtcnnDetector, align_face, primary_face
from api.vision.align import CropRecipe

BATCH = 32  # faces per embedder run


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    same: bool
    fold: int = 0


def image_name(person: str, number: str) -> str:
    return f"{person}/{person}_{int(number):04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    """Every pair of a View 1 (`N`) or View 2 (`folds N`) pairs file, with its fold."""
    lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    header, rows = lines[0], [fields for fields in lines[1:] if fields]
    if len(header) not in (1, 2):
        raise ValueError(f"{path}: header {' '.join(header)!r} is neither 'N' nor 'folds N'")
    folds, per_class = (1, int(header[0])) if len(header) == 1 else map(int, header)
    if len(rows) != folds * 2 * per_class:
        raise ValueError(
            f"{path}: header promises {folds} x 2 x {per_class} pairs, found {len(rows)} lines"
        )
    pairs = []
    for index, fields in enumerate(rows):
        fold, position = divmod(index, 2 * per_class)
        same = position < per_class
        if same and len(fields) == 3:
            pair = Pair(image_name(fields[0], fields[1]), image_name(fields[0], fields[2]), True)
        elif not same and len(fields) == 4:
            pair = Pair(image_name(fields[0], fields[1]), image_name(fields[2], fields[3]), False)
        else:
            kind = "same-person (3 fields)" if same else "different-people (4 fields)"
            raise ValueError(f"{path}: line {index + 2} should be a {kind} pair: {fields}")
        pairs.append(Pair(pair.first, pair.second, pair.same, fold))
    return pairs


def split_folds(pairs: list[Pair], folds: int = 10) -> list[Pair]:
    """View 1 has no folds: deal its same and its different pairs into `folds` folds in
    file order, each with equal shares, as View 2 is laid out (people may recur across
    folds, unlike View 2; only the threshold is fitted, so little can leak)."""
    if len({p.fold for p in pairs}) > 1:
        return pairs
    dealt = []
    for same in (True, False):
        group = [p for p in pairs if p.same == same]
        size = len(group) / folds
        dealt += [Pair(p.first, p.second, p.same, int(i // size)) for i, p in enumerate(group)]
    return dealt


def all_pairs(names: Sequence[str], seed: int = 0) -> list[Pair]:
    """Every same-person pair of `names` (paths whose second-to-last part is the person),
    then as many different-people pairs drawn at random (fixed `seed`), dealt into folds
    by split_folds. Several times the pairs of a pairs file from the same images: finer
    resolution where two embeddings differ by a few tenths of a point (int8 vs float32),
    though people recur across folds."""
    people = [Path(name).parent.name for name in names]
    by_person: dict[str, list[str]] = {}
    for name, person in zip(names, people, strict=True):
        by_person.setdefault(person, []).append(name)
    same = [
        Pair(first, second, True)
        for group in by_person.values()
        for index, first in enumerate(group)
        for second in group[index + 1 :]
    ]
    rng = np.random.default_rng(seed)
    different: list[Pair] = []
    while len(different) < len(same):
        i, j = rng.integers(0, len(names), 2)
        if people[i] != people[j]:
            different.append(Pair(names[i], names[j], False))
    return split_folds(same + different)


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def subject_face(detector: MtcnnDetector, rgb: np.ndarray) -> Face | None:
    """The face /api/v1/verify takes (api/vision/choice.py: large and central), if any."""
    return primary_face(detector.detect(rgb), rgb.shape[1], rgb.shape[0])


def largest_face(detector: MtcnnDetector, rgb: np.ndarray) -> Face | None:
    """The largest detected face (the API's enrolment choice with `largest_face_only`)."""
    return next(iter(detector.detect(rgb)), None)  # detect() orders them largest first


def aligned_crops(
    paths: Iterable[Path],
    detector: MtcnnDetector,
    pick: Callable[[MtcnnDetector, np.ndarray], Face | None],
    crop: CropRecipe,
) -> dict[Path, np.ndarray]:
    """The crop (cut out as `crop` says) of the face `pick` chooses in each image
    (subject_face, largest_face); images where it finds none are absent."""
    crops = {}
    for path in paths:
        rgb = read_rgb(path)
        face = pick(detector, rgb)
        if face is not None:
            crops[path] = align_face(rgb, face, crop)
    return crops


def embed_batched(
    embedder: Embedder,
    crops: Sequence[np.ndarray] | np.ndarray,
    *,
    flip: bool = False,
    centred: bool = True,
) -> np.ndarray:
    """Unit vectors of `crops` (aligned faces, or an array of them), BATCH faces a run."""
    return np.concatenate(
        [
            embedder.embed(np.stack(crops[i : i + BATCH]), flip=flip, centred=centred)
            for i in range(0, len(crops), BATCH)
        ]
    )


def pair_distances(
    pairs: list[Pair], vectors: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """L2 distance of each pair (NaN where an image has no vector) and whether it is the
    same person."""
    dim = len(next(iter(vectors.values())))
    missing = np.full(dim, np.nan, dtype=np.float32)
    distances = np.array(
        [
            np.linalg.norm(vectors.get(p.first, missing) - vectors.get(p.second, missing))
            for p in pairs
        ]
    )
    return distances, np.array([p.same for p in pairs], dtype=bool)


def _accuracies(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate thresholds (below the smallest distance, then midway between neighbours)
    and the accuracy of `distance < threshold` == same at each, in O(n log n)."""
    finite = np.sort(distances[np.isfinite(distances)])
    if finite.size == 0:
        return np.array([0.0]), np.array([float(np.mean(~same))])
    thresholds = np.concatenate([[finite[0] - 1e-6], (finite[1:] + finite[:-1]) / 2])
    order = np.argsort(np.where(np.isfinite(distances), distances, np.inf), kind="stable")
    same_below = np.concatenate([[0], np.cumsum(same[order])])
    below = np.searchsorted(finite, thresholds, side="left")  # pairs with distance < t
    true_accepts = same_below[below]
    false_accepts = below - true_accepts
    different = int(np.sum(~same))
    return thresholds, (true_accepts + different - false_accepts) / len(same)


def best_threshold(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy of `distance < threshold` == same; the
    smallest such threshold when several tie."""
    thresholds, accuracies = _accuracies(distances, np.asarray(same, dtype=bool))
    best = int(np.argmax(accuracies))
    return float(thresholds[best]), float(accuracies[best])


def accuracy_at(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((distances < threshold) == same))


def kfold_accuracies(
    distances: np.ndarray, same: np.ndarray, folds: np.ndarray
) -> list[tuple[float, float]]:
    """(threshold fitted on the other folds, accuracy on this fold) for every fold."""
    results = []
    for fold in np.unique(folds):
        held = folds == fold
        threshold, _ = best_threshold(distances[~held], same[~held])
        results.append((threshold, accuracy_at(distances[held], same[held], threshold)))
    return results


def roc_curve(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false accept rate, true accept rate) as the threshold sweeps every distance."""
    same = np.asarray(same, dtype=bool)
    cuts = np.sort(distances[np.isfinite(distances)])
    impostors = np.sort(distances[~same & np.isfinite(distances)])
    genuine = np.sort(distances[same & np.isfinite(distances)])
    far = np.searchsorted(impostors, cuts, side="right") / max(1, int(np.sum(~same)))
    tar = np.searchsorted(genuine, cuts, side="right") / max(1, int(np.sum(same)))
    return np.concatenate([[0.0], far]), np.concatenate([[0.0], tar])


@dataclass(frozen=True)
class TarAtFar:
    """TAR at the loosest threshold whose false accepts stay within FAR x impostor pairs."""

    far_target: float
    tar: float
    threshold: float
    impostor_pairs: int
    false_accepts_allowed: int  # floor(far_target x impostor_pairs): 0 means "no FA at all"
    far_achieved: float


def tar_at_far(distances: np.ndarray, same: np.ndarray, far_target: float) -> TarAtFar:
    same = np.asarray(same, dtype=bool)
    impostors = np.sort(distances[~same & np.isfinite(distances)])
    impostor_pairs = int(np.sum(~same))
    allowed = int(np.floor(far_target * impostor_pairs + 1e-9))
    # accept distance < threshold: at most `allowed` impostors may fall below it
    threshold = float(impostors[allowed]) if allowed < len(impostors) else float("inf")
    genuine = distances[same]
    accepted = float(np.mean(genuine < threshold))
    return TarAtFar(
        far_target=far_target,
        tar=accepted,
        threshold=threshold,
        impostor_pairs=impostor_pairs,
        false_accepts_allowed=allowed,
        far_achieved=float(np.sum(impostors < threshold)) / max(1, impostor_pairs),
    )


def every_pair_key(far: float) -> str:
    """The key every_pair_tar gives its TAR at `far` under (results files read it)."""
    return f"every_pair_tar_at_far_{far:g}"


def every_pair_tar(vectors: dict[str, np.ndarray], fars: Sequence[float]) -> dict[str, Any]:
    """TAR at each of `fars` over every pair of the set's images (the same person:
    the same folder). A pairs file's 1,100 impostor pairs put FAR 1e-3 at one pair; the
    millions here resolve it, and 1e-4, the regime of naming a face against a gallery."""
    names = sorted(vectors)
    people = np.array([Path(name).parent.name for name in names])
    matrix = np.stack([vectors[name] for name in names])
    upper = np.triu_indices(len(names), 1)
    distances = np.sqrt(np.maximum(2.0 - 2.0 * (matrix @ matrix.T)[upper], 0.0))
    same = (people[:, None] == people[None, :])[upper]
    figures: dict[str, Any] = {
        "every_pair_genuine": int(same.sum()),
        "every_pair_impostors": int((~same).sum()),
    }
    for far in fars:
        figures[every_pair_key(far)] = round(tar_at_far(distances, same, far).tar, 4)
    return figures
