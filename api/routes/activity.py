"""/api/v1/cameras and /api/v1/events/hourly: counts behind the operator's charts."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import request
from flask_restx import Namespace, Resource

from api.auth import RECOGNIZE, requires
from api.db import activity
from api.db.engine import utcnow
from api.errors import ApiError
from api.routes.inputs import iso, person_id_or_400, timestamp_or_400
from api.services import services

ns = Namespace("activity", path="/api/v1", description="Counts of recognitions for charts")

DEFAULT_HOURS = 24
MAX_HOURS = 31 * 24
MAX_CAMERAS = 500


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floored = floor_hour(moment)
    return floored if floored == moment else floored + activity.HOUR


def hour_range_or_400() -> tuple[datetime, datetime]:
    """[since, until) widened to whole hours; by default the last 24 hours up to now."""
    until = timestamp_or_400(request.args.get("until"), "until") or utcnow()
    until = ceil_hour(until)
    since = timestamp_or_400(request.args.get("since"), "since")
    since = floor_hour(since) if since else until - timedelta(hours=DEFAULT_HOURS)
    hours = (until - since) // activity.HOUR
    if not 1 <= hours <= MAX_HOURS:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f"since must be before until, at most {MAX_HOURS} hours ({MAX_HOURS // 24} days)",
        )
    return since, until


@ns.route("/events/hourly")
class HourlyEvents(Resource):
    @requires(RECOGNIZE)
    @ns.doc(
        params={
            "camera_id": "only this camera (default: every camera)",
            "since": f"ISO 8601, rounded down to the hour; default until - {DEFAULT_HOURS} h",
            "until": "ISO 8601, exclusive, rounded up to the hour; default now",
        }
    )
    def get(self):
        """Faces recognised per hour, known vs unknown, every hour of the range listed."""
        camera_id = request.args.get("camera_id") or None
        if camera_id is not None:
            person_id_or_400(camera_id, "camera_id")
        since, until = hour_range_or_400()
        with services().engine.connect() as conn:
            counts = activity.hourly_counts(conn, camera_id, since, until)
        return {
            "camera_id": camera_id,
            "since": iso(since),
            "until": iso(until),
            "known": sum(count.known for count in counts),
            "unknown": sum(count.unknown for count in counts),
            "hours": [
                {"hour": iso(count.hour), "known": count.known, "unknown": count.unknown}
                for count in counts
            ],
        }


@ns.route("/cameras")
class Cameras(Resource):
    @requires(RECOGNIZE)
    def get(self):
        """Cameras that reported recognitions, most recently active first, with counts."""
        with services().engine.connect() as conn:
            items = activity.cameras(conn, MAX_CAMERAS)
        return {"items": [{**item, "last_event_at": iso(item["last_event_at"])} for item in items]}
