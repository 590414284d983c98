"""Render tests/artifacts/security-report.json into README.md's security table.

    .venv/bin/python -m pytest tests/security   # writes the report
    .venv/bin/python -m tests.security.report   # rewrites the table between the markers

Only the text between `<!-- security-table:start -->` and `<!-- security-table:end -->`
changes, so the figures in the README are always those of a real run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.security.tally import REPORT_PATH
from tests.shared_data import REPO_ROOT

README = REPO_ROOT / "README.md"
START = "<!-- security-table:start -->"
END = "<!-- security-table:end -->"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _answers(statuses: dict[str, int]) -> str:
    return "; ".join(f"{status} ×{count}" for status, count in statuses.items())


def _rows(counts: dict[str, int]) -> str:
    return ", ".join(str(count) for count in counts.values())


def _figures(figures: dict[str, Any]) -> str:
    shown = []
    for name, value in figures.items():
        if isinstance(value, dict):
            value = ", ".join(f"{key} {count}" for key, count in value.items()) or "none"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        shown.append(f"{name.replace('_', ' ')}: {value}")
    return "; ".join(shown)


def render(report: dict[str, Any]) -> str:
    inputs, faults, fuzzing = report["inputs"], report["faults"], report["fuzzing"]
    tried = sum(entry["tried"] for entry in inputs.values())
    errors = sum(entry["server_errors"] for entry in inputs.values())
    changed = sum(entry["data_changed"] for entry in inputs.values())
    lost = sum(fault["data_lost"] for fault in faults)
    lines = [
        f"Produced by `pytest tests/security` on {report['generated_at']} (Python "
        f"{report['python']}): {tried} hostile or unusual requests in {len(inputs)} classes, "
        f"{len(faults)} faults injected; {errors} server errors, {changed} refused requests "
        f"that changed a table, {lost} acknowledged records lost.",
        "",
        "| input class | tried | answered (status code × count) | 5xx | tables changed |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(kind)} | {entry['tried']} | {_cell(_answers(entry['statuses']))} | "
        f"{entry['server_errors']} | {entry['data_changed']} |"
        for kind, entry in inputs.items()
    ]
    lines += ["", "| fuzzing | figures |", "|---|---|"]
    lines += [f"| {_cell(target)} | {_cell(_figures(f))} |" for target, f in fuzzing.items()]
    lines += [
        "",
        "| person deleted with | rows before (images, by image hash, embeddings, sightings, "
        "sighting faces) | rows after |",
        "|---|---|---|",
    ]
    lines += [
        f"| {_cell(d['setting'])} | {_rows(d['before'])} | {_rows(d['after'])} |"
        for d in report["deletions"]
    ]
    lines += [
        "",
        "| fault | injected | observed | requests | failed | data lost |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(f['fault'])} | {_cell(f['injected'])} | {_cell(f['observed'])} | "
        f"{f['requests']} | {f['failed_requests']} | {f['data_lost']} |"
        for f in faults
    ]
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    """`text` with everything between the markers replaced by `table`."""
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise ValueError(f"README.md needs {START} ... {END} in this order")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(report_path: Path = REPORT_PATH, readme: Path = README) -> int:
    if not report_path.exists():
        print(f"{report_path} is missing: run `pytest tests/security` first", file=sys.stderr)
        return 1
    table = render(json.loads(report_path.read_text(encoding="utf-8")))
    readme.write_text(
        replace_between_markers(readme.read_text(encoding="utf-8"), table), encoding="utf-8"
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
