"""A dependency-free text progress bar for the long-running programs (stderr)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`update()` per item; redraws at most every `interval_s` (one line per redraw when
    stderr is not a terminal, so logs stay readable)."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        stream: TextIO | None = None,
        interval_s: float = 0.5,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self._tty = self.stream.isatty()
        self._started = time.monotonic()
        self._last_draw = 0.0

    def update(self, amount: int = 1) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self._last_draw >= (self.interval_s if self._tty else 5.0):
            self._draw(now)

    def advance_to(self, done: int) -> None:
        """Count up to `done` items at once: a frame index also counts the frames the
        sampling skipped, which the bar's total includes."""
        self.update(done - self.done)

    def _draw(self, now: float, final: bool = False) -> None:
        self._last_draw = now
        rate = self.done / max(now - self._started, 1e-9)
        if self.total:
            width = 30
            filled = int(width * min(self.done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        else:
            bar = str(self.done)
        line = f"{self.label}: {bar} ({rate:.1f}/s)"
        prefix = "\r" if self._tty else ""
        suffix = "\n" if final or not self._tty else ""
        self.stream.write(prefix + line + suffix)
        self.stream.flush()

    def close(self) -> None:
        self._draw(time.monotonic(), final=True)
