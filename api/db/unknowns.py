"""Unknown groups as stored: the `unknown_id` of unknown sightings, listed, read, relabelled.

A group is no row of its own: it is the sightings nobody was recognised in (person_id
NULL) that carry its `unknown_id`; an operator's "Dismiss" is a row of
`unknown_dismissals`. So a retention purge, a person's enrolment or a re-grouping changes
groups by changing events, in the transactions that change them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, insert, select, true, update

from api.db.engine import utcnow
from api.db.schema import recognition_events, sighting_faces, unknown_dismissals

SAMPLES = 5  # sample_event_ids per group
_events = recognition_events.c


@dataclass(frozen=True)
class UnknownFilter:
    since: datetime | None = None
    camera_id: str | None = None
    min_sightings: int = 1


@dataclass(frozen=True)
class GroupFace:
    """One sighting of a group with its stored face, for naming the group."""

    event_id: int
    quality: float
    jpeg: bytes
    vector: np.ndarray


def _unknown(where: UnknownFilter | None = None) -> Any:
    clauses = [_events.person_id.is_(None), _events.unknown_id.is_not(None)]
    if where is not None and where.since is not None:
        clauses.append(_events.captured_at >= where.since)
    if where is not None and where.camera_id is not None:
        clauses.append(_events.camera_id == where.camera_id)
    return and_(true(), *clauses)


def list_groups(
    conn: Connection, where: UnknownFilter, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Groups with at least `min_sightings` matching sightings, last seen first."""
    dismissed = select(unknown_dismissals.c.unknown_id)
    groups = (
        select(
            _events.unknown_id,
            func.count().label("sightings"),
            func.min(_events.captured_at).label("first_seen"),
            func.max(_events.captured_at).label("last_seen"),
        )
        .where(_unknown(where), _events.unknown_id.not_in(dismissed))
        .group_by(_events.unknown_id)
        .having(func.count() >= where.min_sightings)
    )
    total = int(conn.execute(select(func.count()).select_from(groups.subquery())).scalar_one())
    rows = conn.execute(
        groups.order_by(func.max(_events.captured_at).desc(), _events.unknown_id)
        .offset(offset)
        .limit(limit)
    ).all()
    ids = [row.unknown_id for row in rows]
    cameras: dict[str, set[str]] = {i: set() for i in ids}
    samples: dict[str, list[int]] = {i: [] for i in ids}
    if ids:
        members = conn.execute(
            select(_events.unknown_id, _events.camera_id, _events.event_id)
            .select_from(recognition_events.join(sighting_faces))
            .where(_unknown(where), _events.unknown_id.in_(ids))
            .order_by(_events.quality.desc(), _events.event_id.desc())
        ).all()
        for member in members:
            cameras[member.unknown_id].add(member.camera_id)
            if len(samples[member.unknown_id]) < SAMPLES:
                samples[member.unknown_id].append(member.event_id)
    items = [
        {
            "unknown_id": row.unknown_id,
            "sightings": int(row.sightings),
            "cameras": sorted(cameras[row.unknown_id]),
            "first_seen": row.first_seen,
            "last_seen": row.last_seen,
            "sample_event_ids": samples[row.unknown_id],
        }
        for row in rows
    ]
    return items, total


def group_size(conn: Connection, unknown_id: str) -> int:
    """How many unknown sightings carry `unknown_id` (0: no such group)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(recognition_events)
            .where(_unknown(), _events.unknown_id == unknown_id)
        ).scalar_one()
    )


def best_faces(
    conn: Connection, unknown_id: str, embedder: str, min_quality: float, limit: int
) -> list[GroupFace]:
    """The group's stored faces of `embedder` at or above `min_quality`, best first."""
    rows = conn.execute(
        select(
            _events.event_id,
            _events.quality,
            sighting_faces.c.image,
            sighting_faces.c.vector,
        )
        .select_from(recognition_events.join(sighting_faces))
        .where(
            _unknown(),
            _events.unknown_id == unknown_id,
            _events.quality >= min_quality,
            sighting_faces.c.embedder == embedder,
        )
        .order_by(_events.quality.desc(), _events.event_id)
        .limit(limit)
    ).all()
    return [
        GroupFace(row.event_id, float(row.quality), row.image, np.frombuffer(row.vector, "<f4"))
        for row in rows
    ]


