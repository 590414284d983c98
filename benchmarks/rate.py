"""Embeddings per second of any FaceNet runtime, measured the same way for every runtime.

numpy and models/ only, so the runtime venv (onnxruntime) and the build venv (TensorFlow,
benchmarks/tf_throughput.py) time identical inputs with identical code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import fastest_times
from models.parity import random_faces
from models.preprocessing import PREPROCESSING

BATCHES = (1, 16)


def model_inputs(model: str, count: int) -> np.ndarray:
    """`count` deterministic faces through the model's own preprocessing: the float32
    tensor both runtimes are fed, so preprocessing is outside the timed part."""
    return PREPROCESSING[model][0](random_faces(count))


def embeddings_per_second(
    run: Callable[[np.ndarray], Any], inputs: np.ndarray, batch: int, repeats: int
) -> dict[str, float]:
    """All of `inputs` through `run` in batches of `batch`, after one warm-up batch (first
    runs allocate and pick kernels): embeddings per wall second and per CPU second, each
    from the best of `repeats` passes (see benchmarks.common.fastest_times)."""
    batches = [inputs[i : i + batch] for i in range(0, len(inputs) - batch + 1, batch)]
    run(batches[0])

    def one_pass() -> None:
        for chunk in batches:
            run(chunk)

    timing = fastest_times(repeats, one_pass)
    faces = len(batches) * batch
    return {"per_s": round(faces / timing.wall_s, 2), "per_cpu_s": round(faces / timing.cpu_s, 2)}
