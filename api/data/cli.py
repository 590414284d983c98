"""The data tools' command line: `python -m api.data {migrate,export,import} ...`.

Every command works on the database of `DATABASE_URL` (the service's own setting) and
fails with one line on standard error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from api.config import Settings
from api.data.archive import ArchiveError
from api.data.export import export_database
from api.data.restore import import_archive
from api.db.engine import engine_from_settings
from api.db.migrations import MigrationError, head_revision, upgrade_schema

T = TypeVar("T")


def _on_database(settings: Settings, work: Callable[[Engine], T]) -> T:
    """`work(engine)` on DATABASE_URL, the engine's connections closed afterwards."""
    engine = engine_from_settings(settings)
    try:
        return work(engine)
    finally:
        engine.dispose()


def _migrate(settings: Settings, _: argparse.Namespace) -> str:
    before = _on_database(settings, upgrade_schema)
    head = head_revision()
    if before == head:
        return f"schema already at revision {head}"
    return f"schema upgraded from revision {before or 'none (empty database)'} to {head}"


def _export(settings: Settings, args: argparse.Namespace) -> str:
    counts = _on_database(settings, lambda engine: export_database(engine, args.out))
    return f"exported {_counts(counts)} to {args.out}"


def _import(settings: Settings, args: argparse.Namespace) -> str:
    counts = _on_database(settings, lambda engine: import_archive(engine, args.file))
    return f"imported {_counts(counts)} from {args.file}"


def _counts(counts: dict[str, int]) -> str:
    """People first (what an operator checks), then every other table that held rows."""
    order = sorted(counts, key=lambda table: (table != "people", table))
    return ", ".join(
        f"{counts[table]} {table}" for table in order if counts[table] or table == "people"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api.data",
        description="Manage the service's data in DATABASE_URL (SQLite or MariaDB).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser(
        "migrate",
        help="upgrade the schema to this release's (the service also does it at start)",
    )
    migrate.set_defaults(run=_migrate)
    export = commands.add_parser(
        "export", help="write every person, face, embedding and event to one archive"
    )
    export.add_argument("--out", type=Path, required=True, help="the archive to create")
    export.set_defaults(run=_export)
    restore = commands.add_parser(
        "import", help="load an archive into an empty database (migrated first)"
    )
    restore.add_argument("file", type=Path, help="an archive made by `export`")
    restore.set_defaults(run=_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(args.run(Settings.from_env(), args))
    except (ArchiveError, MigrationError, SQLAlchemyError, OSError, ValueError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug, or input nobody foresaw: still one line
        print(f"error: unexpected {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return 1
    return 0


def _one_line(error: Exception) -> str:
    """The first line of an error, with the driver's wrapping peeled off."""
    message = str(getattr(error, "orig", None) or error)
    return message.splitlines()[0] if message else type(error).__name__
