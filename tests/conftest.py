"""Suite-wide hooks and fixtures: under CI=true a skip fails (tests/strict_skips.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.db.engine import create_db_engine
from api.db.migrations import upgrade_schema
from tests.databases import DATABASE_KINDS, scratch_database_url

pytest_plugins = ["tests.strict_skips"]


@pytest.fixture(params=DATABASE_KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database at the current schema, on SQLite and on real MariaDB (a scratch
    database of its own): what every data-layer test runs against."""
    with scratch_database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        upgrade_schema(engine)
        yield engine
        engine.dispose()
