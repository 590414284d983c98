"""Prometheus metrics that add up across a pod's gunicorn workers, and per-stage timing.

Each worker is a process with its own counters; a scrape reaches one worker. With
PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it to a fresh folder per server)
prometheus_client keeps every worker's values in memory-mapped files there and
`exposition()` sums them, so /metrics answers for the whole pod whichever worker serves it.
Without it (the Flask test client, a plain `python -m`), the process's own registry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
STAGES = ("decode", "detect", "embed", "match", "store")

# From a fraction of a millisecond (decode of a crop, a match) to a large frame's MTCNN.
STAGE_SECONDS = Histogram(
    "facerec_stage_seconds",
    "Time of one pipeline stage of an image request",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

# How often a request was alone and had every core for its FaceNet run (IDLE_EMBED_THREADS).
WIDE_EMBEDDINGS = Counter(
    "facerec_wide_embeddings",
    "FaceNet runs on every core, their request being the only one in flight",
)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Observe the block's wall time as `stage` (one of STAGES), also when it raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(stage).observe(time.perf_counter() - started)


def exposition() -> bytes:
    """The text format of every worker's metrics summed, or of this process alone."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
