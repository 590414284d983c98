"""Face detector quality on 100 WIDER FACE validation images: recall by face size, false
positives per image, ms per frame, for each edge detector and the API's MTCNN.

Data: ../shared/data/wider-val-100 (images stretched to 416x416; `annotations.json` gives
each face's `xywh_416` box and an `invalid` flag). Every detector runs as shipped: its own
default score threshold and NMS, one onnxruntime thread (ms/frame is wall time, CPU
ms/frame the process's CPU time: what a frame costs on an idle core, see
benchmarks.common.fastest_times); MTCNN with the API's default
minimum face size. Matching follows the WIDER FACE evaluation: detections in score order
each take the unmatched ground-truth box they overlap most, if IoU >= 0.5; a detection on
an `invalid` face is neither a hit nor a false positive; the rest are false positives.
Face size is the geometric mean of the box's sides in the 416x416 image, which the
stretching distorts least.

Run: .venv/bin/python -m benchmarks.detector_quality [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from api.config import Settings
from api.vision import MtcnnDetector
from benchmarks.common import (
    RESULTS,
    SHARED,
    available_detectors,
    chart,
    fastest_times,
    load_average,
    markdown_table,
    ultraface_dir,
    write_result,
)
from edge.detectors import open_detector
from models.runtime import ModelStore

WIDER = SHARED / "data" / "wider-val-100"
IOU = 0.5
BUCKETS = ((0, 16), (16, 32), (32, 64), (64, 10_000))  # face size in px, [low, high)

# (left, top, right, bottom) boxes and their scores
Boxes = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Truth:
    boxes: np.ndarray  # (N, 4) left, top, right, bottom
    invalid: np.ndarray  # (N,) bool

    @property
    def sizes(self) -> np.ndarray:
        return np.sqrt(
            (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
        )


def read_annotations(root: Path) -> dict[str, Truth]:
    data = json.loads((root / "annotations.json").read_text(encoding="utf-8"))
    truths = {}
    for name, entry in sorted(data.items()):
        xywh = np.array([f["xywh_416"] for f in entry["faces"]], dtype=np.float64).reshape(-1, 4)
        boxes = np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])
        invalid = np.array([bool(f["invalid"]) for f in entry["faces"]], dtype=bool)
        truths[name] = Truth(boxes, invalid)
    return truths


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of two sets of (left, top, right, bottom) boxes."""
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match(detections: Boxes, truth: Truth) -> tuple[np.ndarray, int]:
    """(which ground-truth faces were found, number of false positives)."""
    boxes, scores = detections
    found = np.zeros(len(truth.boxes), dtype=bool)
    if len(boxes) == 0 or len(truth.boxes) == 0:
        return found, len(boxes)
    overlaps = iou_matrix(boxes, truth.boxes)
    false_positives = 0
    for row in np.argsort(-scores, kind="stable"):
        candidates = np.where(found, -1.0, overlaps[row])
        best = int(np.argmax(candidates))
        if candidates[best] >= IOU:
            found[best] = True
        else:
            false_positives += 1
    return found, false_positives


def score(results: dict[str, Boxes], truths: dict[str, Truth]) -> dict[str, Any]:
    """Recall per size bucket and overall (valid faces only), false positives per image."""
    found_all, sizes_all, false_positives, true_positives = [], [], 0, 0
    for name, truth in truths.items():
        found, fps = match(results[name], truth)
        false_positives += fps
        true_positives += int(np.sum(found & ~truth.invalid))
        found_all.append(found[~truth.invalid])
        sizes_all.append(truth.sizes[~truth.invalid])
    found, sizes = np.concatenate(found_all), np.concatenate(sizes_all)
    buckets = []
    for low, high in BUCKETS:
        inside = (sizes >= low) & (sizes < high)
        buckets.append(
            {
                "bucket": bucket_label(low, high),
                "faces": int(inside.sum()),
                "found": int(found[inside].sum()),
                "recall": round(float(found[inside].mean()), 4) if inside.any() else None,
            }
        )
    return {
        "faces": len(found),
        "found": int(found.sum()),
        "recall": round(float(found.mean()), 4),
        "false_positives": false_positives,
        "false_positives_per_image": round(false_positives / len(truths), 3),
        "precision": round(true_positives / max(1, true_positives + false_positives), 4),
        "buckets": buckets,
    }


def bucket_label(low: int, high: int) -> str:
    return f"<{high}" if low == 0 else (f"{low}+" if high >= 10_000 else f"{low}-{high}")


