"""Command-line options shared by the programs in interaction-with-framework/.

Each group reads its defaults from the environment (FACEREC_API_URL, FACEREC_API_KEY,
EDGE_DETECTOR, ORT_INTRA_OP_THREADS, EDGE_SPOOL_DIR, EDGE_SPOOL_MAX_MB, EDGE_CAMERA_ID,
EDGE_LOCATION), so a deployment configures the edge once and the flags stay optional.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from edge.client import CloudClient, base_url_from
from edge.crops import CropPolicy
from edge.detectors import DETECTOR_NAMES, FaceDetector, open_detector
from edge.sender import SenderConfig
from edge.spool import Spool
from edge.tracker import IouTracker, TrackerConfig
from models.runtime import intra_op_threads_from_env


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def make_parser(doc: str) -> argparse.ArgumentParser:
    """A program's parser: the first paragraph of its docstring as description (the
    examples stay in the source), and the -v every program has."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, exit with a usage error (not a traceback) when a program that talks to the
    API was given no address, and configure logging before the program's first log line."""
    args = parser.parse_args(argv)
    if hasattr(args, "url"):  # the program called add_api_args
        try:
            base_url_from(args.url, args.ip_address)
        except ValueError as error:
            parser.error(str(error))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args


def add_api_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cloud API")
    group.add_argument(
        "--url",
        default=os.environ.get("FACEREC_API_URL"),
        help="API base URL, e.g. http://127.0.0.1:8080 (env FACEREC_API_URL)",
    )
    group.add_argument(
        "--ip-address", help="the original programs' form: host:port of the API (plain HTTP)"
    )
    group.add_argument(
        "--api-key",
        default=os.environ.get("FACEREC_API_KEY"),
        help="sent as X-API-Key (env FACEREC_API_KEY)",
    )
    group.add_argument("--timeout", type=float, default=10.0, help="seconds per request")


def client_from_args(args: argparse.Namespace) -> CloudClient:
    return CloudClient(base_url_from(args.url, args.ip_address), args.api_key, args.timeout)


def add_detector_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("face detector")
    group.add_argument(
        "--detector",
        choices=DETECTOR_NAMES,
        default=_env("EDGE_DETECTOR", "auto"),
        help="auto: UltraFace-640 when ULTRAFACE_DIR holds it, else RetinaFace (env EDGE_DETECTOR)",
    )
    group.add_argument(
        "--threads",
        type=int,
        default=intra_op_threads_from_env(),
        help="onnxruntime intra-op threads (env ORT_INTRA_OP_THREADS)",
    )
    group.add_argument(
        "--detection-threshold", type=float, help="face score threshold (detector default: 0.7)"
    )


def detector_from_args(args: argparse.Namespace) -> FaceDetector:
    return open_detector(args.detector, args.threads, args.detection_threshold)


def add_source_args(parser: argparse.ArgumentParser, default: str | None = "0") -> None:
    group = parser.add_argument_group("frames")
    group.add_argument(
        "--source",
        default=default,
        required=default is None,
        help="webcam index, video file, stream URL or folder of images",
    )
    group.add_argument("--target-fps", type=float, help="process at most this many frames a second")
    group.add_argument(
        "--skip-frames", type=int, default=0, help="frames to skip after each processed one"
    )


def add_crop_args(parser: argparse.ArgumentParser) -> None:
    defaults = CropPolicy()
    group = parser.add_argument_group("face crops")
    group.add_argument(
        "--min-size",
        type=int,
        default=defaults.min_size,
        help="drop faces whose box is smaller than this on its longest side (pixels)",
    )
    group.add_argument(
        "--max-size",
        type=int,
        default=defaults.max_size,
        help="scale crops down to this longest side (pixels)",
    )
    group.add_argument("--jpeg-quality", type=int, default=defaults.jpeg_quality)
    group.add_argument(
        "--margin", type=float, default=defaults.margin, help="box growth on each side"
    )


def policy_from_args(args: argparse.Namespace) -> CropPolicy:
    return CropPolicy(args.margin, args.min_size, args.max_size, args.jpeg_quality)


def add_tracker_args(parser: argparse.ArgumentParser, allow_disable: bool = True) -> None:
    group = parser.add_argument_group("deduplication")
    group.add_argument(
        "--resend-after",
        type=float,
        default=TrackerConfig().resend_after_s,
        help="seconds after which a face still in view is sent again",
    )
    if allow_disable:
        group.add_argument(
            "--no-tracker", action="store_true", help="send every face of every frame (baseline)"
        )


def tracker_from_args(args: argparse.Namespace) -> IouTracker | None:
    if getattr(args, "no_tracker", False):
        return None
    return IouTracker(TrackerConfig(resend_after_s=args.resend_after))


def add_sender_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("delivery")
    group.add_argument("--camera-id", default=_env("EDGE_CAMERA_ID", "camera-0"))
    group.add_argument("--location", default=_env("EDGE_LOCATION", "unknown"))
    group.add_argument(
        "--spool-dir",
        type=Path,
        default=Path(_env("EDGE_SPOOL_DIR", "var/edge-spool")),
        help="where crops wait while the cloud is unreachable (env EDGE_SPOOL_DIR)",
    )
    group.add_argument(
        "--spool-max-mb",
        type=float,
        default=float(_env("EDGE_SPOOL_MAX_MB", "256")),
        help="spool bound; past it the oldest crops are dropped (env EDGE_SPOOL_MAX_MB)",
    )
    group.add_argument("--retries", type=int, default=SenderConfig().retries)
    group.add_argument(
        "--threshold",
        type=float,
        help="cosine similarity the cloud needs to name a person (default: the API's own, "
        "calibrated on LFW); lower it only for a small gallery enrolled from few photos",
    )
    group.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="at the end, seconds to keep trying to deliver spooled crops",
    )


def spool_from_args(args: argparse.Namespace) -> Spool:
    return Spool(args.spool_dir, int(args.spool_max_mb * 1024 * 1024))


def add_display_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-display",
        action="store_true",
        help="never open a window (also automatic without a display)",
    )
