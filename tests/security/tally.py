"""What the security tests tried and saw, written to tests/artifacts/security-report.json.

Tests record each hostile input by class and each injected fault with its observed
behaviour; the session writes the file once at the end, and `python -m
tests.security.report` turns it into the README's table, so the figures there are
always the ones a run produced.
"""

from __future__ import annotations

import json
import platform
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.shared_data import REPO_ROOT

REPORT_PATH = REPO_ROOT / "tests" / "artifacts" / "security-report.json"


@dataclass
class InputClass:
    """Outcomes of every input tried in one class."""

    tried: int = 0
    server_errors: int = 0
    data_changed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "tried": self.tried,
            "server_errors": self.server_errors,
            "data_changed": self.data_changed,
            "statuses": dict(sorted(self.statuses.items())),
        }


@dataclass
class SecurityReport:
    inputs: dict[str, InputClass] = field(default_factory=lambda: defaultdict(InputClass))
    faults: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    fuzzing: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record_input(self, kind: str, status: int, code: str | None, changed: bool) -> None:
        """One request of class `kind`: its answer and whether stored data changed."""
        entry = self.inputs[kind]
        entry.tried += 1
        entry.statuses[f"{status} {code}" if code else str(status)] += 1
        entry.server_errors += status >= 500
        entry.data_changed += changed

    def record_fault(
        self, fault: str, injected: str, observed: str, requests: int, failed: int, lost: int
    ) -> None:
        self.faults.append(
            {
                "fault": fault,
                "injected": injected,
                "observed": observed,
                "requests": requests,
                "failed_requests": failed,
                "data_lost": lost,
            }
        )

    def record_deletion(self, setting: str, before: dict[str, int], after: dict[str, int]) -> None:
        """Rows of one person's biometric data before and after deleting them."""
        self.deletions.append({"setting": setting, "before": before, "after": after})

    def record_fuzzing(self, target: str, **figures: Any) -> None:
        self.fuzzing[target] = figures

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "inputs": {kind: entry.to_json() for kind, entry in sorted(self.inputs.items())},
            "faults": self.faults,
            "deletions": self.deletions,
            "fuzzing": self.fuzzing,
        }

    def write(self, path: Path = REPORT_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")
