"""The per-worker training poller: every API worker may run the cluster's one training job.

Each gunicorn worker starts one daemon thread. It wakes every TRAINING_POLL_SECONDS (or at
once when this worker queued a job), reads the jobs table once, and either claims the
oldest queued job, takes over a running job whose lease expired (its pod died), or fails
such a job once it has used TRAINING_MAX_ATTEMPTS. A job queued on a pod that dies a
moment later is therefore still run, by whichever worker polls next.

While a job runs, a heartbeat thread renews its lease every third of TRAINING_LEASE_SECONDS
(so a long step without checkpoints cannot lose it), and the job checks the lease at each
progress checkpoint. The training thread runs at a lower CPU priority than the request
threads of the same worker, so recognitions keep their latency while a model trains.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.db import training_jobs as jobs
from api.training import LeaseLostError, TrainingContext, run_job

log = logging.getLogger(__name__)

# The training thread's nice value (Linux: per thread; threads it starts inherit it).
TRAINING_NICENESS = 10


def worker_id() -> str:
    """host:pid of this process: who holds a lease, and whom to look for when it dies."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TrainingWorker:
    def __init__(
        self,
        context: TrainingContext,
        lease_seconds: float,
        poll_seconds: float,
        max_attempts: int,
    ) -> None:
        self.context = context
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the poller once per process (idempotent)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._poll_forever, daemon=True, name="training-poller"
                )
                self._thread.start()

    def wake(self) -> None:
        """Poll now: this worker just queued a job."""
        self._wake.set()

    def _poll_forever(self) -> None:
        _lower_priority()
        while True:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                claim = self.claim()
            except SQLAlchemyError as error:
                log.warning("training poll failed: %s", type(error).__name__)
                continue
            if claim is None:
                continue
            try:
                self.run(claim)
            except Exception:  # e.g. the database went away while recording the outcome
                # The lease lapses and another poller takes the job over; this one polls on.
                log.exception("training job ended without its outcome recorded")

    def claim(self) -> jobs.Claim | None:
        """One poll: a job this process must now run, or None."""
        owner = worker_id()
        engine = self.context.engine
        with engine.connect() as conn:
            expired, queued = jobs.pending_work(conn)
        if expired is not None:
            with engine.begin() as conn:
                if expired["attempts"] < self.max_attempts:
                    claim = jobs.take_over(
                        conn, expired["job_id"], expired["attempts"], owner, self.lease_seconds
                    )
                    if claim is not None:
                        log.warning(
                            "took over a training job whose runner stopped renewing its lease",
                            extra={
                                "job_id": claim.job_id,
                                "previous_owner": expired["lease_owner"],
                            },
                        )
                    return claim
                reason = (
                    f"runner {expired['lease_owner']} stopped renewing its lease; "
                    f"gave up after {expired['attempts']} attempt(s)"
                )
                if jobs.abandon(conn, expired["job_id"], expired["attempts"], reason):
                    log.error(
                        "training job failed: %s", reason, extra={"job_id": expired["job_id"]}
                    )
            return None
        if queued is None:
            return None
        try:
            with engine.begin() as conn:
                return jobs.claim_queued(conn, queued, owner, self.lease_seconds)
        except IntegrityError:
            return None  # another worker started a job between our read and our claim

    def run(self, claim: jobs.Claim) -> None:
        """Run a claimed job with a heartbeat until it ends or the lease is lost."""
        lost = threading.Event()
        done = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(claim, lost, done), daemon=True, name="training-lease"
        )
        heartbeat.start()

        def progress(fraction: float) -> None:
            if lost.is_set():
                raise LeaseLostError(claim.job_id)
            with self.context.engine.begin() as conn:
                if not jobs.report_progress(conn, claim, fraction):
                    lost.set()
                    raise LeaseLostError(claim.job_id)

        try:
            run_job(self.context, claim, progress)
        finally:
            done.set()
            heartbeat.join()

    def _heartbeat(self, claim: jobs.Claim, lost: threading.Event, done: threading.Event) -> None:
        while not done.wait(self.lease_seconds / 3):
            try:
                with self.context.engine.begin() as conn:
                    if not jobs.renew(conn, claim, self.lease_seconds):
                        lost.set()
                        return
            except SQLAlchemyError as error:
                # Keep trying: the lease only lapses if the database stays away that long.
                log.warning("training heartbeat failed: %s", type(error).__name__)


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), TRAINING_NICENESS)
    except (OSError, AttributeError):  # not Linux, or not permitted: run at normal priority
        log.info("training thread keeps normal CPU priority")
