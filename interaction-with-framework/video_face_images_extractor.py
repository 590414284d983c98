#!/usr/bin/env python3
"""Extract the face images of a video (or camera, or image folder) into a folder, with the
edge's detector, crop policy and tracker: one image per new face and per clearly better
view, or every face of every frame with --no-tracker. Works offline (no API needed), e.g.
to build an enrolment set for add_user_from_dataset.py.

Example: python video_face_images_extractor.py --source clip.mp4 --output-folder faces/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge import cli
from edge.accounting import EdgeStats
from edge.pipeline import EdgePipeline
from edge.progress import Progress
from edge.session import frames_from_args
from edge.spool import SpooledCrop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.make_parser(__doc__)
    cli.add_source_args(parser, default=None)
    parser.add_argument("--output-folder", type=Path, required=True)
    cli.add_detector_args(parser)
    cli.add_crop_args(parser)
    cli.add_tracker_args(parser)
    return cli.parse(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.output_folder.mkdir(parents=True, exist_ok=True)
    stem = Path(args.source).stem or "camera"
    pending: list[tuple[SpooledCrop, int | None]] = []
    stats = EdgeStats()
    pipeline = EdgePipeline(
        cli.detector_from_args(args),
        cli.policy_from_args(args),
        stats,
        lambda crop, track_id: pending.append((crop, track_id)),
        cli.tracker_from_args(args),
        measure_full_frames=False,
    )
    frames, total = frames_from_args(args)
    progress = Progress("extracting", total)
    written = 0
    interrupted = False
    try:
        for frame in frames:
            pipeline.process(frame)
            for number, (crop, track_id) in enumerate(pending):
                track = f"t{track_id:05d}" if track_id is not None else f"n{number:02d}"
                path = args.output_folder / f"{stem}_f{frame.index:06d}_{track}.jpg"
                path.write_bytes(crop.jpeg)
                written += 1
            pending.clear()
            progress.advance_to(frame.index + 1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    print(
        f"{written} face images from {stats['frames']} frames written to {args.output_folder} "
        f"({stats['faces_detected']} faces detected, {stats['faces_deduplicated']} duplicates "
        f"and {stats['faces_too_small']} too small skipped)"
    )
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
