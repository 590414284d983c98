"""Cutting the face an embedder sees out of the image.

Sandberg's FaceNet models were trained on MTCNN box crops with a margin, stretched to
the network's input, NOT on faces warped onto a landmark template. So the crop here is
the MTCNN box grown by MARGIN (a fraction of its width and height, split over both
sides) and stretched to size x size, after rotating about the box centre so that the
eyes are level (roll correction) when they are at least `min_roll_degrees` off.

benchmarks/lfw_recipe.py measures alternatives one at a time on LFW DevTrain and on
DevTrain rotated by +-25 degrees (results/lfw_recipe.json): a margin of the box's mean
side on both axes (the author's 32 px, scale-free) and levelling only beyond a few
degrees helped facenet128 but, on the part of DevTrain measured in time, cost
facenet512 (issue 16), so the defaults stay until both are measured in full.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from api.vision.mtcnn import Face

MARGIN = 0.2  # the box grown by 20% of its width and height in total (see above)
MIN_ROLL_DEGREES = 0.0  # eyes always levelled (see above)


def _eye_angle(face: Face) -> float:
    """Angle of the line from the left to the right eye, radians (0: level)."""
    (left_x, left_y), (right_x, right_y) = face.landmarks[0], face.landmarks[1]
    return math.atan2(right_y - left_y, right_x - left_x)


def roll_degrees(face: Face) -> float:
    """How far the eye line is from level, degrees (positive: clockwise in the image)."""
    return math.degrees(_eye_angle(face))


def crop_matrix(face: Face, size: int, margin: float, correct_roll: bool) -> np.ndarray:
    """2x3 affine map from image pixels to the size x size crop.

    Translate the box centre to the origin, rotate by minus the eye angle (if asked),
    scale the grown box to the output, translate to the output's centre.
    """
    left, top, right, bottom = face.box
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    width = max(right - left, 1.0) * (1 + margin)
    height = max(bottom - top, 1.0) * (1 + margin)
    angle = _eye_angle(face) if correct_roll else 0.0
    cos, sin = math.cos(angle), math.sin(angle)
    rotate = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    to_origin = np.array([[1.0, 0.0, -centre_x], [0.0, 1.0, -centre_y], [0.0, 0.0, 1.0]])
    scale_out = np.array([[size / width, 0.0, size / 2], [0.0, size / height, size / 2], [0, 0, 1]])
    return (scale_out @ rotate @ to_origin)[:2]


def align_face(
    rgb: np.ndarray,
    face: Face,
    size: int = 160,
    *,
    margin: float = MARGIN,
    min_roll_degrees: float = MIN_ROLL_DEGREES,
) -> np.ndarray:
    """(size, size, 3) uint8 RGB crop of `face`; parts beyond the image repeat its border.

    The eyes are levelled only when they are at least `min_roll_degrees` off level
    (0: always; math.inf: never).
    """
    correct_roll = abs(roll_degrees(face)) >= min_roll_degrees
    matrix = crop_matrix(face, size, margin, correct_roll)
    return cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
