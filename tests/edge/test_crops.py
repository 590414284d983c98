"""The crop policy: margin, clamping at the frame edges, size limits, JPEG quality."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.crops import CropPolicy, encode_jpeg, grow_box, make_crop, sharpness
from edge.geometry import Box
from tests.edge.conftest import still


def test_the_box_grows_a_quarter_of_its_size_on_each_side() -> None:
    # 100x80 face in the middle of a 640x480 frame: 25 px left/right, 20 px up/down.
    assert grow_box(Box(200, 150, 300, 230), 640, 480, 0.25) == (175, 130, 325, 250)


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        (Box(10, 20, 110, 120), (0, 0, 135, 145)),  # top-left corner: clamped at 0, 0
        (Box(580, 400, 640, 480), (565, 380, 640, 480)),  # bottom-right: clamped at w, h
        (Box(-5, -5, 40, 40), (0, 0, 52, 52)),  # a box the detector let spill over
    ],
)
def test_the_grown_box_is_clamped_to_the_frame(
    box: Box, expected: tuple[int, int, int, int]
) -> None:
    assert grow_box(box, 640, 480, 0.25) == expected


def test_a_face_at_the_edge_gives_a_real_crop_not_a_wrapped_one() -> None:
    """The original's unclamped margin made negative slice indices at the frame edge."""
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, :320] = 255  # left half white, right half black
    crop = make_crop(frame, Box(0, 0, 60, 60), CropPolicy(max_size=1000))
    assert crop is not None
    assert crop.region == (0, 0, 75, 75)
    assert crop.image.shape == (75, 75, 3)
    assert crop.image.min() == 255  # only pixels of the corner, none from the far side


def test_faces_smaller_than_min_size_are_dropped() -> None:
    frame = still("facenet_pytorch_multiface.jpg")
    policy = CropPolicy(min_size=40)
    assert make_crop(frame, Box(100, 100, 139, 130), policy) is None  # 39 px longest side
    assert make_crop(frame, Box(100, 100, 140, 130), policy) is not None  # 40 px


def test_crops_are_scaled_down_to_max_size_and_never_up() -> None:
    frame = still("face_recognition_obama_and_biden.jpg")
    big = make_crop(frame, Box(700, 300, 1000, 700), CropPolicy(max_size=200))
    assert big is not None
    assert max(big.image.shape[:2]) == 200
    # 400 px tall face -> 600 px crop; the aspect ratio survives the scaling.
    assert big.image.shape[:2] == (200, 150)
    small = make_crop(frame, Box(700, 300, 760, 380), CropPolicy(max_size=200))
    assert small is not None
    assert small.image.shape[:2] == (120, 90)


def test_jpeg_quality_trades_bytes_for_fidelity() -> None:
    image = still("insightface_t1.jpg")[250:420, 450:590]
    low, high = encode_jpeg(image, 50), encode_jpeg(image, 95)
    assert len(low) < len(high)
    decoded = cv2.imdecode(np.frombuffer(high, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape


def test_sharpness_drops_when_the_face_is_blurred() -> None:
    face = still("insightface_t1.jpg")[264:411, 463:569]
    blurred = cv2.GaussianBlur(face, (0, 0), 3)
    assert sharpness(blurred) < sharpness(face) / 3


def test_policy_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError, match="quality"):
        CropPolicy(jpeg_quality=0)
    with pytest.raises(ValueError):
        CropPolicy(max_size=0)
