"""Retraining under traffic across three pods: zero failed requests, every pod swaps.

Three gunicorn instances (2 workers each) behind nginx share one MariaDB database and one
MODEL_DIR, as the Kubernetes deployment does; real MTCNN + FaceNet, real LFW images.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine

from api.db import training_jobs as jobs
from api.recognition.release import (
    CLASSIFIER_FILE,
    RELEASE_FILE,
    RELEASES_DIR,
    activate_release,
    current_version,
    new_version,
    write_checksums,
)
from tests.api.client import create_person, enrol, recognize, train, wait_for_job
from tests.databases import mariadb_database
from tests.live_api import parent_pid
from tests.shared_data import ident20_people
from tests.training.cluster import Cluster, start_cluster
from tests.training.job_rows import job_row, wait_for
from tests.training.releases import served_by_worker, served_versions

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]

FIRST_PEOPLE = 10  # enrolled and trained before the traffic starts
NEW_PEOPLE = 4  # enrolled while recognitions flow, then trained
ENROLLED_IMAGES = 3
LEASE_SECONDS = 3
SWAP_SECONDS = 5.0  # every instance must answer with a new release this soon after it is live


def ident20() -> list[tuple[str, list[Path]]]:
    return list(ident20_people().items())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    with mariadb_database() as url:
        cluster = start_cluster(
            folder,
            url,
            3,
            TRAINING_LEASE_SECONDS=str(LEASE_SECONDS),
            TRAINING_POLL_SECONDS="0.5",
        )
        try:
            yield cluster
        finally:
            cluster.stop()


def enrol_people(url: str, people: list[tuple[str, list[Path]]]) -> None:
    for person_id, images in people:
        assert create_person(url, person_id).status_code == 201
        answer = enrol(url, person_id, images[:ENROLLED_IMAGES])
        assert len(answer["faces"]) == ENROLLED_IMAGES, answer["rejected"]


def named(url: str, image: Path) -> tuple[str | None, str | None]:
    response = recognize(url, image)
    assert response.status_code == 200, response.text
    answer = response.json()
    face = max(answer["faces"], key=lambda f: f["detection_score"])
    return face["person_id"], answer["model_version"]


def wait_until_served(cluster: Cluster, version: str, timeout: float) -> float:
    """Seconds until every instance answers `version` on every call."""
    started = time.monotonic()
    pending = list(cluster.instances)
    while pending and time.monotonic() - started < timeout:
        pending = [api for api in pending if served_versions(api) != {version}]
        time.sleep(0.05)
    assert not pending, f"{[api.url for api in pending]} still not serving {version}"
    return time.monotonic() - started


@dataclass
class Traffic:
    """A client sending recognitions through nginx without pause, recording every answer."""

    url: str
    probes: list[tuple[str, Path]]
    answers: list[tuple[int, str | None, str | None, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        index = 0
        while not self.stop.is_set():
            truth, image = self.probes[index % len(self.probes)]
            index += 1
            try:
                response = recognize(self.url, image)
            except requests.RequestException as error:
                self.errors.append(repr(error))
                continue
            if response.status_code != 200:
                self.answers.append((response.status_code, None, None, truth))
                continue
            answer = response.json()
            face = max(answer["faces"], key=lambda f: f["detection_score"])
            self.answers.append((200, face["person_id"], answer["model_version"], truth))


def test_retrain_under_traffic_swaps_every_instance_with_zero_failed_requests(
    cluster: Cluster,
) -> None:
    people = ident20()
    first, new = people[:FIRST_PEOPLE], people[FIRST_PEOPLE : FIRST_PEOPLE + NEW_PEOPLE]
    enrol_people(cluster.url, first)
    job = train(cluster.url)
    assert job["status"] == "succeeded" and job["people"] == FIRST_PEOPLE, job
    old = job["release_version"]
    wait_until_served(cluster, old, SWAP_SECONDS)
    probes = [(person, images[ENROLLED_IMAGES]) for person, images in first]
    assert all(named(cluster.url, image)[0] == person for person, image in probes)

    traffic = Traffic(cluster.url, probes)
    client = threading.Thread(target=traffic.run)
    client.start()
    try:
        enrol_people(cluster.url, new)
        queued = requests.post(f"{cluster.url}/api/v1/training", json={}, timeout=10)
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        job = wait_for_job(cluster.url, queued.json()["job_id"], 120)
        assert job["status"] == "succeeded", job
        fresh = job["release_version"]
        lag = wait_until_served(cluster, fresh, SWAP_SECONDS)
        print(f"every instance served {fresh} {lag:.2f} s after the job ended")
        time.sleep(1.0)  # traffic on the new release too
    finally:
        traffic.stop.set()
        client.join()

    assert traffic.errors == []
    statuses = [status for status, *_ in traffic.answers]
    assert len(statuses) >= 20 and set(statuses) == {200}
    assert {version for _, _, version, _ in traffic.answers} == {old, fresh}
    # Probes of trained people stay correctly named through the swap.
    assert all(person == truth for _, person, _, truth in traffic.answers)

    for api in cluster.instances:
        model = requests.get(f"{api.url}/api/v1/model", timeout=10).json()
        assert model["version"] == fresh and model["people"] == FIRST_PEOPLE + NEW_PEOPLE
        for person, images in new:
            assert named(api.url, images[ENROLLED_IMAGES]) == (person, fresh)


def test_release_failing_its_checksum_is_refused_and_the_old_one_serves(cluster: Cluster) -> None:
    live = current_version(cluster.model_dir)
    assert live is not None
    person, images = ident20()[0]
    releases = cluster.model_dir / RELEASES_DIR
    rogue = new_version()
    shutil.copytree(releases / live, releases / rogue)
    meta = json.loads((releases / rogue / RELEASE_FILE).read_text())
    (releases / rogue / RELEASE_FILE).write_text(json.dumps({**meta, "version": rogue}))
    write_checksums(releases / rogue)  # a copy made whole again: only the byte below is off
    arrays = bytearray((releases / rogue / CLASSIFIER_FILE).read_bytes())
    arrays[len(arrays) // 2] ^= 0xFF  # one flipped byte on the volume
    (releases / rogue / CLASSIFIER_FILE).write_bytes(bytes(arrays))
    activate_release(cluster.model_dir, rogue)
    try:
        for api in cluster.instances:
            for _ in range(3):
                assert named(api.url, images[ENROLLED_IMAGES]) == (person, live)
            assert served_versions(api) == {live}
            # /metrics: the worker that answers says which release it serves, and counts
            # its failed attempt at the rogue one.
            metrics = requests.get(f"{api.url}/metrics", timeout=10).text
            served = served_by_worker(metrics)
            assert served and set(served.values()) == {live}, served
            assert f'version="{rogue}"' not in metrics
            failures = [
                float(line.split()[-1])
                for line in metrics.splitlines()
                if line.startswith("facerec_model_release_load_failures_total ")
            ]
            assert failures and failures[0] >= 1
    finally:
        activate_release(cluster.model_dir, live)
        shutil.rmtree(releases / rogue)


def _gunicorn_worker_of(cluster: Cluster, pid: int) -> bool:
    """True when `pid` is a worker forked by one of this test's gunicorn masters."""
    return parent_pid(pid) in {api.process.pid for api in cluster.instances if api.process}


