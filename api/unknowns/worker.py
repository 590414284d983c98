"""The per-worker re-grouping thread: one re-grouping per UNKNOWN_REGROUP_INTERVAL_SECONDS
in the cluster, by whichever worker holds the `unknown-regroup` lease (api/db/leases.py).

As with the retention purge, the holder keeps the lease until its next run is due, so the
other workers' attempts fail meanwhile, and a dead holder's lease expires and is taken
over. Stopped by gunicorn.conf.py's worker hooks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Counter
from sqlalchemy import Engine

from api.db import leases
from api.training_worker import worker_id
from api.unknowns.regroup import RegroupResult

log = logging.getLogger(__name__)

LEASE_NAME = "unknown-regroup"
RUNNING_LEASE_SECONDS = 120.0  # a pass over the window takes seconds
FIRST_RUN_WITHIN_SECONDS = 30.0

REGROUPED = Counter(
    "facerec_unknown_regroup_changed_total",
    "Unknown sightings moved to another group by the re-grouping job",
)


class RegroupWorker:
    def __init__(
        self,
        run: Callable[[], RegroupResult],
        engine: Engine,
        interval_seconds: float,
        owner: str | None = None,
    ) -> None:
        self._run = run
        self.engine = engine
        self.interval_seconds = interval_seconds
        self.owner = owner or worker_id()  # who holds the lease: host:pid
        self._job = leases.PeriodicJob(
            LEASE_NAME, self.run_once, interval_seconds, FIRST_RUN_WITHIN_SECONDS
        )

    def start(self) -> None:
        """Start the thread (once); nothing when the interval is 0 (re-grouping off)."""
        self._job.start()

    def stop(self, timeout: float) -> None:
        self._job.stop(timeout)

    def run_once(self) -> RegroupResult | None:
        """Re-group if this process gets the lease; None when another holds it."""
        if not leases.try_acquire(self.engine, LEASE_NAME, self.owner, RUNNING_LEASE_SECONDS):
            return None
        started = time.perf_counter()
        try:
            result = self._run()
        except BaseException:
            leases.release(self.engine, LEASE_NAME, self.owner)
            raise
        leases.renew(self.engine, LEASE_NAME, self.owner, max(self.interval_seconds, 1.0))
        REGROUPED.inc(result.changed)
        log.info(
            "unknown faces re-grouped",
            extra={
                "sightings": result.sightings,
                "groups": result.groups,
                "changed": result.changed,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return result
