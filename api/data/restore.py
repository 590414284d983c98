"""`python -m api.data import FILE`: load an archive into an empty database.

Before anything is written the archive is read once in full: its manifest, then every
part against its sha256. Refused, with nothing written: a damaged archive, one of a
schema revision this release does not know (a newer release made it), and a database
that holds any row in the tables an archive fills (people, faces, events, ...; API keys
and the operational tables do not count).

An archive of an OLDER revision is imported at its own revision and then upgraded, as
the service would have upgraded the database it came from: a database without tables is
first migrated to the archive's revision, the rows go in, then the migrations run to this
release's head. (Tables that exist but are at a newer revision than the archive's are
refused: the migrations do not go backwards; import into a new database instead.)

All rows go in one transaction, with the gallery counter bumped in it so running workers
reload the imported faces: an import that fails half-way (a row the database refuses, a
lost connection) leaves the tables as empty as they were.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, insert, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError

from api.data.archive import EXCLUDED, ArchiveError, ArchiveReader
from api.data.progress import progress_bar
from api.db.erasure import erase_deleted_data
from api.db.migrations import (
    current_revision,
    head_revision,
    known_revisions,
    revisions_in_order,
    upgrade_schema,
)

# A batch of inserted rows stops at this many rows or encoded bytes, whichever comes
# first: well under MariaDB's max_allowed_packet (16 MiB by default) with face images.
BATCH_ROWS = 500
BATCH_BYTES = 4 * 2**20


def import_archive(engine: Engine, path: Path) -> dict[str, int]:
    """Restore the archive at `path`; return the rows per table."""
    reader = ArchiveReader(path)
    try:
        manifest = reader.manifest
        head = head_revision()
        if manifest.revision not in known_revisions():
            raise ArchiveError(
                f"the archive is at schema revision {manifest.revision}, which this release "
                f"does not know (its newest is {head}): import it with a newer release"
            )
        with progress_bar(manifest.rows, "verify") as bar:
            reader.verify(bar.update)
        _prepare_schema(engine, manifest.revision)
        try:
            _load(engine, reader)
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise ArchiveError(
                f"the import failed and was undone, the database is empty again: {reason}"
            ) from None
    finally:
        reader.close()
    if manifest.revision != head:
        upgrade_schema(engine)
    erase_deleted_data(engine)  # SQLite: fold the write-ahead log into the file
    return {name: info.rows for name, info in manifest.tables.items()}


def _load(engine: Engine, reader: ArchiveReader) -> None:
    """Every row, and the gallery bump, in one transaction."""
    manifest = reader.manifest
    with engine.begin() as conn:
        tables = _target_tables(conn, list(manifest.tables))
        _refuse_rows(conn)
        with progress_bar(manifest.rows, "import") as bar:
            for table in tables:
                _insert_all(conn, table, reader.rows(table.name), bar.update)
        gallery_state = tables[0].metadata.tables["gallery_state"]
        conn.execute(
            update(gallery_state)
            .where(gallery_state.c.id == 1)
            .values(version=gallery_state.c.version + 1)
        )


def _prepare_schema(engine: Engine, revision: str) -> None:
    """Bring an empty database to the archive's revision, or refuse one it cannot be."""
    with engine.connect() as conn:
        current = current_revision(conn)
        has_tables = inspect(conn).has_table("people")
        if has_tables:
            _refuse_rows(conn)
    if current is not None and current not in known_revisions():
        raise ArchiveError(
            f"the database is at schema revision {current}, which this release does not know"
        )
    order = revisions_in_order()
    if current is not None and order.index(current) > order.index(revision):
        raise ArchiveError(
            f"the archive is at schema revision {revision}, older than the database's "
            f"{current}: import it into a new database without tables (it is then upgraded)"
        )
    upgrade_schema(engine, to=revision)


def _target_tables(conn: Connection, names: list[str]) -> list[Table]:
    """The database's own tables (at the archive's revision), parents first."""
    metadata = MetaData()
    metadata.reflect(conn)
    missing = sorted(set(names) - set(metadata.tables))
    if missing:
        raise ArchiveError(f"the archive has tables the schema lacks: {', '.join(missing)}")
    return [table for table in metadata.sorted_tables if table.name in names]


def _refuse_rows(conn: Connection) -> None:
    """Refuse a database that holds data an import would mix with the archive's."""
    metadata = MetaData()
    metadata.reflect(conn)
    for table in metadata.sorted_tables:
        if table.name in EXCLUDED or table.name == "alembic_version":
            continue
        if conn.execute(select(1).select_from(table).limit(1)).first() is not None:
            raise ArchiveError(
                f"the database is not empty (table {table.name} has rows): "
                "import only into a new database"
            )


def _insert_all(
    conn: Connection, table: Table, rows: Iterator[dict[str, Any]], advance: Any
) -> None:
    decoders = {column.name: _decoder(column.type) for column in table.columns}
    batch: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        if not isinstance(row, dict):
            raise ArchiveError(f"the archive's table {table.name} has a row that is not an object")
        unknown = set(row) - set(decoders)
        if unknown:
            raise ArchiveError(
                f"the archive's table {table.name} has columns the schema lacks: "
                + ", ".join(sorted(unknown))
            )
        batch.append({name: decoders[name](value) for name, value in row.items()})
        size += sum(len(value) for value in row.values() if isinstance(value, str))
        if len(batch) >= BATCH_ROWS or size >= BATCH_BYTES:
            conn.execute(insert(table), batch)
            advance(len(batch))
            batch, size = [], 0
    if batch:
        conn.execute(insert(table), batch)
        advance(len(batch))


def _decoder(column_type: Any) -> Any:
    """How a JSON value becomes the column's Python value (bytes and times are strings)."""
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        python_type = object
    if python_type is bytes:
        return lambda value: None if value is None else base64.b64decode(value)
    if python_type is datetime:
        return lambda value: None if value is None else datetime.fromisoformat(value)
    return lambda value: value
