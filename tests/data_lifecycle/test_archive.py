"""Export and import (`python -m api.data export/import`): every table is exported or
excluded on purpose, the round trip keeps every row, and a damaged, newer or mismatched
archive, or a non-empty target, is refused in one line with nothing written."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select

from api.data.archive import EXCLUDED, MANIFEST, exported_tables, part_name
from api.data.export import export_database
from api.data.restore import import_archive
from api.db.engine import create_db_engine
from api.db.migrations import current_revision, head_revision, revisions_in_order, upgrade_schema
from api.db.schema import face_embeddings, gallery_state, metadata
from tests.data_lifecycle.rows import all_rows, fill_sample
from tests.databases import DATABASE_KINDS, scratch_database_url, sqlite_url
from tests.shared_data import REPO_ROOT


def data_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.data", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_every_table_is_exported_or_excluded_on_purpose() -> None:
    """A table added to the schema is backed up unless excluded here with its reason."""
    exported = set(exported_tables())
    assert exported.isdisjoint(EXCLUDED)
    assert exported | set(EXCLUDED) == set(metadata.tables)
    assert set(EXCLUDED) <= set(metadata.tables), "EXCLUDED names a table that is gone"
    assert all(len(reason) > 20 for reason in EXCLUDED.values())
    assert "api_keys" in EXCLUDED  # never key secrets (not even their hashes)
    assert {"people", "face_images", "face_embeddings", "recognition_events"} <= exported


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[tuple]]]:
    """An archive of a SQLite database with people, faces, embeddings, events and a key,
    made by the command; with the rows it holds."""
    folder = tmp_path_factory.mktemp("export")
    url = sqlite_url(folder)
    engine = create_db_engine(url)
    upgrade_schema(engine)
    fill_sample(engine)
    rows = all_rows(engine, exported_tables())
    engine.dispose()
    out = folder / "backup.zip"
    result = data_command(url, "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    # Tables in dependency order, which any new table may reshuffle: not asserted here.
    assert result.stdout.startswith("exported ") and " 3 people, " in result.stdout
    assert out.stat().st_mode & 0o777 == 0o600  # biometric data: the owner's only
    return out, rows


def test_archive_manifest_counts_revision_and_checksums(archive) -> None:
    path, rows = archive
    with zipfile.ZipFile(path) as bundle:
        manifest = json.loads(bundle.read(MANIFEST))
        assert manifest["schema_revision"] == head_revision()
        assert list(manifest["tables"]) == exported_tables()
        for table, part in manifest["tables"].items():
            data = bundle.read(part_name(table))
            assert part["rows"] == len(rows[table]) == data.count(b"\n")
            assert part["sha256"] == hashlib.sha256(data).hexdigest()
        assert "api_keys" not in "".join(bundle.namelist())
        assert b"0" * 64 not in b"".join(bundle.read(name) for name in bundle.namelist())
    assert rows["face_images"] and rows["recognition_events"]


def test_export_pages_through_every_table_in_key_order(engine: Engine, tmp_path: Path) -> None:
    """Pages of 2 rows over tables of 3 to 12: single and composite keys (two embedders
    per face) continue exactly where the last page ended, on both databases."""
    fill_sample(engine)
    with engine.begin() as conn:
        rows = conn.execute(select(face_embeddings)).mappings().all()
        conn.execute(
            insert(face_embeddings),
            [{**row, "embedder": "facenet512", "vector": row["vector"] * 4} for row in rows],
        )
    expected = all_rows(engine, exported_tables())
    assert len(expected["face_embeddings"]) == 12
    counts = export_database(engine, tmp_path / "paged.zip", page_rows=2)
    assert counts == {name: len(table_rows) for name, table_rows in expected.items()}
    (tmp_path / "target").mkdir()
    target = create_db_engine(sqlite_url(tmp_path / "target"))
    import_archive(target, tmp_path / "paged.zip")
    assert all_rows(target, exported_tables()) == expected
    target.dispose()


@pytest.fixture(params=DATABASE_KINDS)
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) of each kind."""
    with scratch_database_url(request.param, tmp_path) as url:
        yield url


def _inspect(url: str, look: Callable[[Engine], object]) -> object:
    engine = create_db_engine(url)
    try:
        return look(engine)
    finally:
        engine.dispose()


def _table_names(url: str) -> list[str]:
    return _inspect(url, lambda engine: inspect(engine).get_table_names())


