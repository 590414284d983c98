"""Running the real service for tests: gunicorn processes on loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import requests

from tests.shared_data import REPO_ROOT

GUNICORN = Path(sys.executable).with_name("gunicorn")
Answer = TypeVar("Answer")


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, parent pid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def parent_pid(pid: int) -> int:
    """The pid of `pid`'s parent (a gunicorn worker's is its master)."""
    return int(proc_stat(pid)[1])


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's live children (its workers)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def ask_each_worker(master_pid: int, ask: Callable[[], Answer]) -> dict[int, Answer]:
    """`ask()`'s result from every worker of `master_pid`, keyed by the worker's pid.

    Which worker accepts a new connection is the kernel's choice, and any number of
    asks may all land on one; so each worker is asked while the others are stopped
    (SIGSTOP), which leaves it the only one that can accept. `ask` must open a new
    connection (a kept-alive one belongs to the worker that accepted it) and should only
    read: a stopped worker may hold a write lock (SQLite's is the whole database) until
    the ask returns.
    """
    answers: dict[int, Answer] = {}
    workers = worker_pids(master_pid)
    for asked in workers:
        others = [pid for pid in workers if pid != asked]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            answers[asked] = ask()
        finally:
            for pid in others:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
    return answers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def readyz_answers(url: str) -> bool:
    """Whether GET /readyz at `url` answers 200 (from this process's network)."""
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


@dataclass
class ApiProcess:
    """One gunicorn master with its workers; restartable on the same data.

    `host` is the address it binds; `prefix` the command it runs under (e.g. `ip netns
    exec NAME` for another network namespace); `probe(url)` says whether it is ready
    (default: GET /readyz from this process answers 200)."""

    env: dict[str, str]
    workers: int = 1
    threads: int = 2
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    prefix: Sequence[str] = ()
    probe: Callable[[str], bool] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 90.0) -> ApiProcess:
        env = {
            **os.environ,
            # Tests store events at fixed dates long past: no purge unless a test asks.
            "PURGE_INTERVAL_SECONDS": "0",
            **self.env,
            "BIND": f"{self.host}:{self.port}",
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            "GUNICORN_ACCESSLOG": "",
        }
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [*self.prefix, str(GUNICORN), "--config", "gunicorn.conf.py", "api.app:create_app()"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.process.returncode}; see {self.log_path}"
                )
            if (self.probe or readyz_answers)(self.url):
                return
            time.sleep(0.3)
        raise TimeoutError(f"API at {self.url} not ready after {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
