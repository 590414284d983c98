#!/usr/bin/env python3
"""Recognise the people in a video file: an annotated copy of the video and a CSV of who
was seen when (one row per tracked face: its identity, first and last time in view;
status known, unknown, no_face (the cloud found none in its crops), pending (crops
spooled, no answer yet) or not_sent (face under --min-size)).

Only face crops go to the cloud. Answers arrive asynchronously, so the video is written
in a second pass, once every track has its answer, with each name on its own box.
Example: python video_recognition.py --url http://127.0.0.1:8080 --input clip.mp4 \
    --output clip-annotated.mp4 --csv clip-people.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2

from edge import cli
from edge.display import draw_labelled_box
from edge.labels import TrackLabels
from edge.pipeline import FaceObservation
from edge.progress import Progress
from edge.session import EdgeSession, frames_from_args
from edge.sources import Frame, open_source

CSV_FIELDS = (
    "track_id",
    "status",
    "person_id",
    "name",
    "confidence",
    "first_seen_s",
    "last_seen_s",
    "first_frame",
    "last_frame",
    "frames_seen",
    "crops_sent",
)

Boxes = list[tuple[int, tuple[int, int, int, int]]]


@dataclass
class Sighting:
    """One track's time in view."""

    track_id: int
    first_frame: int
    first_s: float
    last_frame: int
    last_s: float
    frames_seen: int = 0
    crops_sent: int = 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.make_parser(__doc__)
    cli.add_api_args(parser)
    cli.add_source_args(parser, default=None)
    parser.add_argument("--output", type=Path, help="annotated video to write (.mp4)")
    parser.add_argument("--csv", type=Path, required=True, help="CSV of who was seen when")
    cli.add_detector_args(parser)
    cli.add_crop_args(parser)
    cli.add_tracker_args(parser, allow_disable=False)
    cli.add_sender_args(parser)
    parser.add_argument("--workers", type=int, default=4, help="concurrent requests")
    parser.add_argument(
        "--min-confidence", type=float, default=0.0, help="below this a face counts as unknown"
    )
    return cli.parse(parser, argv)


def detect_and_send(
    session: EdgeSession,
    args: argparse.Namespace,
    boxes_by_frame: dict[int, Boxes],
    sightings: dict[int, Sighting],
) -> None:
    """Pass 1: every sampled frame through the edge, filling the boxes per frame index
    and the sightings per track (filled in place, so an interrupted run keeps them)."""
    frames, total = frames_from_args(args)
    progress = Progress("detecting", total)

    def record(frame: Frame, observations: list[FaceObservation]) -> bool:
        boxes_by_frame[frame.index] = []
        for seen in observations:
            track_id = seen.track_id
            if track_id is None:  # cannot happen: this program always tracks
                continue
            boxes_by_frame[frame.index].append((track_id, seen.detection.box.as_ints()))
            sighting = sightings.setdefault(
                track_id,
                Sighting(track_id, frame.index, frame.position_s, frame.index, frame.position_s),
            )
            sighting.last_frame, sighting.last_s = frame.index, frame.position_s
            sighting.frames_seen += 1
            sighting.crops_sent += seen.sent is not None
        progress.advance_to(frame.index + 1)
        return True

    session.run(frames, record)
    progress.close()


def write_csv(
    path: Path, sightings: dict[int, Sighting], labels: TrackLabels, min_confidence: float
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, CSV_FIELDS)
        writer.writeheader()
        for sighting in sorted(sightings.values(), key=lambda s: (s.first_frame, s.track_id)):
            status, identity = labels.status(sighting.track_id, min_confidence)
            known = status == "known"
            if status == "waiting":  # none asked (face under --min-size) or none arrived yet
                status = "pending" if sighting.crops_sent else "not_sent"
            writer.writerow(
                {
                    "track_id": sighting.track_id,
                    "status": status,
                    "person_id": identity.person_id if known else "",
                    "name": identity.name if known else "",
                    "confidence": f"{identity.confidence:.4f}" if identity else "",
                    "first_seen_s": f"{sighting.first_s:.3f}",
                    "last_seen_s": f"{sighting.last_s:.3f}",
                    "first_frame": sighting.first_frame,
                    "last_frame": sighting.last_frame,
                    "frames_seen": sighting.frames_seen,
                    "crops_sent": sighting.crops_sent,
                }
            )


def write_video(
    args: argparse.Namespace, boxes_by_frame: dict[int, Boxes], labels: TrackLabels
) -> None:
    """Pass 2: every frame of the input, with the boxes of the latest processed frame."""
    source = open_source(args.source)
    writer: cv2.VideoWriter | None = None
    progress = Progress("writing video", source.frame_count)
    current: Boxes = []
    try:
        for frame in source:
            if writer is None:
                height, width = frame.image.shape[:2]
                args.output.parent.mkdir(parents=True, exist_ok=True)
                fourcc = cv2.VideoWriter.fourcc(*"mp4v")
                writer = cv2.VideoWriter(
                    str(args.output), fourcc, source.fps or 25.0, (width, height)
                )
            current = boxes_by_frame.get(frame.index, current)
            for track_id, box in current:
                draw_labelled_box(frame.image, box, labels.text(track_id, args.min_confidence))
            writer.write(frame.image)
            progress.update()
    finally:
        if writer is not None:
            writer.release()
        progress.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    session = EdgeSession(args, workers=args.workers)
    boxes_by_frame: dict[int, Boxes] = {}
    sightings: dict[int, Sighting] = {}
    detect_and_send(session, args, boxes_by_frame, sightings)
    report = session.close()
    write_csv(args.csv, sightings, session.labels, args.min_confidence)
    if args.output is not None and not session.interrupted:
        write_video(args, boxes_by_frame, session.labels)
    print(report)
    return session.exit_code


if __name__ == "__main__":
    sys.exit(main())
