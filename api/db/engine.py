"""Creating the engine for SQLite or MariaDB with the settings each one needs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry


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


def create_db_engine(url: str, timeout_seconds: float = 3.0) -> Engine:
    """An engine whose connections fail fast (database down -> 503, not a hung worker)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {}
    if "mysqlconnector" in url:
        connect_args = {"connection_timeout": max(1, int(timeout_seconds)), "use_pure": True}
    return create_engine(
        url,
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeout_seconds,
    )
