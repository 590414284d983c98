"""The data tools' command line: `python -m api.data {migrate} ...`.

Every command works on the database of `DATABASE_URL` (the service's own setting) and
fails with one line on standard error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from api.config import Settings
from api.db.engine import create_db_engine
from api.db.migrations import MigrationError, head_revision, upgrade_schema


def _migrate(settings: Settings, _: argparse.Namespace) -> str:
    engine = create_db_engine(settings.database_url, settings.db_timeout_seconds)
    try:
        before = upgrade_schema(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if before == head:
        return f"schema already at revision {head}"
    return f"schema upgraded from revision {before or 'none (empty database)'} to {head}"


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(args.run(Settings.from_env(), args))
    except (MigrationError, SQLAlchemyError, OSError, ValueError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    return 0


def _one_line(error: Exception) -> str:
    """The first line of an error, with the driver's wrapping peeled off."""
    message = str(getattr(error, "orig", None) or error)
    return message.splitlines()[0] if message else type(error).__name__
