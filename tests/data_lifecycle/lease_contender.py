"""One process contending for a lease: `python -m tests.data_lifecycle.lease_contender
URL OWNER SECONDS` takes it whenever it can for SECONDS, holds it a moment, gives it back,
and prints the (start, end) wall-clock intervals it held it as JSON."""

from __future__ import annotations

import json
import sys
import time

from api.db import leases
from api.db.engine import create_db_engine

HOLD_SECONDS = 0.02


def main(url: str, owner: str, seconds: float) -> None:
    engine = create_db_engine(url)
    held: list[tuple[float, float]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if leases.try_acquire(engine, "contended", owner, 30):
            start = time.time()
            time.sleep(HOLD_SECONDS)
            end = time.time()
            assert leases.release(engine, "contended", owner)
            held.append((start, end))
        time.sleep(0.001)
    engine.dispose()
    print(json.dumps(held))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
