"""Idle workers load a new release too: every worker serves the same one within about
RELEASE_POLL_SECONDS of the flip, whether requests reach it or not."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from api.recognition.release import activate_release, write_release
from tests.api.conftest import start_api
from tests.databases import sqlite_url
from tests.live_api import ApiProcess, worker_pids
from tests.training.releases import release, served_by_worker


def served_by_worker_of(api: ApiProcess) -> dict[int, str]:
    """From /metrics, which loads no release itself."""
    return served_by_worker(requests.get(f"{api.url}/metrics", timeout=10).text)


def wait_for_every_worker(api: ApiProcess, version: str, within: float) -> dict[int, str]:
    assert api.process is not None
    workers = worker_pids(api.process.pid)
    expected = dict.fromkeys(workers, version)
    deadline = time.monotonic() + within
    while (served := served_by_worker_of(api)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return served


def test_a_release_flipped_while_every_worker_is_idle_is_loaded_by_all(tmp_path: Path) -> None:
    api = start_api(tmp_path, sqlite_url(tmp_path), workers=2, RELEASE_POLL_SECONDS="0.5")
    try:
        assert api.process is not None
        workers = worker_pids(api.process.pid)
        assert len(workers) == 2
        model_dir = tmp_path / "models"
        assert served_by_worker_of(api) == {}  # nothing trained: nothing served
        for people in (3, 4):  # the second flip replaces the first on every worker
            published = release(people)
            write_release(model_dir, published)
            activate_release(model_dir, published.version)
            served = wait_for_every_worker(api, published.version, within=15.0)
            assert served == dict.fromkeys(workers, published.version), served
    finally:
        api.stop()


def test_with_polling_off_a_release_waits_for_a_request(tmp_path: Path) -> None:
    """RELEASE_POLL_SECONDS=0: the lazy path alone (what the test above would see without
    the polling thread): nothing is loaded until a request asks."""
    api = start_api(tmp_path, sqlite_url(tmp_path), workers=1, RELEASE_POLL_SECONDS="0")
    try:
        published = release(3)
        write_release(tmp_path / "models", published)
        activate_release(tmp_path / "models", published.version)
        time.sleep(2.0)
        assert served_by_worker_of(api) == {}
        answer = requests.get(f"{api.url}/api/v1/model", timeout=10).json()
        assert answer["version"] == published.version
        assert list(served_by_worker_of(api).values()) == [published.version]
    finally:
        api.stop()
