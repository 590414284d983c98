"""Training jobs: queued by any pod, run by exactly one, observable by all.

Exactly one job runs at a time across every pod and worker: a running job holds
`running_slot = 1`, which a unique constraint lets only one row have (the database
enforces it, SQLite and MariaDB alike). The runner holds a lease (`lease_owner` =
host:pid, `lease_expires_at`) that its heartbeat renews; when the lease expires (the pod
died) any poller takes the job over, or fails it once it has used its attempts.

Every write by the runner is fenced by (lease_owner, attempts): a runner that lost its
lease (stalled past it, then woke up) cannot renew, report or finish the job a successor
now owns. Lease times use the pods' UTC clocks (NTP-synchronised on any cluster); a skew
well below the lease length is harmless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from api.db.engine import utcnow
from api.db.schema import training_jobs

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
MODES = ("optimized", "full")
RUNNING_SLOT = 1


@dataclass(frozen=True)
class Claim:
    """A job this process runs, and the fencing token of its lease."""

    job_id: str
    mode: str
    owner: str
    attempt: int

    @property
    def fence(self) -> Any:
        return (
            (training_jobs.c.job_id == self.job_id)
            & (training_jobs.c.status == RUNNING)
            & (training_jobs.c.lease_owner == self.owner)
            & (training_jobs.c.attempts == self.attempt)
        )


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


def pending_work(conn: Connection) -> tuple[dict[str, Any] | None, str | None]:
    """(the running job if its lease expired, the oldest queued job id): one cheap read.

    A running job with a live lease means nothing can start: (None, None).
    """
    running = conn.execute(
        select(
            training_jobs.c.job_id,
            training_jobs.c.lease_owner,
            training_jobs.c.lease_expires_at,
            training_jobs.c.attempts,
        ).where(training_jobs.c.status == RUNNING)
    ).first()
    if running is not None:
        expires = running.lease_expires_at
        if expires is not None and expires >= utcnow():
            return None, None
        return dict(running._mapping), None
    queued = conn.execute(
        select(training_jobs.c.job_id)
        .where(training_jobs.c.status == QUEUED)
        .order_by(training_jobs.c.created_at)
        .limit(1)
    ).scalar()
    return None, queued


def claim_queued(conn: Connection, job_id: str, owner: str, lease_seconds: float) -> Claim | None:
    """Start a queued job under `owner`'s lease; None when another claimer won.

    Raises IntegrityError when another job holds the running slot.
    """
    now = utcnow()
    claimed = conn.execute(
        update(training_jobs)
        .where((training_jobs.c.job_id == job_id) & (training_jobs.c.status == QUEUED))
        .values(
            status=RUNNING,
            running_slot=RUNNING_SLOT,
            started_at=now,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=training_jobs.c.attempts + 1,
        )
    ).rowcount
    return _claim(conn, job_id, owner) if claimed else None


def _expired(job_id: str, attempts: int, now: datetime) -> Any:
    """The job, still running at `attempts` with its lease past at `now`: the fence of
    whoever takes over or fails a dead runner's job (one of two pollers wins)."""
    return (
        (training_jobs.c.job_id == job_id)
        & (training_jobs.c.status == RUNNING)
        & (training_jobs.c.attempts == attempts)
        & (training_jobs.c.lease_expires_at < now)
    )


def take_over(
    conn: Connection, job_id: str, attempts: int, owner: str, lease_seconds: float
) -> Claim | None:
    """Restart a running job whose lease expired (its runner died) under `owner`'s lease."""
    now = utcnow()
    taken = conn.execute(
        update(training_jobs)
        .where(_expired(job_id, attempts, now))
        .values(
            started_at=now,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=attempts + 1,
            progress=0.0,
        )
    ).rowcount
    return _claim(conn, job_id, owner) if taken else None


def abandon(conn: Connection, job_id: str, attempts: int, reason: str) -> bool:
    """Fail a running job whose lease expired and that used all its attempts."""
    return bool(
        conn.execute(
            update(training_jobs)
            .where(_expired(job_id, attempts, utcnow()))
            .values(_ended(FAILED, reason))
        ).rowcount
    )


def _claim(conn: Connection, job_id: str, owner: str) -> Claim:
    row = conn.execute(
        select(training_jobs.c.mode, training_jobs.c.attempts).where(
            training_jobs.c.job_id == job_id
        )
    ).one()
    return Claim(job_id=job_id, mode=row.mode, owner=owner, attempt=int(row.attempts))


def renew(conn: Connection, claim: Claim, lease_seconds: float) -> bool:
    """Heartbeat: extend the lease; False when it was lost (taken over or ended)."""
    expires = utcnow() + timedelta(seconds=lease_seconds)
    return bool(
        conn.execute(
            update(training_jobs).where(claim.fence).values(lease_expires_at=expires)
        ).rowcount
    )


def hand_back(conn: Connection, claim: Claim) -> bool:
    """Requeue a job whose runner is shutting down; False when the lease was already lost.

    The attempt goes back with it (the next claim counts it again): a worker stopped by a
    rolling update is no fault of the job's, and must not bring it closer to failing. The
    fencing token (owner, attempt) may then recur, but never for this owner: a stopping
    process claims nothing more.
    """
    return bool(
        conn.execute(
            update(training_jobs)
            .where(claim.fence)
            .values(
                status=QUEUED,
                running_slot=None,
                started_at=None,
                lease_owner=None,
                lease_expires_at=None,
                attempts=claim.attempt - 1,
                progress=0.0,
            )
        ).rowcount
    )


def report_progress(conn: Connection, claim: Claim, progress: float) -> bool:
    return bool(
        conn.execute(update(training_jobs).where(claim.fence).values(progress=progress)).rowcount
    )


def _ended(status: str, message: str | None) -> dict[str, Any]:
    return {
        "status": status,
        "running_slot": None,
        "finished_at": utcnow(),
        "message": message,
        "lease_owner": None,
        "lease_expires_at": None,
    }


def finish_job(
    conn: Connection,
    claim: Claim,
    status: str,
    message: str | None,
    release_version: str | None = None,
    people_count: int | None = None,
    faces_count: int | None = None,
) -> bool:
    """Record the outcome; False (nothing written) when the lease was lost."""
    values = _ended(status, message)
    values.update(release_version=release_version, people_count=people_count)
    values.update(faces_count=faces_count)
    if status == SUCCEEDED:
        values["progress"] = 1.0
    return bool(conn.execute(update(training_jobs).where(claim.fence).values(values)).rowcount)
