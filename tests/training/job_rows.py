"""Reading training jobs straight from the database, as the training tests judge them."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine

from api.db import training_jobs as jobs


def job_row(engine: Engine, job_id: str) -> dict:
    """The job's row; fails if there is none."""
    with engine.connect() as conn:
        row = jobs.get_job(conn, job_id)
    assert row is not None
    return row


def wait_for(engine: Engine, job_id: str, done: Callable[[dict], bool], timeout: float) -> dict:
    """The job's row once `done(row)` holds; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = job_row(engine, job_id)
        if done(row):
            return row
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {row['status']} after {timeout} s: {row}")
