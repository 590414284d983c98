"""WIDER-style matching of detections to faces, on boxes placed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.detector_quality import Truth, iou_matrix, match, score

FACES = Truth(
    boxes=np.array([[0, 0, 10, 10], [100, 100, 140, 140], [200, 200, 300, 300]], float),
    invalid=np.array([False, False, True]),
)


def detections(*rows: tuple[float, float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    array = np.array(rows, dtype=float).reshape(-1, 5)
    return array[:, :4], array[:, 4]


def test_iou_of_known_boxes() -> None:
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 0.0, 1.0]])


def test_hits_duplicates_and_invalid_faces() -> None:
    found, false_positives = match(
        detections(
            (101, 101, 141, 141, 0.9),  # the 40 px face
            (100, 100, 139, 139, 0.8),  # a duplicate of it: a false positive
            (200, 200, 300, 300, 0.7),  # the invalid face: found, not a false positive
            (500, 500, 520, 520, 0.6),  # nothing there
            (3, 0, 13, 10, 0.5),  # IoU 7/13 = 0.54 with the 10 px face: a hit
        ),
        FACES,
    )
    assert found.tolist() == [True, True, True]
    assert false_positives == 2


def test_below_half_overlap_is_a_miss_and_a_false_positive() -> None:
    found, false_positives = match(detections((5, 0, 15, 10, 0.9)), FACES)  # IoU 1/3
    assert found.tolist() == [False, False, False] and false_positives == 1


def test_score_counts_valid_faces_by_size() -> None:
    results = {
        "a.jpg": detections((0, 0, 10, 10, 0.9), (60, 60, 70, 70, 0.5)),
        "b.jpg": detections(),
    }
    truths = {"a.jpg": FACES, "b.jpg": FACES}
    figures = score(results, truths)
    assert figures["faces"] == 4  # two valid faces in each image
    assert figures["found"] == 1 and figures["recall"] == pytest.approx(0.25)
    assert figures["false_positives"] == 1 and figures["false_positives_per_image"] == 0.5
    assert figures["precision"] == pytest.approx(0.5)
    buckets = {b["bucket"]: b for b in figures["buckets"]}
    assert (buckets["<16"]["faces"], buckets["<16"]["found"]) == (2, 1)
    assert (buckets["32-64"]["faces"], buckets["32-64"]["found"]) == (2, 0)
    assert buckets["64+"] == {"bucket": "64+", "faces": 0, "found": 0, "recall": None}
