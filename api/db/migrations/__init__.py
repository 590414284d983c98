"""The versioned schema: Alembic revisions under `versions/`, applied by `upgrade_schema`.

`api/db/schema.py` stays the one description of the tables the code uses; each change to
it ships as a new revision here, and a test checks that upgrading an empty database gives
exactly `schema.metadata` (and `db-gen/face_recognition_db.sql`) on SQLite and MariaDB.

Several pods and workers start at once against one database: `upgrade_schema` takes a lock
(MariaDB's GET_LOCK, a file lock beside a SQLite file) so one migrates while the others
wait, then find the schema current and do nothing: no DDL ever runs twice.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

log = logging.getLogger(__name__)

# The revision that is exactly the schema `create_all` made before migrations existed.
BASELINE_REVISION = "0001"
_LOCK_NAME = "facerec_schema_migration"


class MigrationError(RuntimeError):
    """The database cannot be brought to this release's schema (said in one line)."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this release of the code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the baseline always exists
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for an empty database (or a pre-Alembic one)."""
    return MigrationContext.configure(connection).get_current_revision()


def known_revisions() -> set[str]:
    return set(revisions_in_order())


def revisions_in_order() -> list[str]:
    """Every revision this release knows, oldest (the baseline) first."""
    scripts = ScriptDirectory.from_config(_config()).walk_revisions()
    return [script.revision for script in scripts][::-1]


def upgrade_schema(
    engine: Engine, lock_timeout_seconds: int = 600, to: str | None = None
) -> str | None:
    """Bring the database to the head revision (or `to`, an older one an import of an
    older archive starts from); return the revision it was at before.

    Cheap when nothing is to do (one SELECT). A database made before migrations existed
    (the tables, no `alembic_version`) is stamped as the baseline and upgraded in place.
    A database at a revision this code does not know (a newer release ran against it) is
    refused rather than touched.
    """
    head = head_revision()
    target = to or head
    with engine.connect() as conn:
        if current_revision(conn) == target:
            return target
    with _migration_lock(engine, lock_timeout_seconds) as conn:
        before = current_revision(conn)
        if before is not None and before not in known_revisions():
            raise MigrationError(
                f"the database is at schema revision {before}, which this release does not "
                f"know (its newest is {head}): upgrade the service instead"
            )
        if before == target:
            return before  # another process migrated while this one waited
        config = _config(conn)
        if before is None and inspect(conn).has_table("people"):
            log.info("schema made before migrations: stamped %s", BASELINE_REVISION)
            command.stamp(config, BASELINE_REVISION)
            conn.commit()
            before = BASELINE_REVISION
        log.info("schema upgrade from %s to %s", before or "empty", target)
        command.upgrade(config, target)
        conn.commit()
        return before


@contextmanager
def _migration_lock(engine: Engine, timeout_seconds: int) -> Iterator[Connection]:
    """A connection held under the cluster-wide migration lock."""
    if engine.dialect.name == "sqlite":
        with _sqlite_file_lock(engine), engine.connect() as conn:
            yield conn
        return
    with engine.connect() as conn:
        granted = conn.execute(
            text("SELECT GET_LOCK(:name, :timeout)"),
            {"name": _LOCK_NAME, "timeout": timeout_seconds},
        ).scalar()
        if granted != 1:
            raise MigrationError(
                f"another instance held the schema migration lock for over {timeout_seconds} s"
            )
        try:
            yield conn
        finally:
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """SQLite is one host's file: an exclusive flock on a file beside it serialises the
    processes that share it (an in-memory database has nobody to race with)."""
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
