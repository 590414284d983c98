"""A worker's numpy BLAS runs on ORT_INTRA_OP_THREADS threads, like onnxruntime: left at
one per core in each of several workers, its spinning threads cost a third of the
throughput on 2 cores (benchmarks/framework_client.py --profile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import sqlite_url
from tests.shared_data import REPO_ROOT

PROGRAM = """
import json
from threadpoolctl import threadpool_info
from api.app import create_app
create_app()
print(json.dumps([p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]))
"""


@pytest.mark.parametrize("threads", [None, "2"])
def test_blas_gets_the_workers_thread_count(tmp_path: Path, threads: str | None) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url(tmp_path),
        "MODEL_DIR": str(tmp_path / "models"),
    }
    env.pop("OPENBLAS_NUM_THREADS", None)  # what the machine has, as in a gunicorn worker
    if threads is not None:
        env["ORT_INTRA_OP_THREADS"] = threads
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    blas = json.loads(result.stdout.strip().splitlines()[-1])
    assert blas and set(blas) == {int(threads or 1)}
