#!/usr/bin/env python3
"""Enrol a person from a folder of images (or, with --bulk, every person of a folder that
holds one subfolder per person, named by the person), then optionally train.

Reports the images accepted and those rejected with the cloud's reason (no face,
several faces, unreadable, too large).
Examples:
  python add_user_from_dataset.py --ip-address 127.0.0.1:8080 \
      --input-folder lfw/Bill_Gates --person-id "Bill Gates" --create-id --train
  python add_user_from_dataset.py --url http://127.0.0.1:8080 --bulk --input-folder lfw/ \
      --create-id --train
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge import cli
from edge.client import CloudClient
from edge.enrol import (
    ensure_person_and_report,
    normalise_person_id,
    report_cloud_errors,
    train_and_report,
    upload_and_report,
)
from edge.sources import image_files


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.make_parser(__doc__)
    cli.add_api_args(parser)
    parser.add_argument("--input-folder", type=Path, required=True)
    parser.add_argument(
        "--person-id", help="ID (normalised: lower case, spaces to _); its name as given"
    )
    parser.add_argument(
        "--bulk", action="store_true", help="one subfolder per person, named by the person"
    )
    parser.add_argument("--create-id", action="store_true", help="create the person(s) first")
    parser.add_argument("--train", action="store_true", help="request an optimized training")
    parser.add_argument(
        "--full-train", action="store_true", help="with --train: re-embed every stored image"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="images per request")
    args = cli.parse(parser, argv)
    if not args.bulk and not args.person_id:
        parser.error("give --person-id, or --bulk for a folder of per-person folders")
    if not args.input_folder.is_dir():
        parser.error(f"{args.input_folder} is not a folder")
    return args


def people(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(name as given, folder) for each person to enrol."""
    if not args.bulk:
        return [(args.person_id, args.input_folder)]
    return [(d.name, d) for d in sorted(args.input_folder.iterdir()) if d.is_dir()]


def enrol(client: CloudClient, args: argparse.Namespace) -> int:
    """Every person, then the training; 1 when a person got no image or training failed."""
    failures = 0
    for name, folder in people(args):
        person_id = normalise_person_id(name)
        if args.create_id:
            ensure_person_and_report(client, person_id, name)
        files = image_files(folder)
        images = ((path.name, path.read_bytes()) for path in files)
        result = upload_and_report(client, person_id, images, len(files), args.batch_size)
        failures += result.accepted == 0
    if args.train:
        failures += not train_and_report(client, "full" if args.full_train else "optimized")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    client = cli.client_from_args(args)
    return report_cloud_errors(lambda: enrol(client, args))


if __name__ == "__main__":
    sys.exit(main())
