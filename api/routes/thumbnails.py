"""GET /api/v1/people/{id}/faces/{face_id}/thumbnail: a small JPEG of an enrolled face.

For the operator's page (and any client that lists people with a picture). The answer is
private (it shows a person) and revalidated each time by its ETag, which names the stored
image's digest: a face id SQLite hands out again after a deletion never shows a stale face.
"""

from __future__ import annotations

from flask import Response, request
from flask_restx import Namespace, Resource

from api.auth import RECOGNIZE, requires
from api.db.face_image import image_bytes, stored_face
from api.errors import ApiError, not_found
from api.routes.inputs import person_id_or_400
from api.services import services
from api.thumbnail import face_thumbnail

ns = Namespace("thumbnails", path="/api/v1/people", description="Face thumbnails")

DEFAULT_SIZE, MIN_SIZE, MAX_SIZE = 96, 32, 256


def size_or_400() -> int:
    raw = request.args.get("size", "")
    if raw == "":
        return DEFAULT_SIZE
    if not raw.isdigit() or not MIN_SIZE <= int(raw) <= MAX_SIZE:
        raise ApiError(
            400, "VALIDATION_ERROR", f"size must be an integer from {MIN_SIZE} to {MAX_SIZE}"
        )
    return int(raw)


@ns.route("/<string:person_id>/faces/<int:face_id>/thumbnail")
class FaceThumbnail(Resource):
    @requires(RECOGNIZE)
    @ns.doc(params={"size": f"side in pixels, {MIN_SIZE}-{MAX_SIZE}, default {DEFAULT_SIZE}"})
    @ns.produces(["image/jpeg"])
    @ns.response(200, "A square JPEG around the face, with a margin")
    @ns.response(304, "Not modified (If-None-Match)")
    @ns.response(404, "No such face for this person")
    def get(self, person_id: str, face_id: int):
        """A square JPEG thumbnail of one enrolled face, cropped around the stored box."""
        person_id_or_400(person_id)
        size = size_or_400()
        with services().engine.connect() as conn:
            face = stored_face(conn, person_id, face_id)
            if face is None:
                raise not_found("face", face_id)
            etag = f"{face.sha256[:32]}-{size}"
            fresh = etag in request.if_none_match
            image = None if fresh else image_bytes(conn, face)
        if fresh:
            response = Response(status=304)
        elif image is None:  # deleted between the two reads
            raise not_found("face", face_id)
        else:
            response = Response(face_thumbnail(image, face.box, size), mimetype="image/jpeg")
        response.set_etag(etag)
        response.headers["Cache-Control"] = "private, no-cache"
        return response
