#!/usr/bin/env python3
"""Recognise the people in front of a camera: faces are detected here, only their crops
go to the cloud, and each answer is drawn on its own face's box.

Example: python real_time_camera.py --ip-address 127.0.0.1:8080 --min-confidence 0.8
Ctrl-C (or q in the window) stops; the bandwidth report is printed either way.
"""

from __future__ import annotations

import argparse
import sys

from edge import cli
from edge.display import Window, draw_labelled_box
from edge.pipeline import FaceObservation
from edge.session import EdgeSession, frames_from_args
from edge.sources import Frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.make_parser(__doc__)
    cli.add_api_args(parser)
    cli.add_source_args(parser, default="0")
    cli.add_detector_args(parser)
    cli.add_crop_args(parser)
    cli.add_tracker_args(parser)
    cli.add_sender_args(parser)
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        help="show a name only when the cloud's confidence reaches this",
    )
    parser.add_argument(
        "--multithreading",
        action="store_true",
        help="send the faces of a frame concurrently (4 requests at a time instead of 1)",
    )
    cli.add_display_args(parser)
    return cli.parse(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    session = EdgeSession(args, workers=4 if args.multithreading else 1)
    window = Window.open("real-time camera", wanted=not args.no_display)
    frames, _ = frames_from_args(args)

    def show(frame: Frame, observations: list[FaceObservation]) -> bool:
        """Each face with the name its track has so far; False once the user quits."""
        if window is None:
            return True
        image = frame.image.copy()
        for seen in observations:
            text = session.labels.text(seen.track_id, args.min_confidence)
            draw_labelled_box(image, seen.detection.box.as_ints(), text)
        return window.show(image)

    try:
        session.run(frames, show)
    finally:  # before the drain, which can take --drain-timeout seconds
        if window is not None:
            window.close()
    print(session.close())
    return session.exit_code


if __name__ == "__main__":
    sys.exit(main())
