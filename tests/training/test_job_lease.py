"""The job lease on the real databases: one running job, heartbeat fencing, takeover, giving up.

These drive api/db/training_jobs.py and the poller's claim step directly (no models
needed); tests/training/test_cluster.py shows the same across real processes.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError

from api.db import training_jobs as jobs
from api.db.engine import utcnow
from api.db.schema import training_jobs
from api.training import TrainingContext
from api.training_worker import TrainingWorker
from tests.training.job_rows import job_row


def poller(engine: Engine, max_attempts: int = 2, lease: float = 0.3) -> TrainingWorker:
    """A poller whose claim step needs only the engine (it never runs a job here)."""
    context = TrainingContext(
        engine=engine,
        analyzer=None,  # type: ignore[arg-type]
        model_dir=Path("/nonexistent"),
        threshold=0.5,
        keep_releases=2,
        max_image_pixels=1,
        threads=1,
    )
    return TrainingWorker(context, lease_seconds=lease, poll_seconds=1, max_attempts=max_attempts)


def queue(engine: Engine, count: int) -> list[str]:
    with engine.begin() as conn:
        return [jobs.create_job(conn, "optimized")["job_id"] for _ in range(count)]


def test_only_one_job_runs_and_the_oldest_goes_first(engine: Engine) -> None:
    first, second = queue(engine, 2)
    worker = poller(engine, lease=30)
    claim = worker.claim()
    assert claim is not None and claim.job_id == first and claim.attempt == 1
    # Every other poll (any pod) finds the live lease and claims nothing.
    assert [worker.claim() for _ in range(3)] == [None, None, None]
    # Even bypassing the poller, the database refuses a second running job.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        jobs.claim_queued(conn, second, "intruder:1", 30)
    assert job_row(engine, second)["status"] == jobs.QUEUED
    with engine.begin() as conn:
        assert jobs.finish_job(conn, claim, jobs.SUCCEEDED, None, "v1", 3, 9)
    finished = job_row(engine, first)
    assert finished["status"] == jobs.SUCCEEDED and finished["running_slot"] is None
    assert finished["progress"] == 1.0 and finished["lease_owner"] is None
    following = worker.claim()
    assert following is not None and following.job_id == second


def test_expired_lease_is_taken_over_and_the_old_runner_is_fenced_out(engine: Engine) -> None:
    (job_id,) = queue(engine, 1)
    worker = poller(engine, lease=0.3)
    dead = worker.claim()
    assert dead is not None
    assert worker.claim() is None  # lease still live
    time.sleep(0.5)
    successor = worker.claim()
    assert successor is not None and successor.job_id == job_id and successor.attempt == 2
    running = job_row(engine, job_id)
    assert running["status"] == jobs.RUNNING and running["attempts"] == 2
    # The first runner wakes up: it can neither heartbeat, report nor finish.
    with engine.begin() as conn:
        assert not jobs.renew(conn, dead, 30)
        assert not jobs.report_progress(conn, dead, 0.5)
        assert not jobs.finish_job(conn, dead, jobs.SUCCEEDED, None, "stale", 1, 1)
        assert jobs.renew(conn, successor, 30)
        assert jobs.report_progress(conn, successor, 0.25)
    assert job_row(engine, job_id)["progress"] == 0.25
    assert job_row(engine, job_id)["release_version"] is None


def test_job_whose_runners_keep_dying_fails_with_the_reason(engine: Engine) -> None:
    (job_id,) = queue(engine, 1)
    worker = poller(engine, max_attempts=1, lease=0.2)
    claim = worker.claim()
    assert claim is not None
    with engine.begin() as conn:  # the runner died long ago
        conn.execute(
            update(training_jobs)
            .where(training_jobs.c.job_id == job_id)
            .values(lease_expires_at=utcnow().replace(year=2000))
        )
    assert worker.claim() is None
    failed = job_row(engine, job_id)
    assert failed["status"] == jobs.FAILED and failed["running_slot"] is None
    assert claim.owner in failed["message"] and "1 attempt" in failed["message"]
    # The slot is free again: the next queued job starts.
    (following,) = queue(engine, 1)
    next_claim = worker.claim()
    assert next_claim is not None and next_claim.job_id == following


def test_handed_back_job_is_queued_again_with_its_attempt_returned(engine: Engine) -> None:
    first, second = queue(engine, 2)
    worker = poller(engine, lease=30)
    stopping = worker.claim()
    assert stopping is not None and stopping.job_id == first and stopping.attempt == 1
    with engine.begin() as conn:
        assert jobs.report_progress(conn, stopping, 0.4)
        assert jobs.hand_back(conn, stopping)
    back = job_row(engine, first)
    assert back["status"] == jobs.QUEUED and back["attempts"] == 0 and back["progress"] == 0.0
    assert back["running_slot"] is None and back["lease_owner"] is None
    assert back["lease_expires_at"] is None and back["started_at"] is None
    # The runner that handed it back is fenced out; another worker's next poll claims it
    # first again, as attempt 1: the stop cost the job nothing.
    with engine.begin() as conn:
        assert not jobs.renew(conn, stopping, 30)
        assert not jobs.hand_back(conn, stopping)
        assert jobs.pending_work(conn) == (None, first)
        successor = jobs.claim_queued(conn, first, "another-pod:7", 30)
    assert successor is not None and successor.attempt == 1
    with engine.begin() as conn:
        assert not jobs.finish_job(conn, stopping, jobs.SUCCEEDED, None, "stale", 1, 1)
        # A job that ended first is left as it is.
        assert jobs.finish_job(conn, successor, jobs.SUCCEEDED, None, "v1", 1, 1)
        assert not jobs.hand_back(conn, successor)
    assert job_row(engine, first)["status"] == jobs.SUCCEEDED
    assert job_row(engine, second)["status"] == jobs.QUEUED