def detectors(store: ModelStore) -> dict[str, tuple[Callable[[np.ndarray], Boxes], float]]:
    """name -> (BGR image -> boxes and scores, score threshold) for every detector here."""
    chosen: dict[str, tuple[Callable[[np.ndarray], Boxes], float]] = {}
    ultraface = ultraface_dir()
    for name in available_detectors(ultraface):
        detector = open_detector(name, 1, ultraface_dir=ultraface)

        def edge_boxes(bgr: np.ndarray, detector: Any = detector) -> Boxes:
            found = detector.detect(bgr)
            boxes = np.array([[d.box.left, d.box.top, d.box.right, d.box.bottom] for d in found])
            return boxes.reshape(-1, 4), np.array([d.score for d in found])

        chosen[name] = (edge_boxes, detector.threshold)
    mtcnn = MtcnnDetector(store, min_face_size=Settings().min_face_size, intra_op_threads=1)

    def mtcnn_boxes(bgr: np.ndarray) -> Boxes:
        found = mtcnn.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return np.array([f.box for f in found]).reshape(-1, 4), np.array([f.score for f in found])

    chosen[f"mtcnn (min face {mtcnn.min_face_size} px)"] = (mtcnn_boxes, mtcnn.thresholds[2])
    return chosen


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    with chart(path, figsize=(9, 4.8), dpi=110) as axis:
        labels = [bucket_label(low, high) for low, high in BUCKETS] + ["all"]
        x = np.arange(len(labels))
        width = 0.8 / len(rows)
        for i, row in enumerate(rows):
            recalls = [b["recall"] or 0.0 for b in row["buckets"]] + [row["recall"]]
            axis.bar(
                x + i * width,
                recalls,
                width,
                label=f"{row['detector']}: {row['false_positives_per_image']} FP/img, "
                f"{row['cpu_ms_per_frame']} CPU ms/frame",
            )
        faces = [b["faces"] for b in rows[0]["buckets"]] + [rows[0]["faces"]]
        axis.set_xticks(
            x + width * (len(rows) - 1) / 2,
            [f"{lab} px\n({n} faces)" for lab, n in zip(labels, faces, strict=True)],
        )
        axis.set(
            ylabel="recall at IoU 0.5", ylim=(0, 1), title="WIDER FACE val, 100 images at 416x416"
        )
        axis.legend(fontsize=8, loc="upper left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed passes (the fastest counts)")
    args = parser.parse_args()
    load_before = load_average()
    truths = read_annotations(WIDER)
    images = {name: cv2.imread(str(WIDER / "images" / name)) for name in truths}
    rows = []
    for name, (detect, threshold) in detectors(ModelStore()).items():
        results = {image: detect(bgr) for image, bgr in images.items()}  # also the warm-up

        def detect_every_image(detect: Callable[[np.ndarray], Boxes] = detect) -> None:
            for bgr in images.values():
                detect(bgr)

        timing = fastest_times(args.repeats, detect_every_image)
        rows.append(
            {
                "detector": name,
                "score_threshold": threshold,
                "threads": 1,
                "ms_per_frame": round(timing.wall_s / len(images) * 1000, 1),
                "cpu_ms_per_frame": round(timing.cpu_s / len(images) * 1000, 1),
                **score(results, truths),
            }
        )
        print(rows[-1]["detector"], rows[-1]["recall"], rows[-1]["ms_per_frame"], flush=True)
    headers = ["detector", *(f"recall {b['bucket']} px" for b in rows[0]["buckets"])]
    table = markdown_table(
        [*headers, "recall all", "FP/image", "precision", "ms/frame", "CPU ms/frame"],
        [
            [
                r["detector"],
                *(
                    f"{b['recall']:.1%} of {b['faces']}" if b["recall"] is not None else "-"
                    for b in r["buckets"]
                ),
                f"{r['recall']:.1%}",
                r["false_positives_per_image"],
                f"{r['precision']:.1%}",
                r["ms_per_frame"],
                r["cpu_ms_per_frame"],
            ]
            for r in rows
        ],
    )
    print(table)
    write_result(
        "detector_quality",
        {
            "load_average_before": load_before,
            "images": len(images),
            "image_size": "416x416",
            "iou": IOU,
            "repeats": args.repeats,
            "results": rows,
            "markdown": table,
        },
    )
    plot(rows, RESULTS / "detector_quality.png")


if __name__ == "__main__":
    main()
