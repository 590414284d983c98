"""Named cluster-wide leases: at most one process runs a periodic job at a time.

A lease is one row of `leases` (name, owner, expires_at). A process takes it when nobody
holds it or the holder let it expire (its pod died), keeps it by renewing before expiry,
and gives it back when done. Every write is fenced by owner: a holder that stalled past
its expiry and lost the lease to another process cannot renew or release it any more, so
it learns it must stop instead of running alongside the new holder.

Each call is one short transaction of its own (the caller's work is not held inside it),
and the owner string names a process (`api.training_worker.worker_id`: host:pid).
Times are the callers' UTC clocks; pods' clocks need only agree to well under a lease.

A lease's row, once created, is never deleted: giving it back expires it. Every take,
renewal and release is then one UPDATE of one existing row, which MariaDB serialises on
that row's lock alone. Deleting on release made each next take re-insert the row, and
InnoDB's locks around a deleted key (a statement that finds no row locks the gap; an
insert checks the delete-marked record) let four contending processes deadlock every
few seconds (error 1213 in a take, seen in CI with two).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.db.engine import utcnow
from api.db.schema import leases

log = logging.getLogger(__name__)

# The expiry a given-back lease gets: long past, so any process's clock sees it free.
RELEASED = datetime(1970, 1, 1)


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
    """Give the lease back at once, so another may take it; False when `owner` no longer
    held it (it lapsed, was taken over or was already given back)."""
    with engine.begin() as conn:
        return (
            conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.owner == owner)
                .where(leases.c.expires_at >= utcnow())
                .values(expires_at=RELEASED)
            ).rowcount
            == 1
        )


def holder(engine: Engine, name: str) -> tuple[str, datetime] | None:
    """Who holds lease `name` and until when; None while nobody does (never taken, given
    back or lapsed)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(leases.c.owner, leases.c.expires_at)
            .where(leases.c.name == name)
            .where(leases.c.expires_at >= utcnow())
        ).first()
    return (row.owner, row.expires_at) if row else None


class PeriodicJob:
    """The thread every worker runs for a periodic job: `run_once` (for a leased job, one
    that takes the lease or returns at once) every `interval_seconds` until stopped. The
    first call comes at a random point within `first_within_seconds`, so workers starting
    together do not all try at once; a database error is logged and the next interval
    tries again."""

    def __init__(
        self,
        name: str,
        run_once: Callable[[], object],
        interval_seconds: float,
        first_within_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self._run_once = run_once
        self.interval_seconds = interval_seconds
        self.first_within_seconds = first_within_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        """Start the thread once per process (idempotent); nothing when the interval is 0
        or less (the job is off)."""
        if self.interval_seconds <= 0:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, daemon=True, name=self.name)
            self._thread.start()

    def stop(self, timeout: float) -> None:
        """End the thread, waiting at most `timeout` for a run in progress."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        delay = random.uniform(0, min(self.interval_seconds, self.first_within_seconds))
        while not self._stopping.wait(delay):
            delay = self.interval_seconds
            try:
                self._run_once()
            except SQLAlchemyError as error:
                log.warning("%s failed: %s", self.name, type(error).__name__)
