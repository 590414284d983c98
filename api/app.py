"""The application factory: `gunicorn 'api.app:create_app()'`.

Each gunicorn worker calls it once (no --preload: onnxruntime sessions are not shared
across fork), so models are loaded once per worker and never per request.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy import Engine

from api.auth import HEADER, PUBLIC, access_of
from api.config import Settings
from api.db.engine import engine_from_settings
from api.errors import ContractApi, database_unavailable, register_error_handlers
from api.logs import configure_logging
from api.memory import return_large_buffers, trim_heap
from api.routes import (
    activity,
    alerts,
    cameras,
    compat,
    corrections,
    events,
    health,
    keys,
    people,
    recognition,
    sightings,
    thumbnails,
    training,
    ui,
    unknowns,
)
from api.services import EXTENSION_KEY, load_services, services


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    """Build the Flask app from `settings` (default: the environment)."""
    configure_logging()
    return_large_buffers()
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_PARTS=2 * settings.max_images_per_request + 20,
        RESTX_ERROR_404_HELP=False,
        RESTX_MASK_SWAGGER=False,
        JSON_SORT_KEYS=False,
    )
    engine = engine or engine_from_settings(settings)
    svc = load_services(settings, engine)
    trim_heap()  # opening the models leaves their build copies freed on the heap
    app.extensions[EXTENSION_KEY] = svc
    svc.ensure_schema()
    svc.training.start()
    svc.retention.start()
    svc.alerts.start()
    svc.regrouping.start()
    svc.release_polling.start()  # nothing when RELEASE_POLL_SECONDS is 0
    svc.heap_trimming.start()  # nothing when HEAP_TRIM_SECONDS is 0
    app.before_request(_count_in_flight)
    app.after_request(_count_answered)
    app.teardown_request(_count_done)
    app.before_request(_require_schema)
    app.before_request(_authenticate)

    # Before the Api: flask-restx claims `/` for itself (a 404) unless the page has it.
    app.register_blueprint(ui.bp)
    api = ContractApi(
        app,
        version="1.0",
        title="Face recognition API",
        description="Enrol people, recognise faces from edge crops, query sightings.",
        doc="/docs",
        authorizations={"apikey": {"type": "apiKey", "in": "header", "name": HEADER}},
        security="apikey",
    )
    for namespace in (
        people.ns,
        thumbnails.ns,
        recognition.ns,
        training.ns,
        events.ns,
        sightings.ns,
        corrections.ns,
        unknowns.ns,
        cameras.ns,
        activity.ns,
        keys.ns,
        compat.ns,
        alerts.ns,
    ):
        api.add_namespace(namespace)
    app.register_blueprint(health.bp)
    health.install_metrics(app)
    register_error_handlers(app)
    return app


def _serves_api() -> bool:
    """Not a health endpoint nor the operator's page (its static files included)."""
    return request.blueprint not in (health.bp.name, ui.bp.name) and request.endpoint != "static"


def _count_in_flight() -> None:
    """An API request is in flight until its teardown: while it is, no other request's
    embedding takes every core (api/vision/cores.py)."""
    if not _serves_api():
        return
    g.in_flight = ExitStack()
    g.in_flight.enter_context(services().analyzer.computing())


def _count_answered(response: Response) -> Response:
    """Done computing before the answer leaves: a client's next request must not find
    this one still in flight (teardown, after the body is sent, would be too late)."""
    _count_done(None)
    return response


def _count_done(_error: BaseException | None) -> None:
    """Also at teardown: a request that failed never reaches `_count_answered`."""
    in_flight = g.pop("in_flight", None)
    if in_flight is not None:
        in_flight.close()


def _require_schema() -> None:
    """Until the tables exist (database down at start), answer 503, never a 500.

    The health endpoints and the operator's page (static files) need no table."""
    if not _serves_api():
        return
    if not services().ensure_schema():
        raise database_unavailable()


def _authenticate() -> None:
    """Every request needs what its view declares (`api.auth.requires`)."""
    needed = access_of(current_app, request.endpoint, request.method)
    if needed.scope == PUBLIC:
        return
    svc = services()
    g.caller = svc.authenticator.authenticate(
        svc.engine.connect, needed, request.headers.get(HEADER)
    )


def settings_from(overrides: dict[str, Any]) -> Settings:
    """Settings from the environment with `overrides` applied (tests, tools)."""
    return Settings.from_env().replace(**overrides)
