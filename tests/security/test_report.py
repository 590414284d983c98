"""The README table is rendered from the report and replaces only its marked section."""

from __future__ import annotations

import pytest

from tests.security.report import END, START, render, replace_between_markers
from tests.security.tally import SecurityReport


def small_report() -> dict:
    report = SecurityReport()
    report.record_input("zero-byte file", 422, "IMAGE_UNREADABLE", changed=False)
    report.record_input("zero-byte file", 422, "IMAGE_UNREADABLE", changed=False)
    report.record_input("multipart abuse", 413, "REQUEST_TOO_LARGE", changed=False)
    report.record_fault("worker killed", "SIGKILL", "replaced", requests=40, failed=1, lost=0)
    report.record_fuzzing("decode_image", examples=10, outcomes={"decoded": 4})
    report.record_deletion("default", {"images": 3, "events": 2}, {"images": 0, "events": 0})
    return report.to_json()


def test_render_counts_every_class_and_fault() -> None:
    table = render(small_report())
    assert "3 hostile or unusual requests in 2 classes, 1 faults injected" in table
    assert "| zero-byte file | 2 | 422 IMAGE_UNREADABLE ×2 | 0 | 0 |" in table
    assert "| worker killed | SIGKILL | replaced | 40 | 1 | 0 |" in table
    assert "examples: 10; outcomes: decoded 4" in table
    assert "| default | 3, 2 | 0, 0 |" in table


def test_only_the_marked_section_changes() -> None:
    readme = f"# Title\n\nprose\n{START}\nold table\n{END}\nafter\n"
    updated = replace_between_markers(readme, "new table")
    assert updated == f"# Title\n\nprose\n{START}\nnew table\n{END}\nafter\n"
    assert replace_between_markers(updated, "new table") == updated
    with pytest.raises(ValueError, match="needs"):
        replace_between_markers("# no markers\n", "table")
