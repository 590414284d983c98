"""Database leases (api.db.leases): one holder at a time, fenced by owner, on both kinds."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import Engine, update

from api.db import leases
from api.db.engine import utcnow
from api.db.schema import leases as leases_table
from tests.shared_data import REPO_ROOT


def _expire(engine: Engine, name: str) -> None:
    """What time does to a holder that stopped renewing (its pod died)."""
    with engine.begin() as conn:
        conn.execute(
            update(leases_table)
            .where(leases_table.c.name == name)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def test_one_holder_fenced_by_owner(engine: Engine) -> None:
    assert leases.try_acquire(engine, "job", "a", 30)
    assert leases.try_acquire(engine, "job", "a", 30)  # the holder keeps it
    assert not leases.try_acquire(engine, "job", "b", 30)
    assert not leases.renew(engine, "job", "b", 30)
    assert not leases.release(engine, "job", "b")
    assert leases.holder(engine, "job")[0] == "a"
    assert leases.try_acquire(engine, "other-job", "b", 30)  # names are independent

    _expire(engine, "job")
    assert not leases.renew(engine, "job", "a", 30)  # too late: it lapsed
    assert leases.try_acquire(engine, "job", "b", 30)  # taken over
    assert not leases.renew(engine, "job", "a", 30)
    assert not leases.release(engine, "job", "a")  # a stale holder cannot free it
    owner, expires_at = leases.holder(engine, "job")
    assert owner == "b" and expires_at > utcnow() + timedelta(seconds=25)

    assert leases.release(engine, "job", "b")
    assert not leases.release(engine, "job", "b")  # given back once
    assert leases.holder(engine, "job") is None
    assert leases.try_acquire(engine, "job", "a", 30)


def test_contending_processes_never_hold_it_together(engine: Engine) -> None:
    """Four processes take and give back one lease as fast as they can for 4 s. On MariaDB
    this is also the deadlock test: with the row deleted on release, every such run ended
    with a contender killed by error 1213 (40001)."""
    url = engine.url.render_as_string(hide_password=False)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.data_lifecycle.lease_contender", url, f"pod-{i}", "4"],
            cwd=REPO_ROOT,
            env=os.environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    failures = [
        stderr[-2000:]
        for process, (_, stderr) in zip(processes, outputs, strict=True)
        if process.returncode
    ]
    assert not failures, failures
    held = [json.loads(stdout) for stdout, _ in outputs]
    assert all(len(intervals) >= 3 for intervals in held), held  # each got it, repeatedly
    intervals = sorted(interval for each in held for interval in each)
    for (_, end), (next_start, _) in itertools.pairwise(intervals):
        assert end <= next_start, "two processes held the lease at once"
