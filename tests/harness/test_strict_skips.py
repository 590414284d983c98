"""The CI=true hook (tests/strict_skips.py): every kind of skip fails with its reason, and
without CI a skip stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SKIPPING_TESTS = """
import pytest

@pytest.fixture
def service():
    pytest.skip("service-absent-in-fixture")

def test_skips_in_body():
    pytest.skip("skipped-in-body")

@pytest.mark.skipif(True, reason="skipif-marker-reason")
def test_marked():
    pass

def test_fixture(service):
    pass

def test_passes():
    assert 1 + 1 == 2
"""

MODULE_SKIP = """
import pytest
pytest.importorskip("no_such_module_anywhere", reason="module-level-importorskip")

def test_never_collected():
    pass
"""


def _pytest(target: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.strict_skips", "-p", "no:cacheprovider",
         "-rA", "--rootdir", str(target.parent if target.is_file() else target), str(target)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _write(folder: Path) -> None:
    (folder / "test_skipping.py").write_text(SKIPPING_TESTS)
    (folder / "test_module_skip.py").write_text(MODULE_SKIP)


FAILED_BECAUSE = "skipped under CI=true, which counts as a failure: "


def test_under_ci_every_skip_fails_with_its_reason(tmp_path: Path) -> None:
    _write(tmp_path)
    run = _pytest(tmp_path / "test_skipping.py", ci="true")
    assert run.returncode == 1, run.stdout
    for reason in ("skipped-in-body", "skipif-marker-reason", "service-absent-in-fixture"):
        assert f"{FAILED_BECAUSE}{reason}" in run.stdout, run.stdout
    summary = run.stdout.strip().splitlines()[-1]
    # a skip in setup (fixture, marker) fails as an error, one in the test body as a failure
    assert "1 failed, 1 passed, 2 errors" in summary and "skipped" not in summary, summary


def test_under_ci_a_module_skipped_at_import_is_a_collection_error(tmp_path: Path) -> None:
    _write(tmp_path)
    run = _pytest(tmp_path / "test_module_skip.py", ci="true")
    assert run.returncode == 2, run.stdout  # interrupted: errors during collection
    assert f"{FAILED_BECAUSE}module-level-importorskip" in run.stdout, run.stdout


def test_without_ci_a_skip_stays_a_skip(tmp_path: Path) -> None:
    _write(tmp_path)
    for ci in (None, "false"):
        run = _pytest(tmp_path, ci=ci)
        assert run.returncode == 0, run.stdout
        summary = run.stdout.strip().splitlines()[-1]
        assert "1 passed" in summary and "4 skipped" in summary, summary
