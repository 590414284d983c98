"""The original framework's paths, kept so its edge and enrolment programs work unchanged.

They answer in the original shapes and reuse the v1 pipeline. IDs are normalised the
original way (lower case, spaces to underscores) before the v1 rules apply. The two
training paths wait for the job to finish, as the originals (which trained inside the
request) did.
"""

from __future__ import annotations

import time
from typing import Any

from flask import request
from flask_restx import Namespace, Resource, reqparse
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from api.auth import ADMIN, RECOGNIZE, requires
from api.db import events as events_db
from api.db import people as people_db
from api.db import training_jobs as jobs
from api.db.erasure import erase_deleted_data
from api.enrolment import enrol_images
from api.errors import ApiError, not_found
from api.recognition.pipeline import Sighting, recognize_image
from api.routes.inputs import (
    files_or_400,
    iso,
    person_id_or_400,
    single_file_or_400,
    text_or_400,
)
from api.routes.recognition import camera_of_request
from api.routes.training import job_json, queue_training
from api.services import services

ns = Namespace("compat", path="/", description="Original framework paths (compatibility)")

TRAINING_WAIT_SECONDS = 600
UNKNOWN_LABEL = "unknown"

image_parser = reqparse.RequestParser()
image_parser.add_argument("image", type=FileStorage, location="files", required=True)
results_parser = image_parser.copy()
results_parser.add_argument("include_predictions", type=str, location="form")
store_parser = image_parser.copy()
store_parser.add_argument("camera_id", type=str, location="form", required=True)
store_parser.add_argument("location_id", type=str, location="form")


def normalise_id(raw: str) -> str:
    return person_id_or_400(raw.strip().lower().replace(" ", "_"), "ID")


def _original_faces(result: dict[str, Any], include_predictions: bool) -> dict[str, Any]:
    faces = []
    for face in result["faces"]:
        label = face["person_id"] or UNKNOWN_LABEL
        entry: dict[str, Any] = {
            "top_prediction": {"label": label, "confidence": face["confidence"]},
            "bounding_box": face["box"],
        }
        if include_predictions:
            entry["all_predictions"] = [
                {"label": c["person_id"], "confidence": c["confidence"]} for c in face["candidates"]
            ]
        faces.append(entry)
    return {"faces": faces}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@ns.route("/dataset")
class Dataset(Resource):
    @requires(RECOGNIZE)
    def get(self):
        """IDs of every enrolled person."""
        with services().engine.connect() as conn:
            items, _ = people_db.list_people(conn, 0, 1_000_000)
        return {"people": [p["person_id"] for p in items]}


@ns.route("/dataset/<string:raw_id>")
class DatasetPerson(Resource):
    @requires(ADMIN)
    def post(self, raw_id: str):
        """Create a person."""
        person_id = normalise_id(raw_id)
        try:
            with services().engine.begin() as conn:
                people_db.create_person(conn, person_id, raw_id.strip())
        except IntegrityError:
            raise ApiError(409, "PERSON_EXISTS", f"person {person_id} already exists") from None
        return {"id": person_id, "message": "created"}, 201

    @requires(ADMIN)
    def delete(self, raw_id: str):
        """Delete a person and their faces."""
        person_id = normalise_id(raw_id)
        svc = services()
        with svc.engine.begin() as conn:
            if not people_db.delete_person(conn, person_id, svc.settings.delete_events_with_person):
                raise not_found("person", person_id)
        erase_deleted_data(svc.engine)
        return {"id": person_id, "message": "deleted"}


@ns.route("/dataset/<string:raw_id>/image")
class DatasetImage(Resource):
    @requires(ADMIN)
    @ns.expect(image_parser)
    def post(self, raw_id: str):
        """Add one face image (the largest face is kept, as the original cropped it)."""
        person_id = normalise_id(raw_id)
        svc = services()
        files = files_or_400("image", svc.settings.max_images_per_request)
        with svc.engine.connect() as conn:
            if not people_db.person_exists(conn, person_id):
                raise not_found("person", person_id)
        faces, rejected = enrol_images(svc, person_id, files, largest_only=True)
        if not faces:
            first = rejected[0]
            raise ApiError(first.status, first.code, first.message)
        return {"id": person_id, "face_ids": [f["face_id"] for f in faces]}, 201


def _train_and_wait(mode: str) -> tuple[dict[str, Any], int]:
    svc = services()
    job = queue_training(svc, mode)
    deadline = time.monotonic() + TRAINING_WAIT_SECONDS
    while time.monotonic() < deadline:
        with svc.engine.connect() as conn:
            job = jobs.get_job(conn, job["job_id"])
        if job["status"] in (jobs.SUCCEEDED, jobs.FAILED):
            status = 200 if job["status"] == jobs.SUCCEEDED else 500
            return job_json(job), status
        time.sleep(0.2)
    return job_json(job), 202


@ns.route("/model/train")
class Train(Resource):
    @requires(ADMIN)
    def post(self):
        """Re-embed every image and train; waits for the result."""
        return _train_and_wait("full")


@ns.route("/model/optimized-train")
class OptimizedTrain(Resource):
    @requires(ADMIN)
    def post(self):
        """Train from stored embeddings; waits for the result."""
        return _train_and_wait("optimized")


@ns.route("/face-recognition/get-results")
class GetResults(Resource):
    @requires(RECOGNIZE, camera_key=True)
    @ns.expect(results_parser)
    def post(self):
        """Recognise the faces of an image (original response shape)."""
        result = recognize_image(services(), single_file_or_400("image"), 3, None, None)
        return _original_faces(result, _truthy(request.form.get("include_predictions")))


@ns.route("/face-recognition/store-results")
class StoreResults(Resource):
    @requires(RECOGNIZE, camera_key=True)
    @ns.expect(store_parser)
    def post(self):
        """Recognise and store a sighting per face (camera_id, location_id)."""
        sighting = Sighting(
            camera_id=camera_of_request() or person_id_or_400("", "camera_id"),
            location=text_or_400(request.form.get("location_id"), "location_id", 255),
            captured_at=None,
        )
        result = recognize_image(services(), single_file_or_400("image"), 3, None, sighting)
        return _original_faces(result, include_predictions=False)


@ns.route("/database/people")
class SeenPeople(Resource):
    @requires(RECOGNIZE)
    def get(self):
        """IDs of the people the recognition database has sightings of."""
        with services().engine.connect() as conn:
            return {"people": events_db.seen_people(conn)}


@ns.route("/database/<string:raw_id>/last-known-location")
class LastKnownLocation(Resource):
    @requires(RECOGNIZE)
    def get(self, raw_id: str):
        """Where the person was last seen."""
        person_id = normalise_id(raw_id)
        with services().engine.connect() as conn:
            if not people_db.person_exists(conn, person_id):
                raise not_found("person", person_id)
            event = events_db.last_seen(conn, person_id)
        if event is None:
            raise ApiError(404, "NEVER_SEEN", f"{person_id} has not been seen yet")
        return {
            "id": person_id,
            "camera_id": event["camera_id"],
            "location_id": event["location"],
            "timestamp": iso(event["captured_at"]),
        }
