#!/usr/bin/env python3
"""Load a running API with recognize requests: requests/s and latency percentiles.

Each request sends --image (a face crop, as the edge would) through the same client the
edge uses. Run it against loopback or a test network only.
Example: python api_benchmark.py --url http://127.0.0.1:8080 --image face.jpg \
    --requests 200 --concurrency 4 --json result.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge import cli
from edge.client import CloudClient, CloudError, CloudRejectedError
from edge.progress import Progress


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.make_parser(__doc__)
    cli.add_api_args(parser)
    parser.add_argument("--image", type=Path, required=True, help="JPEG sent with each request")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=5, help="requests sent first, not timed")
    parser.add_argument("--camera-id", default="benchmark")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return cli.parse(parser, argv)


def one_request(client: CloudClient, jpeg: bytes, camera_id: str) -> tuple[float, str]:
    """(seconds, outcome): outcome "ok", a rejection code, or "unavailable"."""
    started = time.perf_counter()
    try:
        client.recognize(
            jpeg, camera_id=camera_id, location="benchmark", captured_at=datetime.now(UTC)
        )
        outcome = "ok"
    except CloudRejectedError as error:
        outcome = error.code
    except CloudError:
        outcome = "unavailable"
    return time.perf_counter() - started, outcome


def run(args: argparse.Namespace) -> dict[str, Any]:
    client = cli.client_from_args(args)
    jpeg = args.image.read_bytes()
    for _ in range(args.warmup):
        one_request(client, jpeg, args.camera_id)
    progress = Progress("requests", args.requests)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        futures = [
            pool.submit(one_request, client, jpeg, args.camera_id) for _ in range(args.requests)
        ]
        for future in futures:
            seconds, outcome = future.result()
            outcomes[outcome] += 1
            if outcome == "ok":
                latencies.append(seconds)
            progress.update()
    elapsed = time.perf_counter() - started
    progress.close()
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "url": client.base_url,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "image_bytes": len(jpeg),
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(outcomes["ok"] / elapsed, 2),
        "latency_ms": {
            name: round(float(np.percentile(ms, q)), 2)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        },
        "outcomes": dict(outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    latency = result["latency_ms"]
    print(
        f"{result['requests_per_s']} requests/s at concurrency {result['concurrency']}; "
        f"latency p50 {latency['p50']} ms, p90 {latency['p90']} ms, p99 {latency['p99']} ms, "
        f"max {latency['max']} ms; outcomes {result['outcomes']}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if result["outcomes"].get("ok") == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
