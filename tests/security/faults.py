"""Injecting real faults: killing gunicorn workers, making the model volume read-only or
full, corrupting a release, and loading the service from client threads meanwhile.

Mounts need root with CAP_SYS_ADMIN (what CI and the development machines have); root
ignores file permissions, so a read-only bind mount (EROFS) and a size-limited tmpfs
(ENOSPC) are what make a volume unwritable for root too. Not root: those tests skip
(a failure under CI=true); a mount that fails as root fails the test with mount's error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.live_api import proc_stat, worker_pids


def process_state(pid: int) -> str:
    """R (running), S (sleeping)... from /proc; '' once the process is gone."""
    try:
        return proc_stat(pid)[0]
    except FileNotFoundError:
        return ""


def busy_worker(master_pid: int, within: float = 10.0) -> int | None:
    """A worker caught computing (state R), so that killing it interrupts a request."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for pid in worker_pids(master_pid):
            if process_state(pid) == "R":
                return pid
        time.sleep(0.005)
    return None


@dataclass
class Outcome:
    """One client request: when it ran and how it ended."""

    started: float
    ended: float
    status: int | None  # None: no HTTP answer (connection reset, timeout)
    code: str | None = None
    events_stored: int = 0


class Load:
    """Client threads sending one request after another until stopped (or `each` done)."""

    def __init__(self, send: Callable[[int], requests.Response], threads: int, each: int = 0):
        self.send = send
        self.each = each
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True)
            for index in range(threads)
        ]

    def _run(self, index: int) -> None:
        done = 0
        while not self._stop.is_set() and (self.each == 0 or done < self.each):
            started = time.monotonic()
            try:
                response = self.send(index * 1000 + done)
            except requests.RequestException:  # reset, timeout, body cut off mid-way
                outcome = Outcome(started, time.monotonic(), None)
            else:
                try:
                    body = response.json() if response.content else {}
                except ValueError:  # not the contract's body: recorded, never swallowed
                    body = {"code": "NOT_JSON"}
                outcome = Outcome(
                    started,
                    time.monotonic(),
                    response.status_code,
                    body.get("code"),
                    int(body.get("events_stored", 0)),
                )
            with self._lock:
                self.outcomes.append(outcome)
            done += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def wait_for(self, completed: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.outcomes) < completed:
            assert time.monotonic() < deadline, f"only {len(self.outcomes)} requests done"
            time.sleep(0.01)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=180)


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


@contextmanager
def _mounted(*mount_args: str, target: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only or full volume needs root")
    try:
        _run("mount", *mount_args, str(target))
    except subprocess.CalledProcessError as error:  # root, so a harness fault: fail with it
        pytest.fail(f"{' '.join(error.cmd)} failed: {error.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=False, capture_output=True)
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


@contextmanager
def read_only(volume: Path) -> Iterator[None]:
    """`volume` read-only for every process, root included (EROFS), like a ro mount."""
    with _mounted("--bind", str(volume), target=volume):
        _run("mount", "-o", "remount,bind,ro", str(volume))
        yield


@contextmanager
def full(volume: Path, scratch: Path) -> Iterator[None]:
    """`volume` with its current content but no free byte left (ENOSPC)."""
    scratch.mkdir(exist_ok=True)
    with _mounted("-t", "tmpfs", "-o", "size=2m", "tmpfs", target=scratch):
        shutil.copytree(volume, scratch, symlinks=True, dirs_exist_ok=True)
        with (scratch / ".filler").open("wb", buffering=0) as filler, suppress(OSError):
            while True:  # until ENOSPC
                filler.write(b"\0" * 65536)
        with _mounted("--bind", str(scratch), target=volume):
            yield
