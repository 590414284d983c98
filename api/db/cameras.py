"""Per-camera settings (`cameras`): a location and a naming threshold of its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from api.db.engine import utcnow
from api.db.schema import cameras


def get_camera(conn: Connection, camera_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(cameras).where(cameras.c.camera_id == camera_id)).one_or_none()
    return None if row is None else dict(row._mapping)


def put_camera(
    conn: Connection, camera_id: str, location: str | None, threshold: float | None
) -> dict[str, Any]:
    """Create or replace the settings of `camera_id` (PUT semantics: absent means unset)."""
    values = {"location": location, "threshold": threshold, "updated_at": utcnow()}
    changed = conn.execute(
        update(cameras).where(cameras.c.camera_id == camera_id).values(**values)
    ).rowcount
    if not changed:
        try:
            with conn.begin_nested():
                conn.execute(cameras.insert().values(camera_id=camera_id, **values))
        except IntegrityError:  # created by a concurrent PUT: this one wins
            conn.execute(update(cameras).where(cameras.c.camera_id == camera_id).values(**values))
    return {"camera_id": camera_id, **values}
