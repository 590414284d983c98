"""One sighting, its face, and search by face: GET /api/v1/events/{id}, .../face,
POST /api/v1/search."""

from __future__ import annotations

import hashlib

from flask import Response, request
from flask_restx import Namespace, Resource, reqparse
from werkzeug.datastructures import FileStorage

from api.auth import RECOGNIZE, requires
from api.db import events as events_db
from api.db.sightings import face_jpeg
from api.errors import ApiError, not_found
from api.recognition.pipeline import box_json, largest_face, quality_json
from api.routes.corrections import corrections_json
from api.routes.events import event_json
from api.routes.inputs import (
    form_float_or_400,
    form_int_or_400,
    iso,
    person_id_or_400,
    single_file_or_400,
    timestamp_or_400,
)
from api.services import services
from api.sightings.search import SearchFilter

ns = Namespace("sightings", path="/api/v1", description="Sightings: their faces, search by face")

DEFAULT_LIMIT, MAX_LIMIT = 50, 500

search_parser = reqparse.RequestParser()
search_parser.add_argument("image", type=FileStorage, location="files", required=True)
search_parser.add_argument(
    "threshold", type=float, location="form", help="cosine similarity, 0-1; default: naming"
)
search_parser.add_argument("limit", type=int, location="form", help=f"1-{MAX_LIMIT}, default 50")
search_parser.add_argument("camera_id", type=str, location="form", help="only this camera")
search_parser.add_argument("since", type=str, location="form", help="ISO 8601, inclusive")
search_parser.add_argument("until", type=str, location="form", help="ISO 8601, exclusive")


@ns.route("/events/<int:event_id>")
class Event(Resource):
    @ns.response(404, "No such event")
    @requires(RECOGNIZE)
    def get(self, event_id: int):
        """One sighting, as listed by /events, with its corrections (oldest first)."""
        with services().engine.connect() as conn:
            event = events_db.get_event(conn, event_id)
            if event is None:
                raise not_found("event", event_id)
            corrections = corrections_json(conn, event_id)
        return {**event_json(event), "corrections": corrections}


@ns.route("/events/<int:event_id>/face")
class EventFace(Resource):
    @ns.produces(["image/jpeg"])
    @ns.response(200, "The aligned face crop the sighting was recognised from")
    @ns.response(304, "Not modified (If-None-Match)")
    @ns.response(404, "FACE_NOT_FOUND: no such event, or its face was purged")
    @requires(RECOGNIZE)
    def get(self, event_id: int):
        """The face of a sighting: the crop the embedder saw, as a small JPEG."""
        with services().engine.connect() as conn:
            image = face_jpeg(conn, event_id)
        if image is None:
            raise ApiError(404, "FACE_NOT_FOUND", f"event {event_id} has no stored face")
        etag = hashlib.sha256(image).hexdigest()[:32]
        response = (
            Response(status=304)
            if etag in request.if_none_match
            else Response(image, mimetype="image/jpeg")
        )
        response.set_etag(etag)
        # A sighting's face never changes; revalidation (cheap, by ETag) notices a purge.
        response.headers["Cache-Control"] = "private, no-cache"
        return response


@ns.route("/search")
class Search(Resource):
    @ns.expect(search_parser)
    @ns.response(422, "NO_FACE_FOUND: the image has no face")
    @requires(RECOGNIZE)
    def post(self):
        """Where was this face seen: sightings whose face matches the image's largest face,
        best first, known and unknown people alike."""
        svc = services()
        image = single_file_or_400("image")
        threshold = form_float_or_400("threshold", 0.0, 1.0)
        limit = form_int_or_400("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        camera_id = request.form.get("camera_id") or None
        where = SearchFilter(
            camera_id=person_id_or_400(camera_id, "camera_id") if camera_id else None,
            since=timestamp_or_400(request.form.get("since"), "since"),
            until=timestamp_or_400(request.form.get("until"), "until"),
        )
        probe = largest_face(svc, image, "image")
        limit_similarity = svc.identify_threshold if threshold is None else threshold
        index = svc.sightings
        items: list[dict] = []
        with svc.engine.connect() as conn:
            index.refresh(conn)
            event_ids, scores = index.search(probe.embedding, limit_similarity, where)
            gone: list[int] = []
            # Events deleted since the index read them are dropped as they are met.
            for start in range(0, len(event_ids), limit):
                if len(items) >= limit:
                    break
                chunk = [int(e) for e in event_ids[start : start + limit]]
                found = events_db.events_by_id(conn, chunk)
                gone += [e for e in chunk if e not in found]
                for event_id, score in zip(chunk, scores[start : start + limit], strict=True):
                    if event_id in found and len(items) < limit:
                        items.append(_hit_json(found[event_id], float(score)))
        if gone:
            index.forget(gone)
        return {
            "items": items,
            "total": len(event_ids) - len(gone),
            "threshold": round(limit_similarity, 4),
            "searched": len(index),
            "query": {
                "box": box_json(probe.face),
                **quality_json(probe.quality),
            },
        }


def _hit_json(event: dict, similarity: float) -> dict:
    return {
        "event_id": event["event_id"],
        "similarity": round(similarity, 4),
        "person_id": event["person_id"],
        "unknown_id": event["unknown_id"],
        "camera_id": event["camera_id"],
        "location": event["location"],
        "captured_at": iso(event["captured_at"]),
        "quality": event["quality"],
        "has_face": event["has_face"],
    }
