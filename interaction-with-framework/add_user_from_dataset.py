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
from edge.client import CloudError
from edge.enrol import ensure_person, normalise_person_id, train, upload_faces
from edge.progress import Progress
from edge.sources import IMAGE_SUFFIXES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    cli.check_api_args(parser, args)
    if not args.bulk and not args.person_id:
        parser.error("give --person-id, or --bulk for a folder of per-person folders")
    if not args.input_folder.is_dir():
        parser.error(f"{args.input_folder} is not a folder")
    return args


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def people(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(name as given, folder) for each person to enrol."""
    if not args.bulk:
        return [(args.person_id, args.input_folder)]
    return [(d.name, d) for d in sorted(args.input_folder.iterdir()) if d.is_dir()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli.configure_logging(args.verbose)
    client = cli.client_from_args(args)
    failures = 0
    try:
        for name, folder in people(args):
            person_id = normalise_person_id(name)
            if args.create_id and not ensure_person(client, person_id, name):
                print(f"{person_id}: already exists, adding images to it")
            files = image_files(folder)
            progress = Progress(f"uploading {person_id}", len(files))
            images = ((path.name, path.read_bytes()) for path in files)
            result = upload_faces(client, person_id, images, args.batch_size, progress)
            progress.close()
            print(result.summary(person_id))
            failures += result.accepted == 0
        if args.train:
            job = train(client, "full" if args.full_train else "optimized")
            print(f"training {job.get('job_id')}: {job.get('status')}")
            failures += job.get("status") != "succeeded"
    except CloudError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
