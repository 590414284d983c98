"""The database every training-layer test runs against: SQLite, and real MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.db.engine import create_db_engine, create_schema
from tests.databases import mariadb_database, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh schema on each database; MariaDB gets a scratch database of its own."""
    with ExitStack() as stack:
        url = sqlite_url(tmp_path) if request.param == "sqlite" else None
        if url is None:
            url = stack.enter_context(mariadb_database())
        engine = create_db_engine(url)
        stack.callback(engine.dispose)
        create_schema(engine)
        yield engine
