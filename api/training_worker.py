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

A worker that gunicorn stops (SIGTERM on a rolling update or pod deletion, max_requests
recycling, SIGINT/SIGQUIT) calls `stop` from gunicorn.conf.py's hooks: the job stops at its
next checkpoint and goes back to the queue with its attempt returned, so another worker
claims it on its next poll instead of waiting out the lease, and the stop costs the job
none of its attempts. The live release is untouched: a release only goes live in the
transaction that records success under the lease, which a handed-back runner no longer
holds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.db import training_jobs as jobs
from api.memory import trim_heap
from api.training import JobHandedBackError, LeaseLostError, TrainingContext, run_job

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
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running: jobs.Claim | None = None  # the job this process runs now

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

    def stop(self, timeout: float) -> None:
        """Hand the running job back and claim no other: this worker is shutting down.

        The job stops at its next progress checkpoint and requeues itself. One that reaches
        none within `timeout` (a long fit) is requeued from here; the fence makes that safe
        whatever the training thread does next: its later writes, publishing included, are
        refused, and a job that finished first is left as it is. The daemon thread then
        dies with the process: a release it was writing stays in staging or unpublished,
        never live (the next publish prunes leftovers). Only the first call acts.
        """
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        claim = self._running
        if claim is None:
            return
        try:
            self._hand_back(claim)
        except SQLAlchemyError as error:
            # The lease lapses instead and another worker takes the job over after it.
            log.warning("training job not handed back: %s", type(error).__name__)

    def _poll_forever(self) -> None:
        _lower_priority()
        while True:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                return
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
            if self._stopping.is_set():
                self._hand_back(claim)
                lost.set()
                raise JobHandedBackError(claim.job_id)
            if lost.is_set():
                raise LeaseLostError(claim.job_id)
            with self.context.engine.begin() as conn:
                if not jobs.report_progress(conn, claim, fraction):
                    lost.set()
                    raise LeaseLostError(claim.job_id)

        self._running = claim
        try:
            with self.context.analyzer.computing():
                run_job(self.context, claim, progress)
        finally:
            self._running = None
            done.set()
            heartbeat.join()
            trim_heap()  # a job frees every face's embedding and the fit's working sets

    def _hand_back(self, claim: jobs.Claim) -> None:
        with self.context.engine.begin() as conn:
            handed_back = jobs.hand_back(conn, claim)
        if handed_back:
            log.info(
                "training job handed back: this worker is stopping",
                extra={"job_id": claim.job_id, "attempt": claim.attempt},
            )

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
