"""Recognition counts for charts: per camera, and per hour (known vs unknown faces).

Counting is done by the database (a busy camera has far more events than a chart has
bars). Hours are whole hours since 1970-01-01 of the stored naive-UTC times, an integer
both SQLite and MariaDB compute exactly; the expression is the one dialect-specific
piece of SQL in the data layer, so each dialect compiles it its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from api.db.schema import recognition_events

EPOCH = datetime(1970, 1, 1)
HOUR = timedelta(hours=1)


class EpochHour(FunctionElement):
    """Whole hours since 1970-01-01 00:00 of a naive-UTC DATETIME expression."""

    type = Integer()
    inherit_cache = True
    name = "epoch_hour"


@compiles(EpochHour, "sqlite")
def _epoch_hour_sqlite(element: EpochHour, compiler: Any, **kw: Any) -> str:
    return f"(CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER) / 3600)"


@compiles(EpochHour, "mysql")
@compiles(EpochHour, "mariadb")
def _epoch_hour_mysql(element: EpochHour, compiler: Any, **kw: Any) -> str:
    return f"TIMESTAMPDIFF(HOUR, '1970-01-01 00:00:00', {compiler.process(element.clauses, **kw)})"


def hour_index(moment: datetime) -> int:
    return int((moment - EPOCH) // HOUR)


@dataclass(frozen=True)
class HourCount:
    hour: datetime
    known: int
    unknown: int


def hourly_counts(
    conn: Connection, camera_id: str | None, since: datetime, until: datetime
) -> list[HourCount]:
    """One entry per hour from `since` (a whole hour) up to `until` (exclusive), zeros
    included, so a chart needs no gap filling."""
    table = recognition_events.c
    hour = EpochHour(table.captured_at)
    where = (table.captured_at >= since) & (table.captured_at < until)
    if camera_id is not None:
        where &= table.camera_id == camera_id
    rows = conn.execute(
        select(hour, func.count(), func.count(table.person_id)).where(where).group_by(hour)
    ).all()
    counted = {int(row[0]): (int(row[1]), int(row[2])) for row in rows}
    first, last = hour_index(since), hour_index(until - timedelta(microseconds=1))
    result = []
    for index in range(first, last + 1):
        total, known = counted.get(index, (0, 0))
        result.append(HourCount(hour=EPOCH + index * HOUR, known=known, unknown=total - known))
    return result


def cameras(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Cameras that reported events, most recently active first."""
    table = recognition_events.c
    last = func.max(table.captured_at)
    rows = conn.execute(
        select(
            table.camera_id,
            func.count().label("events"),
            func.count(table.person_id).label("known"),
            last.label("last_event_at"),
        )
        .group_by(table.camera_id)
        .order_by(last.desc(), table.camera_id)
        .limit(limit)
    ).all()
    return [
        {
            "camera_id": row.camera_id,
            "events": int(row.events),
            "known": int(row.known),
            "unknown": int(row.events) - int(row.known),
            "last_event_at": row.last_event_at,
        }
        for row in rows
    ]
