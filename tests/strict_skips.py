"""Under `CI=true` a skipped test is a failed test, with the skip's reason as its message.

A skip says "this was not checked": a missing service, a missing `../shared`, a lost
capability or a harness error inside a fixture. On a developer's laptop that is useful
information; in CI it would be a green run that did not run, so there every skip (a
`pytest.skip` in a test or fixture, a `skipif` marker, an `importorskip` at module level)
is turned into a failure. `make test` as root sets the same flag (see the Makefile).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

TRUE_VALUES = {"1", "true", "yes"}


def skips_fail() -> bool:
    """True where a skip must fail the run (`CI` set to true/1/yes)."""
    return os.environ.get("CI", "").strip().lower() in TRUE_VALUES


def _reason(longrepr: Any) -> str:
    # A skip's longrepr is (path, line, "Skipped: reason"); anything else is shown as is.
    text = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def _as_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.outcome = "failed"
    reason = _reason(report.longrepr)
    report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and skips_fail() and not hasattr(report, "wasxfail"):
        _as_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and skips_fail():
        _as_failure(report)