def name_group(conn: Connection, unknown_id: str, person_id: str) -> int:
    """Give the group's sightings to `person_id`; how many."""
    return conn.execute(
        update(recognition_events)
        .where(_unknown(), _events.unknown_id == unknown_id)
        .values(person_id=person_id)
    ).rowcount


def merge_groups(conn: Connection, unknown_id: str, into: str) -> int:
    """Move the sightings of group `unknown_id` into group `into`; how many."""
    return conn.execute(
        update(recognition_events)
        .where(_unknown(), _events.unknown_id == unknown_id)
        .values(unknown_id=into)
    ).rowcount


def set_groups(conn: Connection, assignments: dict[str, Iterable[int]]) -> int:
    """Give each listed event the group it maps to, where it is still unknown; how many."""
    changed = 0
    for unknown_id, event_ids in assignments.items():
        ids = sorted(event_ids)
        for start in range(0, len(ids), 1000):
            changed += conn.execute(
                update(recognition_events)
                .where(_events.event_id.in_(ids[start : start + 1000]))
                .where(_events.person_id.is_(None))
                .values(unknown_id=unknown_id)
            ).rowcount
    return changed


def dismiss(conn: Connection, unknown_id: str, key_id: str | None) -> None:
    """Leave the group out of the list from now on (idempotent)."""
    exists = conn.execute(
        select(unknown_dismissals.c.unknown_id).where(unknown_dismissals.c.unknown_id == unknown_id)
    ).first()
    if exists is None:
        conn.execute(
            insert(unknown_dismissals).values(
                unknown_id=unknown_id, key_id=key_id, dismissed_at=utcnow()
            )
        )


@dataclass(frozen=True)
class UnknownVectors:
    """Unknown sightings' embeddings for re-grouping, newest first."""

    event_ids: np.ndarray
    unknown_ids: list[str | None]
    vectors: np.ndarray


def recent_unknown_vectors(
    conn: Connection, embedder: str, dim: int, min_quality: float, limit: int
) -> UnknownVectors:
    """The newest `limit` unknown sightings of `min_quality` with a face of `embedder`."""
    rows = conn.execute(
        select(_events.event_id, _events.unknown_id, sighting_faces.c.vector)
        .select_from(recognition_events.join(sighting_faces))
        .where(
            _events.person_id.is_(None),
            _events.quality >= min_quality,
            sighting_faces.c.embedder == embedder,
            sighting_faces.c.dim == dim,
        )
        .order_by(_events.event_id.desc())
        .limit(limit)
    ).all()
    vectors = np.frombuffer(b"".join(row.vector for row in rows), dtype="<f4")
    return UnknownVectors(
        event_ids=np.array([row.event_id for row in rows], dtype=np.int64),
        unknown_ids=[row.unknown_id for row in rows],
        vectors=vectors.reshape(len(rows), dim),
    )


def unknown_ids_of(conn: Connection, event_ids: list[int]) -> dict[int, str]:
    """The group of each listed event that is an unknown, grouped sighting.

    Only the primary key in the query, the rest checked here: given `unknown_id IS NOT
    NULL` too, SQLite's planner walks ix_events_unknown (every grouped sighting) instead
    of looking the few ids up (38 ms against 5 at 50,000 sightings, on a loaded machine).
    """
    if not event_ids:
        return {}
    rows = conn.execute(
        select(_events.event_id, _events.person_id, _events.unknown_id).where(
            _events.event_id.in_(event_ids)
        )
    ).all()
    return {
        row.event_id: row.unknown_id
        for row in rows
        if row.person_id is None and row.unknown_id is not None
    }
