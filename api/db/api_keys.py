"""API keys as stored: public id, scope, optional camera, SHA-256 of the secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from api.db.engine import utcnow
from api.db.schema import api_keys


def add_key(
    conn: Connection, key_id: str, name: str, scope: str, camera_id: str | None, secret_sha256: str
) -> dict[str, Any]:
    created_at = utcnow()
    conn.execute(
        insert(api_keys).values(
            key_id=key_id,
            name=name,
            scope=scope,
            camera_id=camera_id,
            secret_sha256=secret_sha256,
            created_at=created_at,
        )
    )
    return {
        "key_id": key_id,
        "name": name,
        "scope": scope,
        "camera_id": camera_id,
        "created_at": created_at,
    }


def find_active(conn: Connection, key_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(api_keys).where((api_keys.c.key_id == key_id) & api_keys.c.revoked_at.is_(None))
    ).first()
    return dict(row._mapping) if row else None


def any_active(conn: Connection) -> bool:
    count = conn.execute(
        select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
    ).scalar_one()
    return bool(count)


def list_keys(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            api_keys.c.key_id,
            api_keys.c.name,
            api_keys.c.scope,
            api_keys.c.camera_id,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        ).order_by(api_keys.c.created_at)
    ).all()
    return [dict(row._mapping) for row in rows]


def revoke_key(conn: Connection, key_id: str) -> bool:
    return bool(
        conn.execute(
            update(api_keys)
            .where((api_keys.c.key_id == key_id) & api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
    )
