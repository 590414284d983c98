"""Cutting the face an embedder sees out of the image.

Sandberg's FaceNet models were trained and evaluated on MTCNN box crops with a margin,
stretched to the network's input (`align_dataset_mtcnn.py --margin 32` on LFW's 250x250
images), NOT on faces warped onto a landmark template. So a crop is the MTCNN box grown
by a margin and stretched to size x size; a head rolled at least `min_roll_degrees` is
first turned about the box centre so that its eyes are level (ceiling cameras), while a
face nearly upright is left as the author cut it (levelling small rolls costs more than
it gains). Each weight set has its own best margin (api/vision/embedder.py CROPS).

benchmarks/lfw_recipe.py measured each choice on LFW View 1 DevTrain, upright and with
every image rotated by up to +-25 degrees, and confirmed them on DevTest
(results/lfw_recipe.json, REPORT.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from api.vision.mtcnn import Face


def _eye_angle(face: Face) -> float:
    """Angle of the line from the left to the right eye, radians (0: level)."""
    (left_x, left_y), (right_x, right_y) = face.landmarks[0], face.landmarks[1]
    return math.atan2(right_y - left_y, right_x - left_x)


def roll_degrees(face: Face) -> float:
    """How far the eye line is from level, degrees (positive: clockwise in the image)."""
    return math.degrees(_eye_angle(face))


@dataclass(frozen=True)
class CropRecipe:
    """How faces are cut out for one weight set: the MTCNN box grown by `margin` of its
    own width and of its own height (`per_axis`) or of its mean side on both axes (the
    author's 32 px made scale-free), eyes levelled when at least `min_roll_degrees` off
    (0: always; math.inf: never)."""

    margin: float
    per_axis: bool
    min_roll_degrees: float

    def region(self, face: Face) -> tuple[float, float]:
        """Width and height of the region cut out around `face`'s box."""
        left, top, right, bottom = face.box
        width, height = max(right - left, 1.0), max(bottom - top, 1.0)
        if self.per_axis:
            return width * (1 + self.margin), height * (1 + self.margin)
        grow = self.margin * (width + height) / 2
        return width + grow, height + grow


def crop_matrix(
    face: Face, size: int, region: tuple[float, float], correct_roll: bool
) -> np.ndarray:
    """2x3 affine map from image pixels to the size x size crop of a `region` (width,
    height) centred on the box.

    Translate the box centre to the origin, rotate by minus the eye angle (if asked),
    scale the region to the output, translate to the output's centre.
    """
    left, top, right, bottom = face.box
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    width, height = region
    angle = _eye_angle(face) if correct_roll else 0.0
    cos, sin = math.cos(angle), math.sin(angle)
    rotate = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    to_origin = np.array([[1.0, 0.0, -centre_x], [0.0, 1.0, -centre_y], [0.0, 0.0, 1.0]])
    scale_out = np.array([[size / width, 0.0, size / 2], [0.0, size / height, size / 2], [0, 0, 1]])
    return (scale_out @ rotate @ to_origin)[:2]


def warp(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The size x size crop `matrix` maps out; parts beyond the image repeat its border."""
    return cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def align_face(rgb: np.ndarray, face: Face, crop: CropRecipe, size: int = 160) -> np.ndarray:
    """(size, size, 3) uint8 RGB crop of `face` cut out as `crop` says."""
    correct_roll = abs(roll_degrees(face)) >= crop.min_roll_degrees
    return warp(rgb, crop_matrix(face, size, crop.region(face), correct_roll), size)
