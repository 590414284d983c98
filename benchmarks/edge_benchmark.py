"""Edge benchmark: detector speed and the bandwidth the edge saves.

1. Frames/s of each detector at 640x480 and 1920x1080 on 1 and 2 onnxruntime threads:
   the detector alone (ms/frame) and the whole edge step (detect, track, crop, encode,
   plus the full-frame JPEG the accounting measures against).
2. Bytes sent on the shared videos, with and without the tracker, against the bytes of
   the same frames as JPEG at the same quality.

Frames come from ../shared/data/scenes/video/facenet_pytorch_video.mp4 (1080p; scaled
to 640x480 for the small size). Prints a Markdown table; writes benchmarks/results/edge.json
and edge.png. Run: .venv/bin/python -m benchmarks.edge_benchmark [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.common import (
    RESULTS,
    SHARED,
    available_detectors,
    chart,
    fastest_seconds,
    load_average,
    markdown_table,
    ultraface_dir,
    write_result,
)
from edge.accounting import EdgeStats
from edge.crops import CropPolicy
from edge.detectors import FaceDetector, open_detector
from edge.pipeline import EdgePipeline
from edge.sources import Frame, open_source
from edge.tracker import IouTracker

VIDEOS = SHARED / "data" / "scenes" / "video"
ULTRAFACE_DIR = ultraface_dir()
SIZES = {"640x480": (640, 480), "1920x1080": (1920, 1080)}
VIDEO_LABELS = {
    "facenet_pytorch_video.mp4": "facenet 1080p",
    "face_recognition_short_hamilton_clip.mp4": "hamilton 640x360",
}


def video_frames(path: Path, size: tuple[int, int] | None = None, limit: int = 0) -> list[Frame]:
    frames = []
    for frame in open_source(str(path)):
        if size is not None and frame.image.shape[1::-1] != size:
            image = cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
            frame = Frame(frame.index, image, frame.position_s, frame.captured_at)
        frames.append(frame)
        if limit and len(frames) >= limit:
            break
    return frames


def detect_all(detector: FaceDetector, frames: list[Frame]) -> None:
    for frame in frames:
        detector.detect(frame.image)


def edge_all(detector: FaceDetector, frames: list[Frame], tracked: bool = True) -> EdgeStats:
    """The whole edge step per frame, as the programs run it (accounting included); the
    accounting of what it sent."""
    stats = EdgeStats()
    pipeline = EdgePipeline(
        detector, CropPolicy(), stats, lambda *_: None, IouTracker() if tracked else None
    )
    for frame in frames:
        pipeline.process(frame)
    return stats


def speed(names: list[str], repeats: int, frame_count: int) -> list[dict[str, Any]]:
    rows = []
    for size_name, size in SIZES.items():
        frames = video_frames(VIDEOS / "facenet_pytorch_video.mp4", size, frame_count)
        for name in names:
            for threads in (1, 2):
                detector = open_detector(name, threads, ultraface_dir=ULTRAFACE_DIR)
                detect_all(detector, frames[:3])  # warm-up: first runs allocate
                detect_s = fastest_seconds(repeats, detect_all, detector, frames)
                edge_s = fastest_seconds(repeats, edge_all, detector, frames)
                rows.append(
                    {
                        "detector": name,
                        "size": size_name,
                        "threads": threads,
                        "frames": len(frames),
                        "detect_ms": round(detect_s / len(frames) * 1000, 2),
                        "detect_fps": round(len(frames) / detect_s, 1),
                        "edge_fps": round(len(frames) / edge_s, 1),
                    }
                )
                print(rows[-1], flush=True)
    return rows


def bandwidth(names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for video in VIDEO_LABELS:
        frames = video_frames(VIDEOS / video)
        for name in names:
            detector = open_detector(name, 2, ultraface_dir=ULTRAFACE_DIR)
            for tracked in (False, True):
                summary = edge_all(detector, frames, tracked).summary()
                rows.append(
                    {
                        "video": video,
                        "detector": name,
                        "tracker": tracked,
                        "frames": summary["frames"],
                        "faces_detected": summary["faces_detected"],
                        "crops_sent": summary["crops_sent"],
                        "crop_bytes": summary["crop_bytes"],
                        "full_frame_bytes": summary["full_frame_bytes"],
                        "bandwidth_fraction": summary["bandwidth_fraction"],
                    }
                )
                print(rows[-1], flush=True)
    return rows


def markdown(speed_rows: list[dict[str, Any]], bandwidth_rows: list[dict[str, Any]]) -> str:
    speed_table = markdown_table(
        ["detector", "frame", "threads", "detector ms/frame", "detector fps", "edge fps"],
        [
            [r["detector"], r["size"], r["threads"], r["detect_ms"], r["detect_fps"], r["edge_fps"]]
            for r in speed_rows
        ],
    )
    bandwidth_table = markdown_table(
        [
            "video",
            "detector",
            "tracker",
            "faces",
            "crops sent",
            "crop KB",
            "full frames KB",
            "fraction",
        ],
        [
            [
                r["video"],
                r["detector"],
                "on" if r["tracker"] else "off",
                r["faces_detected"],
                r["crops_sent"],
                f"{r['crop_bytes'] / 1000:.0f}",
                f"{r['full_frame_bytes'] / 1000:.0f}",
                f"{r['bandwidth_fraction'] * 100:.2f}%",
            ]
            for r in bandwidth_rows
        ],
    )
    return speed_table + "\n\n" + bandwidth_table


def plot(
    speed_rows: list[dict[str, Any]], bandwidth_rows: list[dict[str, Any]], path: Path
) -> None:
    with chart(path, 1, 2, figsize=(13, 4.8), dpi=120) as (left, right):
        labels = sorted({(r["detector"], r["threads"]) for r in speed_rows})
        x = np.arange(len(SIZES))
        width = 0.8 / len(labels)
        for i, (detector, threads) in enumerate(labels):
            fps = [
                next(
                    r["edge_fps"]
                    for r in speed_rows
                    if (r["detector"], r["threads"], r["size"]) == (detector, threads, size)
                )
                for size in SIZES
            ]
            left.bar(x + i * width, fps, width, label=f"{detector}, {threads} thr")
        left.set_xticks(x + width * (len(labels) - 1) / 2, list(SIZES))
        left.set_ylabel("edge frames/s (detect + track + crop)")
        left.set_title("Edge throughput on this CPU")
        left.legend(fontsize=8)

        keys = [
            f"{VIDEO_LABELS[r['video']]}\n{r['detector']}" for r in bandwidth_rows if r["tracker"]
        ]
        off = [r["bandwidth_fraction"] * 100 for r in bandwidth_rows if not r["tracker"]]
        on = [r["bandwidth_fraction"] * 100 for r in bandwidth_rows if r["tracker"]]
        y = np.arange(len(keys))
        right.barh(y - 0.2, off, 0.4, label="every face, every frame")
        right.barh(y + 0.2, on, 0.4, label="with the tracker")
        right.set_yticks(y, keys, fontsize=8)
        right.set_xscale("log")
        right.set_xlabel("bytes sent, % of full frames as JPEG (log)")
        right.set_title("Bandwidth: crops vs full frames")
        right.legend(fontsize=8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=30, help="frames per speed run")
    parser.add_argument(
        "--plot-only", action="store_true", help="redraw edge.png and the table from edge.json"
    )
    args = parser.parse_args()
    if args.plot_only:
        saved = json.loads((RESULTS / "edge.json").read_text(encoding="utf-8"))
        plot(saved["speed"], saved["bandwidth"], RESULTS / "edge.png")
        print(markdown(saved["speed"], saved["bandwidth"]))
        return
    names = available_detectors(ULTRAFACE_DIR)
    if not names:
        raise SystemExit("no detector available: set ULTRAFACE_DIR or run `make models`")
    load_before = load_average()
    speed_rows = speed(names, args.repeats, args.frames)
    bandwidth_rows = bandwidth(names)
    table = markdown(speed_rows, bandwidth_rows)
    write_result(
        "edge",
        {
            "load_average_before": load_before,
            "repeats": args.repeats,
            "jpeg_quality": CropPolicy().jpeg_quality,
            "speed": speed_rows,
            "bandwidth": bandwidth_rows,
            "markdown": table,
        },
    )
    plot(speed_rows, bandwidth_rows, RESULTS / "edge.png")
    print(table)


if __name__ == "__main__":
    main()