def test_import_restores_every_row_and_bumps_the_gallery(archive, target_url: str) -> None:
    path, rows = archive
    result = data_command(target_url, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported ") and " 3 people, " in result.stdout

    def check(engine: Engine) -> None:
        assert all_rows(engine, exported_tables()) == rows
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert conn.execute(select(gallery_state.c.version)).scalar_one() == 1
            assert all_rows(engine, ["api_keys"]) == {"api_keys": []}

    _inspect(target_url, check)
    # Importing again: the database is no longer empty.
    assert_one_line_error(data_command(target_url, "import", str(path)), "not empty")


def _rewrite(
    source: Path,
    target: Path,
    parts: dict[str, bytes] | None = None,
    manifest_changes: dict[str, object] | None = None,
) -> Path:
    """A copy of an archive with some parts replaced (their manifest entries made to match)
    and manifest fields changed: archives a release could have written, or a forger."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        manifest = json.loads(old.read(MANIFEST))
        for name in old.namelist():
            if name != MANIFEST:
                table = name.removeprefix("tables/").removesuffix(".jsonl")
                data = (parts or {}).get(table, old.read(name))
                new.writestr(name, data)
                manifest["tables"][table]["rows"] = data.count(b"\n")
                manifest["tables"][table]["sha256"] = hashlib.sha256(data).hexdigest()
        manifest.update(manifest_changes or {})
        new.writestr(MANIFEST, json.dumps(manifest))
    return target


@pytest.mark.parametrize("where", [0.5, 0.1, 0.9, -30])
def test_damaged_archive_is_refused_with_nothing_written(
    archive, target_url: str, tmp_path: Path, where: float
) -> None:
    """One byte flipped: in a face image, an early part, the manifest, the zip directory."""
    path, _ = archive
    data = bytearray(path.read_bytes())
    offset = int(len(data) * where) if where > 0 else len(data) + int(where)
    data[offset] ^= 0x55
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    assert_one_line_error(data_command(target_url, "import", str(damaged)), "damaged")
    assert _table_names(target_url) == []


def test_archive_of_a_newer_schema_is_refused(archive, target_url: str, tmp_path: Path) -> None:
    path, _ = archive
    newer = _rewrite(path, tmp_path / "newer.zip", manifest_changes={"schema_revision": "ffff"})
    assert_one_line_error(data_command(target_url, "import", str(newer)), "revision ffff")
    assert _table_names(target_url) == []


def test_non_empty_database_is_refused_untouched(archive, target_url: str) -> None:
    path, _ = archive

    def fill(engine: Engine) -> dict[str, list[tuple]]:
        upgrade_schema(engine)
        fill_sample(engine)
        return all_rows(engine, [*exported_tables(), "gallery_state"])

    before = _inspect(target_url, fill)
    assert_one_line_error(data_command(target_url, "import", str(path)), "not empty")
    after = _inspect(target_url, lambda e: all_rows(e, [*exported_tables(), "gallery_state"]))
    assert after == before


def test_import_failing_half_way_leaves_the_database_empty(
    archive, target_url: str, tmp_path: Path
) -> None:
    """The events part repeats a row: people, faces and embeddings are in when the
    database refuses it, and all of them must go with the failed transaction."""
    path, rows = archive
    with zipfile.ZipFile(path) as bundle:
        events = bundle.read(part_name("recognition_events"))
    first = events.splitlines(keepends=True)[0]
    broken = _rewrite(path, tmp_path / "broken.zip", parts={"recognition_events": events + first})
    result = data_command(target_url, "import", str(broken))
    assert_one_line_error(result)
    assert "uplicate" in result.stderr or "UNIQUE" in result.stderr, result.stderr
    assert rows["people"]  # the tables before events had rows to write

    def check(engine: Engine) -> None:
        assert all_rows(engine, exported_tables()) == {name: [] for name in exported_tables()}
        with engine.connect() as conn:
            assert conn.execute(select(gallery_state.c.version)).scalar_one() == 0

    _inspect(target_url, check)


def _as_baseline_archive(source: Path, target: Path, folder: Path) -> Path:
    """The archive as the baseline release would have written it: only the tables and
    columns revision 0001 has (read off a database migrated to exactly that revision)."""
    baseline = revisions_in_order()[0]
    folder.mkdir()
    engine = create_db_engine(sqlite_url(folder))
    upgrade_schema(engine, to=baseline)
    inspector = inspect(engine)
    columns = {
        t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()
    }
    engine.dispose()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        manifest = json.loads(old.read(MANIFEST))
        manifest["schema_revision"] = baseline
        for table in list(manifest["tables"]):
            if table not in columns:
                del manifest["tables"][table]
                continue
            lines = old.read(part_name(table)).splitlines()
            kept = [
                {k: v for k, v in json.loads(line).items() if k in columns[table]} for line in lines
            ]
            data = b"".join(json.dumps(row).encode() + b"\n" for row in kept)
            new.writestr(part_name(table), data)
            manifest["tables"][table]["sha256"] = hashlib.sha256(data).hexdigest()
        new.writestr(MANIFEST, json.dumps(manifest))
    return target


def test_older_archive_is_imported_at_its_revision_then_upgraded(
    archive, target_url: str, tmp_path: Path
) -> None:
    """An archive made at 0001 (only v1's tables and columns) goes in at 0001, then the
    database is upgraded: every row kept, the later tables empty."""
    path, rows = archive
    older = _as_baseline_archive(path, tmp_path / "older.zip", tmp_path / "baseline")
    result = data_command(target_url, "import", str(older))
    assert result.returncode == 0, result.stderr

    def check(engine: Engine) -> None:
        assert all_rows(engine, exported_tables()) == rows
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()

    _inspect(target_url, check)


def test_older_archive_into_a_newer_empty_schema_is_refused(
    archive, target_url: str, tmp_path: Path
) -> None:
    path, _ = archive
    _inspect(target_url, upgrade_schema)
    baseline = revisions_in_order()[0]
    older = _rewrite(path, tmp_path / "older.zip", manifest_changes={"schema_revision": baseline})
    assert_one_line_error(
        data_command(target_url, "import", str(older)), "older than", "without tables"
    )


def test_commands_fail_in_one_line(archive, tmp_path: Path) -> None:
    path, _ = archive
    url = sqlite_url(tmp_path)
    assert_one_line_error(data_command(url, "import", str(tmp_path / "none.zip")), "no such file")
    not_zip = tmp_path / "notes.txt"
    not_zip.write_text("hello")
    assert_one_line_error(data_command(url, "import", str(not_zip)), "damaged")
    _inspect(url, upgrade_schema)
    assert_one_line_error(data_command(url, "export", "--out", str(path)), "exists")
    assert_one_line_error(
        data_command(url, "export", "--out", str(tmp_path / "no-folder" / "x.zip")),
        "No such file",
    )
    assert not list((tmp_path).glob("*.partial"))
