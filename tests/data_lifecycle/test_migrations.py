"""Alembic migrations: a fresh database gets exactly the code's schema, a v1 database
(made before migrations existed) is upgraded in place with nothing lost, and instances
starting together never run the DDL twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from api.db.engine import create_db_engine
from api.db.migrations import (
    BASELINE_REVISION,
    MigrationError,
    current_revision,
    head_revision,
    upgrade_schema,
)
from api.db.schema import metadata
from tests.data_lifecycle.rows import all_rows, fill_sample
from tests.databases import DATABASE_KINDS, mariadb_database, scratch_database_url
from tests.shared_data import REPO_ROOT

V1_SCHEMA = Path(__file__).parent / "v1"


@pytest.fixture(params=DATABASE_KINDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    with scratch_database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        yield engine
        engine.dispose()


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_fresh_database_gets_exactly_the_code_schema(empty_engine: Engine) -> None:
    assert upgrade_schema(empty_engine) is None  # it was empty
    assert _schema_differences(empty_engine) == []
    with empty_engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(text("SELECT id, version FROM gallery_state")).all() == [(1, 0)]
    # A second upgrade is a no-op that reports the database was already current.
    assert upgrade_schema(empty_engine) == head_revision()


def _create_v1_schema(engine: Engine) -> None:
    """The tables exactly as v1's `create_all` made them, from the DDL it produced."""
    dialect = "sqlite" if engine.dialect.name == "sqlite" else "mariadb"
    script = (V1_SCHEMA / f"schema.{dialect}.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in filter(None, (part.strip() for part in body.split(";"))):
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO gallery_state (id, version) VALUES (1, 3)")


V1_TABLES = [
    "people",
    "face_images",
    "face_embeddings",
    "recognition_events",
    "training_jobs",
    "gallery_state",
    "gallery_changes",
    "api_keys",
]


def test_v1_database_upgrades_in_place_with_nothing_lost(empty_engine: Engine) -> None:
    _create_v1_schema(empty_engine)
    fill_sample(empty_engine)
    before = all_rows(empty_engine, V1_TABLES)
    assert len(before["face_images"]) == 6 and len(before["recognition_events"]) == 5

    assert upgrade_schema(empty_engine) == BASELINE_REVISION  # stamped, then upgraded

    with empty_engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert _schema_differences(empty_engine) == []
    after = all_rows(empty_engine, V1_TABLES)
    for table in V1_TABLES:
        width = len(before[table][0]) if before[table] else 0
        # Later revisions may add columns; v1's columns keep every value.
        assert [row[:width] for row in after[table]] == before[table], table


def test_database_of_a_newer_release_is_refused_untouched(empty_engine: Engine) -> None:
    upgrade_schema(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(MigrationError, match="revision ffff"):
        upgrade_schema(empty_engine)
    with empty_engine.connect() as conn:
        assert current_revision(conn) == "ffff"


def _migrate_command(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.data", "migrate"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.mariadb
def test_instances_starting_together_migrate_once() -> None:
    """Two instances on one fresh MariaDB: while the lock is held both wait; released, one
    migrates and the other finds the schema current (no DDL twice, no error)."""
    with mariadb_database() as url:
        holder = create_engine(url)
        with holder.connect() as lock_conn:
            assert (
                lock_conn.execute(text("SELECT GET_LOCK('facerec_schema_migration', 10)")).scalar()
                == 1
            )
            first, second = _migrate_command(url), _migrate_command(url)
            time.sleep(3)
            assert first.poll() is None and second.poll() is None, "they did not wait"
            lock_conn.execute(text("SELECT RELEASE_LOCK('facerec_schema_migration')"))
        outputs = sorted(process.communicate(timeout=120)[0].strip() for process in (first, second))
        assert [first.returncode, second.returncode] == [0, 0]
        head = head_revision()
        assert outputs == [
            f"schema already at revision {head}",
            f"schema upgraded from revision none (empty database) to {head}",
        ]
        with holder.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
            assert conn.execute(text("SELECT COUNT(*) FROM gallery_state")).scalar() == 1
        holder.dispose()


def test_sqlite_instances_starting_together_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'facerec.sqlite3'}"
    processes = [_migrate_command(url) for _ in range(3)]
    outputs = sorted(process.communicate(timeout=120)[0].strip() for process in processes)
    assert [process.returncode for process in processes] == [0, 0, 0]
    head = head_revision()
    assert outputs == [f"schema already at revision {head}"] * 2 + [
        f"schema upgraded from revision none (empty database) to {head}"
    ]


def test_migrate_command_fails_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'sub' / 'x.sqlite3'}"
    (tmp_path / "missing-folder").write_text("a file where a folder should be")
    result = subprocess.run(
        [sys.executable, "-m", "api.data", "migrate"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
