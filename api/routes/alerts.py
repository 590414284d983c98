"""/api/v1/alerts: destinations, rules and the deliveries of alerts (admin scope)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask_restx import Namespace, Resource, fields

from api.alerts import store
from api.alerts.addresses import AddressRefusedError, parse_url, refuse_literal_private
from api.alerts.delivery import Alert, DeliveryError
from api.alerts.mqtt import DEFAULT_LAST_SEEN_TOPIC, DEFAULT_TOPIC, check_topic
from api.alerts.outbox import alert_body
from api.alerts.queue import STATUSES
from api.alerts.rules import rule_columns, rule_json
from api.alerts.secrets import SecretsUnavailableError
from api.auth import ADMIN, requires
from api.errors import ApiError, not_found
from api.routes.inputs import iso, page_or_400, text_or_400
from api.services import services

ns = Namespace("alerts", path="/api/v1/alerts", description="Alerts: webhooks and MQTT (admin)")

MIN_WEBHOOK_SECRET = 16
MAX_SECRET = 1024

new_destination = ns.model(
    "NewAlertDestination",
    {
        "kind": fields.String(required=True, enum=["webhook", "mqtt"]),
        "url": fields.String(required=True, description="http(s):// or mqtt(s)://host:port"),
        "secret": fields.String(description="webhook: HMAC key (16+ characters); mqtt: password"),
        "name": fields.String(max_length=128),
        "topic": fields.String(description=f"mqtt; default {DEFAULT_TOPIC}"),
        "last_seen_topic": fields.String(
            description=f"mqtt, retained per person; default {DEFAULT_LAST_SEEN_TOPIC}; null: none"
        ),
        "username": fields.String(description="mqtt"),
    },
)
new_rule = ns.model(
    "NewAlertRule",
    {
        "name": fields.String(required=True, max_length=255),
        "destination_id": fields.String(required=True),
        "person_ids": fields.List(fields.String, description="null: anyone known"),
        "unknown": fields.Boolean(description="faces nobody was recognised in"),
        "camera_ids": fields.List(fields.String, description="null: any camera"),
        "days": fields.List(fields.String, description="mon..sun; null: every day"),
        "start_time": fields.String(description="HH:MM local time"),
        "end_time": fields.String(description="HH:MM local time (before start: overnight)"),
        "timezone": fields.String(description="IANA name, default UTC"),
        "min_confidence": fields.Float(),
        "min_quality": fields.Float(),
        "cooldown_seconds": fields.Integer(description="default 60"),
    },
)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "VALIDATION_ERROR", "send a JSON object")
    return body


def _invalid(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message)


def _secret(body: dict[str, Any], required_length: int) -> str | None:
    secret = body.get("secret")
    if secret is None and required_length == 0:
        return None
    if not isinstance(secret, str) or not required_length <= len(secret) <= MAX_SECRET:
        low = max(required_length, 1)
        raise _invalid(f"secret must be a string of {low}-{MAX_SECRET} characters")
    return secret


def _destination_columns(body: dict[str, Any]) -> dict[str, Any]:
    kind = body.get("kind")
    if kind not in ("webhook", "mqtt"):
        raise _invalid('kind must be "webhook" or "mqtt"')
    settings = services().settings
    try:
        endpoint = parse_url(body.get("url"), kind)
        refuse_literal_private(endpoint, settings.alert_allow_private_destinations)
        columns: dict[str, Any] = {"kind": kind, "url": body["url"]}
        columns["name"] = text_or_400(body.get("name"), "name", 128)
        if kind == "webhook":
            secret = _secret(body, MIN_WEBHOOK_SECRET)
        else:
            columns["topic"] = check_topic(body.get("topic", DEFAULT_TOPIC), "topic")
            last_seen = body.get("last_seen_topic", DEFAULT_LAST_SEEN_TOPIC)
            columns["last_seen_topic"] = (
                None if last_seen is None else check_topic(last_seen, "last_seen_topic")
            )
            columns["username"] = text_or_400(body.get("username"), "username", 255)
            secret = _secret(body, 0)
    except AddressRefusedError as error:
        raise ApiError(400, "DESTINATION_REFUSED", str(error)) from None
    except ValueError as error:
        raise _invalid(str(error)) from None
    if secret is not None:
        try:
            columns["secret_ciphertext"] = services().alerts.box.encrypt(secret)
        except SecretsUnavailableError as error:
            raise ApiError(503, "SECRETS_KEY_MISSING", str(error)) from None
    return columns


def destination_json(row: dict[str, Any]) -> dict[str, Any]:
    """A destination as answered: never its secret, only whether it has one."""
    return {
        "destination_id": row["destination_id"],
        "name": row.get("name"),
        "kind": row["kind"],
        "url": row["url"],
        "topic": row.get("topic"),
        "last_seen_topic": row.get("last_seen_topic"),
        "username": row.get("username"),
        "has_secret": row.get("secret_ciphertext") is not None,
        "created_at": iso(row["created_at"]),
    }


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{key: value for key, value in row.items() if not key.endswith("_at")},
        "created_at": iso(row["created_at"]),
        "next_attempt_at": iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
        "delivered_at": iso(row["delivered_at"]) if row["delivered_at"] else None,
    }


def _short_id(value: str) -> str:
    return value[:32]


@ns.route("/destinations")
class Destinations(Resource):
    @requires(ADMIN)
    def get(self):
        """Every destination (secrets never shown)."""
        with services().engine.connect() as conn:
            rows = store.list_destinations(conn)
        return {"items": [destination_json(row) for row in rows], "total": len(rows)}

    @ns.expect(new_destination)
    @ns.response(201, "Created")
    @requires(ADMIN)
    def post(self):
        """Add a webhook or MQTT destination."""
        columns = _destination_columns(_body())
        with services().engine.begin() as conn:
            row = store.add_destination(conn, columns)
        return destination_json(row), 201


@ns.route("/destinations/<string:destination_id>")
class DestinationItem(Resource):
    @ns.response(204, "Deleted, with its rules and undelivered alerts")
    @requires(ADMIN)
    def delete(self, destination_id: str):
        """Remove a destination, its rules and its alerts not yet delivered."""
        with services().engine.begin() as conn:
            if not store.delete_destination(conn, _short_id(destination_id)):
                raise not_found("destination", _short_id(destination_id))
        return "", 204


@ns.route("/destinations/<string:destination_id>/test")
class DestinationTest(Resource):
    @ns.response(502, "Not delivered: the message says why")
    @requires(ADMIN)
    def post(self, destination_id: str):
        """Send a test alert now, once (no queue, no retry; `rule_id` and `event` null)."""
        with services().engine.connect() as conn:
            row = store.get_destination(conn, _short_id(destination_id))
        if row is None:
            raise not_found("destination", _short_id(destination_id))
        alert_id = f"test-{uuid.uuid4().hex}"
        alert = Alert(alert_id, alert_body(alert_id, None, None), camera_id="test", person_id=None)
        try:
            services().alerts.send(row, alert)
        except DeliveryError as error:
            raise ApiError(502, "DELIVERY_FAILED", f"not delivered: {error}") from None
        return {"delivered": True, "alert_id": alert_id}


@ns.route("/rules")
class Rules(Resource):
    @requires(ADMIN)
    def get(self):
        """Every rule."""
        with services().engine.connect() as conn:
            rows = store.list_rules(conn)
        return {"items": [rule_json(row) for row in rows], "total": len(rows)}

    @ns.expect(new_rule)
    @ns.response(201, "Created")
    @requires(ADMIN)
    def post(self):
        """Add a rule: who, where, when, how sure, and how often at most."""
        body = _body()
        name = text_or_400(body.get("name"), "name", 255, required=True)
        destination_id = body.get("destination_id")
        try:
            columns = rule_columns(body)
        except ValueError as error:
            raise _invalid(str(error)) from None
        with services().engine.begin() as conn:
            if not isinstance(destination_id, str) or not store.get_destination(
                conn, _short_id(destination_id)
            ):
                raise _invalid("destination_id must name an existing destination")
            row = store.add_rule(conn, {**columns, "name": name, "destination_id": destination_id})
        return rule_json(row), 201


@ns.route("/rules/<string:rule_id>")
class RuleItem(Resource):
    @ns.response(204, "Deleted")
    @requires(ADMIN)
    def delete(self, rule_id: str):
        """Remove a rule (the alerts it already fired are still delivered)."""
        with services().engine.begin() as conn:
            if not store.delete_rule(conn, _short_id(rule_id)):
                raise not_found("rule", _short_id(rule_id))
        return "", 204


@ns.route("/deliveries")
class Deliveries(Resource):
    @ns.doc(
        params={"status": "pending, delivered or failed", "page": "from 1", "per_page": "1-500"}
    )
    @requires(ADMIN)
    def get(self):
        """Each alert and its delivery: status, attempts, last error; newest first."""
        status = request.args.get("status") or None
        if status is not None and status not in STATUSES:
            raise _invalid(f"status must be one of {', '.join(STATUSES)}")
        page, per_page, offset = page_or_400()
        with services().engine.connect() as conn:
            rows, total = store.list_deliveries(conn, status, offset, per_page)
        return {
            "items": [delivery_json(row) for row in rows],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
