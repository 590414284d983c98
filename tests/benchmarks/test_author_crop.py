"""benchmarks/lfw_recipe.py's yardstick: the weights' author's LFW cut, pixel for pixel
(davidsandberg/facenet align_dataset_mtcnn.py --margin 32), so the comparison with the
shipped recipe is with what the author evaluated, not with an approximation of it."""

from __future__ import annotations

import cv2
import numpy as np

from api.vision.mtcnn import Face
from benchmarks.lfw_recipe import AUTHOR, author_crop

EYES = ((0.0, 0.0),) * 5  # the author's cut ignores landmarks


def gradient_image(height: int = 250, width: int = 250) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    return np.dstack([rows % 256, cols % 256, (rows + cols) % 256]).astype(np.uint8)


def test_the_box_in_whole_pixels_grown_by_half_the_margin_a_side_then_stretched() -> None:
    rgb = gradient_image()
    face = Face(box=(100.7, 90.2, 150.9, 160.5), score=0.99, landmarks=EYES)
    cut = author_crop(32)(rgb, face)
    expected = cv2.resize(rgb[74:176, 84:166], (160, 160), interpolation=cv2.INTER_LINEAR)
    assert cut.shape == (160, 160, 3)
    assert np.array_equal(cut, expected)


def test_the_grown_box_is_clipped_to_the_image() -> None:
    rgb = gradient_image()
    face = Face(box=(5.0, 3.0, 60.0, 249.0), score=0.99, landmarks=EYES)
    cut = author_crop(32)(rgb, face)
    expected = cv2.resize(rgb[0:250, 0:76], (160, 160), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(cut, expected)


def test_the_recipe_never_levels_the_eyes() -> None:
    assert AUTHOR.style == "pixels" and AUTHOR.margin == 32
    assert AUTHOR.min_roll_degrees == float("inf")
    for levelled in (False, True):
        key, _ = AUTHOR.crop_for(levelled)
        assert key == "pixels32"
