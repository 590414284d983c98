"""Progress bars for the data tools: on a terminal only, never in a CronJob's log."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str) -> tqdm:
    """A tqdm bar counting rows on standard error, disabled when that is not a terminal."""
    return tqdm(
        total=total,
        desc=description,
        unit="row",
        unit_scale=True,
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
    )
