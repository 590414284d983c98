"""Boxes, detections and the hard non-maximum suppression both detectors share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in frame pixels; right/bottom are exclusive like numpy slices."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return max(0.0, self.right - self.left)

    @property
    def height(self) -> float:
        return max(0.0, self.bottom - self.top)

    @property
    def area(self) -> float:
        return self.width * self.height

    def iou(self, other: Box) -> float:
        """Intersection over union; 0 for disjoint or empty boxes."""
        inter_w = min(self.right, other.right) - max(self.left, other.left)
        inter_h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if inter_w <= 0 or inter_h <= 0:
            return 0.0
        inter = inter_w * inter_h
        return inter / (self.area + other.area - inter)

    def as_ints(self) -> tuple[int, int, int, int]:
        return round(self.left), round(self.top), round(self.right), round(self.bottom)


@dataclass(frozen=True)
class Detection:
    """One face found by a detector: its box in frame pixels and the detector's score."""

    box: Box
    score: float


def hard_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices kept by greedy NMS, best score first.

    `boxes` is (N, 4) x1, y1, x2, y2. Hard NMS (drop every overlap above the threshold)
    is what UltraFace was evaluated with; RetinaFace uses the same procedure.
    """
    order = np.argsort(scores)[::-1]
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
        boxes[:, 3] - boxes[:, 1], 0, None
    )
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        inter_w = np.clip(
            np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]),
            0,
            None,
        )
        inter_h = np.clip(
            np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]),
            0,
            None,
        )
        inter = inter_w * inter_h
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return keep


def detections_from_arrays(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, nms_iou: float
) -> list[Detection]:
    """Threshold, suppress and wrap (N, 4) pixel boxes with their (N,) scores."""
    mask = scores > threshold
    boxes, scores = boxes[mask], scores[mask]
    return [
        Detection(Box(*(float(v) for v in boxes[i])), float(scores[i]))
        for i in hard_nms(boxes, scores, nms_iou)
    ]
