"""/metrics on a real 2-worker gunicorn: every worker's counts add up, stage by stage."""

from __future__ import annotations

import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client.mmap_dict import MmapedDict

from api.metrics import STAGES
from tests.api.client import recognize
from tests.api.conftest import start_api
from tests.api.images import face_jpeg
from tests.databases import sqlite_url

REQUESTS = 24
SCRAPES = 6
RECOGNIZE_OK = 'facerec_http_requests_total{endpoint="/api/v1/recognize",status="200"}'


def per_worker_recognitions(metrics_dir: Path) -> dict[str, float]:
    """{pid: recognize requests answered 200}, read from each worker's own file."""
    counts: Counter[str] = Counter()
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, _ = json.loads(key)
            wanted = {"endpoint": "/api/v1/recognize", "status": "200"}
            if sample == "facerec_http_requests_total" and labels == wanted:
                counts[pid] += value
    return dict(counts)


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


def test_two_workers_counts_and_stage_latencies_add_up(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    server = start_api(
        tmp_path, sqlite_url(tmp_path), workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    try:
        image = face_jpeg()
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(lambda _: recognize(server.url, image, camera_id="cam-1"), range(REQUESTS))
            )
        assert [a.status_code for a in answers] == [200] * REQUESTS
        assert all(a.json()["events_stored"] == 1 for a in answers)
        per_worker = per_worker_recognitions(metrics_dir)
        print(f"\nrecognitions per worker: {per_worker}")
        assert len(per_worker) == 2 and all(count > 0 for count in per_worker.values())
        assert sum(per_worker.values()) == REQUESTS
        # whichever worker answers the scrape, it reports the pod's totals
        for _ in range(SCRAPES):
            text = requests.get(f"{server.url}/metrics", timeout=10).text
            assert sample(text, RECOGNIZE_OK) == REQUESTS
            for stage in STAGES:
                count = sample(text, f'facerec_stage_seconds_count{{stage="{stage}"}}')
                assert count == REQUESTS, stage
                assert sample(text, f'facerec_stage_seconds_sum{{stage="{stage}"}}') > 0
    finally:
        server.stop()
    assert not list(metrics_dir.glob("gauge_live*")), "a stopped worker's live gauges remain"
