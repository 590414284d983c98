"""Face crops for the embedder: geometry of the margin crop and the optional roll fix."""

from __future__ import annotations

import math

import cv2
import numpy as np

from api.vision import Face, MtcnnDetector, align_face
from api.vision.align import CropRecipe, crop_matrix, roll_degrees, warp
from api.vision.embedder import CROPS
from benchmarks.lfw import read_rgb
from tests.shared_data import shared_path

TILTED = Face(
    box=(100.0, 80.0, 200.0, 210.0),
    score=1.0,
    landmarks=((120.0, 120.0), (180.0, 140.0), (150.0, 160.0), (125.0, 185.0), (175.0, 195.0)),
)


def apply(matrix: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    return matrix @ np.array([point[0], point[1], 1.0])


SIDE = CropRecipe(margin=0.15, per_axis=False, min_roll_degrees=8.0)
AXIS = CropRecipe(margin=0.2, per_axis=True, min_roll_degrees=8.0)


def test_each_weight_set_has_its_measured_crop() -> None:
    assert CROPS == {"facenet128": SIDE, "facenet512": AXIS}


def test_the_box_grows_by_the_margin_of_its_mean_side_or_of_each_axis() -> None:
    """Scale-free: a 100 x 130 box grows by 0.15 x 115 = 17.25 px in width and in height;
    per axis by 20% of 100 and of 130."""
    assert SIDE.region(TILTED) == (117.25, 147.25)
    assert AXIS.region(TILTED) == (120.0, 156.0)


def test_plain_crop_maps_the_grown_box_onto_the_output() -> None:
    matrix = crop_matrix(TILTED, 160, SIDE.region(TILTED), correct_roll=False)
    grow_x = grow_y = 17.25 / 2
    np.testing.assert_allclose(apply(matrix, (100 - grow_x, 80 - grow_y)), [0, 0], atol=1e-9)
    np.testing.assert_allclose(apply(matrix, (200 + grow_x, 210 + grow_y)), [160, 160], atol=1e-9)


def test_roll_correction_levels_the_eyes_about_the_box_centre() -> None:
    matrix = crop_matrix(TILTED, 160, SIDE.region(TILTED), correct_roll=True)
    left_eye, right_eye = apply(matrix, TILTED.landmarks[0]), apply(matrix, TILTED.landmarks[1])
    assert abs(left_eye[1] - right_eye[1]) < 1e-6 and left_eye[0] < right_eye[0]
    np.testing.assert_allclose(apply(matrix, (150.0, 145.0)), [80, 80], atol=1e-9)


def test_roll_is_corrected_only_beyond_the_threshold() -> None:
    """TILTED's eyes are 18.4 degrees off level; a face nearly level is cut out plain."""
    assert abs(roll_degrees(TILTED) - 18.43) < 0.01
    level = Face(TILTED.box, 1.0, ((120.0, 120.0), (180.0, 122.0), *TILTED.landmarks[2:]))
    rgb = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    for face, levelled in ((TILTED, True), (level, False)):
        expected = warp(rgb, crop_matrix(face, 160, SIDE.region(face), levelled), 160)
        np.testing.assert_array_equal(align_face(rgb, face, SIDE), expected)
    never = CropRecipe(0.3, per_axis=False, min_roll_degrees=math.inf)
    np.testing.assert_array_equal(
        align_face(rgb, TILTED, never),
        align_face(rgb, Face(TILTED.box, 1.0, level.landmarks), never),
    )


def test_the_crop_holds_one_upright_face_filling_it(detector: MtcnnDetector) -> None:
    """Re-detecting in the 160x160 crop finds the face centred and about as large as the
    margin leaves it; a head rolled by 25 degrees comes out upright by default."""
    rgb = read_rgb(shared_path("data", "lfw-view1", "Abdullah_Gul", "Abdullah_Gul_0013.jpg"))
    rolled = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((125, 125), 25, 1.0), (250, 250))
    for image, crop_recipe in ((rgb, SIDE), (rolled, SIDE), (rolled, AXIS)):
        face = max(detector.detect(image), key=lambda f: f.area)
        crop = align_face(image, face, crop_recipe)
        assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
        (again,) = [f for f in detector.detect(crop) if f.area > 2000]
        left, top, right, bottom = again.box
        assert abs((left + right) / 2 - 80) < 12 and abs((top + bottom) / 2 - 80) < 12
        expected_width = 160 * (face.box[2] - face.box[0]) / crop_recipe.region(face)[0]
        assert 0.6 < (right - left) / expected_width < 1.3
        (lx, ly), (rx, ry) = again.landmarks[:2]
        assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 6


def test_a_box_beyond_the_image_repeats_the_border() -> None:
    rgb = np.zeros((50, 50, 3), dtype=np.uint8)
    rgb[:, -1] = 255  # the right-most column is white
    face = Face((20.0, 10.0, 60.0, 40.0), 1.0, TILTED.landmarks)
    crop = align_face(rgb, face, CropRecipe(0.0, per_axis=True, min_roll_degrees=math.inf), 40)
    assert crop[:, -5:].min() == 255  # past the image: the white border column repeated
    assert crop[:, :10].max() == 0
