"""Cutting the face an embedder sees out of the image.

Sandberg's FaceNet models were trained, and evaluated on LFW by their author, on MTCNN
box crops with a margin, stretched to the network's input, NOT on faces warped onto a
landmark template: `align_dataset_mtcnn.py --margin 32` grows the box by 32 pixels in
total on LFW's 250x250 images. The crop here is that recipe made independent of the
image's scale: the box grows by MARGIN of its mean side on both axes (32 px on the
median LFW box, 110 px), and is stretched to size x size.

The crop before issue 16 grew the box by a fraction of its own width and of its own
height (a taller margin on a tall box) and always levelled the eyes. Both cost LFW
accuracy; levelling helps only heads that are really tilted (a ceiling camera's), so it
applies only when the eyes are at least MIN_ROLL_DEGREES off level. Each choice is
measured, one at a time, by benchmarks/lfw_recipe.py on LFW DevTrain and on DevTrain
rotated by +-25 degrees (results/lfw_recipe.json, REPORT.md).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from api.vision.mtcnn import Face

MARGIN = 0.3  # of the box's mean side, added to its width and to its height (see above)
MIN_ROLL_DEGREES = 8.0  # LFW's upright faces: 9 in 10 within 4 degrees (see above)


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
    box_width, box_height = max(right - left, 1.0), max(bottom - top, 1.0)
    grow = margin * (box_width + box_height) / 2
    width, height = box_width + grow, box_height + grow
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
