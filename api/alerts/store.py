"""Destinations, rules and deliveries as the API manages and lists them."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from api.db.engine import utcnow
from api.db.schema import alert_deliveries, alert_destinations, alert_rules


def new_id() -> str:
    return secrets.token_hex(8)


def add_destination(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    row = {"destination_id": new_id(), "created_at": utcnow(), **values}
    conn.execute(insert(alert_destinations).values(row))
    return row


def list_destinations(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(alert_destinations).order_by(alert_destinations.c.created_at))
    return [dict(row) for row in rows.mappings()]


def get_destination(conn: Connection, destination_id: str) -> dict[str, Any] | None:
    found = conn.execute(
        select(alert_destinations).where(alert_destinations.c.destination_id == destination_id)
    ).mappings()
    row = found.first()
    return dict(row) if row else None


def delete_destination(conn: Connection, destination_id: str) -> bool:
    """Removes its rules and undelivered alerts with it (foreign keys cascade)."""
    table = alert_destinations
    removed = conn.execute(delete(table).where(table.c.destination_id == destination_id))
    return bool(removed.rowcount)


def add_rule(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    row = {"rule_id": new_id(), "created_at": utcnow(), **values}
    conn.execute(insert(alert_rules).values(row))
    return row


def list_rules(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(alert_rules).order_by(alert_rules.c.created_at))
    return [dict(row) for row in rows.mappings()]


def delete_rule(conn: Connection, rule_id: str) -> bool:
    return bool(conn.execute(delete(alert_rules).where(alert_rules.c.rule_id == rule_id)).rowcount)


def list_deliveries(
    conn: Connection, status: str | None, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Newest first (the payload left out: it is in the event)."""
    table = alert_deliveries.c
    where = [] if status is None else [table.status == status]
    total = conn.execute(select(func.count()).select_from(alert_deliveries).where(*where))
    columns = [column for column in alert_deliveries.c if column.name != "payload"]
    rows = conn.execute(
        select(*columns)
        .where(*where)
        .order_by(table.delivery_id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [dict(row) for row in rows.mappings()], int(total.scalar_one())
