"""Detectors on real weights, and the scenes they are tested on (from ../shared)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detectors import FaceDetector, open_detector
from edge.geometry import Detection
from edge.retinaface import MANIFEST_NAME
from edge.sources import open_source
from models.runtime import ModelStore
from tests.shared_data import shared_path

DETECTORS = ("ultraface-640", "ultraface-320", "retinaface")


def facenet_video() -> Path:
    return shared_path("data", "scenes", "video", "facenet_pytorch_video.mp4")


def hamilton_clip() -> Path:
    return shared_path("data", "scenes", "video", "face_recognition_short_hamilton_clip.mp4")


def still(name: str) -> np.ndarray:
    image = cv2.imread(str(shared_path("data", "scenes", "stills", name)))
    assert image is not None, name
    return image


def make_detector(name: str, threads: int = 1) -> FaceDetector:
    """Open a detector or skip naming what is missing (UltraFace: ../shared; RetinaFace:
    the built models/build manifest)."""
    if name.startswith("ultraface"):
        return open_detector(name, threads, ultraface_dir=shared_path("models", "ultraface"))
    if MANIFEST_NAME not in ModelStore():
        pytest.skip(f"{MANIFEST_NAME} is not built; run `make models`")
    return open_detector(name, threads)


@pytest.fixture(scope="session", params=DETECTORS)
def detector(request: pytest.FixtureRequest) -> FaceDetector:
    return make_detector(request.param)


@pytest.fixture(scope="session")
def ultraface640() -> FaceDetector:
    return make_detector("ultraface-640")


@pytest.fixture(scope="session")
def video_detections(detector: FaceDetector) -> dict[int, list[Detection]]:
    """{frame index: what `detector` finds there} over facenet_video: decoded and
    detected once a session for the detector and the tracker tests."""
    return {
        frame.index: detector.detect(frame.image) for frame in open_source(str(facenet_video()))
    }
