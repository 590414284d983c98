"""What the edge did and what it saved: the numbers that justify sending crops only.

`full_frame_bytes` is what the same frames would have cost as JPEG at the same quality,
the baseline a camera streaming frames to the cloud would pay.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


class EdgeStats:
    """Thread-safe counters; the pipeline, the sender and the spool all add to them."""

    COUNTERS = (
        "frames",
        "full_frame_bytes",
        "faces_detected",
        "faces_too_small",
        "faces_deduplicated",
        "crops_sent",
        "crop_bytes",
        "delivered",
        "spooled",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._counts: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.spool_dropped = 0  # the spool counts its drops; copied in for the report

    def add(self, name: str, amount: int = 1) -> None:
        if name not in self.COUNTERS:
            raise KeyError(name)
        with self._lock:
            self._counts[name] += amount

    def add_rejected(self, code: str) -> None:
        with self._lock:
            self.rejected[code] += 1

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def summary(self) -> dict[str, Any]:
        with self._lock:
            counts = {name: self._counts[name] for name in self.COUNTERS}
            rejected = dict(self.rejected)
        elapsed = time.monotonic() - self._started
        full = counts["full_frame_bytes"]
        return {
            **counts,
            "rejected": rejected,
            "spool_dropped": self.spool_dropped,
            "elapsed_s": round(elapsed, 3),
            "fps": round(counts["frames"] / elapsed, 2) if elapsed > 0 else 0.0,
            "bandwidth_fraction": round(counts["crop_bytes"] / full, 5) if full else None,
        }

    def report(self) -> str:
        """The human-readable summary printed at the end of a run and on Ctrl-C."""
        s = self.summary()
        fraction = s["bandwidth_fraction"]
        saved = (
            f"{fraction * 100:.2f}% of full frames ({s['full_frame_bytes'] / 1e6:.2f} MB)"
            if fraction is not None
            else "no frames"
        )
        rejected = ", ".join(f"{code}: {n}" for code, n in sorted(s["rejected"].items())) or "none"
        return "\n".join(
            [
                f"frames processed   {s['frames']} in {s['elapsed_s']:.1f} s ({s['fps']:.1f} fps)",
                f"faces detected     {s['faces_detected']} "
                f"(too small {s['faces_too_small']}, deduplicated {s['faces_deduplicated']})",
                f"crops sent         {s['crops_sent']}: {s['crop_bytes'] / 1e6:.3f} MB = {saved}",
                f"delivered          {s['delivered']}; spooled {s['spooled']}; "
                f"dropped from spool {s['spool_dropped']}",
                f"rejected           {rejected}",
            ]
        )
