"""The README's test command and CI's set-up: `make test` as another user than root stops
before testing and names the command to run; database/start-local.sh fails unless MariaDB
answers a real query ("Access denied" included, which `mariadb-admin ping` calls alive)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_COMMAND = "sudo bash scripts/install-test-deps.sh"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _as_other_user(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """`argv` run as a user other than root (nobody, where this test runs as root)."""
    prefix = NOBODY if os.geteuid() == 0 else []
    env = {**os.environ, "MAKEFLAGS": "", "HOME": "/tmp"}
    return subprocess.run(
        [*prefix, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_make_test_as_another_user_stops_first_and_names_the_command() -> None:
    # --dry-run would not run the recipe that stops; the real run stops at its first line.
    run = _as_other_user(["make", "--no-print-directory", "test", "PY=/bin/false"])
    assert run.returncode != 0
    assert INSTALL_COMMAND in run.stderr and "sudo make test" in run.stderr, run.stderr
    assert "not root" in run.stderr
    assert "pytest" not in run.stdout  # stopped before the test recipe


def test_the_install_script_as_another_user_installs_nothing_and_says_why() -> None:
    run = _as_other_user(["bash", "scripts/install-test-deps.sh"])
    assert run.returncode == 1
    assert f"Run first:  {INSTALL_COMMAND}" in run.stderr, run.stderr


def _start_local(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "database/start-local.sh"], cwd=REPO_ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.mariadb
def test_start_local_fails_on_access_denied_which_ping_calls_alive() -> None:
    if shutil.which("mariadb-admin") is None:
        pytest.skip("the MariaDB client is not installed: sudo bash scripts/install-test-deps.sh")
    ping = subprocess.run(
        ["mariadb-admin", "--host=127.0.0.1", "--port=3306", "--user=no_such_user", "ping"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert ping.returncode == 0, "mariadb-admin ping no longer calls a refusal alive"
    assert _start_local().returncode == 0  # root, as the tests use it: answers
    refused = _start_local(MARIADB_USER="no_such_user")
    assert refused.returncode == 1
    assert "Access denied" in refused.stderr, refused.stderr
