"""Every core for one embedding while nothing else on the machine's API computes.

Each worker's onnxruntime sessions run on one thread (ORT_INTRA_OP_THREADS): N workers
keep N cores busy without oversubscription, which is what throughput needs. At low load
that leaves cores idle while a lone request waits for its FaceNet run, the largest part
of its time. So each worker also opens its FaceNet on IDLE_EMBED_THREADS threads, spinning
while a run lasts (waking a sleeping thread for each of FaceNet's ~150 operators costs
more than the second thread gives), and a request's embedding runs there only while that
request is the only one in flight.

"The only one" is a flock(2) on one file (COMPUTE_LOCK_FILE, default one per user in the
temporary folder: the pod's own /tmp in Kubernetes, so every worker of the pod shares it).
Each request, training job and re-grouping pass holds a shared lock while it runs; an
embedding whose request can turn its lock exclusive without waiting runs wide, then turns
it back. A request that arrives meanwhile waits for that one run (a few ms) instead of
computing on the cores its threads spin on.

Under load a request is rarely alone, but it is now and then: requests waiting in
gunicorn's queue or between their bytes and Flask hold nothing. A wide run then made the
queue wait and the tail grow (p99 at 8 clients 126-132 -> 170-216 ms). So the pod must
also have been quiet: an embedding that finds company stamps the file's mtime, and none
runs wide within QUIET_SECONDS of a stamp. A lone client's requests never find company
and always run wide; under sustained load none does.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Seconds without any embedding finding company before one may run wide.
QUIET_SECONDS = 1.0


class ComputeGate:
    """The lock on `path`. A holder opens its own descriptor (flock(2) locks belong to an
    open file), so threads of one worker count apart, like other workers."""

    def __init__(self, path: Path, quiet_seconds: float = QUIET_SECONDS) -> None:
        """Raises OSError when `path` cannot be opened for locking."""
        self.path = path
        self.quiet_seconds = quiet_seconds
        self._held = threading.local()
        os.close(self._open())

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """A shared lock for the calling thread's request or job, for the block (a hold
        inside another one, as a request that runs a job, is the one `alone` turns)."""
        outer = getattr(self._held, "fd", None)
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._held.fd = fd
            yield
        finally:
            self._held.fd = outer
            os.close(fd)  # closing the file releases its lock

    @contextmanager
    def alone(self) -> Iterator[bool]:
        """True when the calling thread's hold is the only one and none found company for
        `quiet_seconds`: exclusive for the block, shared again after it. False without
        waiting otherwise, or outside `hold`."""
        fd = getattr(self._held, "fd", None)
        if fd is None:
            yield False
            return
        exclusive = self._exclusive(fd)
        try:
            yield exclusive
        finally:
            if exclusive:
                fcntl.flock(fd, fcntl.LOCK_SH)

    def _exclusive(self, fd: int) -> bool:
        """Turn the shared lock on `fd` exclusive if the pod is quiet; else keep it shared
        (and, when another holder is the reason, stamp the file)."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # A failed conversion drops the shared lock (flock(2) is not atomic there).
            fcntl.flock(fd, fcntl.LOCK_SH)
            os.utime(fd)
            return False
        if time.time() - os.fstat(fd).st_mtime < self.quiet_seconds:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return False
        return True
