"""Choosing a face detector by name; every detector maps a BGR frame to Detections."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from edge.geometry import Detection
from edge.retinaface import RetinaFaceDetector
from edge.ultraface import UltraFaceDetector, ultraface_available, ultraface_dir_from_env

DETECTOR_NAMES = ("auto", "ultraface-640", "ultraface-320", "retinaface")


class FaceDetector(Protocol):
    """What the pipeline needs: a name for reports and one frame in, faces out."""

    name: str
    threshold: float

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]: ...


def open_detector(
    name: str = "auto",
    threads: int = 1,
    threshold: float | None = None,
    ultraface_dir: Path | None = None,
) -> FaceDetector:
    """Open `name`; "auto" is UltraFace-640 (the original design) when its file is in
    `ultraface_dir` (default `ULTRAFACE_DIR`), otherwise the PyPI-shipped RetinaFace."""
    if name not in DETECTOR_NAMES:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    directory = ultraface_dir if ultraface_dir is not None else ultraface_dir_from_env()
    if name == "auto":
        name = "ultraface-640" if ultraface_available(directory, 640) else "retinaface"
    options = {} if threshold is None else {"threshold": threshold}
    if name == "retinaface":
        return RetinaFaceDetector(threads=threads, **options)
    if directory is None:
        raise ValueError(f"{name} needs ULTRAFACE_DIR (the folder with version-RFB-*.onnx)")
    return UltraFaceDetector(
        directory, variant=int(name.rsplit("-", 1)[1]), threads=threads, **options
    )
