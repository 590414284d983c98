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
from edge.client import CloudError
from edge.crops import encode_jpeg, make_crop
from edge.display import Window, draw_labelled_box
from edge.enrol import ensure_person, normalise_person_id, train, upload_faces
from edge.progress import Progress
from edge.session import frames_from_args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    args = parser.parse_args(argv)
    cli.check_api_args(parser, args)
    return args


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli.configure_logging(args.verbose)
    client = cli.client_from_args(args)
    person_id = normalise_person_id(args.person_id)
    try:
        if args.create_id and not ensure_person(client, person_id, args.person_id):
            print(f"{person_id}: already exists, adding images to it")
        images = capture(args)
        if len(images) < args.img_number:
            print(f"the source ended after {len(images)} of {args.img_number} images")
        progress = Progress(f"uploading {person_id}", len(images))
        result = upload_faces(client, person_id, images, progress=progress)
        progress.close()
        print(result.summary(person_id))
        if args.train:
            job = train(client)
            print(f"training {job.get('job_id')}: {job.get('status')}")
            if job.get("status") != "succeeded":
                return 1
    except CloudError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0 if result.accepted else 1


if __name__ == "__main__":
    sys.exit(main())
