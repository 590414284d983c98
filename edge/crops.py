"""Turning a detection into the face crop the cloud receives.

The crop grows the detected box by a margin on each side because the cloud re-detects
the face with MTCNN, which needs some context around it. The original framework computed
the margin with the wrong sign arithmetic and never clamped it, so a face near the frame
edge produced negative slice indices and an empty or wrapped crop; here the grown box is
clamped to the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from edge.geometry import Box

# The sharpness of every crop is measured at this face size, so a large face and a small
# one are compared on the same scale (the Laplacian variance grows with resolution).
SHARPNESS_SIDE = 96


@dataclass(frozen=True)
class CropPolicy:
    """How a face becomes a crop: margin, size limits (longest side, pixels), JPEG quality.

    `min_size` applies to the detected face box (the face's own resolution, which decides
    whether the cloud can recognise it); `max_size` to the crop sent.
    """

    margin: float = 0.25
    min_size: int = 32
    max_size: int = 256
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if not 0 < self.jpeg_quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, not {self.jpeg_quality}")
        if self.margin < 0 or self.min_size < 0 or self.max_size < 1:
            raise ValueError("margin and min_size must be >= 0 and max_size >= 1")


@dataclass(frozen=True)
class FaceCrop:
    """A face cut out of a frame (not yet scaled or encoded) and what the tracker judges
    it by.

    Scaling and encoding wait until the tracker decides to send, so duplicates cost no
    resize and no JPEG work: `image` is computed on first use, from `pixels`, a view of
    the frame (so read it before the frame is drawn on)."""

    pixels: np.ndarray  # BGR, the frame inside `region`, full resolution
    max_size: int
    region: tuple[int, int, int, int]  # left, top, right, bottom in the frame
    face_area: float
    sharpness: float

    @cached_property
    def image(self) -> np.ndarray:
        """The crop sent: BGR, longest side <= max_size."""
        return fit_longest_side(self.pixels, self.max_size)


def grow_box(
    box: Box, frame_width: int, frame_height: int, margin: float
) -> tuple[int, int, int, int]:
    """`box` grown by `margin` x its width (height) on each side, clamped to the frame."""
    dx, dy = box.width * margin, box.height * margin
    left = max(0, math.floor(box.left - dx))
    top = max(0, math.floor(box.top - dy))
    right = min(frame_width, math.ceil(box.right + dx))
    bottom = min(frame_height, math.ceil(box.bottom + dy))
    return left, top, right, bottom


def fit_longest_side(image: np.ndarray, max_size: int) -> np.ndarray:
    """Scale down (never up) so the longest side is at most `max_size`."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_size:
        return image
    scale = max_size / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG")
    return buffer.tobytes()


def sharpness(face_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the face at a fixed size: low for blurred faces."""
    gray = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2GRAY)
    gray = cv2.resize(gray, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def make_crop(frame_bgr: np.ndarray, box: Box, policy: CropPolicy) -> FaceCrop | None:
    """The crop for `box`, or None when the face is smaller than `policy.min_size`."""
    if max(box.width, box.height) < policy.min_size:
        return None
    frame_height, frame_width = frame_bgr.shape[:2]
    left, top, right, bottom = grow_box(box, frame_width, frame_height, policy.margin)
    fl, ft, fr, fb = grow_box(box, frame_width, frame_height, 0.0)
    if fr <= fl or fb <= ft:
        return None
    return FaceCrop(
        pixels=frame_bgr[top:bottom, left:right],
        max_size=policy.max_size,
        region=(left, top, right, bottom),
        face_area=box.area,
        sharpness=sharpness(frame_bgr[ft:fb, fl:fr]),
    )
