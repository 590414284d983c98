"""/api/v1/unknowns: unknown people (sightings nobody was recognised in, grouped by face);
name a group, merge two, dismiss one. Changes need the admin scope (api/auth.py)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_restx import Namespace, Resource, fields

from api.auth import ADMIN, RECOGNIZE, current_caller, requires
from api.db import unknowns as unknowns_db
from api.errors import ApiError, not_found
from api.routes.inputs import (
    iso,
    page_or_400,
    person_id_or_400,
    text_or_400,
    timestamp_or_400,
)
from api.services import services
from api.unknowns.naming import enrol_group

ns = Namespace("unknowns", path="/api/v1/unknowns", description="Unknown people")

MAX_NAME_LENGTH = 255
enrol_body = ns.model(
    "EnrolUnknown",
    {
        "person_id": fields.String(required=True, description="New or existing person"),
        "name": fields.String(description="Display name; an existing person's must match"),
    },
)
merge_body = ns.model(
    "MergeUnknown", {"into": fields.String(required=True, description="unknown_id to join")}
)


def _json_object_or_400() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "VALIDATION_ERROR", "send a JSON object")
    return body


def _group_json(group: dict[str, Any]) -> dict[str, Any]:
    return {**group, "first_seen": iso(group["first_seen"]), "last_seen": iso(group["last_seen"])}


def _min_sightings_or_400() -> int:
    raw = request.args.get("min_sightings", "1")
    if not (raw.isascii() and raw.isdecimal()) or not 1 <= int(raw) <= 1_000_000:
        raise ApiError(400, "VALIDATION_ERROR", "min_sightings must be an integer from 1")
    return int(raw)


def _key_id() -> str | None:
    caller = current_caller()
    return caller.key_id if caller is not None else None


@ns.route("")
class Unknowns(Resource):
    @ns.doc(
        params={
            "since": "only sightings from this time (ISO 8601)",
            "camera_id": "only sightings of this camera",
            "min_sightings": "groups with at least this many (matching) sightings; default 1",
            "page": "from 1",
            "per_page": "1-500",
        }
    )
    @requires(RECOGNIZE)
    def get(self):
        """Unknown people, last seen first: sightings, cameras, first/last seen and sample
        sightings (best quality first; their faces at /events/{id}/face)."""
        page, per_page, offset = page_or_400()
        camera_id = request.args.get("camera_id")
        where = unknowns_db.UnknownFilter(
            since=timestamp_or_400(request.args.get("since"), "since"),
            camera_id=person_id_or_400(camera_id, "camera_id") if camera_id else None,
            min_sightings=_min_sightings_or_400(),
        )
        with services().engine.connect() as conn:
            items, total = unknowns_db.list_groups(conn, where, offset, per_page)
        return {
            "items": [_group_json(item) for item in items],
            "total": total,
            "page": page,
            "per_page": per_page,
        }


@ns.route("/<string:unknown_id>/enrol")
class Enrol(Resource):
    @ns.expect(enrol_body)
    @ns.response(201, "The person, created or extended from the group's best faces")
    @ns.response(404, "No such group")
    @ns.response(409, "NAME_CONFLICT: the person exists under another name")
    @ns.response(422, "LOW_QUALITY_FACE: no face of the group is good enough to enrol")
    @requires(ADMIN)
    def post(self, unknown_id: str):
        """Name this person: the group becomes a person, recognised from now on."""
        person_id_or_400(unknown_id, "unknown_id")
        body = _json_object_or_400()
        person_id = person_id_or_400(body.get("person_id"))
        name = text_or_400(body.get("name"), "name", MAX_NAME_LENGTH)
        naming = enrol_group(services(), unknown_id, person_id, name)
        return {
            "unknown_id": unknown_id,
            "person_id": person_id,
            "name": naming.person["name"],
            "created": naming.created,
            "faces": naming.person["faces"],
            "face_ids_added": naming.face_ids,
            "sightings_relabelled": naming.sightings,
        }, 201


@ns.route("/<string:unknown_id>/merge")
class Merge(Resource):
    @ns.expect(merge_body)
    @ns.response(400, "Into itself, or a bad id")
    @ns.response(404, "Either group does not exist")
    @requires(ADMIN)
    def post(self, unknown_id: str):
        """Two groups are one person: this group's sightings join `into`."""
        person_id_or_400(unknown_id, "unknown_id")
        into = person_id_or_400(_json_object_or_400().get("into"), "into")
        if into == unknown_id:
            raise ApiError(400, "VALIDATION_ERROR", "a group cannot be merged into itself")
        with services().engine.begin() as conn:
            for group in (unknown_id, into):
                if not unknowns_db.group_size(conn, group):
                    raise not_found("unknown", group)
            moved = unknowns_db.merge_groups(conn, unknown_id, into)
            size = unknowns_db.group_size(conn, into)
        return {"unknown_id": into, "merged": moved, "sightings": size}


@ns.route("/<string:unknown_id>/dismiss")
class Dismiss(Resource):
    @ns.response(204, "Left out of the list from now on")
    @ns.response(404, "No such group")
    @requires(ADMIN)
    def post(self, unknown_id: str):
        """Dismiss: not worth naming; the sightings stay, the group leaves the list."""
        person_id_or_400(unknown_id, "unknown_id")
        with services().engine.begin() as conn:
            if not unknowns_db.group_size(conn, unknown_id):
                raise not_found("unknown", unknown_id)
            unknowns_db.dismiss(conn, unknown_id, _key_id())
        return "", 204
