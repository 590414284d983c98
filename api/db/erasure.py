"""Making deleted biometric data unrecoverable from the database files, and checking it.

On SQLite, `secure_delete` zeroes freed pages of the database file, but the write-ahead
log still holds the pages as they were before the deletion until a checkpoint copies the
log into the file and truncates it. That checkpoint can be refused while another
connection reads an older snapshot (SQLite answers "busy" rather than failing), so its
result is checked and the checkpoint retried; one that still cannot complete is logged
as an error naming what remains. MariaDB frees the rows but does not wipe disk pages; the
README says so.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHECKPOINT_ATTEMPTS = 3
# How long one checkpoint waits for readers of older snapshots (SQLite's busy handler).
CHECKPOINT_WAIT_MS = 2000
RETRY_PAUSE_SECONDS = 0.2


def erase_deleted_data(engine: Engine, attempts: int = CHECKPOINT_ATTEMPTS) -> bool:
    """Fold SQLite's write-ahead log into the (zeroed) database file and truncate it;
    True once done (always on MariaDB), False when readers kept it from completing."""
    if engine.dialect.name != "sqlite":
        return True
    result = (1, -1, -1)
    for attempt in range(attempts):
        with engine.connect() as conn:
            previous = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                result = tuple(conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one())
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(previous)}")
        if result[0] == 0:
            return True
        time.sleep(RETRY_PAUSE_SECONDS * 2**attempt)
    log.error(
        "deleted data may remain in the SQLite write-ahead log until a later checkpoint: "
        "the checkpoint stayed busy (readers of an older snapshot)",
        extra={"checkpoint": list(result), "attempts": attempts},
    )
    return False
