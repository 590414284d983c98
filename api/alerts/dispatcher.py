"""The dispatcher: a thread in every API worker that delivers the outbox.

It wakes every ALERT_POLL_SECONDS, or at once when this process wrote an alert, finds the
destinations with alerts due and no live lease, and drains each one it can claim in a
sender thread of its own (at most ALERT_DISPATCH_THREADS at once, so a slow webhook does
not hold up an MQTT broker). Draining sends the destination's alerts oldest first and records
each outcome; a failed send is retried with exponential backoff and jitter until
ALERT_MAX_ATTEMPTS, then marked failed. See `api.alerts.queue` for the lease.

A worker that exits normally gives its leases back (atexit); one that is killed keeps
them until they expire (ALERT_LEASE_SECONDS), after which another worker resumes.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from api.alerts import queue
from api.alerts.delivery import Alert, DeliveryError, Destination
from api.alerts.mqtt import MqttPublisher
from api.alerts.secrets import SecretBox, SecretsUnavailableError
from api.alerts.webhook import send_webhook
from api.config import Settings
from api.db.engine import utcnow
from api.training_worker import worker_id

log = logging.getLogger(__name__)

BATCH = 50
# The enqueuing transaction commits a moment after it wakes the dispatcher: look after
# this delay, and once more after the second if the alerts were not visible yet.
AFTER_WAKE_SECONDS = (0.02, 0.2)

_wake_events: list[threading.Event] = []  # one per dispatcher in this process


def wake_dispatchers() -> None:
    """This process wrote alerts: its dispatchers look now instead of at their next poll."""
    for event in _wake_events:
        event.set()


@dataclass(frozen=True)
class DispatchSettings:
    max_attempts: int
    lease_seconds: float
    poll_seconds: float
    timeout_seconds: float
    backoff_base_seconds: float
    backoff_max_seconds: float
    allow_private: bool
    threads: int


class Dispatcher:
    def __init__(self, engine: Engine, settings: DispatchSettings, box: SecretBox) -> None:
        self.engine = engine
        self.settings = settings
        self.box = box
        self.owner = worker_id()
        self.mqtt = MqttPublisher(settings.timeout_seconds, settings.allow_private)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._busy: set[str] = set()  # destinations a sender thread of ours is draining
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling once per process (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._poll_forever, daemon=True, name="alert-dispatcher"
            )
            _wake_events.append(self._wake)
            self._thread.start()
            atexit.register(self.stop)

    def stop(self) -> None:
        """Claim nothing more and hand this process's leases back."""
        self._stopping.set()
        self._wake.set()
        self.mqtt.close()
        try:
            with self.engine.begin() as conn:
                queue.release(conn, self.owner)
        except SQLAlchemyError as error:
            log.warning("alert leases not released: %s", type(error).__name__)

    # ---- sending ----------------------------------------------------------------------

    def destination(self, row: dict[str, Any]) -> Destination:
        """A stored destination with its secret decrypted (DeliveryError if it cannot be)."""
        secret = None
        if row["secret_ciphertext"] is not None:
            try:
                secret = self.box.decrypt(row["secret_ciphertext"])
            except SecretsUnavailableError as error:
                raise DeliveryError(str(error)) from None
        return Destination(
            destination_id=row["destination_id"],
            kind=row["kind"],
            url=row["url"],
            topic=row["topic"],
            last_seen_topic=row["last_seen_topic"],
            username=row["username"],
            secret=secret,
        )

    def send(self, row: dict[str, Any], alert: Alert) -> None:
        """One attempt to deliver `alert` to the destination `row`; DeliveryError if not."""
        destination = self.destination(row)
        if destination.kind == "webhook":
            send_webhook(
                destination, alert, self.settings.timeout_seconds, self.settings.allow_private
            )
        else:
            self.mqtt.publish(destination, alert)

    # ---- the loop ---------------------------------------------------------------------

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            woken = self._wake.wait(self.settings.poll_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                return
            delays = AFTER_WAKE_SECONDS if woken else (0.0,)
            for delay in delays:
                time.sleep(delay)
                try:
                    if self._dispatch_due():
                        break
                except SQLAlchemyError as error:
                    log.warning("alert poll failed: %s", type(error).__name__)
                    break

    def _dispatch_due(self) -> bool:
        """Hand each due destination to a sender thread; whether any was due."""
        with self.engine.connect() as conn:
            due = queue.due_destinations(conn, utcnow())
        for destination_id in due:
            with self._lock:
                if destination_id in self._busy or len(self._busy) >= self.settings.threads:
                    continue
                self._busy.add(destination_id)
            # Daemon threads, not a pool's: an exiting worker must not wait for a backlog.
            threading.Thread(
                target=self._drain_safely, args=(destination_id,), daemon=True, name="alert-send"
            ).start()
        return bool(due)

    def _drain_safely(self, destination_id: str) -> None:
        try:
            self.drain(destination_id)
        except SQLAlchemyError as error:
            # The lease lapses and this or another dispatcher resumes after it.
            log.warning("alert sending stopped: %s", type(error).__name__)
        except Exception:
            log.exception("alert sending stopped", extra={"destination_id": destination_id})
        finally:
            with self._lock:
                self._busy.discard(destination_id)

    def drain(self, destination_id: str) -> None:
        """Send the destination's due alerts in order while holding its lease."""
        lease = self.settings.lease_seconds
        with self.engine.begin() as conn:
            if not queue.claim(conn, destination_id, self.owner, lease):
                return
            row = queue.destination_row(conn, destination_id)
        try:
            while row is not None and not self._stopping.is_set():
                with self.engine.connect() as conn:
                    batch = queue.pending(conn, destination_id, BATCH)
                if not batch:
                    return
                for delivery in batch:
                    if delivery["next_attempt_at"] > utcnow() or self._stopping.is_set():
                        return  # the oldest waits for its retry: the later ones wait too
                    with self.engine.begin() as conn:
                        if not queue.claim(conn, destination_id, self.owner, lease):
                            return  # lost the lease (stalled past it): the new holder sends
                    if not self._attempt(row, delivery):
                        return
        finally:
            with self.engine.begin() as conn:
                queue.release(conn, self.owner, destination_id)

    def _attempt(self, row: dict[str, Any], delivery: dict[str, Any]) -> bool:
        """Send one alert and record the outcome; whether later alerts may follow it."""
        attempts = delivery["attempts"] + 1
        try:
            self.send(row, queue.as_alert(delivery))
        except DeliveryError as error:
            settings = self.settings
            retry_in = None
            if not error.permanent and attempts < settings.max_attempts:
                retry_in = queue.backoff_seconds(
                    attempts, settings.backoff_base_seconds, settings.backoff_max_seconds
                )
            with self.engine.begin() as conn:
                queue.mark_failed_attempt(
                    conn, delivery["delivery_id"], attempts, str(error), retry_in
                )
            log.warning(
                "alert delivery failed" if retry_in is None else "alert delivery will be retried",
                extra={
                    "destination_id": row["destination_id"],
                    "alert_id": delivery["alert_id"],
                    "attempt": attempts,
                    "error": str(error),
                },
            )
            return retry_in is None
        with self.engine.begin() as conn:
            queue.mark_delivered(conn, delivery["delivery_id"], attempts)
        return True


def dispatcher_for(settings: Settings, engine: Engine) -> Dispatcher:
    """The dispatcher of one worker (a malformed ALERT_SECRETS_KEY stops it at start)."""
    return Dispatcher(
        engine,
        DispatchSettings(
            max_attempts=settings.alert_max_attempts,
            lease_seconds=settings.alert_lease_seconds,
            poll_seconds=settings.alert_poll_seconds,
            timeout_seconds=settings.alert_timeout_seconds,
            backoff_base_seconds=settings.alert_backoff_base_seconds,
            backoff_max_seconds=settings.alert_backoff_max_seconds,
            allow_private=settings.alert_allow_private_destinations,
            threads=settings.alert_dispatch_threads,
        ),
        SecretBox(settings.alert_secrets_key),
    )
