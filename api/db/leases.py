"""Named cluster-wide leases: at most one process runs a periodic job at a time.

A lease is one row of `leases` (name, owner, expires_at). A process takes it when nobody
holds it or the holder let it expire (its pod died), keeps it by renewing before expiry,
and gives it back when done. Every write is fenced by owner: a holder that stalled past
its expiry and lost the lease to another process cannot renew or release it any more, so
it learns it must stop instead of running alongside the new holder.

Each call is one short transaction of its own (the caller's work is not held inside it),
and the owner string names a process (`api.training_worker.worker_id`: host:pid).
Times are the callers' UTC clocks; pods' clocks need only agree to well under a lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.db.engine import utcnow
from api.db.schema import leases


def try_acquire(engine: Engine, name: str, owner: str, seconds: float) -> bool:
    """Take (or keep) lease `name` for `seconds` from now; False while another holds it."""
    now = utcnow()
    expires_at = now + timedelta(seconds=seconds)
    with engine.begin() as conn:
        taken = conn.execute(
            update(leases)
            .where(leases.c.name == name)
            .where((leases.c.owner == owner) | (leases.c.expires_at < now))
            .values(owner=owner, expires_at=expires_at)
        ).rowcount
    if taken == 1:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(insert(leases).values(name=name, owner=owner, expires_at=expires_at))
    except IntegrityError:
        return False  # another process holds it, or created it between our two statements
    return True


def renew(engine: Engine, name: str, owner: str, seconds: float) -> bool:
    """Extend a lease `owner` still holds to `seconds` from now; False when it was lost."""
    now = utcnow()
    with engine.begin() as conn:
        return (
            conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.owner == owner, leases.c.expires_at >= now)
                .values(expires_at=now + timedelta(seconds=seconds))
            ).rowcount
            == 1
        )


def release(engine: Engine, name: str, owner: str) -> bool:
    """Give the lease back at once (if `owner` still holds it), so another may take it."""
    with engine.begin() as conn:
        return (
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == owner))
        ).rowcount == 1


def holder(engine: Engine, name: str) -> tuple[str, datetime] | None:
    """Who holds lease `name` and until when (an expired row included); None if no row."""
    with engine.connect() as conn:
        row = conn.execute(
            select(leases.c.owner, leases.c.expires_at).where(leases.c.name == name)
        ).first()
    return (row.owner, row.expires_at) if row else None
