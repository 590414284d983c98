"""Delivering crops to the cloud without blocking the camera loop and without losing any.

A bounded thread pool sends crops concurrently, each with a timeout and a few retries
with exponential backoff. A crop the cloud cannot take (unreachable, timeout, 5xx) goes
to the disk spool; so does any crop submitted while the spool is not empty or while the
pool is full, so that a backlog is delivered in capture order. One drainer thread empties the
spool oldest first whenever the cloud answers again. A 4xx answer is final: the crop is
counted as rejected with its error code and not retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from edge.accounting import EdgeStats
from edge.client import CloudClient, CloudRejectedError, CloudUnavailableError
from edge.spool import Spool, SpooledCrop

log = logging.getLogger(__name__)

ResultCallback = Callable[[SpooledCrop, int | None, dict[str, Any]], None]


@dataclass(frozen=True)
class SenderConfig:
    """`workers`: concurrent requests; `queue_limit`: crops waiting beyond them before
    new ones go to the spool; `retries` after the first try, `backoff_s` doubling each
    time; `drain_backoff_max_s`: the longest pause between spool attempts while down."""

    workers: int = 4
    queue_limit: int = 16
    retries: int = 2
    backoff_s: float = 0.5
    drain_backoff_max_s: float = 30.0
    threshold: float | None = None


class Sender:
    """Owns the pool and the drainer; `close()` waits for them."""

    def __init__(
        self,
        client: CloudClient,
        spool: Spool,
        stats: EdgeStats,
        config: SenderConfig | None = None,
        on_result: ResultCallback | None = None,
    ) -> None:
        self.client = client
        self.spool = spool
        self.stats = stats
        self.config = config or SenderConfig()
        self.on_result = on_result
        self._pool = ThreadPoolExecutor(self.config.workers, thread_name_prefix="edge-send")
        self._slots = threading.BoundedSemaphore(self.config.workers + self.config.queue_limit)
        self._track_of: dict[str, int] = {}  # spooled in this run: key -> track id
        self._tracks_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drainer = threading.Thread(target=self._drain_loop, name="edge-spool", daemon=True)
        self._drainer.start()
        if len(spool):
            self._wake.set()

    def submit(self, crop: SpooledCrop, track_id: int | None = None) -> None:
        """Hand a crop over; returns at once (the network work happens in the pool)."""
        if len(self.spool) or not self._slots.acquire(blocking=False):
            self._to_spool(crop, track_id)
            return
        self._pool.submit(self._deliver, crop, track_id)

    def _deliver(self, crop: SpooledCrop, track_id: int | None) -> None:
        try:
            for attempt in range(self.config.retries + 1):
                try:
                    self._send(crop, track_id)
                    return
                except CloudUnavailableError as error:
                    log.info("send attempt %d failed: %s", attempt + 1, error)
                    if attempt < self.config.retries:
                        time.sleep(self.config.backoff_s * 2**attempt)
            self._to_spool(crop, track_id)
        except CloudRejectedError:
            return  # counted in _send
        except Exception:
            log.exception("unexpected error sending a crop; keeping it in the spool")
            self._to_spool(crop, track_id)
        finally:
            self._slots.release()

    def _send(self, crop: SpooledCrop, track_id: int | None) -> None:
        """One recognize call; counts delivered or rejected, raises CloudUnavailableError."""
        try:
            answer = self.client.recognize(
                crop.jpeg,
                camera_id=crop.camera_id,
                location=crop.location,
                captured_at=crop.captured_at,
                threshold=self.config.threshold,
            )
        except CloudRejectedError as error:
            log.warning("crop rejected: %s", error)
            self.stats.add_rejected(error.code)
            raise
        self.stats.add("delivered")
        if self.on_result is not None:
            try:
                self.on_result(crop, track_id, answer)
            except Exception:  # a display bug must not make a delivered crop look lost
                log.exception("result callback failed")

    def _to_spool(self, crop: SpooledCrop, track_id: int | None) -> None:
        was_empty = len(self.spool) == 0
        key = self.spool.put(crop)
        if key is not None:
            self.stats.add("spooled")
            if track_id is not None:  # so a late answer still names its face
                with self._tracks_lock:
                    self._track_of[key] = track_id
        if was_empty:  # an idle drainer starts; a backing-off one keeps its pace
            self._wake.set()

    def _drain_loop(self) -> None:
        pause = self.config.backoff_s
        while not self._stop.is_set():
            self._wake.wait(timeout=pause if len(self.spool) else None)
            self._wake.clear()
            if self._drain_once():
                pause = self.config.backoff_s
            else:
                pause = min(pause * 2, self.config.drain_backoff_max_s)

    def _drain_once(self) -> bool:
        """Send spooled crops oldest first until empty (True) or the cloud fails (False)."""
        while not self._stop.is_set():
            entry = self.spool.oldest()
            if entry is None:
                return True
            key, crop = entry
            with self._tracks_lock:
                track_id = self._track_of.get(key)
            try:
                self._send(crop, track_id)
            except CloudUnavailableError as error:
                log.info("spool: cloud still unavailable (%s); %d waiting", error, len(self.spool))
                return False
            except CloudRejectedError:
                pass  # final: counted, and removed below like a delivered crop
            self.spool.remove(key)
            with self._tracks_lock:
                self._track_of.pop(key, None)
        return False

    def pending(self) -> int:
        """Crops in the spool (not counting those in flight in the pool)."""
        return len(self.spool)

    def close(self, drain_timeout_s: float = 0.0) -> None:
        """Finish crops in flight, then try to empty the spool for up to `drain_timeout_s`;
        whatever is left stays on disk for the next run."""
        self._pool.shutdown(wait=True)
        deadline = time.monotonic() + drain_timeout_s
        if drain_timeout_s > 0:
            self._wake.set()  # one attempt now, then the drainer's own backoff
        while len(self.spool) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._drainer.join()
