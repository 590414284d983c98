"""A migrated, empty database of each kind for the data lifecycle tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.db.engine import create_db_engine
from api.db.migrations import upgrade_schema
from tests.databases import DATABASE_KINDS, scratch_database_url


@pytest.fixture(params=DATABASE_KINDS)
def migrated_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with scratch_database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        upgrade_schema(engine)
        yield engine
        engine.dispose()
