"""Throw-away databases for tests: a SQLite file, or a fresh MariaDB database.

MariaDB is the real server at 127.0.0.1:3306 (root, empty password; `make test` starts
it). Each test module gets its own database, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

MARIADB_SERVER = os.environ.get("TEST_MARIADB_URL", "mysql+mysqlconnector://root@127.0.0.1:3306")


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'facerec.sqlite3'}"


@contextmanager
def mariadb_database() -> Iterator[str]:
    """URL of a new, empty MariaDB database; skips the test when the server is down."""
    server = create_engine(MARIADB_SERVER, connect_args={"connection_timeout": 3})
    name = f"facerec_test_{secrets.token_hex(4)}"
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    except OperationalError as error:
        server.dispose()
        pytest.skip(
            f"MariaDB at {MARIADB_SERVER} is unreachable ({error.orig}); run `make mariadb`"
        )
    try:
        yield f"{MARIADB_SERVER}/{name}?charset=utf8mb4"
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()
