"""GET/PUT /api/v1/cameras/{camera_id}: a camera's location and naming threshold
(the list of cameras, GET /api/v1/cameras, is in api/routes/activity.py).

A camera's threshold overrides the global one for the sightings it reports (a dark car
park may need a stricter one than a well-lit door). Changing settings needs the admin
scope (api/auth.py); a camera-bound key may read its own camera's settings, no other's.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_restx import Namespace, Resource, fields

from api.auth import ADMIN, RECOGNIZE, current_caller, requires
from api.db import cameras as cameras_db
from api.errors import ApiError
from api.routes.inputs import iso, person_id_or_400, text_or_400
from api.services import services

ns = Namespace("cameras", path="/api/v1/cameras", description="Per-camera settings")

camera_settings = ns.model(
    "CameraSettings",
    {
        "location": fields.String(max_length=255, description="Shown with its sightings"),
        "threshold": fields.Float(
            description="Naming threshold (cosine similarity, 0-1); null: the global one"
        ),
    },
)


def _readable_camera(camera_id: str) -> str:
    person_id_or_400(camera_id, "camera_id")
    caller = current_caller()
    if caller is not None and caller.camera_id is not None and caller.camera_id != camera_id:
        raise ApiError(403, "FORBIDDEN", f"this API key may only read camera {caller.camera_id}")
    return camera_id


def _threshold_or_400(body: dict[str, Any]) -> float | None:
    value = body.get("threshold")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ApiError(400, "VALIDATION_ERROR", "threshold must be a number from 0 to 1, or null")
    return float(value)


def _camera_json(camera_id: str, row: dict[str, Any] | None) -> dict[str, Any]:
    svc = services()
    threshold = row["threshold"] if row else None
    return {
        "camera_id": camera_id,
        "location": row["location"] if row else None,
        "threshold": threshold,
        "effective_threshold": round(
            threshold if threshold is not None else svc.threshold_for(svc.releases.get()), 4
        ),
        "updated_at": iso(row["updated_at"]) if row else None,
    }


@ns.route("/<string:camera_id>")
class Camera(Resource):
    @requires(RECOGNIZE, camera_key=True)
    def get(self, camera_id: str):
        """A camera's settings; a camera never configured has nulls (the global ones)."""
        _readable_camera(camera_id)
        with services().engine.connect() as conn:
            row = cameras_db.get_camera(conn, camera_id)
        return _camera_json(camera_id, row)

    @ns.expect(camera_settings)
    @ns.response(400, "A threshold out of 0-1, or a location too long")
    @requires(ADMIN)
    def put(self, camera_id: str):
        """Set a camera's location and threshold (both replaced; null: unset)."""
        person_id_or_400(camera_id, "camera_id")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "VALIDATION_ERROR", "send a JSON object {location, threshold}")
        location = text_or_400(body.get("location"), "location", 255)
        threshold = _threshold_or_400(body)
        with services().engine.begin() as conn:
            row = cameras_db.put_camera(conn, camera_id, location, threshold)
        return _camera_json(camera_id, row)
