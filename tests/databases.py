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
from sqlalchemy.exc import InterfaceError, OperationalError

MARIADB_SERVER = os.environ.get("TEST_MARIADB_URL", "mysql+mysqlconnector://root@127.0.0.1:3306")


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'facerec.sqlite3'}"


@contextmanager
def mariadb_database(prefix: str = "facerec_test", skip_if_down: bool = True) -> Iterator[str]:
    """URL of a new, empty MariaDB database named `prefix`_<random>, dropped on leaving.
    When the server is down: skips the test, or (`skip_if_down=False`, outside pytest, as
    the gallery benchmark runs it) raises the driver's error: OperationalError, or
    InterfaceError when mysql-connector finds the port closed."""
    server = create_engine(MARIADB_SERVER, connect_args={"connection_timeout": 3})
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    except (OperationalError, InterfaceError) as error:
        server.dispose()
        if not skip_if_down:
            raise
        pytest.skip(
            f"MariaDB at {MARIADB_SERVER} is unreachable ({error.orig}); run `make mariadb`"
        )
    try:
        yield f"{MARIADB_SERVER}/{name}?charset=utf8mb4"
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


# The two kinds every database test runs on; MariaDB's are marked for the reason above.
DATABASE_KINDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


@contextmanager
def scratch_database_url(kind: str, folder: Path) -> Iterator[str]:
    """URL of an empty database of `kind` ("sqlite" in `folder`, or "mariadb")."""
    if kind == "sqlite":
        yield sqlite_url(folder)
        return
    with mariadb_database() as url:
        yield url
