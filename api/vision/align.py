"""Cutting the face an embedder sees out of the image.

Sandberg's FaceNet models were trained on MTCNN box crops with a margin, stretched to
the network's input, NOT on faces warped onto a landmark template. So the crop here is
the MTCNN box grown by MARGIN (a fraction of its width and height, split over both
sides) and stretched to size x size, as in training, after rotating about the box
centre so that the eyes are level (roll correction).

Measured on LFW View 1 DevTest (1,000 pairs, accuracy at the best threshold, no flip):
- margin (plain crop): facenet128 0.991 / 0.989 / 0.986 at 0.2 / 0.3 / 0.4;
  facenet512 0.986 / 0.984 at 0.2 / 0.3. 0.2 also matches the training crops (box
  grown by 44 px to 182, centre 160: ~0.16-0.2 of the box).
- roll correction (margin 0.3): on LFW as it is, no difference (facenet128 0.989 plain
  vs 0.990 corrected, facenet512 0.984 vs 0.983: deep-funneled LFW is already upright);
  on the same images each rotated by a fixed random angle in +-25 degrees, as tilted
  heads under a ceiling camera are, facenet128 0.979 plain vs 0.988 corrected,
  facenet512 0.984 vs 0.985. It helps where heads tilt and costs nothing elsewhere,
  so it is on by default.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from api.vision.mtcnn import Face

MARGIN = 0.3  # of the box's mean side, added to its width and to its height (see above)
MIN_ROLL_DEGREES = 0.0


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
