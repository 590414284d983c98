"""How usable a detected face is for naming someone: a score in [0, 1] from causes one can
measure and explain.

Poor crops are where false matches come from (a 20-pixel blur looks a little like
everyone), so every face gets a score that is the product of four factors, each in [0, 1]:

- size: the shorter side of the detector's box in image pixels; nothing below MIN_SIZE_PX
  (MTCNN's own smallest face) is worth naming, everything from FULL_SIZE_PX on is;
- sharpness: the variance of the Laplacian of the grey face cut out by QUALITY_CROP at
  160 x 160, on a log scale between BLURRED_LAPLACIAN and SHARP_LAPLACIAN; an upscaled
  small face and a motion-blurred one both lose it;
- pose: yaw estimated from the five landmarks (the nose's offset from the eyes' midpoint
  in units of half the eye distance, after undoing the roll) and the roll itself (the
  crop is rotated upright, but a steep roll usually means poor landmarks);
- exposure: the mean grey level of that cut's centre and the share of clipped pixels.

The face is measured on its own cut, not on the embedder's: a cut with a wider margin
shows the face smaller and reads sharper (on LFW DevTrain the median Laplacian variance is
52 with QUALITY_CROP, 65 with the box grown by 0.3 of its mean side, 45 by 0.15), so a
face's quality, the gates and the qualities stored with sightings would move whenever an
embedder or its crop changes.

A product, not a mean: one bad cause (a profile, a blur) is enough to make a face useless.
The constants were set on LFW View 1 train (benchmarks/face_quality.py shows the naming
accuracy per quality band and that degraded copies of a face score lower).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from api.vision import Face, align_face
from api.vision.align import CropRecipe

# The cut the constants below were set on (the embedders' crop on 2026-12-02): the box
# grown by 20% of its own width and height, eyes levelled, 160 x 160.
QUALITY_CROP = CropRecipe(margin=0.2, per_axis=True, min_roll_degrees=0.0)
QUALITY_SIDE = 160
MIN_SIZE_PX, FULL_SIZE_PX = 20.0, 56.0
BLURRED_LAPLACIAN, SHARP_LAPLACIAN = 6.0, 40.0
FRONTAL_YAW, PROFILE_YAW = 0.5, 1.5  # nose offset / half eye distance
UPRIGHT_ROLL, STEEP_ROLL = 30.0, 60.0  # degrees
DARK, DIM, BRIGHT, GLARE = 25.0, 60.0, 200.0, 240.0  # mean grey of the face's centre
CLIPPED_LOW, CLIPPED_HIGH = 8, 247  # grey levels counted as clipped


@dataclass(frozen=True)
class FaceQuality:
    """The score and the measurements it came from (answered with each face)."""

    score: float
    size_px: float
    sharpness: float
    yaw: float
    roll_degrees: float
    brightness: float
    clipped: float

    def to_json(self) -> dict[str, float]:
        return {
            "size_px": round(self.size_px, 1),
            "sharpness": round(self.sharpness, 1),
            "yaw": round(self.yaw, 3),
            "roll_degrees": round(self.roll_degrees, 1),
            "brightness": round(self.brightness, 1),
            "clipped": round(self.clipped, 4),
        }


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below `low`, 1 at or above `high`, linear between."""
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def pose_of(face: Face) -> tuple[float, float]:
    """(yaw, roll in degrees) from the landmarks: yaw 0 frontal, about 1 in profile."""
    (lx, ly), (rx, ry), (nx, ny) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    roll = math.atan2(ry - ly, rx - lx)
    half_eyes = max(math.hypot(rx - lx, ry - ly) / 2.0, 1e-6)
    mid_x, mid_y = (lx + rx) / 2.0, (ly + ry) / 2.0
    # The nose in the frame whose x axis runs along the eyes.
    along = (nx - mid_x) * math.cos(roll) + (ny - mid_y) * math.sin(roll)
    return abs(along) / half_eyes, math.degrees(roll)


def face_quality(face: Face, rgb: np.ndarray) -> FaceQuality:
    """The quality of `face` in the image `rgb` (RGB uint8)."""
    left, top, right, bottom = face.box
    size = min(right - left, bottom - top)
    crop = align_face(rgb, face, QUALITY_CROP, QUALITY_SIDE)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    yaw, roll = pose_of(face)
    side = grey.shape[0]
    centre = grey[side // 4 : side - side // 4, side // 4 : side - side // 4]
    brightness = float(centre.mean())
    clipped = float(np.mean((centre <= CLIPPED_LOW) | (centre >= CLIPPED_HIGH)))
    factors = (
        _ramp(size, MIN_SIZE_PX, FULL_SIZE_PX),
        _ramp(math.log(max(sharpness, 1e-6)), *map(math.log, (BLURRED_LAPLACIAN, SHARP_LAPLACIAN))),
        1.0 - _ramp(yaw, FRONTAL_YAW, PROFILE_YAW),
        1.0 - _ramp(abs(roll), UPRIGHT_ROLL, STEEP_ROLL),
        min(_ramp(brightness, DARK, DIM), 1.0 - _ramp(brightness, BRIGHT, GLARE)),
        1.0 - _ramp(clipped, 0.05, 0.5),
    )
    return FaceQuality(
        score=float(np.prod(factors)),
        size_px=float(size),
        sharpness=sharpness,
        yaw=yaw,
        roll_degrees=roll,
        brightness=brightness,
        clipped=clipped,
    )
