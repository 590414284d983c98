"""/api/v1/events and /api/v1/people/{id}/last-seen: recognition history."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_restx import Namespace, Resource

from api.auth import RECOGNIZE, requires
from api.db import events as events_db
from api.db import people as people_db
from api.errors import not_found
from api.routes.inputs import iso, page_or_400, person_id_or_400, timestamp_or_400
from api.services import services

ns = Namespace("events", path="/api/v1", description="Recognition history")


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    return {
        **event,
        "captured_at": iso(event["captured_at"]),
        "received_at": iso(event["received_at"]),
    }


@ns.route("/events")
class Events(Resource):
    @requires(RECOGNIZE)
    @ns.doc(
        params={
            "person_id": "only this person",
            "camera_id": "only this camera",
            "unknown": "true: only faces nobody was recognised in",
            "since": "ISO 8601, inclusive",
            "until": "ISO 8601, exclusive",
            "page": "from 1",
            "per_page": "1-500",
        }
    )
    def get(self):
        """Recognition events, newest first, filtered and paginated."""
        page, per_page, offset = page_or_400()
        person_id = request.args.get("person_id")
        camera_id = request.args.get("camera_id")
        where = events_db.EventFilter(
            person_id=person_id_or_400(person_id) if person_id else None,
            camera_id=person_id_or_400(camera_id, "camera_id") if camera_id else None,
            since=timestamp_or_400(request.args.get("since"), "since"),
            until=timestamp_or_400(request.args.get("until"), "until"),
            unknown_only=request.args.get("unknown", "").lower() in {"1", "true", "yes"},
        )
        with services().engine.connect() as conn:
            items, total = events_db.query_events(conn, where, offset, per_page)
        return {
            "items": [event_json(e) for e in items],
            "total": total,
            "page": page,
            "per_page": per_page,
        }


@ns.route("/people/<string:person_id>/last-seen")
class LastSeen(Resource):
    @requires(RECOGNIZE)
    def get(self, person_id: str):
        """Where and when this person was last recognised (null fields if never)."""
        person_id_or_400(person_id)
        with services().engine.connect() as conn:
            if not people_db.person_exists(conn, person_id):
                raise not_found("person", person_id)
            event = events_db.last_seen(conn, person_id)
        if event is None:
            return {
                "person_id": person_id,
                "seen": False,
                "camera_id": None,
                "location": None,
                "captured_at": None,
            }
        return {
            "person_id": person_id,
            "seen": True,
            "camera_id": event["camera_id"],
            "location": event["location"],
            "captured_at": iso(event["captured_at"]),
            "event_id": event["event_id"],
        }
