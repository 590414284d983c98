"""POST /api/v1/events/{event_id}/correction: "this is x" / "this is not who you said".
Needs the admin scope (api/auth.py); the key that made it is stored with it."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource, fields
from sqlalchemy import Connection

from api.auth import ADMIN, current_caller, requires
from api.corrections.correct import correct_event
from api.db import corrections as corrections_db
from api.db import events as events_db
from api.errors import ApiError
from api.routes.events import event_json
from api.routes.inputs import iso, person_id_or_400
from api.services import services

ns = Namespace("corrections", path="/api/v1", description="Corrections of sightings")

correction_body = ns.model(
    "Correction",
    {
        "person_id": fields.String(
            required=True, description='"x": this is x; null: not who you said'
        )
    },
)


def corrections_json(conn: Connection, event_id: int) -> list[dict]:
    """The event's corrections as answered (oldest first)."""
    return [
        {**item, "created_at": iso(item["created_at"])}
        for item in corrections_db.corrections_of(conn, event_id)
    ]


@ns.route("/events/<int:event_id>/correction")
class Correction(Resource):
    @ns.expect(correction_body)
    @ns.response(201, "The sighting, relabelled (corrected: true), with its corrections")
    @ns.response(404, "No such event, or no such person")
    @requires(ADMIN)
    def post(self, event_id: int):
        """Correct a sighting; the matcher learns from it (negative faces, new faces)."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "person_id" not in body:
            raise ApiError(
                400, "VALIDATION_ERROR", 'send {"person_id": "x"} or {"person_id": null}'
            )
        person_id = body["person_id"]
        if person_id is not None:
            person_id = person_id_or_400(person_id)
        caller = current_caller()
        svc = services()
        learnt = correct_event(
            svc, event_id, person_id, caller.key_id if caller is not None else None
        )
        with svc.engine.connect() as conn:
            event = events_db.get_event(conn, event_id)
            corrections = corrections_json(conn, event_id)
        return {**event_json(event), "corrections": corrections, **learnt}, 201
