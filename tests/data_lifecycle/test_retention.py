"""Retention: events deleted by capture time (known and unknown limits), batch-wise, by
one lease holder, leaving no bytes in SQLite files; on SQLite and MariaDB."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
    update,
)

from api.db import leases
from api.db.engine import create_db_engine, utcnow
from api.db.migrations import upgrade_schema
from api.db.schema import leases as leases_table
from api.db.schema import metadata, recognition_events
from api.retention.purge import EVENTS, UNKNOWN_FACES, RetentionLimits, purge_expired
from api.retention.worker import LEASE_NAME, RetentionWorker
from tests.databases import DATABASE_KINDS, scratch_database_url

LIMITS = RetentionLimits(event_days=30, unknown_face_days=7)


def _add_events(
    engine: Engine, ages_days: list[float], person_id: str | None, location: str = "door"
) -> list[int]:
    now = utcnow()
    ids = []
    with engine.begin() as conn:
        for age in ages_days:
            captured = now - timedelta(days=age)
            ids.append(
                conn.execute(
                    insert(recognition_events).values(
                        captured_at=captured,
                        received_at=now,
                        camera_id="cam-1",
                        location=location,
                        person_id=person_id,
                        confidence=0.9 if person_id else None,
                        similarity=0.8,
                        box_left=1,
                        box_top=2,
                        box_right=30,
                        box_bottom=40,
                    )
                ).inserted_primary_key[0]
            )
    return ids


def _remaining(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(recognition_events.c.event_id)).scalars())


def test_purge_by_capture_time_with_known_and_unknown_limits(engine: Engine) -> None:
    old_known, kept_known, fresh_known = _add_events(engine, [31, 29, 1], "alice")
    old_unknown, very_old_unknown, kept_unknown = _add_events(engine, [8, 31, 6], None)

    result = purge_expired(engine, LIMITS, utcnow(), batch_size=100)

    assert _remaining(engine) == {kept_known, fresh_known, kept_unknown}
    # Unknown faces go first (their limit is the shorter), so the 31-day stranger is one.
    assert result.deleted == {UNKNOWN_FACES: 2, EVENTS: 1}
    assert result.stopped is None
    assert old_known not in _remaining(engine)
    assert {old_unknown, very_old_unknown}.isdisjoint(_remaining(engine))
    # Nothing left to do: a second purge deletes nothing.
    assert purge_expired(engine, LIMITS, utcnow(), batch_size=100).total == 0


@pytest.mark.parametrize(
    ("limits", "kept"),
    [
        (RetentionLimits(event_days=0, unknown_face_days=7), {"K31", "K29", "U6"}),
        (RetentionLimits(event_days=30, unknown_face_days=0), {"K29", "U8", "U6"}),
        (RetentionLimits(event_days=0, unknown_face_days=0), {"K31", "K29", "U31", "U8", "U6"}),
    ],
    ids=["events-kept-forever", "unknown-faces-by-event-limit", "both-off"],
)
def test_zero_disables_a_limit(engine: Engine, limits: RetentionLimits, kept: set[str]) -> None:
    """K = a known person's event, U = an unknown face's; the number is its age in days."""
    ids = dict(zip(["K31", "K29"], _add_events(engine, [31, 29], "alice"), strict=True))
    ids |= dict(zip(["U31", "U8", "U6"], _add_events(engine, [31, 8, 6], None), strict=True))
    purge_expired(engine, limits, utcnow(), batch_size=100)
    assert _remaining(engine) == {ids[label] for label in kept}


@contextmanager
def _deleted_rows_per_statement(engine: Engine, table: str) -> Iterator[list[int]]:
    """The rows each DELETE on `table` removed, in the order they ran."""
    counts: list[int] = []

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith(f"DELETE FROM {table.upper()} "):
            counts.append(cursor.rowcount)

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield counts
    finally:
        event.remove(engine, "after_cursor_execute", after)


def test_purge_deletes_in_bounded_batches(engine: Engine) -> None:
    _add_events(engine, [10] * 25, None)
    _add_events(engine, [40] * 12, "alice")
    fresh = set(_add_events(engine, [1] * 5, None))
    renewals = []

    with _deleted_rows_per_statement(engine, "recognition_events") as deletes:
        result = purge_expired(
            engine,
            LIMITS,
            utcnow(),
            batch_size=10,
            between_batches=lambda: renewals.append(1),
        )

    assert deletes == [10, 10, 5, 10, 2]  # unknown faces, then events; never over 10
    assert result.batches == 5 and len(renewals) == 5
    assert result.deleted == {UNKNOWN_FACES: 25, EVENTS: 12}
    assert _remaining(engine) == fresh


def test_purge_stops_between_batches_when_told(engine: Engine) -> None:
    _add_events(engine, [10] * 25, None)
    result = purge_expired(engine, LIMITS, utcnow(), batch_size=10, between_batches=lambda: "stop")
    assert result.stopped == "stop" and result.batches == 1
    assert result.deleted[UNKNOWN_FACES] == 10
    assert len(_remaining(engine)) == 15


@pytest.fixture(params=DATABASE_KINDS)
def engine_with_child_table(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Engine, MetaData, Table]]:
    """The schema plus a table of rows keyed by event, as sighting faces (issue 13) and
    alert deliveries (issue 15) will be: only a foreign key declares the dependency."""
    extended = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(extended)
    child = Table(
        "event_children",
        extended,
        Column("child_id", Integer, primary_key=True),
        Column(
            "event_id",
            recognition_events.c.event_id.type,
            ForeignKey("recognition_events.event_id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("note", String(32), nullable=False),
    )
    with scratch_database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        extended.create_all(engine)
        yield engine, extended, child
        engine.dispose()


def test_rows_keyed_by_event_go_with_their_event(
    engine_with_child_table: tuple[Engine, MetaData, Table],
) -> None:
    engine, extended, child = engine_with_child_table
    expired = _add_events(engine, [10, 10, 10], None)
    kept = _add_events(engine, [1], None)
    with engine.begin() as conn:
        for event_id in expired + kept + expired:
            conn.execute(insert(child).values(event_id=event_id, note="face crop"))

    with _deleted_rows_per_statement(engine, "event_children") as child_deletes:
        result = purge_expired(engine, LIMITS, utcnow(), batch_size=2, metadata=extended)

    assert result.deleted[UNKNOWN_FACES] == 3
    assert child_deletes == [4, 2]  # two rows per expired event, batch by batch
    with engine.connect() as conn:
        assert conn.execute(select(child.c.event_id)).scalars().all() == kept


def _lease_expiry(engine: Engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(
            select(leases_table.c.expires_at).where(leases_table.c.name == LEASE_NAME)
        ).scalar_one()


def test_one_worker_purges_per_interval_under_the_lease(engine: Engine) -> None:
    _add_events(engine, [10] * 3, None)
    first = RetentionWorker(engine, LIMITS, 3600, batch_size=2, owner="pod-a:1")
    second = RetentionWorker(engine, LIMITS, 3600, batch_size=2, owner="pod-b:1")

    result = first.run_once()
    assert result is not None and result.deleted[UNKNOWN_FACES] == 3
    # The holder keeps the lease until the next purge is due: the others do nothing.
    assert leases.holder(engine, LEASE_NAME)[0] == "pod-a:1"
    assert _lease_expiry(engine) > utcnow() + timedelta(seconds=3500)
    _add_events(engine, [10], None)
    assert second.run_once() is None
    assert len(_remaining(engine)) == 1

    # pod-a died: its lease lapses and pod-b takes the purge over.
    with engine.begin() as conn:
        conn.execute(update(leases_table).values(expires_at=utcnow() - timedelta(seconds=1)))
    result = second.run_once()
    assert result is not None and result.deleted[UNKNOWN_FACES] == 1
    assert leases.holder(engine, LEASE_NAME)[0] == "pod-b:1"


def test_a_stopping_worker_frees_the_lease_after_its_batch(engine: Engine) -> None:
    _add_events(engine, [10] * 5, None)
    worker = RetentionWorker(engine, LIMITS, 3600, batch_size=2, owner="pod-a:1")
    worker.stop(0)
    result = worker.run_once()
    assert result is not None and result.batches == 1
    assert result.stopped == "the worker is stopping"
    assert leases.holder(engine, LEASE_NAME) is None  # the next pod need not wait


def test_purged_faces_leave_no_bytes_in_sqlite_files(tmp_path: Path) -> None:
    database = tmp_path / "facerec.sqlite3"
    engine = create_db_engine(f"sqlite:///{database}")
    upgrade_schema(engine)
    marker = f"stranger-{secrets.token_hex(8)}"
    _add_events(engine, [10] * 50, None, location=marker)

    def files() -> bytes:
        return b"".join(
            path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith(database.name)
        )

    assert marker.encode() in files()  # the test can see the bytes it looks for
    worker = RetentionWorker(engine, LIMITS, 3600, batch_size=20, owner="pod-a:1")
    assert worker.run_once().deleted[UNKNOWN_FACES] == 50
    assert marker.encode() not in files()
    engine.dispose()
