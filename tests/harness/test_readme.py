"""The README says only what is true: its generated tables are those of the committed
results, and what it says CI runs is what `.ci/run` and `make test` do."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.common import RESULTS
from benchmarks.report import REPORT, TABLE_END, TABLE_START, build_report, load_results
from benchmarks.report import summary_table as bench_table
from tests.security.report import END as SECURITY_END
from tests.security.report import START as SECURITY_START

REPO_ROOT = Path(__file__).resolve().parents[2]
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def test_readme_benchmark_table_is_the_one_the_results_files_generate() -> None:
    results = load_results(RESULTS)
    assert results, f"no results in {RESULTS}"
    assert _between(README, TABLE_START, TABLE_END) == bench_table(results), (
        "README's benchmark table differs from benchmarks/results/*.json: "
        "run `python -m benchmarks.report`"
    )


def test_benchmark_report_is_the_one_the_results_files_generate() -> None:
    assert REPORT.read_text(encoding="utf-8") == build_report(load_results(RESULTS), RESULTS)


def _rows(table: str, columns: int) -> list[list[str]]:
    rows = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == columns and not set(cells[0]) <= {"-"}:
            rows.append(cells)
    return rows[1:] if rows else rows  # without the header


def test_readme_security_table_summary_is_the_sum_of_its_rows() -> None:
    """The security table is copied from a run's report (tests/security/report.py): its
    headline figures must be those of the rows below it, "data lost" included."""
    table = _between(README, SECURITY_START, SECURITY_END)
    head = table.splitlines()[0]
    summary = re.search(
        r": (\d+) hostile or unusual requests in (\d+) classes, (\d+) faults injected; "
        r"(\d+) server errors, (\d+) refused requests that changed a table, "
        r"(\d+) acknowledged records lost\.",
        head,
    )
    assert summary, head
    tried, classes, faults, errors, changed, lost = map(int, summary.groups())
    inputs = [r for r in _rows(table, 5) if r[1].isdigit()]
    fault_rows = [r for r in _rows(table, 6) if r[3].isdigit()]
    assert (len(inputs), len(fault_rows)) == (classes, faults)
    assert sum(int(r[1]) for r in inputs) == tried
    assert sum(int(r[3]) for r in inputs) == errors
    assert sum(int(r[4]) for r in inputs) == changed
    assert sum(int(r[5]) for r in fault_rows) == lost


def test_what_the_readme_says_ci_runs_is_what_it_runs() -> None:
    assert "CI runs `bash .ci/run`" in README
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    make = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "export CI=true" in ci  # skips fail there (tests/strict_skips.py)
    for step in ("bash scripts/install-test-deps.sh", "make models", "make lint", "make test"):
        assert re.search(rf"^{re.escape(step)}", ci, re.MULTILINE), step
    test_target = make.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert test_target.startswith(" test-deps ") and "CI=$${CI:-true}" in test_target
    assert "bash scripts/install-test-deps.sh" in make.split("\ntest-deps:", 1)[1]
    # The test command the README gives is the one that runs everything.
    assert "sudo make test" in README and "sudo bash scripts/install-test-deps.sh" in README
