"""The data lifecycle in the served application (real gunicorn workers, real models):
a SQLite deployment moved to MariaDB by export and import recognises the same people,
and the workers purge expired events once, under the lease, logging and counting it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests

from api.db.engine import create_db_engine
from api.db.migrations import upgrade_schema
from tests.api.client import create_person, enrol, recognize
from tests.api.conftest import start_api
from tests.api.test_identification import strangers
from tests.data_lifecycle.rows import all_rows
from tests.data_lifecycle.test_archive import data_command
from tests.data_lifecycle.test_retention import _add_events, _remaining
from tests.databases import mariadb_database, sqlite_url
from tests.shared_data import ident20_people

PEOPLE = 4
ENROLLED = 2  # images per person; the next two are the probes


def _recognised(url: str, probes: list[Path]) -> list[str | None]:
    """The person named for the largest face of each probe (stored as an event)."""
    names = []
    for probe in probes:
        response = recognize(url, probe, camera_id="door-1")
        assert response.status_code == 200, response.text
        faces = response.json()["faces"]
        largest = max(
            faces,
            key=lambda f: (
                (f["box"]["right"] - f["box"]["left"]) * (f["box"]["bottom"] - f["box"]["top"])
            ),
        )
        names.append(largest["person_id"])
    return names


@pytest.mark.mariadb
def test_sqlite_deployment_moved_to_mariadb_recognises_the_same_people(tmp_path: Path) -> None:
    people = dict(list(ident20_people().items())[:PEOPLE])
    probes = [image for images in people.values() for image in images[ENROLLED : ENROLLED + 2]]
    probes += strangers(2)
    source_url = sqlite_url(tmp_path / "sqlite")
    (tmp_path / "sqlite").mkdir()
    source = start_api(tmp_path / "sqlite", source_url, workers=1)
    try:
        for person_id, images in people.items():
            assert create_person(source.url, person_id).status_code == 201
            assert len(enrol(source.url, person_id, images[:ENROLLED])["faces"]) == ENROLLED
        before = _recognised(source.url, probes)
    finally:
        source.stop()
    assert before[: 2 * PEOPLE] == [p for p in people for _ in range(2)]  # the test is fair
    assert before[-2:] == [None, None]

    archive = tmp_path / "move.zip"
    exported = data_command(source_url, "export", "--out", str(archive))
    assert exported.returncode == 0, exported.stderr
    with mariadb_database() as target_url:
        imported = data_command(target_url, "import", str(archive))
        assert imported.returncode == 0, imported.stderr
        engines = [create_db_engine(source_url), create_db_engine(target_url)]
        rows = [
            all_rows(engine, ["people", "face_images", "recognition_events"]) for engine in engines
        ]
        for engine in engines:
            engine.dispose()
        assert _single_precision(rows[0]) == _single_precision(rows[1])
        assert len(rows[1]["recognition_events"]) == len(probes)

        target = start_api(tmp_path / "mariadb", target_url, workers=2)
        try:
            after = _recognised(target.url, probes)
            listed = requests.get(f"{target.url}/api/v1/people", timeout=30).json()
        finally:
            target.stop()
    assert after == before
    assert sorted(person["person_id"] for person in listed["items"]) == sorted(people)


def test_workers_purge_expired_events_once_and_count_them(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    engine = create_db_engine(url)
    upgrade_schema(engine)
    _add_events(engine, [10] * 40, None)  # strangers past UNKNOWN_FACE_RETENTION_DAYS
    _add_events(engine, [40] * 3, "alice")  # sightings past EVENT_RETENTION_DAYS
    kept = set(_add_events(engine, [2] * 5, None) + _add_events(engine, [20] * 2, "alice"))
    server = start_api(tmp_path, url, workers=2, PURGE_INTERVAL_SECONDS="1", PURGE_BATCH_SIZE="7")
    try:
        deadline = time.monotonic() + 60
        while _remaining(engine) != kept and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _remaining(engine) == kept
        counted = None
        for _ in range(40):  # each scrape reaches one worker: find the one that purged
            text = requests.get(f"{server.url}/metrics", timeout=10).text
            found = dict(
                re.findall(r'facerec_retention_purged_rows_total\{kind="(\w+)"\} (\S+)', text)
            )
            if float(found.get("unknown_face", 0)):
                counted = found
                break
        assert counted is not None and float(counted["unknown_face"]) == 40
        assert float(counted["event"]) == 3
        assert "facerec_retention_last_purge_timestamp_seconds" in text
    finally:
        server.stop()
        engine.dispose()
    purges = [
        entry
        for entry in map(_json_or_none, (tmp_path / "gunicorn.log").read_text().splitlines())
        if entry and entry.get("message") == "retention purge"
    ]
    assert sum(entry["purged_unknown_faces"] for entry in purges) == 40
    assert sum(entry["purged_events"] for entry in purges) == 3
    assert len({entry["pid"] for entry in purges if entry["batches"]}) == 1
    assert max(entry["batches"] for entry in purges) == 7  # 40 = 5 x 7 + 5, then 3


def _single_precision(rows: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """MariaDB's FLOAT columns (boxes, scores) hold single precision, read back as six
    significant digits; SQLite's hold doubles: a moved value is what MariaDB would have
    given had it been written there."""
    return {
        table: [
            tuple(float(f"{v:.6g}") if isinstance(v, float) else v for v in row)
            for row in table_rows
        ]
        for table, table_rows in rows.items()
    }


def _json_or_none(line: str) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:
        return None
