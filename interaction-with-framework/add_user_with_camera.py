#!/usr/bin/env python3
"""Enrol a person with a camera: take --img-number face crops from frames that show
exactly one face (frames with none or several are skipped, so no one else is enrolled by
mistake), send them to the cloud, then optionally train.

Example: python add_user_with_camera.py --ip-address 127.0.0.1:8080 \
    --person-id "Cristobal Colon" --img-number 20 --create-id --train
"""

from __future__ import annotations

import argparse
import sys

from edge import cli
from edge.client import CloudClient
from edge.crops import encode_jpeg, make_crop
from edge.display import Window, draw_labelled_box
from edge.enrol import (
    ensure_person_and_report,
    normalise_person_id,
    report_cloud_errors,
    train_and_report,
    upload_and_report,
)
from edge.progress import Progress
from edge.session import frames_from_args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.make_parser(__doc__)
    cli.add_api_args(parser)
    parser.add_argument("--person-id", required=True, help="ID (normalised); name as given")
    parser.add_argument("--img-number", type=int, default=20, help="face images to take")
    parser.add_argument(
        "--interval", type=float, default=0.5, help="seconds between two images taken"
    )
    parser.add_argument("--create-id", action="store_true", help="create the person first")
    parser.add_argument("--train", action="store_true", help="request an optimized training")
    cli.add_source_args(parser, default="0")
    cli.add_detector_args(parser)
    cli.add_crop_args(parser)
    cli.add_display_args(parser)
    return cli.parse(parser, argv)


def capture(args: argparse.Namespace) -> list[tuple[str, bytes]]:
    """Up to --img-number crops, each from a frame with exactly one face."""
    detector = cli.detector_from_args(args)
    policy = cli.policy_from_args(args)
    window = Window.open("add user", wanted=not args.no_display)
    frames, _ = frames_from_args(args)
    progress = Progress("capturing", args.img_number)
    taken: list[tuple[str, bytes]] = []
    last_taken_s = float("-inf")
    try:
        for frame in frames:
            detections = detector.detect(frame.image)
            crop = None
            if len(detections) == 1 and frame.position_s - last_taken_s >= args.interval:
                crop = make_crop(frame.image, detections[0].box, policy)
            if crop is not None:
                jpeg = encode_jpeg(crop.image, policy.jpeg_quality)
                taken.append((f"camera-{len(taken):03d}.jpg", jpeg))
                last_taken_s = frame.position_s
                progress.update()
            if window is not None:
                image = frame.image.copy()
                text = "user being added" if len(detections) == 1 else "one face only, please"
                for detection in detections:
                    draw_labelled_box(image, detection.box.as_ints(), text)
                if not window.show(image):
                    break
            if len(taken) >= args.img_number:
                break
    finally:
        progress.close()
        if window is not None:
            window.close()
    return taken


def enrol(client: CloudClient, args: argparse.Namespace) -> int:
    """Create (if asked), capture, upload, train (if asked); 1 when no image was kept or
    training failed."""
    person_id = normalise_person_id(args.person_id)
    if args.create_id:
        ensure_person_and_report(client, person_id, args.person_id)
    images = capture(args)
    if len(images) < args.img_number:
        print(f"the source ended after {len(images)} of {args.img_number} images")
    result = upload_and_report(client, person_id, images, len(images))
    if args.train and not train_and_report(client):
        return 1
    return 0 if result.accepted else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    client = cli.client_from_args(args)
    try:
        return report_cloud_errors(lambda: enrol(client, args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
