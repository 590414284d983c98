"""db-gen/face_recognition_db.sql is exactly what the migrations create, and it runs on MariaDB."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from api.db.migrations import head_revision, upgrade_schema
from api.db.schema import mariadb_ddl, metadata
from tests.databases import mariadb_database
from tests.shared_data import REPO_ROOT

SCHEMA_FILE = REPO_ROOT / "db-gen" / "face_recognition_db.sql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == mariadb_ddl(), (
        "regenerate with: python -m api.db.schema > db-gen/face_recognition_db.sql"
    )


def _describe(url: str) -> dict[str, object]:
    engine = create_engine(url)
    inspector = inspect(engine)
    shape = {
        table: {
            "columns": [
                (c["name"], repr(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)
            ),
            "foreign_keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    fk["options"].get("ondelete"),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
        }
        for table in sorted(inspector.get_table_names())
    }
    engine.dispose()
    return shape


@pytest.mark.mariadb
def test_sql_file_and_code_create_the_same_mariadb_schema() -> None:
    # Loaded the way the MariaDB image's entrypoint loads it: by the mariadb client.
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        pytest.skip("the mariadb command-line client is not installed")
    with mariadb_database() as from_file, mariadb_database() as from_code:
        database = make_url(from_file)
        subprocess.run(
            [
                client,
                f"--host={database.host}",
                f"--port={database.port}",
                "--user=root",
                str(database.database),
            ],
            input=SCHEMA_FILE.read_bytes(),
            check=True,
        )
        code_engine = create_engine(from_code)
        upgrade_schema(code_engine)
        code_engine.dispose()
        described = _describe(from_file)
        assert set(described) == {*metadata.tables, "alembic_version"}
        assert described == _describe(from_code)
        for url in (from_file, from_code):  # same revision and seed rows: never re-created
            engine = create_engine(url)
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
                    (head_revision(),)
                ]
                assert conn.execute(text("SELECT id, version FROM gallery_state")).all() == [(1, 0)]
            engine.dispose()
        # A database loaded from the file is current: the service leaves it as it is.
        engine = create_engine(from_file)
        assert upgrade_schema(engine) == head_revision()
        engine.dispose()
        assert ("image", "LONGBLOB()", False) in described["face_images"]["columns"]
        assert ("captured_at", "DATETIME(fsp=6)", False) in described["recognition_events"][
            "columns"
        ]
