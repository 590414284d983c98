"""Faults injected into a running service, with the data checked afterwards.

A gunicorn worker killed mid-request, the model volume read-only or full during
training, a corrupted release, the database cut under recognition load: the service
must degrade the way the README promises and lose nothing it acknowledged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select

from api.db.schema import recognition_events
from api.recognition.release import (
    CLASSIFIER_FILE,
    CURRENT_LINK,
    RELEASE_FILE,
    RELEASES_DIR,
    write_checksums,
)
from tests.databases import mariadb_database
from tests.live_api import worker_pids
from tests.security.faults import Load, busy_worker, full, read_only
from tests.security.lfw import LfwPerson, enrol_person, largest_face, lfw_people, recognize, train
from tests.security.server import SecuredServer, start_secured
from tests.security.tally import SecurityReport
from tests.tcp_proxy import relayed_mariadb
from tests.training.releases import flip_a_bit, served_versions


@dataclass
class Trained:
    """The 2-worker server with four LFW people enrolled and the release it serves."""

    server: SecuredServer
    people: list[LfwPerson]
    release: str

    @property
    def volume(self) -> Path:
        return self.server.folder / "models"


@pytest.fixture(scope="module")
def trained(two_workers: SecuredServer) -> Trained:
    people = lfw_people(4, 4, first=10)
    for person in people:
        enrol_person(two_workers, person)
    job = train(two_workers)
    assert job["status"] == "succeeded", job
    assert served_versions(two_workers.process) == {job["release_version"]}
    return Trained(two_workers, people, job["release_version"])


WORKERS = 2  # the two_workers server: one /readyz request per worker per check


def events_of(engine: Engine, camera_id: str) -> int:
    query = select(func.count()).where(recognition_events.c.camera_id == camera_id)
    with engine.connect() as conn:
        return int(conn.execute(query.select_from(recognition_events)).scalar_one())


def recognize_request(server: SecuredServer, probe: Path, camera_id: str):
    data = probe.read_bytes()

    def send(_: int):
        return server.call_on_new_connection(
            "POST",
            "/api/v1/recognize",
            files={"image": (probe.name, data, "image/jpeg")},
            data={"camera_id": camera_id},
            timeout=30,
        )

    return send


def still_names_everyone(trained: Trained) -> None:
    for person in trained.people:
        answer = recognize(trained.server, person.probes[0])
        assert answer["model_version"] == trained.release
        assert largest_face(answer)["person_id"] == person.person_id


def wait_for_replacement(master: int, victim: int, before: list[int]) -> int:
    """The pid of the worker gunicorn starts in place of `victim`, one of the workers
    `before` (their pids before the caller killed it)."""
    deadline = time.monotonic() + 90
    while len(pids := worker_pids(master)) != WORKERS or victim in pids:
        assert time.monotonic() < deadline, f"gunicorn did not replace {victim}: {pids}"
        time.sleep(0.2)
    (replacement,) = set(pids) - set(before)
    return replacement


def test_killed_worker_is_replaced_and_only_its_requests_fail(
    trained: Trained, security_report: SecurityReport
) -> None:
    server, camera = trained.server, "kill-cam"
    master = server.process.process.pid
    workers_before = worker_pids(master)
    assert len(workers_before) == 2
    send = recognize_request(server, trained.people[0].probes[1], camera)
    with Load(send, threads=4, each=10) as load:
        load.wait_for(6)
        victim = busy_worker(master)
        assert victim is not None, "no worker was caught computing"
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        load.wait_for(40)
    outcomes = load.outcomes
    failed = [o for o in outcomes if o.status != 200]
    in_flight = [o for o in outcomes if o.started <= killed_at <= o.ended]
    assert all(o.started <= killed_at and o.status is None for o in failed), failed
    assert len(failed) <= len(in_flight)

    replacement = wait_for_replacement(master, victim, workers_before)
    after = [send(0) for _ in range(6)]
    assert [r.status_code for r in after] == [200] * 6

    acknowledged = sum(o.events_stored for o in outcomes if o.status == 200)
    acknowledged += sum(r.json()["events_stored"] for r in after)
    stored = events_of(server.engine, camera)
    # A request killed after its commit may have stored its sighting unacknowledged.
    assert acknowledged <= stored <= acknowledged + len(failed)
    security_report.record_fault(
        "gunicorn worker killed (SIGKILL) mid-request",
        f"SIGKILL to worker {victim} while computing; 4 clients, 2 workers x 2 threads",
        f"replaced by worker {replacement}; {len(failed)} request(s) cut, all in flight at "
        f"the kill ({len(in_flight)} were); every later request answered 200",
        requests=len(outcomes) + len(after),
        failed=len(failed),
        lost=acknowledged - min(stored, acknowledged),
    )


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("read-only", "Read-only file system"), ("full", "No space left on device")],
)
def test_unwritable_model_volume_fails_training_cleanly(
    trained: Trained,
    fault: str,
    reason: str,
    tmp_path: Path,
    security_report: SecurityReport,
) -> None:
    server, volume = trained.server, trained.volume
    records_before = server.records()
    releases_before = sorted(os.listdir(volume / RELEASES_DIR))
    assert served_versions(server.process) == {trained.release}
    fault_context = read_only(volume) if fault == "read-only" else full(volume, tmp_path / "full")
    with fault_context:
        job = train(server)
        assert job["status"] == "failed", job
        assert reason in job["message"], job["message"]
        assert served_versions(server.process) == {trained.release}
        still_names_everyone(trained)
        assert os.readlink(volume / CURRENT_LINK) == f"{RELEASES_DIR}/{trained.release}"
        leftovers = sorted(os.listdir(volume / RELEASES_DIR))
    assert sorted(os.listdir(volume / RELEASES_DIR)) == releases_before
    recovered = train(server)
    assert recovered["status"] == "succeeded", recovered
    trained.release = recovered["release_version"]
    assert served_versions(server.process) == {trained.release}
    staging = [name for name in leftovers if name not in releases_before]
    lost = records_before - server.records()
    assert not lost, sorted(lost)[:10]
    security_report.record_fault(
        f"model volume {fault} during training",
        f"MODEL_DIR {'bind-mounted read-only' if fault == 'read-only' else 'on a full tmpfs'}"
        ", then POST /api/v1/training",
        f"job failed with '{reason}'; old release kept serving on both workers"
        + (f"; left on the volume: {', '.join(staging)}" if staging else "")
        + "; the next training after the fault succeeded",
        requests=1 + WORKERS + len(trained.people),
        failed=0,
        lost=len(lost),
    )


def _point_current(volume: Path, version: str) -> None:
    """Flip `current` atomically, as a publishing pod would."""
    link = volume / f".{CURRENT_LINK}.test"
    link.unlink(missing_ok=True)
    os.symlink(Path(RELEASES_DIR) / version, link)
    os.replace(link, volume / CURRENT_LINK)


DAMAGES = {
    "classifier bytes changed": lambda folder: flip_a_bit(folder / CLASSIFIER_FILE),
    "metadata cut short": lambda folder: (folder / RELEASE_FILE).write_bytes(
        (folder / RELEASE_FILE).read_bytes()[:40]
    ),
    "classifier missing": lambda folder: (folder / CLASSIFIER_FILE).unlink(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_corrupted_release_is_refused_and_the_old_one_kept(
    trained: Trained, damage: str, security_report: SecurityReport
) -> None:
    server, volume = trained.server, trained.volume
    records_before = server.records()
    bad = f"29991231T235959999999Z-{sorted(DAMAGES).index(damage):06d}"
    folder = volume / RELEASES_DIR / bad
    shutil.copytree(volume / RELEASES_DIR / trained.release, folder)
    meta = json.loads((folder / RELEASE_FILE).read_text(encoding="utf-8"))
    (folder / RELEASE_FILE).write_text(json.dumps({**meta, "version": bad}), encoding="utf-8")
    write_checksums(folder)  # a whole copy under its new name: only the damage is wrong
    DAMAGES[damage](folder)
    log_before = server.log_path.stat().st_size

    def logged(message: str) -> list[dict]:
        with server.log_path.open("rb") as log:
            log.seek(log_before)
            lines = log.read().decode().splitlines()
        return [json.loads(line) for line in lines if message in line]

    _point_current(volume, bad)
    try:
        assert served_versions(server.process) == {trained.release}
        still_names_everyone(trained)
        refusals = logged("refusing model release")
        assert refusals and all(entry["release"] == bad for entry in refusals), refusals
        refused_by = {entry["pid"] for entry in refusals}
        assert server.process.process is not None
        master = server.process.process.pid
        workers = worker_pids(master)
        assert refused_by == set(workers), refused_by
        # A worker started now (a pod restarted) has no old release: it takes the newest
        # earlier one that loads, the one its sibling kept, instead of naming nobody.
        os.kill(workers[0], signal.SIGKILL)
        replacement = wait_for_replacement(master, workers[0], workers)
        deadline = time.monotonic() + 90  # it loads the models, then reads `current`
        while not (fell_back := logged("serving earlier model release")):
            assert time.monotonic() < deadline, "the new worker served no earlier release"
            time.sleep(0.2)
        assert [(e["pid"], e["release"]) for e in fell_back] == [(replacement, trained.release)]
        assert served_versions(server.process) == {trained.release}
        still_names_everyone(trained)
    finally:
        _point_current(volume, trained.release)
        shutil.rmtree(folder)
    security_report.record_fault(
        f"corrupted release ({damage})",
        "a copy of the live release damaged, then `current` pointed at it",
        f"refused by every worker ({len(refused_by)}) with the reason logged; the old release "
        "kept serving on both and naming everyone; a worker started meanwhile (one killed) "
        "served the same old release",
        requests=2 * (WORKERS + len(trained.people)),  # before and after the kill
        failed=0,
        lost=len(records_before - server.records()),
    )


@pytest.mark.mariadb
def test_database_outage_under_recognition_load(
    tmp_path: Path, security_report: SecurityReport
) -> None:
    camera = "outage-cam"
    with mariadb_database() as url, relayed_mariadb(url) as (direct_url, proxied, relay):
        server = start_secured(tmp_path, database_url=proxied, DB_TIMEOUT_SECONDS="2")
        direct = create_engine(direct_url)
        try:
            (person,) = lfw_people(1, 3, first=15)
            enrol_person(server, person)
            with Load(recognize_request(server, person.probes[0], camera), threads=3) as load:
                load.wait_for(4)
                cut_at = time.monotonic()
                relay.cut()
                load.wait_for(len(load.outcomes) + 9)
                ready_during = server.call("GET", "/readyz").status_code
                restored_at = time.monotonic()
                relay.restore()
                server.process.wait_ready(60)  # raises when it did not recover by itself
                recovered_at = time.monotonic()
                load.wait_for(len(load.outcomes) + 9)
            outcomes = load.outcomes
            stored = events_of(direct, camera)
        finally:
            server.stop()
            direct.dispose()
    assert ready_during == 503
    assert {o.status for o in outcomes} == {200, 503}, [o.status for o in outcomes]
    refused = [o for o in outcomes if o.status == 503]
    assert {o.code for o in refused} == {"DATABASE_UNAVAILABLE"}
    assert any(o.status == 200 and o.started > recovered_at for o in outcomes)
    acknowledged = sum(o.events_stored for o in outcomes if o.status == 200)
    # A commit whose acknowledgement the cut swallowed is stored yet answered 503.
    cut_mid_commit = sum(1 for o in refused if o.started <= cut_at <= o.ended)
    assert acknowledged <= stored <= acknowledged + cut_mid_commit
    slowest = max(o.ended - o.started for o in refused)
    security_report.record_fault(
        "database down under recognition load (MariaDB link cut)",
        "TCP path to MariaDB reset and refused, 3 clients recognising meanwhile",
        f"{len(refused)} answers 503 DATABASE_UNAVAILABLE (slowest {slowest:.2f} s), "
        f"/readyz 503; back to 200 {recovered_at - restored_at:.1f} s after the link "
        "returned, without a restart",
        requests=len(outcomes),
        failed=len(refused),
        lost=acknowledged - min(stored, acknowledged),
    )
