"""The dispatcher's database side: destination leases and delivery outcomes.

A destination is sent to by one process at a time, the holder of its lease
(`alert_destinations.lease_owner` = host:pid until `lease_expires_at`), so its alerts
leave in the order they were written. The holder renews the lease before each send; a
holder that dies (SIGKILL, a lost pod) stops renewing and any dispatcher takes the
destination over once the lease expires, resending the alert that was in flight: at
least once, never lost. A delivery waiting for its retry holds back the later ones of
its destination (order first), until it is delivered or has failed for good.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update

from api.alerts.delivery import Alert
from api.db.engine import utcnow
from api.db.schema import alert_deliveries, alert_destinations

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
MAX_ERROR_CHARS = 500

_dest = alert_destinations.c
_del = alert_deliveries.c


def due_destinations(conn: Connection, now: datetime) -> list[str]:
    """Destinations with an alert due and no live lease held on them."""
    rows = conn.execute(
        select(_del.destination_id)
        .join(alert_destinations, _dest.destination_id == _del.destination_id)
        .where(
            _del.status == PENDING,
            _del.next_attempt_at <= now,
            or_(_dest.lease_owner.is_(None), _dest.lease_expires_at < now),
        )
        .distinct()
    )
    return [row.destination_id for row in rows]


def _lease_free_or_mine(owner: str, now: datetime) -> Any:
    free = or_(_dest.lease_owner.is_(None), _dest.lease_expires_at < now)
    return or_(free, _dest.lease_owner == owner)


def claim(conn: Connection, destination_id: str, owner: str, lease_seconds: float) -> bool:
    """Take (or renew) the destination's lease; False when another process holds it."""
    now = utcnow()
    return bool(
        conn.execute(
            update(alert_destinations)
            .where(_dest.destination_id == destination_id, _lease_free_or_mine(owner, now))
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
        ).rowcount
    )


def release(conn: Connection, owner: str, destination_id: str | None = None) -> None:
    """Give up the lease on one destination, or (None) every lease `owner` holds."""
    where = [_dest.lease_owner == owner]
    if destination_id is not None:
        where.append(_dest.destination_id == destination_id)
    conn.execute(
        update(alert_destinations).where(*where).values(lease_owner=None, lease_expires_at=None)
    )


def destination_row(conn: Connection, destination_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(alert_destinations).where(_dest.destination_id == destination_id))
    found = row.mappings().first()
    return dict(found) if found else None


def pending(conn: Connection, destination_id: str, limit: int) -> list[dict[str, Any]]:
    """The destination's undelivered alerts, oldest first."""
    rows = conn.execute(
        select(_del.delivery_id, _del.alert_id, _del.payload, _del.camera_id, _del.person_id)
        .add_columns(_del.attempts, _del.next_attempt_at)
        .where(_del.destination_id == destination_id, _del.status == PENDING)
        .order_by(_del.delivery_id)
        .limit(limit)
    )
    return [dict(row) for row in rows.mappings()]


def as_alert(row: dict[str, Any]) -> Alert:
    return Alert(row["alert_id"], row["payload"], row["camera_id"], row["person_id"])


def mark_delivered(conn: Connection, delivery_id: int, attempts: int) -> None:
    conn.execute(
        update(alert_deliveries)
        .where(_del.delivery_id == delivery_id, _del.status == PENDING)
        .values(status=DELIVERED, attempts=attempts, delivered_at=utcnow(), last_error=None)
    )


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential (base * 2^(attempts-1), at most cap) with jitter: half of it fixed, the
    other half random, so receivers coming back are not hit by every retry at once."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # jitter, not a secret


def mark_failed_attempt(
    conn: Connection, delivery_id: int, attempts: int, error: str, retry_in: float | None
) -> None:
    """Record a failed attempt: retried after `retry_in` seconds, or (None) failed for good."""
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:MAX_ERROR_CHARS]}
    if retry_in is None:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = utcnow() + timedelta(seconds=retry_in)
    conn.execute(
        update(alert_deliveries)
        .where(_del.delivery_id == delivery_id, _del.status == PENDING)
        .values(values)
    )
