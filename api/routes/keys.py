"""/api/v1/keys: create, list and revoke API keys (admin scope)."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource, fields

from api.auth import ADMIN, SCOPES, requires
from api.db import api_keys as keys_db
from api.errors import not_found
from api.keys import create_key
from api.routes.inputs import iso, person_id_or_400, text_or_400
from api.services import services

ns = Namespace("keys", path="/api/v1/keys", description="API keys (admin)")

new_key = ns.model(
    "NewKey",
    {
        "name": fields.String(required=True, max_length=128),
        "scope": fields.String(required=True, enum=list(SCOPES)),
        "camera_id": fields.String(description="bind the key to one camera"),
    },
)


def _key_json(key: dict) -> dict:
    return {
        **key,
        "created_at": iso(key["created_at"]),
        "revoked_at": iso(key["revoked_at"]) if key.get("revoked_at") else None,
    }


@ns.route("")
class Keys(Resource):
    @requires(ADMIN)
    def get(self):
        """Every key, without its token."""
        with services().engine.connect() as conn:
            return {"items": [_key_json(k) for k in keys_db.list_keys(conn)]}

    @requires(ADMIN)
    @ns.expect(new_key, validate=True)
    @ns.response(201, "Created; the token is shown only in this answer")
    def post(self):
        """Create a key; store the returned token, it cannot be shown again."""
        body = request.get_json()
        name = text_or_400(body["name"], "name", 128, required=True)
        camera = body.get("camera_id")
        camera = person_id_or_400(camera, "camera_id") if camera else None
        with services().engine.begin() as conn:
            created = create_key(conn, name, body["scope"], camera)
        return _key_json(created), 201


@ns.route("/<string:key_id>")
class Key(Resource):
    @requires(ADMIN)
    @ns.response(204, "Revoked")
    def delete(self, key_id: str):
        """Revoke a key at once."""
        with services().engine.begin() as conn:
            if not keys_db.revoke_key(conn, key_id[:16]):
                raise not_found("key", key_id[:16])
        return "", 204
