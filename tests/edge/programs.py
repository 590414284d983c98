"""Helpers the edge tests share: the interaction-with-framework programs run as a user
runs them (subprocesses), and waiting for a condition with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from tests.shared_data import REPO_ROOT, shared_path

PROGRAMS = REPO_ROOT / "interaction-with-framework"


def program_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["ULTRAFACE_DIR"] = str(shared_path("models", "ultraface"))
    return env


def run_program(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROGRAMS / name), *args],
        env=program_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    """Poll `condition` until it holds or `timeout_s` passes; its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
