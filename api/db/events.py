"""Recognition events: every face recognised with a camera_id, for later analysis.

Each event row may have its face (crop and embedding) in `sighting_faces`
(api/db/sightings.py); a listed event says whether it has one (`has_face`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, true

from api.db.engine import utcnow
from api.db.schema import recognition_events, sighting_faces


@dataclass(frozen=True)
class NewEvent:
    captured_at: datetime
    camera_id: str
    location: str | None
    person_id: str | None
    confidence: float | None
    similarity: float | None
    box: tuple[int, int, int, int]
    model_version: str | None
    quality: float | None = None
    unknown_id: str | None = None  # the unknown group (api/unknowns/assign.py)


@dataclass(frozen=True)
class EventFilter:
    person_id: str | None = None
    camera_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    unknown_only: bool = False


def add_events(conn: Connection, events: list[NewEvent]) -> list[int]:
    """Insert `events` in the caller's transaction; their event ids, in order (one
    INSERT each: a multi-row insert does not hand back the keys on both databases)."""
    received_at = utcnow()
    ids = []
    for event in events:
        result = conn.execute(
            insert(recognition_events).values(
                captured_at=event.captured_at,
                received_at=received_at,
                camera_id=event.camera_id,
                location=event.location,
                person_id=event.person_id,
                confidence=event.confidence,
                similarity=event.similarity,
                box_left=event.box[0],
                box_top=event.box[1],
                box_right=event.box[2],
                box_bottom=event.box[3],
                model_version=event.model_version,
                quality=event.quality,
                unknown_id=event.unknown_id,
            )
        )
        ids.append(int(result.inserted_primary_key[0]))
    return ids


def _conditions(where: EventFilter) -> Any:
    table = recognition_events.c
    clauses = []
    if where.person_id is not None:
        clauses.append(table.person_id == where.person_id)
    if where.unknown_only:
        clauses.append(table.person_id.is_(None))
    if where.camera_id is not None:
        clauses.append(table.camera_id == where.camera_id)
    if where.since is not None:
        clauses.append(table.captured_at >= where.since)
    if where.until is not None:
        clauses.append(table.captured_at < where.until)
    return and_(true(), *clauses)


def _event_dict(row: Any) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "captured_at": row.captured_at,
        "received_at": row.received_at,
        "camera_id": row.camera_id,
        "location": row.location,
        "person_id": row.person_id,
        "confidence": row.confidence,
        "similarity": row.similarity,
        "box": {
            "left": row.box_left,
            "top": row.box_top,
            "right": row.box_right,
            "bottom": row.box_bottom,
        },
        "model_version": row.model_version,
        "quality": row.quality,
        "unknown_id": row.unknown_id,
        "corrected": bool(row.corrected),
        "has_face": bool(row.has_face),
    }


def _with_face_flag() -> Any:
    """Events with `has_face` (a primary-key probe of sighting_faces, no image read)."""
    return select(
        recognition_events, sighting_faces.c.event_id.is_not(None).label("has_face")
    ).select_from(recognition_events.outerjoin(sighting_faces))


def query_events(
    conn: Connection, where: EventFilter, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Newest first; `total` counts every match so clients can page."""
    condition = _conditions(where)
    total = int(
        conn.execute(
            select(func.count()).select_from(recognition_events).where(condition)
        ).scalar_one()
    )
    rows = conn.execute(
        _with_face_flag()
        .where(condition)
        .order_by(recognition_events.c.captured_at.desc(), recognition_events.c.event_id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [_event_dict(row) for row in rows], total


def get_event(conn: Connection, event_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        _with_face_flag().where(recognition_events.c.event_id == event_id)
    ).one_or_none()
    return None if row is None else _event_dict(row)


def events_by_id(conn: Connection, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The events of `event_ids` that still exist, by id."""
    if not event_ids:
        return {}
    rows = conn.execute(_with_face_flag().where(recognition_events.c.event_id.in_(event_ids)))
    return {row.event_id: _event_dict(row) for row in rows}


def seen_people(conn: Connection) -> list[str]:
    """Every person with at least one stored sighting, sorted."""
    column = recognition_events.c.person_id
    rows = conn.execute(select(column).where(column.is_not(None)).distinct().order_by(column))
    return [row.person_id for row in rows]


def last_seen(conn: Connection, person_id: str) -> dict[str, Any] | None:
    events, _ = query_events(conn, EventFilter(person_id=person_id), 0, 1)
    return events[0] if events else None
