"""`python -m api.data export --out FILE`: the whole service's data as one archive.

The tables are read in one transaction (one snapshot: what a recognition writes meanwhile
is either wholly in the archive or not at all), each in primary-key order by pages of
`PAGE_ROWS`, so memory stays bounded by a page whatever the database holds. The archive
is written beside FILE under a temporary name and renamed when complete: a failed export
leaves no half archive that looks like a backup. It holds biometric data: mode 0600.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Engine, Table, and_, func, or_, select

from api.data.archive import ArchiveError, ArchiveWriter, exported_tables
from api.data.progress import progress_bar
from api.db import schema
from api.db.engine import utcnow
from api.db.migrations import current_revision, head_revision

PAGE_ROWS = 500


def export_database(engine: Engine, out: Path, page_rows: int = PAGE_ROWS) -> dict[str, int]:
    """Write the archive; return the rows per table."""
    if out.exists():
        raise ArchiveError(f"{out} exists: choose a new file name")
    partial = out.with_name(out.name + ".partial")
    with engine.connect() as conn:
        revision = current_revision(conn)
        if revision != head_revision():
            raise ArchiveError(
                f"the database is at schema revision {revision or 'none'}, not this release's "
                f"{head_revision()}: run `python -m api.data migrate` first"
            )
        _begin_snapshot(conn)
        names = exported_tables()
        totals = {name: _count(conn, schema.metadata.tables[name]) for name in names}
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        try:
            writer = ArchiveWriter(partial, revision, utcnow())
            with progress_bar(sum(totals.values()), "export") as bar:
                for name in names:
                    table = schema.metadata.tables[name]
                    writer.write_part(name, _counted(_pages(conn, table, page_rows), bar.update))
            writer.close()
            partial.rename(out)
        finally:
            partial.unlink(missing_ok=True)
    return {info.table: info.rows for info in writer.parts}


def _begin_snapshot(conn: Connection) -> None:
    """One read transaction over all tables. MariaDB's (REPEATABLE READ) begins with the
    first SELECT; Python's sqlite3 begins none for a SELECT, so begin it explicitly."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _pages(conn: Connection, table: Table, page_rows: int) -> Iterator[dict[str, Any]]:
    """Every row in primary-key order, `page_rows` per query (keyset pagination)."""
    key = list(table.primary_key.columns)
    last: tuple[Any, ...] | None = None
    while True:
        query = select(table).order_by(*key).limit(page_rows)
        if last is not None:
            query = query.where(_after(key, last))
        rows = conn.execute(query).mappings().all()
        for row in rows:
            yield dict(row)
        if len(rows) < page_rows:
            return
        last = tuple(rows[-1][column.name] for column in key)


def _after(key: list[Column[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows after `last` in key order, spelt (a > x) OR (a = x AND b > y): MariaDB reads
    that as a range of the primary key, where it scans the whole index for the row
    comparison (a, b) > (x, y)."""
    return or_(
        *(and_(*(key[j] == last[j] for j in range(i)), key[i] > last[i]) for i in range(len(key)))
    )


def _counted(rows: Iterator[dict[str, Any]], advance: Any) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield row
        advance(1)
