"""Deleting recognition events older than their retention limit, in bounded batches.

Two limits, both by capture time: every event after EVENT_RETENTION_DAYS, and an unknown
face's event (no person) after UNKNOWN_FACE_RETENTION_DAYS, shorter by default: a
stranger's face is kept for less time than a known person's sighting. 0 disables a limit.

Each batch is one short transaction: read up to `batch_size` expired event ids (through
the `captured_at` indexes), delete the rows of every table that refers to those events,
then the events themselves by primary key. InnoDB then locks only those rows and their
index gaps, for one batch's time, so recognitions keep inserting events while a million
rows go; an interrupted purge has lost nothing and the next one continues.

Dependent rows (sighting faces, alert deliveries, ...): any table of `api.db.schema`
with a foreign key to `recognition_events.event_id` is found here and its rows are
deleted by event id in the event's batch, before the event: a new table needs nothing
but that foreign key (declared `ondelete="CASCADE"` too, so a person deletion that takes
the person's events, and any hand-made DELETE, behave the same). Explicit deletion does
not depend on SQLite's `foreign_keys` pragma and bounds each child table's lock the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, MetaData, Table, delete, select

from api.db import schema

EVENTS = "event"  # every event past EVENT_RETENTION_DAYS
UNKNOWN_FACES = "unknown_face"  # events of unknown faces past UNKNOWN_FACE_RETENTION_DAYS
KINDS = (UNKNOWN_FACES, EVENTS)


@dataclass(frozen=True)
class RetentionLimits:
    """Days an event is kept; 0 (or less) keeps it forever."""

    event_days: float
    unknown_face_days: float

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Capture time before which each kind is deleted, for the limits that are on."""
        days = {UNKNOWN_FACES: self.unknown_face_days, EVENTS: self.event_days}
        return {kind: now - timedelta(days=d) for kind, d in days.items() if d > 0}


@dataclass
class PurgeResult:
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    batches: int = 0
    stopped: str | None = None  # why it ended before deleting everything expired

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def event_dependents(metadata: MetaData = schema.metadata) -> list[tuple[Table, str]]:
    """(table, column) of every column that refers to `recognition_events.event_id`."""
    return [
        (table, fk.parent.name)
        for table in metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "recognition_events" and fk.column.name == "event_id"
    ]


def purge_expired(
    engine: Engine,
    limits: RetentionLimits,
    now: datetime,
    batch_size: int,
    between_batches: Callable[[], str | None] = lambda: None,
    metadata: MetaData = schema.metadata,
) -> PurgeResult:
    """Delete every event past its limit, `batch_size` at a time.

    `between_batches` runs after each batch (renew the lease, check for a stop): a reason
    it returns ends the purge there, with the batches done so far committed and counted.
    """
    events = metadata.tables["recognition_events"]
    dependents = event_dependents(metadata)
    result = PurgeResult()
    for kind, cutoff in limits.cutoffs(now).items():
        expired = events.c.captured_at < cutoff
        if kind == UNKNOWN_FACES:
            expired = expired & events.c.person_id.is_(None)
        while True:
            deleted = _delete_batch(engine, events, dependents, expired, batch_size)
            if deleted == 0:
                break
            result.deleted[kind] += deleted
            result.batches += 1
            result.stopped = between_batches()
            if result.stopped is not None:
                return result
            if deleted < batch_size:
                break
    return result


def _delete_batch(
    engine: Engine,
    events: Table,
    dependents: list[tuple[Table, str]],
    expired: ColumnElement[bool],
    batch_size: int,
) -> int:
    with engine.begin() as conn:
        ids = (
            # No ORDER BY: the range of a captured_at index, not a scan of the whole table.
            conn.execute(select(events.c.event_id).where(expired).limit(batch_size)).scalars().all()
        )
        if not ids:
            return 0
        for table, column in dependents:
            conn.execute(delete(table).where(table.c[column].in_(ids)))
        conn.execute(delete(events).where(events.c.event_id.in_(ids)))
        return len(ids)
