"""The detectors find the faces in the stills and in the video (real weights)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detectors import FaceDetector, open_detector
from edge.geometry import Detection
from models.runtime import ModelError
from tests.edge.conftest import make_detector, still
from tests.edge.scene_truth import STILL_FACES, VIDEO_FACES, VIDEO_RECALL, contains
from tests.shared_data import shared_path


@pytest.mark.parametrize("name", sorted(STILL_FACES))
def test_every_face_of_the_stills_is_found(detector: FaceDetector, name: str) -> None:
    image = still(name)
    detections = detector.detect(image)
    assert len(detections) == STILL_FACES[name]
    height, width = image.shape[:2]
    for detection in detections:
        box = detection.box
        assert 0 <= box.left < box.right <= width and 0 <= box.top < box.bottom <= height
        assert detection.score > detector.threshold
    # No two boxes on the same face: NMS leaves disjoint faces.
    for i, a in enumerate(detections):
        for b in detections[i + 1 :]:
            assert a.box.iou(b.box) < 0.3


def test_two_people_are_one_on_each_side(detector: FaceDetector) -> None:
    image = still("face_recognition_two_people.jpg")
    centres = sorted((d.box.left + d.box.right) / 2 for d in detector.detect(image))
    middle = image.shape[1] / 2
    assert centres[0] < middle < centres[1]


def test_a_blank_wall_has_no_face(detector: FaceDetector) -> None:
    wall = np.full((480, 640, 3), 180, np.uint8)
    cv2.randn(wall, 180, 8)
    assert detector.detect(wall) == []


@pytest.mark.slow
def test_the_people_of_the_video_are_found(
    detector: FaceDetector, video_detections: dict[int, list[Detection]]
) -> None:
    found = 0
    frames_with_faces = 0
    for index, detections in video_detections.items():
        frames_with_faces += bool(detections)
        for point in VIDEO_FACES.get(index, {}).values():
            found += any(contains(d, point) for d in detections)
    assert frames_with_faces == 105  # people are in view all along
    assert found >= VIDEO_RECALL[detector.name]


def test_boxes_agree_across_detectors(ultraface640: FaceDetector) -> None:
    """RFB-320 and RFB-640 put their boxes on the same faces of a group photo."""
    image = still("insightface_t1.jpg")
    small = make_detector("ultraface-320").detect(image)
    for face in ultraface640.detect(image):
        assert max(face.box.iou(other.box) for other in small) > 0.6


def test_ultraface_refuses_a_file_that_fails_its_checksum(tmp_path: Path) -> None:
    source = shared_path("models", "ultraface")
    (tmp_path / "version-RFB-320.onnx").write_bytes(
        (source / "version-RFB-320.onnx").read_bytes()[:-10]
    )
    (tmp_path / "SHA256SUMS").write_text((source / "SHA256SUMS").read_text())
    with pytest.raises(ModelError, match="sha256"):
        open_detector("ultraface-320", ultraface_dir=tmp_path)


def test_auto_falls_back_to_retinaface_without_ultraface(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ULTRAFACE_DIR", raising=False)
    make_detector("retinaface")  # skips when the manifest lacks it
    assert open_detector("auto", ultraface_dir=tmp_path).name == "retinaface"
