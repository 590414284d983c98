"""Liveness, readiness and Prometheus metrics (outside the documented API)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram
from sqlalchemy import text

from api.auth import PUBLIC, requires
from api.metrics import exposition
from api.services import EXTENSION_KEY, services

bp = Blueprint("health", __name__)

REQUESTS = Counter("facerec_http_requests_total", "HTTP requests", ["endpoint", "status"])
LATENCY = Histogram(
    "facerec_http_request_seconds",
    "HTTP request latency",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@bp.get("/healthz")
@requires(PUBLIC)
def healthz():
    """Alive: the process answers. Never touches the database (restarts would not help)."""
    return jsonify(status="ok")


@bp.get("/readyz")
@requires(PUBLIC)
def readyz():
    """Ready: models loaded and the database answers; 503 otherwise (no traffic then)."""
    if EXTENSION_KEY not in current_app.extensions:
        return jsonify(code="NOT_READY", message="models are not loaded"), 503
    svc = services()
    try:
        if not svc.ensure_schema():
            raise ConnectionError("tables not checked")
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any failure means not ready
        return jsonify(code="DATABASE_UNAVAILABLE", message="the database does not answer"), 503
    release = svc.releases.get()
    return jsonify(status="ready", model_version=release.version if release else None)


@bp.get("/metrics")
@requires(PUBLIC)
def metrics():
    """The pod's metrics: every worker's summed (api/metrics)."""
    return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _record(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    started = g.get("request_started")
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    REQUESTS.labels(endpoint, str(response.status_code)).inc()
    return response


def install_metrics(app) -> None:
    app.before_request(_start_timer)
    app.after_request(_record)
