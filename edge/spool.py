"""An on-disk spool for crops the cloud could not take yet.

One file per crop, named so that name order is capture order. Each file is written to a
temporary name, fsynced, then renamed (`os.replace`) and the directory fsynced: after a
crash a crop is either wholly in the spool or not at all, never half-written. The spool
is bounded in bytes; past the bound the oldest crops are dropped and counted (and
logged), never silently.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".crop"
TMP_PREFIX = ".tmp-"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class SpooledCrop:
    """A crop on its way to the cloud, with what the recognize call needs."""

    jpeg: bytes
    captured_at: datetime
    camera_id: str
    location: str


def _encode(item: SpooledCrop) -> bytes:
    header = {
        "captured_at": item.captured_at.isoformat(),
        "camera_id": item.camera_id,
        "location": item.location,
    }
    return json.dumps(header).encode("utf-8") + b"\n" + item.jpeg


def _decode(data: bytes) -> SpooledCrop:
    header_line, jpeg = data.split(b"\n", 1)
    header = json.loads(header_line)
    return SpooledCrop(
        jpeg=jpeg,
        captured_at=datetime.fromisoformat(header["captured_at"]),
        camera_id=header["camera_id"],
        location=header["location"],
    )


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A bounded, crash-safe FIFO of crops ordered by capture time; thread-safe."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.dropped = 0
        self._lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(f"{TMP_PREFIX}*"):
            stale.unlink()  # a write interrupted before its rename: never accepted
        self._entries: list[tuple[str, int]] = sorted(
            (path.name, path.stat().st_size) for path in self.directory.glob(f"*{SUFFIX}")
        )
        self._bytes = sum(size for _, size in self._entries)
        if self._entries:
            log.info("spool %s holds %d crops from before", self.directory, len(self._entries))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes_used(self) -> int:
        with self._lock:
            return self._bytes

    def put(self, item: SpooledCrop) -> str | None:
        """Store `item` durably and return its key; None (counted in `dropped`) when it
        alone exceeds the bound or cannot be written."""
        data = _encode(item)
        if len(data) > self.max_bytes:
            with self._lock:
                self.dropped += 1
            log.warning(
                "spool: a %d-byte crop exceeds the %d-byte bound", len(data), self.max_bytes
            )
            return None
        stamp = int(item.captured_at.timestamp() * 1_000_000)
        key = f"{stamp:020d}-{uuid.uuid4().hex}{SUFFIX}"
        tmp = self.directory / f"{TMP_PREFIX}{key}"
        try:
            with tmp.open("wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.directory / key)
            _fsync_directory(self.directory)
        except OSError as error:  # disk full, directory gone: not accepted, and counted
            tmp.unlink(missing_ok=True)
            with self._lock:
                self.dropped += 1
            log.error("spool: could not store a crop in %s: %s", self.directory, error)
            return None
        with self._lock:
            bisect.insort(self._entries, (key, len(data)))
            self._bytes += len(data)
            dropped_keys = self._shrink_locked()
        for dropped in dropped_keys:
            (self.directory / dropped).unlink(missing_ok=True)
        if dropped_keys:
            log.warning(
                "spool over %d bytes: dropped the %d oldest crops (%d in all)",
                self.max_bytes,
                len(dropped_keys),
                self.dropped,
            )
        return key

    def _shrink_locked(self) -> list[str]:
        dropped: list[str] = []
        while self._bytes > self.max_bytes and self._entries:
            key, size = self._entries.pop(0)
            self._bytes -= size
            self.dropped += 1
            dropped.append(key)
        return dropped

    def oldest(self) -> tuple[str, SpooledCrop] | None:
        """The earliest-captured crop and its key, left in the spool until `remove`."""
        with self._lock:  # held while reading, so `put` cannot drop the file meanwhile
            if not self._entries:
                return None
            key = self._entries[0][0]
            return key, _decode((self.directory / key).read_bytes())

    def remove(self, key: str) -> None:
        """Forget a delivered (or definitively rejected) crop."""
        with self._lock:
            index = bisect.bisect_left(self._entries, (key, -1))
            if index < len(self._entries) and self._entries[index][0] == key:
                self._bytes -= self._entries.pop(index)[1]
        (self.directory / key).unlink(missing_ok=True)
