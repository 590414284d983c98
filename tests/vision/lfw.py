"""LFW View 1 verification protocol, shared by the vision tests.

pairsDevTest.txt: a header line with the pair count, then `name i j` (same person) and
`name1 i name2 j` (different people); images are `name/name_000i.jpg`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from api.vision import Face, MtcnnDetector


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    same: bool


def image_name(person: str, number: str) -> str:
    return f"{person}/{person}_{int(number):04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) == 3:
            pairs.append(
                Pair(image_name(fields[0], fields[1]), image_name(fields[0], fields[2]), True)
            )
        elif len(fields) == 4:
            pairs.append(
                Pair(image_name(fields[0], fields[1]), image_name(fields[2], fields[3]), False)
            )
    return pairs


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def central_face(detector: MtcnnDetector, rgb: np.ndarray) -> Face | None:
    """The detected face nearest the image centre (LFW centres its subject), if any."""
    faces = detector.detect(rgb)
    if not faces:
        return None
    centre = np.array([rgb.shape[1] / 2, rgb.shape[0] / 2])

    def offset(face: Face) -> float:
        left, top, right, bottom = face.box
        return float(np.linalg.norm(np.array([(left + right) / 2, (top + bottom) / 2]) - centre))

    return min(faces, key=offset)


def best_threshold(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy of `distance < threshold` == same."""
    candidates = np.sort(distances)
    midpoints = np.concatenate([[candidates[0] - 1e-6], (candidates[1:] + candidates[:-1]) / 2])
    accuracies = [float(np.mean((distances < t) == same)) for t in midpoints]
    best = int(np.argmax(accuracies))
    return float(midpoints[best]), accuracies[best]
