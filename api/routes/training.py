"""/api/v1/training and /api/v1/model: queue a training job, watch it, read the release."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_restx import Namespace, Resource, fields

from api.auth import ADMIN, RECOGNIZE, requires
from api.db import training_jobs as jobs
from api.errors import not_found
from api.routes.inputs import iso
from api.services import Services, services

ns = Namespace("training", path="/api/v1", description="Training jobs and the live model")

training_request = ns.model(
    "TrainingRequest",
    {"mode": fields.String(enum=list(jobs.MODES), default="optimized")},
)


def job_json(job: dict[str, Any]) -> dict[str, Any]:
    started, finished = job["started_at"], job["finished_at"]
    return {
        "job_id": job["job_id"],
        "mode": job["mode"],
        "status": job["status"],
        "progress": job["progress"],
        "message": job["message"],
        "release_version": job["release_version"],
        "people": job["people_count"],
        "faces": job["faces_count"],
        "attempts": job["attempts"],
        "created_at": iso(job["created_at"]),
        "started_at": iso(started) if started else None,
        "finished_at": iso(finished) if finished else None,
        "duration_seconds": (finished - started).total_seconds() if started and finished else None,
    }


def queue_training(svc: Services, mode: str) -> dict[str, Any]:
    """Record a job; this worker's poller tries to claim it at once, any worker may run it.

    The caller answers 202 without waiting: training never runs inside a request.
    """
    with svc.engine.begin() as conn:
        job = jobs.create_job(conn, mode)
    svc.training.wake()
    return job


@ns.route("/training")
class Training(Resource):
    @requires(ADMIN)
    @ns.expect(training_request, validate=True)
    @ns.response(202, "Queued")
    def post(self):
        """Queue a training: optimized (stored embeddings) or full (re-embed every image)."""
        mode = (request.get_json(silent=True) or {}).get("mode", "optimized")
        job = queue_training(services(), mode)
        return {"job_id": job["job_id"], "status": job["status"]}, 202

    @requires(RECOGNIZE)
    def get(self):
        """The latest training jobs, newest first."""
        with services().engine.connect() as conn:
            return {"items": [job_json(job) for job in jobs.latest_jobs(conn, 20)]}


@ns.route("/training/<string:job_id>")
class TrainingJob(Resource):
    @requires(RECOGNIZE)
    def get(self, job_id: str):
        """A job's status (queued, running, succeeded, failed) with timings."""
        with services().engine.connect() as conn:
            job = jobs.get_job(conn, job_id[:64])
        if job is None:
            raise not_found("job", job_id[:64])
        return job_json(job)


@ns.route("/model")
class Model(Resource):
    @requires(RECOGNIZE, camera_key=True)
    def get(self):
        """The live release and the gallery it is combined with."""
        svc = services()
        release = svc.releases.get()
        with svc.engine.connect() as conn:
            gallery = svc.gallery_index(conn)
        return {
            "version": release.version if release else None,
            "embedder": svc.analyzer.embedder.name,
            "people": release.people if release else 0,
            "faces": release.faces if release else 0,
            "trained_at": release.trained_at if release else None,
            "threshold": round(svc.threshold_for(release), 4),
            "gallery_people": gallery.people_count,
            "gallery_faces": gallery.snapshot.size,
        }
