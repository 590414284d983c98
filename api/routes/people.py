"""/api/v1/people: create, list, read, delete people; enrol and remove their faces."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import request
from flask_restx import Namespace, Resource, fields, reqparse
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from api.auth import ADMIN, RECOGNIZE, requires
from api.db import people as people_db
from api.db.erasure import erase_deleted_data
from api.enrolment import enrol_images
from api.errors import ApiError, not_found
from api.routes.inputs import (
    MAX_NAME_LENGTH,
    PERSON_ID_PATTERN,
    files_or_400,
    form_bool,
    page_or_400,
    person_id_or_400,
    text_or_400,
)
from api.services import services


class UtcDateTime(fields.DateTime):
    """The database stores naive UTC; say so on the wire (RFC 3339 needs an offset)."""

    def format(self, value: datetime) -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super().format(value)


ns = Namespace("people", path="/api/v1/people", description="Enrolled people and their faces")

new_person = ns.model(
    "NewPerson",
    {
        "person_id": fields.String(required=True, pattern=PERSON_ID_PATTERN, max_length=128),
        "name": fields.String(max_length=MAX_NAME_LENGTH, description="Display name (any script)"),
    },
)
person = ns.model(
    "Person",
    {
        "person_id": fields.String,
        "name": fields.String,
        "faces": fields.Integer,
        "created_at": UtcDateTime(dt_format="iso8601"),
    },
)
people_page = ns.model(
    "PeoplePage",
    {
        "items": fields.List(fields.Nested(person)),
        "total": fields.Integer,
        "page": fields.Integer,
        "per_page": fields.Integer,
    },
)
face_box = ns.model(
    "Box",
    {n: fields.Float for n in ("left", "top", "right", "bottom")},
)
stored_face = ns.model(
    "Face",
    {
        "face_id": fields.Integer,
        "image_format": fields.String,
        "width": fields.Integer,
        "height": fields.Integer,
        "box": fields.Nested(face_box),
        "created_at": UtcDateTime(dt_format="iso8601"),
    },
)
enrol_parser = reqparse.RequestParser(bundle_errors=True)
enrol_parser.add_argument(
    "image",
    type=FileStorage,
    location="files",
    required=True,
    help="Face image (JPEG, PNG or WebP); repeat the field for several images",
)
enrol_parser.add_argument(
    "largest_face_only",
    type=str,
    location="form",
    help="true: keep the largest face of an image with several (default: reject it)",
)


@ns.route("")
class PeopleCollection(Resource):
    @requires(RECOGNIZE)
    @ns.marshal_with(people_page)
    @ns.doc(params={"page": "page number from 1", "per_page": "1-500, default 50"})
    def get(self):
        """List enrolled people with their number of faces."""
        page, per_page, offset = page_or_400()
        with services().engine.connect() as conn:
            items, total = people_db.list_people(conn, offset, per_page)
        return {"items": items, "total": total, "page": page, "per_page": per_page}

    @requires(ADMIN)
    @ns.expect(new_person, validate=True)
    @ns.response(201, "Created", person)
    @ns.response(409, "A person with this id exists")
    def post(self):
        """Create a person (no faces yet)."""
        body = request.get_json()
        person_id = person_id_or_400(body["person_id"])
        name = text_or_400(body.get("name"), "name", MAX_NAME_LENGTH) or person_id
        try:
            with services().engine.begin() as conn:
                created = people_db.create_person(conn, person_id, name)
        except IntegrityError:
            raise ApiError(409, "PERSON_EXISTS", f"person {person_id} already exists") from None
        return ns.marshal(created, person), 201


@ns.route("/<string:person_id>")
class PersonResource(Resource):
    @requires(RECOGNIZE)
    @ns.marshal_with(person)
    def get(self, person_id: str):
        """Read one person."""
        person_id_or_400(person_id)
        with services().engine.connect() as conn:
            found = people_db.get_person(conn, person_id)
        if found is None:
            raise not_found("person", person_id)
        return found

    @requires(ADMIN)
    @ns.response(204, "Deleted with every face image and embedding")
    def delete(self, person_id: str):
        """Delete a person, their images and embeddings (and, by default, their events)."""
        person_id_or_400(person_id)
        svc = services()
        with svc.engine.begin() as conn:
            removed = people_db.delete_person(
                conn, person_id, delete_events=svc.settings.delete_events_with_person
            )
        if not removed:
            raise not_found("person", person_id)
        erase_deleted_data(svc.engine)
        return "", 204


@ns.route("/<string:person_id>/faces")
class PersonFaces(Resource):
    @requires(RECOGNIZE)
    def get(self, person_id: str):
        """List a person's enrolled faces."""
        person_id_or_400(person_id)
        with services().engine.connect() as conn:
            if not people_db.person_exists(conn, person_id):
                raise not_found("person", person_id)
            items = people_db.list_faces(conn, person_id)
        return {"items": ns.marshal(items, stored_face), "total": len(items)}

    @requires(ADMIN)
    @ns.expect(enrol_parser)
    @ns.response(201, "At least one image was enrolled; `rejected` explains the others")
    @ns.response(422, "No image was enrolled")
    def post(self, person_id: str):
        """Enrol face images; each is accepted or rejected with its own code."""
        person_id_or_400(person_id)
        svc = services()
        files = files_or_400("image", svc.settings.max_images_per_request)
        with svc.engine.connect() as conn:
            if not people_db.person_exists(conn, person_id):
                raise not_found("person", person_id)
        faces, rejected = enrol_images(svc, person_id, files, form_bool("largest_face_only"))
        body = {
            "person_id": person_id,
            "faces": faces,
            "rejected": [r.to_json() for r in rejected],
        }
        if not faces:
            raise ApiError(422, "NO_FACE_ACCEPTED", "none of the images was enrolled", **body)
        return body, 201


@ns.route("/<string:person_id>/faces/<int:face_id>")
class PersonFace(Resource):
    @requires(ADMIN)
    @ns.response(204, "Deleted")
    def delete(self, person_id: str, face_id: int):
        """Remove one enrolled face (image and embeddings)."""
        person_id_or_400(person_id)
        engine = services().engine
        with engine.begin() as conn:
            if not people_db.delete_face(conn, person_id, face_id):
                raise not_found("face", face_id)
        erase_deleted_data(engine)
        return "", 204
