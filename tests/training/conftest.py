"""The database every training-layer test runs against: SQLite, and real MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.db.engine import create_db_engine
from api.db.migrations import upgrade_schema
from tests.databases import DATABASE_KINDS, scratch_database_url


@pytest.fixture(params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh schema on each database; MariaDB gets a scratch database of its own."""
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database_url(request.param, tmp_path))
        engine = create_db_engine(url)
        stack.callback(engine.dispose)
        upgrade_schema(engine)
        yield engine