def test_killed_training_runner_is_taken_over_and_the_live_model_is_untouched(
    cluster: Cluster,
) -> None:
    live = current_version(cluster.model_dir)
    person, images = ident20()[0]
    engine = create_engine(cluster.database_url)
    try:
        queued = requests.post(f"{cluster.url}/api/v1/training", json={"mode": "full"}, timeout=10)
        job_id = queued.json()["job_id"]
        row = wait_for(engine, job_id, lambda row: row["status"] == jobs.RUNNING, 30)
        assert row is not None and row["status"] == jobs.RUNNING, row
        victim = row["lease_owner"]
        pid = int(victim.rsplit(":", 1)[1])
        assert _gunicorn_worker_of(cluster, pid)
        time.sleep(0.3)  # into the re-embedding (it takes seconds)
        os.kill(pid, signal.SIGKILL)

        # The live model is untouched and keeps serving while the job is orphaned.
        assert current_version(cluster.model_dir) == live
        assert named(cluster.url, images[ENROLLED_IMAGES]) == (person, live)

        progress: list[float] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            job = requests.get(f"{cluster.url}/api/v1/training/{job_id}", timeout=10).json()
            if job["status"] in ("succeeded", "failed"):
                break
            if job["attempts"] == 2:
                progress.append(job["progress"])
            time.sleep(0.2)
        row = job_row(engine, job_id)
    finally:
        engine.dispose()
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    assert job["message"] is None and job["release_version"] != live
    assert any(0.0 < value < 1.0 for value in progress), progress  # full mode reports
    assert progress == sorted(progress)
    assert row["running_slot"] is None and row["lease_owner"] is None
    assert current_version(cluster.model_dir) == job["release_version"]
    assert not list((cluster.model_dir / RELEASES_DIR).glob(".staging-*"))
    wait_until_served(cluster, job["release_version"], SWAP_SECONDS)
    assert named(cluster.url, images[ENROLLED_IMAGES]) == (person, job["release_version"])
