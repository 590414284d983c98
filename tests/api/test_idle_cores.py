"""IDLE_EMBED_THREADS on a real 2-worker gunicorn: a request alone in the pod embeds on
every core, one with company on its own, and both compute the same vectors."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from api.vision.cores import ComputeGate
from tests.api.client import call, recognize
from tests.api.conftest import start_api
from tests.api.images import face_jpeg
from tests.api.test_metrics import sample
from tests.databases import sqlite_url
from tests.shared_data import shared_path

WIDE = "facerec_wide_embeddings_total"


def verify(url: str) -> dict[str, float]:
    """Two photos of one person through POST /api/v1/verify: two embeddings."""
    folder = shared_path("data", "lfw-ident20", "Nicole_Kidman")
    files = {
        f"image_{side}": (f"{side}.jpg", (folder / f"Nicole_Kidman_000{n}.jpg").read_bytes())
        for side, n in (("a", 1), ("b", 2))
    }
    answer = call("POST", f"{url}/api/v1/verify", files=files)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_only_a_lone_request_embeds_on_every_core(tmp_path: Path) -> None:
    lock = tmp_path / "compute.lock"
    server = start_api(
        tmp_path,
        sqlite_url(tmp_path),
        workers=2,
        COMPUTE_LOCK_FILE=str(lock),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    try:

        def wide_runs() -> float:
            return sample(requests.get(f"{server.url}/metrics", timeout=10).text, WIDE)

        def quiet() -> None:
            """As if the pod had seen no company for a long time (QUIET_SECONDS)."""
            os.utime(lock, (0.0, 0.0))

        quiet()
        alone = verify(server.url)
        assert wide_runs() == 2
        # another computation in flight, as a second request or a training job holds it
        with ComputeGate(lock).hold():
            accompanied = verify(server.url)
        assert wide_runs() == 2
        assert accompanied == alone and alone["same_person"]
        # company was just seen: the pod must be quiet for a while before a wide run
        assert recognize(server.url, face_jpeg()).status_code == 200
        assert wide_runs() == 2
        quiet()
        assert recognize(server.url, face_jpeg()).status_code == 200
        assert wide_runs() == 3
    finally:
        server.stop()


def test_idle_embed_threads_1_never_goes_wide(tmp_path: Path) -> None:
    lock = tmp_path / "compute.lock"
    server = start_api(
        tmp_path,
        sqlite_url(tmp_path),
        workers=1,
        IDLE_EMBED_THREADS="1",
        COMPUTE_LOCK_FILE=str(lock),
    )
    try:
        verify(server.url)
        text = requests.get(f"{server.url}/metrics", timeout=10).text
        assert sample(text, WIDE) == 0
        assert not lock.exists()  # no gate without a wide session
    finally:
        server.stop()
