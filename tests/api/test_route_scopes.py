"""Every route declares its scope: the whole route table is walked (every method, HEAD
and OPTIONS included) and a route without a declaration fails the test. Nothing is
inferred from a path any more (api/auth.py `requires`)."""

from __future__ import annotations

import pytest
from flask import Flask

from api.app import create_app
from api.auth import ADMIN, PUBLIC, RECOGNIZE, declared_access
from api.config import Settings
from tests.databases import sqlite_url

# Reachable without a key: liveness, readiness, metrics, the page and the API's docs.
PUBLIC_RULES = {
    "/", "/ui", "/healthz", "/readyz", "/metrics", "/docs", "/swagger.json",
    "/static/<path:filename>", "/swaggerui/<path:filename>",
}  # fmt: skip
# What a camera-bound key may call: recognising, and reading the live model's version.
CAMERA_KEY_OPERATIONS = {
    ("POST", "/api/v1/recognize"),
    ("POST", "/api/v1/verify"),
    ("POST", "/api/v1/detect"),
    ("GET", "/api/v1/model"),
    ("GET", "/api/v1/cameras/<string:camera_id>"),  # its own camera's settings only
    ("POST", "/face-recognition/get-results"),
    ("POST", "/face-recognition/store-results"),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    folder = tmp_path_factory.mktemp("route-scopes")
    return create_app(Settings(database_url=sqlite_url(folder), model_dir=folder / "models"))


def _operations(app: Flask) -> list[tuple[str, str, str]]:
    return [
        (method, rule.rule, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods or ())
    ]


def test_every_route_and_method_declares_its_scope(app: Flask) -> None:
    operations = _operations(app)
    assert len(operations) > 90  # the whole table, not a part of it
    undeclared = [
        f"{method} {rule}"
        for method, rule, endpoint in operations
        if declared_access(app, endpoint, method) is None
    ]
    assert undeclared == []


def test_the_declarations_are_the_intended_ones(app: Flask) -> None:
    for method, rule, endpoint in _operations(app):
        access = declared_access(app, endpoint, method)
        assert access is not None
        where = f"{method} {rule}"
        if rule in PUBLIC_RULES:
            assert access.scope == PUBLIC, where
            continue
        assert access.scope != PUBLIC, where
        if rule.startswith(("/api/v1/keys", "/api/v1/alerts")) or (
            method in {"POST", "PUT", "PATCH", "DELETE"}
            and rule.startswith(
                (
                    "/api/v1/people",
                    "/api/v1/training",
                    "/api/v1/cameras",
                    "/api/v1/unknowns",
                    "/api/v1/events",  # corrections
                    "/dataset",
                    "/model",
                )
            )
        ):
            assert access.scope == ADMIN, where
        elif method != "OPTIONS":
            assert access.scope == RECOGNIZE, where
        if method not in {"HEAD", "OPTIONS"}:
            assert access.camera_key == ((method, rule) in CAMERA_KEY_OPERATIONS), where


def test_an_undeclared_view_is_reported(app: Flask) -> None:
    """The walk above would see a new route that forgot `@requires`."""
    app.add_url_rule("/forgotten", "forgotten", lambda: "x")
    try:
        assert declared_access(app, "forgotten", "GET") is None
    finally:
        app.view_functions.pop("forgotten")
