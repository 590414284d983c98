"""The outbox: alerts written in the transaction that stores their sightings.

`enqueue_alerts` runs inside that transaction (api/recognition/pipeline.py): if the
sighting is stored, so are its alerts, and if the transaction fails, neither is. Each
(sighting, rule) that fires gives one `alert_deliveries` row with a fresh `alert_id` and
the body every attempt will send, byte for byte; the dispatcher then delivers it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, exists, insert, select, update
from sqlalchemy.dialects import sqlite

from api.alerts.dispatcher import wake_dispatchers
from api.alerts.rules import Rule, rule_from_row, subject_of
from api.db import events as events_db
from api.db.engine import utcnow
from api.db.schema import alert_cooldowns, alert_deliveries, alert_rules
from api.routes.events import event_json
from api.routes.inputs import iso

PENDING = "pending"


def enqueue_alerts(conn: Connection, event_ids: list[int]) -> int:
    """Write the alerts the sightings `event_ids` fire; returns how many."""
    if not event_ids:
        return 0
    rules = [rule_from_row(row) for row in conn.execute(select(alert_rules)).mappings()]
    if not rules:
        return 0
    now = utcnow()
    rows = [
        _delivery(rule, event, now)
        for _, event in sorted(events_db.events_by_id(conn, event_ids).items())
        for rule in rules
        if rule.matches(event) and _cooldown_passed(conn, rule, event)
    ]
    if rows:
        conn.execute(insert(alert_deliveries), rows)
        wake_dispatchers()
    return len(rows)


def alert_body(alert_id: str, rule_id: str | None, event: dict[str, Any] | None) -> str:
    """The JSON every destination receives (webhook body, MQTT payload)."""
    body = {"alert_id": alert_id, "rule_id": rule_id, "event": event}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_json_value)


def _json_value(value: object) -> str:
    """A time the event's JSON left as a datetime, written as the API writes times (a
    field added to sightings later must not fail the transaction that stores one)."""
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _delivery(rule: Rule, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    alert_id = uuid.uuid4().hex
    return {
        "alert_id": alert_id,
        "rule_id": rule.rule_id,
        "destination_id": rule.destination_id,
        "event_id": event["event_id"],
        "camera_id": event["camera_id"],
        "person_id": event["person_id"],
        "payload": alert_body(alert_id, rule.rule_id, event_json(event)),
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _cooldown_passed(conn: Connection, rule: Rule, event: dict[str, Any]) -> bool:
    """Whether the rule may fire for this subject and camera now; if so, restart the
    cooldown (in this transaction: a rolled-back sighting fires nothing and keeps none).

    The decision is one conditional UPDATE of an existing row, which the database
    serialises: of two workers seeing the same person at once, one fires. The row is
    created first if missing, in a transaction of its own on MariaDB (an UPDATE of a row
    that does not exist would take a gap lock, and two such sightings would deadlock
    inserting it); SQLite has one writer at a time, so there it is this transaction's.
    """
    if rule.cooldown_seconds == 0:
        return True
    key = {"rule_id": rule.rule_id, "subject": subject_of(event), "camera_id": event["camera_id"]}
    where = [getattr(alert_cooldowns.c, name) == value for name, value in key.items()]
    if not conn.execute(select(exists().where(*where))).scalar():
        _create_cooldown(conn, key)
    at = event["captured_at"]
    ended = alert_cooldowns.c.last_fired_at <= at - timedelta(seconds=rule.cooldown_seconds)
    fired = conn.execute(
        update(alert_cooldowns).where(*where, ended).values(last_fired_at=at)
    ).rowcount
    return bool(fired)


NEVER = datetime(1970, 1, 1)


def _create_cooldown(conn: Connection, key: dict[str, str]) -> None:
    values = {**key, "last_fired_at": NEVER}
    if conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(alert_cooldowns).values(values).on_conflict_do_nothing())
        return
    with conn.engine.begin() as own:
        own.execute(insert(alert_cooldowns).values(values).prefix_with("IGNORE"))
