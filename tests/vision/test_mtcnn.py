"""MTCNN on real images: LFW portraits, WIDER FACE crowds, landmark geometry."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.vision import Face, MtcnnDetector
from api.vision.mtcnn import CROP_MAX_SIDE, nms
from benchmarks.detector_quality import iou_matrix
from benchmarks.lfw import read_rgb
from models.runtime import ModelStore
from tests.shared_data import shared_path

LFW_SAMPLE = 100
WIDER_MIN_HEIGHT = 40.0  # px in the stored 416x416 images
WIDER_IOU = 0.5


@pytest.fixture(scope="module")
def lfw_sample(
    lfw_faces: dict[str, tuple[np.ndarray, Face | None]], detector: MtcnnDetector
) -> list[tuple[list[Face], Face | None]]:
    """Every 15th LFW image (a fixed sample of 100 across people): all its faces and the
    one nearest the centre."""
    names = sorted(lfw_faces)[:: len(lfw_faces) // LFW_SAMPLE][:LFW_SAMPLE]
    return [(detector.detect(lfw_faces[n][0]), lfw_faces[n][1]) for n in names]


def test_the_central_face_of_lfw_portraits_is_found(
    lfw_sample: list[tuple[list[Face], Face | None]],
) -> None:
    """Each LFW image is centred on its subject; many also show bystanders, often cut by
    the border (measured: the subject in 100/100, no other face in 82/100, where the
    other 18 hold real second faces at the edges, not false positives on the subject)."""
    centre = np.array([125.0, 125.0])
    central = alone = 0
    for faces, _ in lfw_sample:
        centres = [np.array([(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2]) for f in faces]
        central += any(np.linalg.norm(c - centre) < 25 for c in centres)
        alone += len(faces) == 1
    print(f"\nLFW sample: subject found in {central}/{len(lfw_sample)}, alone in {alone}")
    assert len(lfw_sample) == LFW_SAMPLE
    assert central >= 0.98 * LFW_SAMPLE
    assert alone >= 0.75 * LFW_SAMPLE


def test_landmarks_lie_where_a_face_has_them(
    lfw_sample: list[tuple[list[Face], Face | None]],
) -> None:
    plausible = 0
    for _, face in lfw_sample:
        assert face is not None
        (lex, ley), (rex, rey), (_, ny), (mlx, mly), (mrx, mry) = face.landmarks
        left, top, right, bottom = face.box
        inside = all(left <= x <= right and top <= y <= bottom for x, y in face.landmarks)
        ordered = lex < rex and mlx < mrx and max(ley, rey) < ny < min(mly, mry)
        plausible += inside and ordered
    assert plausible >= 0.98 * len(lfw_sample)


def test_lfw_face_sizes_and_scores(lfw_sample: list[tuple[list[Face], Face | None]]) -> None:
    """LFW deep-funneled faces are ~100 px wide in 250x250 images, detected confidently."""
    widths = [face.box[2] - face.box[0] for _, face in lfw_sample if face]
    scores = [face.score for _, face in lfw_sample if face]
    assert 80 < float(np.median(widths)) < 130
    assert float(np.median(scores)) > 0.99


def wider_recall(detector: MtcnnDetector, unstretch: bool) -> tuple[int, int]:
    """(found, total) valid faces >= 40 px high matched at IoU 0.5 over the 100 images.

    The stored images are stretched to 416x416; `unstretch` resizes each back to its
    original aspect ratio (width 416) first, as a camera would deliver it. MTCNN was
    trained on undistorted faces, and a face squeezed to a 1:4 strip is not one.
    """
    root = shared_path("data", "wider-val-100")
    annotations = json.loads((root / "annotations.json").read_text(encoding="utf-8"))
    found = total = 0
    for image_name, record in sorted(annotations.items()):
        width, height = record["orig_size_wh"]
        y_scale = height / width if unstretch else 1.0
        truths = np.array(
            [
                [x, y * y_scale, x + w, (y + h) * y_scale]
                for x, y, w, h in (f["xywh_416"] for f in record["faces"] if not f["invalid"])
                if h * y_scale >= WIDER_MIN_HEIGHT
            ]
        )
        if not len(truths):
            continue
        rgb = read_rgb(Path(root, "images", image_name))
        if unstretch:
            rgb = cv2.resize(rgb, (416, round(416 * y_scale)), interpolation=cv2.INTER_AREA)
        boxes = np.array([face.box for face in detector.detect(rgb)]).reshape(-1, 4)
        total += len(truths)
        found += int((iou_matrix(truths, boxes) >= WIDER_IOU).any(axis=1).sum())
    return found, total


@pytest.mark.slow
@pytest.mark.parametrize(("unstretch", "min_recall"), [(True, 0.83), (False, 0.62)])
def test_wider_face_recall(detector: MtcnnDetector, unstretch: bool, min_recall: float) -> None:
    """Measured: 73/83 = 0.880 unstretched, 105/157 = 0.669 as stored (stretched)."""
    found, total = wider_recall(detector, unstretch)
    print(
        f"\nWIDER val 100 (unstretched={unstretch}): recall {found / total:.3f} ({found}/{total})"
    )
    assert total > 80
    assert found / total >= min_recall


def test_no_face_in_a_blank_frame(detector: MtcnnDetector) -> None:
    flat = np.full((480, 640, 3), 128, dtype=np.uint8)
    noise = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert detector.detect(flat) == []
    assert detector.detect(noise) == []


def test_faces_are_clamped_and_sorted_by_area(detector: MtcnnDetector) -> None:
    rgb = read_rgb(shared_path("data", "scenes", "stills", "facenet_pytorch_multiface.jpg"))
    faces = detector.detect(rgb)
    height, width = rgb.shape[:2]
    assert len(faces) >= 5
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)
    for face in faces:
        left, top, right, bottom = face.box
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        assert len(face.landmarks) == 5 and 0.7 < face.score <= 1.0


def test_a_face_cut_by_the_border_is_still_found(detector: MtcnnDetector) -> None:
    """Edge crops often cut the face: boxes reaching beyond the image are zero-padded."""
    rgb = read_rgb(shared_path("data", "lfw-view1", "Abdullah_Gul", "Abdullah_Gul_0013.jpg"))
    (face,) = [f for f in detector.detect(rgb) if f.area > 5000]
    left = int(face.box[0] + 0.2 * (face.box[2] - face.box[0]))
    cut = np.ascontiguousarray(rgb[:, left:])
    faces = detector.detect(cut)
    assert faces and faces[0].box[0] == 0.0


@pytest.fixture(scope="module")
def exact_detector(store: ModelStore) -> MtcnnDetector:
    """The full pyramid on every image, crops included (the detector before issue 17)."""
    return MtcnnDetector(store, intra_op_threads=1, crop_max_side=0)


def edge_crop(rgb: np.ndarray, face: Face, margin: float = 0.25, side: int = 150) -> np.ndarray:
    """What the edge sends: the face box grown by `margin` a side, longest side `side`."""
    left, top, right, bottom = face.box
    dx, dy = (right - left) * margin, (bottom - top) * margin
    cut = rgb[int(max(0, top - dy)) : int(bottom + dy), int(max(0, left - dx)) : int(right + dx)]
    scale = side / max(cut.shape[:2])
    return np.ascontiguousarray(
        cv2.resize(cut, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )


@pytest.mark.parametrize(
    "still", ["facenet_pytorch_multiface.jpg", "face_recognition_obama_and_biden.jpg"]
)
def test_full_frames_keep_the_exact_pyramid(
    detector: MtcnnDetector, exact_detector: MtcnnDetector, still: str
) -> None:
    rgb = read_rgb(shared_path("data", "scenes", "stills", still))
    assert max(rgb.shape[:2]) > CROP_MAX_SIDE
    assert detector._scales(*rgb.shape[:2]) == exact_detector._scales(*rgb.shape[:2])
    faces = detector.detect(rgb)
    assert faces and faces == exact_detector.detect(rgb)


def test_crops_skip_the_small_scales_and_still_find_their_face(
    lfw_sample: list[tuple[list[Face], Face | None]],
    lfw_faces: dict[str, tuple[np.ndarray, Face | None]],
    detector: MtcnnDetector,
    exact_detector: MtcnnDetector,
) -> None:
    """Edge-shaped crops of the LFW sample's subjects (measured on 194 LFW images: the
    face found in every crop, the same box (IoU > 0.9) in all; 19.8 -> 16.1 ms a crop on
    a loaded machine)."""
    names = sorted(lfw_faces)[:: len(lfw_faces) // len(lfw_sample)][: len(lfw_sample)]
    crops = [edge_crop(*lfw_faces[name]) for name in names if lfw_faces[name][1] is not None]
    same = 0
    for crop in crops:
        assert len(detector._scales(*crop.shape[:2])) < len(exact_detector._scales(*crop.shape[:2]))
        bounded, exact = detector.detect(crop), exact_detector.detect(crop)
        assert bounded, "a crop's face was missed"
        same += (
            bool(exact)
            and iou_matrix(np.array([bounded[0].box]), np.array([exact[0].box]))[0, 0] > 0.9
        )
    assert len(crops) >= 0.98 * LFW_SAMPLE
    assert same >= 0.98 * len(crops)


def test_images_that_are_not_rgb_uint8_are_refused(detector: MtcnnDetector) -> None:
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((100, 100), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((100, 100, 3), dtype=np.float32))


def test_a_tiny_image_yields_nothing(detector: MtcnnDetector) -> None:
    assert detector.detect(np.zeros((10, 10, 3), dtype=np.uint8)) == []


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [2, 2, 6, 6.0]])
    scores = np.array([0.8, 0.9, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 1, 2]  # the first box overlaps the second
    # intersection over the smaller box: the small box inside both removes them
    assert nms(boxes, scores, 0.5, over_min=True).tolist() == [3, 2]
