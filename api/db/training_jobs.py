"""Training jobs: queued by any pod, run by one, observable by all."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert, select, update

from api.db.engine import utcnow
from api.db.schema import training_jobs

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
MODES = ("optimized", "full")


def create_job(conn: Connection, mode: str) -> dict[str, Any]:
    job_id = str(uuid.uuid4())
    conn.execute(
        insert(training_jobs).values(
            job_id=job_id,
            mode=mode,
            status=QUEUED,
            created_at=utcnow(),
            attempts=0,
            progress=0.0,
        )
    )
    job = get_job(conn, job_id)
    assert job is not None
    return job


def get_job(conn: Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(training_jobs).where(training_jobs.c.job_id == job_id)).first()
    return dict(row._mapping) if row else None


def latest_jobs(conn: Connection, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(training_jobs).order_by(training_jobs.c.created_at.desc()).limit(limit)
    ).all()
    return [dict(row._mapping) for row in rows]


def mark_running(conn: Connection, job_id: str, owner: str) -> bool:
    """Claim a queued job for `owner`; False when someone else already did."""
    now = utcnow()
    claimed = conn.execute(
        update(training_jobs)
        .where((training_jobs.c.job_id == job_id) & (training_jobs.c.status == QUEUED))
        .values(
            status=RUNNING,
            started_at=now,
            lease_owner=owner,
            attempts=training_jobs.c.attempts + 1,
        )
    ).rowcount
    return bool(claimed)


def report_progress(conn: Connection, job_id: str, progress: float) -> None:
    conn.execute(
        update(training_jobs).where(training_jobs.c.job_id == job_id).values(progress=progress)
    )


def finish_job(
    conn: Connection,
    job_id: str,
    status: str,
    message: str | None,
    release_version: str | None = None,
    people_count: int | None = None,
    faces_count: int | None = None,
) -> None:
    conn.execute(
        update(training_jobs)
        .where(training_jobs.c.job_id == job_id)
        .values(
            status=status,
            finished_at=utcnow(),
            message=message,
            progress=1.0 if status == SUCCEEDED else training_jobs.c.progress,
            release_version=release_version,
            people_count=people_count,
            faces_count=faces_count,
            lease_owner=None,
            lease_expires_at=None,
        )
    )
