"""The per-worker retention thread: one purge per PURGE_INTERVAL_SECONDS in the cluster.

Every gunicorn worker of every pod runs this thread (started like the training poller by
the app factory, stopped by gunicorn.conf.py's worker hooks). Only the holder of the
`retention-purge` lease purges. The lease is held while purging (renewed after each
batch) and, once a purge is done, kept until the next one is due: the other workers'
attempts fail until then, so the cluster purges once per interval whatever the number of
pods; the holder purges again when its own timer fires, and if its pod dies the lease
expires and the first worker to try after that takes the job over.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge
from sqlalchemy import Engine

from api.db import leases
from api.db.engine import utcnow
from api.db.erasure import erase_deleted_data
from api.retention.purge import (
    EVENTS,
    KINDS,
    UNKNOWN_FACES,
    PurgeResult,
    RetentionLimits,
    purge_expired,
)
from api.training_worker import worker_id

log = logging.getLogger(__name__)

LEASE_NAME = "retention-purge"
# The lease while a purge runs, renewed after every batch (one batch takes well under a
# second): a worker that dies mid-purge blocks the others for at most this long.
RUNNING_LEASE_SECONDS = 60.0
# The first attempt after a worker starts comes within this (at random, so the workers of
# a rolling update do not all query at once), not a whole interval later.
FIRST_ATTEMPT_WITHIN_SECONDS = 30.0

PURGED = Counter(
    "facerec_retention_purged_rows_total",
    "Recognition events deleted by the retention purge, by kind",
    ["kind"],
)
LAST_PURGE = Gauge(
    "facerec_retention_last_purge_timestamp_seconds",
    "When this process last finished a retention purge (Unix time)",
    multiprocess_mode="max",
)
for _kind in KINDS:
    PURGED.labels(_kind)


class RetentionWorker:
    def __init__(
        self,
        engine: Engine,
        limits: RetentionLimits,
        interval_seconds: float,
        batch_size: int,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.owner = owner or worker_id()  # who holds the lease: host:pid
        self.limits = limits
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self._job = leases.PeriodicJob(
            LEASE_NAME, self.run_once, interval_seconds, FIRST_ATTEMPT_WITHIN_SECONDS
        )

    @property
    def enabled(self) -> bool:
        return self.interval_seconds > 0 and bool(self.limits.cutoffs(utcnow()))

    def start(self) -> None:
        """Start the thread once per process (idempotent); nothing when no limit is on."""
        if self.enabled:
            self._job.start()

    def stop(self, timeout: float) -> None:
        """End the thread; a purge in progress stops after its batch and frees the lease."""
        self._job.stop(timeout)

    def run_once(self) -> PurgeResult | None:
        """Purge if this process gets the lease; None when another process holds it."""
        owner = self.owner
        if not leases.try_acquire(self.engine, LEASE_NAME, owner, RUNNING_LEASE_SECONDS):
            return None

        def between_batches() -> str | None:
            if self._job.stopping:
                return "the worker is stopping"
            if not leases.renew(self.engine, LEASE_NAME, owner, RUNNING_LEASE_SECONDS):
                return "the lease was lost"
            return None

        started = time.perf_counter()
        result = purge_expired(self.engine, self.limits, utcnow(), self.batch_size, between_batches)
        if result.stopped is None:
            # Held until the next purge is due: the cluster purges once per interval.
            leases.renew(self.engine, LEASE_NAME, owner, self.interval_seconds)
        else:
            leases.release(self.engine, LEASE_NAME, owner)
        if result.total:
            erase_deleted_data(self.engine)
        for kind, count in result.deleted.items():
            PURGED.labels(kind).inc(count)
        LAST_PURGE.set_to_current_time()
        log.info(
            "retention purge" + (f" stopped: {result.stopped}" if result.stopped else ""),
            extra={
                "purged_events": result.deleted[EVENTS],
                "purged_unknown_faces": result.deleted[UNKNOWN_FACES],
                "batches": result.batches,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return result
