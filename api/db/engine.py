"""Creating the engine for SQLite or MariaDB with the settings each one needs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry

from api.config import Settings

# MariaDB's answers to a statement that waited on another transaction's row lock: lock
# wait timeout (1205) and deadlock victim (1213).
_MARIADB_LOCK_CONFLICTS = frozenset({1205, 1213})


def utcnow() -> datetime:
    """Naive UTC: both databases store DATETIME without a zone, so every value is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _: ConnectionPoolEntry) -> None:
    # Foreign keys make person deletion cascade to faces and embeddings; WAL lets several
    # gunicorn workers read while one writes; secure_delete overwrites freed pages, so a
    # deleted face image does not linger in the file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # WAL synced at every commit: acknowledged = on disk
    cursor.close()


def _mariadb_lock_wait(seconds: int, dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {seconds:d}")
    cursor.close()


def create_db_engine(url: str, timeout_seconds: float = 3.0, lock_wait_seconds: int = 30) -> Engine:
    """An engine whose connections fail fast (database down -> 503, not a hung worker),
    and whose statements wait at most `lock_wait_seconds` for a lock another transaction
    holds (SQLite's busy timeout; MariaDB's innodb_lock_wait_timeout, 50 s by default)
    before the database gives up (`is_lock_conflict`)."""
    if lock_wait_seconds < 1:
        raise ValueError(f"the lock wait must be at least 1 second, not {lock_wait_seconds}")
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": lock_wait_seconds, "check_same_thread": False},
            pool_pre_ping=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {}
    if "mysqlconnector" in url:
        connect_args = {"connection_timeout": max(1, int(timeout_seconds)), "use_pure": True}
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeout_seconds,
    )
    event.listen(engine, "connect", partial(_mariadb_lock_wait, lock_wait_seconds))
    return engine


def engine_from_settings(settings: Settings) -> Engine:
    """The engine of `DATABASE_URL` with the configured connection and lock waits."""
    return create_db_engine(
        settings.database_url, settings.db_timeout_seconds, settings.db_lock_wait_seconds
    )


def is_lock_conflict(error: DBAPIError) -> bool:
    """Whether the database gave a statement up for another transaction's lock: MariaDB's
    deadlock victim or lock wait timeout, SQLite's "database is locked" after its busy
    timeout. The transaction is rolled back (nothing it wrote stays), so the same request
    may succeed when tried again."""
    original = error.orig
    if getattr(original, "errno", None) in _MARIADB_LOCK_CONFLICTS:
        return True
    return isinstance(original, sqlite3.OperationalError) and "database is locked" in str(original)
