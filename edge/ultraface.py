"""UltraFace (Linzaer's Ultra-Light-Fast-Generic-Face-Detector-1MB), the original edge detector.

Not on PyPI: the ONNX files come from the upstream repository into `ULTRAFACE_DIR`, with a
SHA256SUMS beside them that is checked before onnxruntime loads a byte.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from edge.geometry import Detection, detections_from_arrays
from models.runtime import ModelError, create_session, read_sha256sums

# The original framework's settings (640 variant, threshold 0.7, hard NMS at IoU 0.5).
DEFAULT_THRESHOLD = 0.7
DEFAULT_NMS_IOU = 0.5
VARIANTS = {320: "version-RFB-320.onnx", 640: "version-RFB-640.onnx"}


def ultraface_dir_from_env() -> Path | None:
    """`ULTRAFACE_DIR`, or None when unset (the edge then falls back to RetinaFace)."""
    value = os.environ.get("ULTRAFACE_DIR", "").strip()
    return Path(value) if value else None


def ultraface_available(directory: Path | None, variant: int = 640) -> bool:
    return directory is not None and (directory / VARIANTS[variant]).is_file()


class UltraFaceDetector:
    """RFB-320 (input 320x240) or RFB-640 (640x480); one session, any frame size.

    Frames are stretched to the network's input like the original program did: the
    outputs are normalised coordinates, so the stretch is undone exactly when scaling back.
    """

    def __init__(
        self,
        directory: Path,
        variant: int = 640,
        threads: int = 1,
        threshold: float = DEFAULT_THRESHOLD,
        nms_iou: float = DEFAULT_NMS_IOU,
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"UltraFace variant must be one of {sorted(VARIANTS)}, not {variant}")
        sums_file = directory / "SHA256SUMS"
        if not sums_file.is_file():
            raise ModelError(f"{sums_file} is missing: UltraFace files cannot be verified")
        filename = VARIANTS[variant]
        expected = read_sha256sums(sums_file).get(filename)
        if expected is None:
            raise ModelError(f"{sums_file} has no line for {filename}")
        self.name = f"ultraface-{variant}"
        self._session = create_session(directory / filename, expected, threads)
        self._input_name = self._session.get_inputs()[0].name
        _, _, height, width = self._session.get_inputs()[0].shape
        self._input_size = (int(width), int(height))
        self.threshold = threshold
        self.nms_iou = nms_iou

    def detect(self, frame_bgr: np.ndarray) -> list[Detection]:
        height, width = frame_bgr.shape[:2]
        image = cv2.resize(frame_bgr, self._input_size, interpolation=cv2.INTER_LINEAR)
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32)
        tensor = ((image - 127.0) / 128.0).transpose(2, 0, 1)[np.newaxis]
        scores, boxes = self._session.run(["scores", "boxes"], {self._input_name: tensor})
        pixel_boxes = np.clip(boxes[0], 0.0, 1.0) * np.array(
            [width, height, width, height], dtype=np.float32
        )
        return detections_from_arrays(pixel_boxes, scores[0][:, 1], self.threshold, self.nms_iou)
