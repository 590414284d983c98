"""/api/v1/recognize, /verify, /detect: the image endpoints."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource, reqparse
from werkzeug.datastructures import FileStorage

from api.auth import ADMIN, RECOGNIZE, current_caller, requires
from api.errors import ApiError
from api.recognition.pipeline import Sighting, detect_image, recognize_image, verify_images
from api.routes.inputs import (
    form_float_or_400,
    form_int_or_400,
    person_id_or_400,
    single_file_or_400,
    text_or_400,
    timestamp_or_400,
)
from api.services import services

ns = Namespace("recognition", path="/api/v1", description="Recognise, verify and detect faces")

MAX_TOP_K = 20


def _image_parser(*fields: str) -> reqparse.RequestParser:
    parser = reqparse.RequestParser()
    for name in fields:
        parser.add_argument(name, type=FileStorage, location="files", required=True)
    return parser


recognize_parser = _image_parser("image")
recognize_parser.add_argument(
    "camera_id", type=str, location="form", help="store an event per face"
)
recognize_parser.add_argument("location", type=str, location="form")
recognize_parser.add_argument(
    "captured_at", type=str, location="form", help="ISO 8601; default now"
)
recognize_parser.add_argument("top_k", type=int, location="form", help=f"1-{MAX_TOP_K}, default 3")
recognize_parser.add_argument(
    "threshold", type=float, location="form", help="cosine similarity needed to name a person"
)
verify_parser = _image_parser("image_a", "image_b")
verify_parser.add_argument("threshold", type=float, location="form")
detect_parser = _image_parser("image")


def camera_of_request(field: str = "camera_id") -> str | None:
    """The form's camera, checked against a camera-bound key (which also supplies it)."""
    camera_id = request.form.get(field, "") or None
    caller = current_caller()
    if caller is not None and caller.camera_id is not None:
        if camera_id is not None and camera_id != caller.camera_id:
            raise ApiError(
                403, "FORBIDDEN", f"this API key may only report camera {caller.camera_id}"
            )
        camera_id = caller.camera_id
    return person_id_or_400(camera_id, field) if camera_id is not None else None


def threshold_of_request() -> float | None:
    """The form's threshold. Only an admin key may name faces more loosely than the
    configured threshold: for any other key a lower one would force a name onto anyone."""
    threshold = form_float_or_400("threshold", -1.0, 1.0)
    caller = current_caller()
    if threshold is None or caller is None or caller.scope == ADMIN:
        return threshold
    svc = services()
    configured = svc.threshold_for(svc.releases.get())
    if threshold < configured:
        raise ApiError(
            403,
            "FORBIDDEN",
            f"a threshold below the configured {configured:.4f} needs an admin API key",
        )
    return threshold


def sighting_from_form() -> Sighting | None:
    camera_id = camera_of_request()
    if camera_id is None:
        return None
    return Sighting(
        camera_id=camera_id,
        location=text_or_400(request.form.get("location"), "location", 255),
        captured_at=timestamp_or_400(request.form.get("captured_at"), "captured_at"),
    )


@ns.route("/recognize")
class Recognize(Resource):
    @requires(RECOGNIZE, camera_key=True)
    @ns.expect(recognize_parser)
    def post(self):
        """Every face in the image: its box, identity (or null when unknown), candidates."""
        image = single_file_or_400("image")
        return recognize_image(
            services(),
            image,
            top_k=form_int_or_400("top_k", 3, 1, MAX_TOP_K),
            threshold=threshold_of_request(),
            sighting=sighting_from_form(),
        )


@ns.route("/verify")
class Verify(Resource):
    @requires(RECOGNIZE, camera_key=True)
    @ns.expect(verify_parser)
    def post(self):
        """1:1: are the largest faces of two images the same person?"""
        first = single_file_or_400("image_a")
        second = single_file_or_400("image_b")
        return verify_images(services(), first, second, form_float_or_400("threshold", -1.0, 1.0))


@ns.route("/detect")
class Detect(Resource):
    @requires(RECOGNIZE, camera_key=True)
    @ns.expect(detect_parser)
    def post(self):
        """Face boxes, scores and five landmarks."""
        return detect_image(services(), single_file_or_400("image"))
