"""The backup archive: one zip file, one JSON-lines part per table, and a manifest.

    manifest.json          format, schema revision, and per table: part, rows, sha256
    tables/<table>.jsonl   one JSON object per row (bytes base64, times ISO 8601)

Table-driven: every table of `api.db.schema.metadata` is exported unless `EXCLUDED`
names it with the reason, so a table added by a later revision (sighting faces, cameras,
alert rules) is backed up without touching this code; a test fails when a table is in
neither. Parts are written and read as streams (zip64, deflate level 1), so neither side
holds a table in memory. The sha256 of each part is checked before an import writes
anything; zip's own CRC catches damage in the manifest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from api.db import schema

FORMAT = "facerec-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

# Tables a restore must not (or need not) carry, and why.
EXCLUDED: dict[str, str] = {
    "api_keys": "credentials never leave the database: issue new keys on the restored service",
    "training_jobs": "history of trainings whose model files (MODEL_DIR) are not in the "
    "archive: train once on the restored service",
    "gallery_state": "the workers' reload counter, seeded by the migrations: the import "
    "bumps it instead",
    "gallery_changes": "the log of incremental gallery reloads, meaningful only next to "
    "gallery_state's old value: the bumped counter makes workers reload in full",
    "leases": "which process runs a periodic job now: operational, expires by itself",
}
# alembic_version is not in `metadata`: the manifest records the revision instead.


class ArchiveError(Exception):
    """The archive cannot be written or restored (said in one line)."""


def exported_tables() -> list[str]:
    """The tables an archive holds, parents before children (the order of an import)."""
    return [table.name for table in schema.metadata.sorted_tables if table.name not in EXCLUDED]


def part_name(table: str) -> str:
    return f"tables/{table}.jsonl"


def encode_row(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, default=_json_value, separators=(",", ":")) + "\n").encode()


def _json_value(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot archive a {type(value).__name__}")


@dataclass(frozen=True)
class PartInfo:
    table: str
    rows: int
    sha256: str


class ArchiveWriter:
    """Writes parts one after the other, then the manifest (`close`)."""

    def __init__(self, path: Path, revision: str, created_at: datetime) -> None:
        self.revision = revision
        self.created_at = created_at
        self.parts: list[PartInfo] = []
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)

    def write_part(self, table: str, rows: Iterator[dict[str, Any]]) -> PartInfo:
        digest = hashlib.sha256()
        count = 0
        with self._zip.open(part_name(table), "w", force_zip64=True) as part:
            for row in rows:
                line = encode_row(row)
                digest.update(line)
                part.write(line)
                count += 1
        info = PartInfo(table, count, digest.hexdigest())
        self.parts.append(info)
        return info

    def close(self) -> None:
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_revision": self.revision,
            "created_at": self.created_at.isoformat(),
            "tables": {
                info.table: {
                    "part": part_name(info.table),
                    "rows": info.rows,
                    "sha256": info.sha256,
                }
                for info in self.parts
            },
            "excluded": EXCLUDED,
        }
        self._zip.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
        self._zip.close()


@dataclass(frozen=True)
class Manifest:
    revision: str
    tables: dict[str, PartInfo]

    @property
    def rows(self) -> int:
        return sum(info.rows for info in self.tables.values())


class ArchiveReader:
    """Reads a manifest and streams its parts; every kind of damage is an ArchiveError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            raw = json.loads(self._zip.read(MANIFEST))
            if raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
                raise ArchiveError(f"{path} is not a {FORMAT} of version {FORMAT_VERSION}")
            self.manifest = Manifest(
                revision=str(raw["schema_revision"]),
                tables={
                    table: PartInfo(table, int(part["rows"]), str(part["sha256"]))
                    for table, part in raw["tables"].items()
                },
            )
        except ArchiveError:
            raise
        except FileNotFoundError:
            raise ArchiveError(f"{path}: no such file") from None
        except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, TypeError, AttributeError):
            raise ArchiveError(f"{path} is damaged: its manifest cannot be read") from None

    def verify(self, advance: Callable[[int], object] = lambda _: None) -> None:
        """Check every part's row count and sha256 against the manifest (reads it all);
        `advance(1)` after each row (a progress bar)."""
        for info in self.manifest.tables.values():
            digest = hashlib.sha256()
            rows = 0
            for line in self._lines(info.table):
                digest.update(line)
                rows += 1
                advance(1)
            if digest.hexdigest() != info.sha256 or rows != info.rows:
                raise ArchiveError(
                    f"{self.path} is damaged: part {part_name(info.table)} does not match "
                    "its checksum in the manifest"
                )

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        """The rows of `table` as the JSON decoded them (decode values with the table)."""
        for line in self._lines(table):
            yield json.loads(line)

    def _lines(self, table: str) -> Iterator[bytes]:
        try:
            with self._zip.open(part_name(table)) as part:
                yield from part
        except (zipfile.BadZipFile, zlib.error, KeyError, EOFError, OSError):
            raise ArchiveError(
                f"{self.path} is damaged: part {part_name(table)} cannot be read"
            ) from None

    def close(self) -> None:
        self._zip.close()
