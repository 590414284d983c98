"""SQLite's durability and erasure promises: every acknowledged write is synced
(synchronous=FULL), and the checkpoint that wipes deleted data out of the write-ahead log
is checked: retried while readers hold an older snapshot, reported when it cannot end."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from api.db.engine import create_db_engine
from api.db.erasure import erase_deleted_data
from tests.databases import sqlite_url

SECRET = b"biometric-bytes-that-must-go-" * 40


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_db_engine(sqlite_url(tmp_path))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        conn.execute(text("INSERT INTO blobs (data) VALUES (:d)"), {"d": SECRET})
    erase_deleted_data(engine)  # the row is in the database file, the log is empty
    yield engine
    engine.dispose()


def _database(engine: Engine) -> Path:
    return Path(str(engine.url.database))


def _delete_with_a_reader_on_the_old_snapshot(engine: Engine) -> sqlite3.Connection:
    reader = sqlite3.connect(_database(engine), isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM blobs").fetchone() == (1,)  # snapshot held
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM blobs")
    return reader


def test_every_connection_syncs_each_commit(engine: Engine) -> None:
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_a_checkpoint_that_readers_delay_is_retried_until_it_wipes_the_log(
    engine: Engine,
) -> None:
    reader = _delete_with_a_reader_on_the_old_snapshot(engine)
    wal = _database(engine).with_name(_database(engine).name + "-wal")
    # The database file keeps the old page until the checkpoint copies the zeroed one in.
    assert SECRET[:40] in _database(engine).read_bytes() and wal.stat().st_size > 0
    threading.Timer(1.0, lambda: reader.execute("COMMIT")).start()
    assert erase_deleted_data(engine) is True
    reader.close()
    assert wal.stat().st_size == 0
    assert SECRET[:40] not in _database(engine).read_bytes()


def test_a_checkpoint_that_cannot_complete_is_reported(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    reader = _delete_with_a_reader_on_the_old_snapshot(engine)
    try:
        with caplog.at_level(logging.ERROR, logger="api.db.erasure"):
            assert erase_deleted_data(engine, attempts=2) is False
    finally:
        reader.close()
    assert "deleted data may remain in the SQLite write-ahead log" in caplog.text
    assert erase_deleted_data(engine) is True  # once the reader is gone
