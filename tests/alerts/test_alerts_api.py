"""Alerts end to end on a real gunicorn (2 workers): recognitions through the API fire
rules, webhooks arrive signed, MQTT messages pass through a real Mosquitto; only admin
keys manage alerts; secrets are never shown and never stored in the clear."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.alerts.conftest import start_alerts_api
from tests.alerts.receivers import PrivateMosquitto, Subscriber, WebhookReceiver
from tests.api.client import call, create_person, enrol, recognize, train
from tests.api.conftest import ADMIN_TOKEN, RECOGNIZE_TOKEN
from tests.api.images import face_jpeg
from tests.databases import sqlite_url
from tests.live_api import ApiProcess, free_port
from tests.shared_data import ident20_people

SECRET = "a-webhook-secret-of-some-length"
MQTT_PASSWORD_UNUSED = "mqtt-password-never-shown"
KNOWN = ("adrien_brody", "britney_spears")
PATH_TOKEN = "T0-path-token-is-a-credential"  # as in https://hooks.example/services/<token>


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    folder = tmp_path_factory.mktemp("alerts-api")
    # DEBUG: the log scans below see everything the service and its libraries write.
    api = start_alerts_api(folder, sqlite_url(folder), LOG_LEVEL="DEBUG")
    people = ident20_people()
    for person_id in KNOWN:
        assert create_person(api.url, person_id, api_key=ADMIN_TOKEN).status_code == 201
        enrol(api.url, person_id, people[person_id][:5], api_key=ADMIN_TOKEN)
    assert train(api.url, api_key=ADMIN_TOKEN)["status"] == "succeeded"
    yield api
    api.stop()


def single_face_of(server: ApiProcess, person_id: str) -> Path:
    """An image of `person_id` not enrolled, where exactly that one face is recognised
    (asked without a camera: no sighting is stored)."""
    for image in ident20_people()[person_id][5:]:
        response = recognize(server.url, image, RECOGNIZE_TOKEN)
        if [face["person_id"] for face in response.json()["faces"]] == [person_id]:
            return image
    raise AssertionError(f"no single-face probe of {person_id}")


def admin(server: ApiProcess, method: str, path: str, **kwargs: Any) -> requests.Response:
    return call(method, f"{server.url}/api/v1/alerts{path}", ADMIN_TOKEN, **kwargs)


def created(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


def sight(server: ApiProcess, image: Path | bytes, camera_id: str) -> list[str | None]:
    response = recognize(server.url, image, RECOGNIZE_TOKEN, camera_id=camera_id)
    assert response.status_code == 200, response.text
    return [face["person_id"] for face in response.json()["faces"]]


def test_only_admin_keys_manage_alerts(server: ApiProcess) -> None:
    for method, path in [
        ("GET", "/destinations"),
        ("POST", "/destinations"),
        ("DELETE", "/destinations/x"),
        ("POST", "/destinations/x/test"),
        ("GET", "/rules"),
        ("POST", "/rules"),
        ("GET", "/deliveries"),
    ]:
        url = f"{server.url}/api/v1/alerts{path}"
        assert call(method, url, RECOGNIZE_TOKEN, json={}).status_code == 403, path
        assert call(method, url, None, json={}).status_code == 401, path


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"kind": "email", "url": "http://x"}, "VALIDATION_ERROR", "kind"),
        ({"kind": "webhook", "url": "ftp://x/", "secret": SECRET}, "VALIDATION_ERROR", "http"),
        ({"kind": "webhook", "url": "http://u:p@x/", "secret": SECRET}, "VALIDATION_ERROR", "cred"),
        ({"kind": "webhook", "url": "http://x/"}, "VALIDATION_ERROR", "secret"),
        ({"kind": "webhook", "url": "http://x/", "secret": "short"}, "VALIDATION_ERROR", "secret"),
        ({"kind": "mqtt", "url": "http://x/"}, "VALIDATION_ERROR", "mqtt://"),
        ({"kind": "mqtt", "url": "mqtt://x", "topic": "a/{name}"}, "VALIDATION_ERROR", "topic"),
        ({"kind": "mqtt", "url": "mqtt://x", "topic": "a/#"}, "VALIDATION_ERROR", "wildcard"),
        ({"kind": "mqtt", "url": "mqtt://x:99999"}, "VALIDATION_ERROR", "port"),
    ],
)
def test_bad_destinations_are_refused_and_nothing_stored(
    server: ApiProcess, body: dict, code: str, words: str
) -> None:
    before = admin(server, "GET", "/destinations").json()["total"]
    response = admin(server, "POST", "/destinations", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code and words in response.json()["message"]
    assert admin(server, "GET", "/destinations").json()["total"] == before


def test_bad_rules_and_unknown_ids(server: ApiProcess) -> None:
    response = admin(server, "POST", "/rules", json={"name": "x", "destination_id": "nope"})
    assert response.status_code == 400 and "destination_id" in response.json()["message"]
    assert admin(server, "POST", "/rules", data="[").status_code == 400
    assert admin(server, "DELETE", "/rules/nope").json()["code"] == "RULE_NOT_FOUND"
    assert admin(server, "DELETE", "/destinations/nope").json()["code"] == "DESTINATION_NOT_FOUND"
    response = admin(server, "GET", "/deliveries?status=lost")
    assert response.status_code == 400 and "status" in response.json()["message"]


def test_secrets_are_never_shown_nor_stored_in_the_clear(
    server: ApiProcess, tmp_path: Path
) -> None:
    hook = created(
        admin(
            server,
            "POST",
            "/destinations",
            json={"kind": "webhook", "url": "http://127.0.0.1:9/x", "secret": SECRET},
        )
    )
    mqtt = created(
        admin(
            server,
            "POST",
            "/destinations",
            json={
                "kind": "mqtt",
                "url": "mqtt://127.0.0.1:9",
                "username": "u",
                "secret": MQTT_PASSWORD_UNUSED,
            },
        )
    )
    listed = admin(server, "GET", "/destinations").text
    for answer in (json.dumps(hook), json.dumps(mqtt), listed):
        assert SECRET not in answer and MQTT_PASSWORD_UNUSED not in answer
    assert hook["has_secret"] and mqtt["has_secret"] and "secret" not in hook
    database = Path(server.env["DATABASE_URL"].removeprefix("sqlite:///"))
    dump = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    assert b"mqtt://127.0.0.1:9" in dump, "the dump holds the destinations"
    assert SECRET.encode() not in dump and MQTT_PASSWORD_UNUSED.encode() not in dump
    log = (database.parent / "gunicorn.log").read_text()
    assert SECRET not in log and MQTT_PASSWORD_UNUSED not in log
    for destination in (hook, mqtt):
        assert (
            admin(server, "DELETE", f"/destinations/{destination['destination_id']}").status_code
            == 204
        )


def test_sightings_fire_the_right_rules_through_webhook_and_mqtt(
    server: ApiProcess, receiver: WebhookReceiver, broker: PrivateMosquitto
) -> None:
    """Rule A: Adrien Brody anywhere -> webhook. Rule B: anyone, known or not, at the gate
    -> MQTT. Four sightings; each destination gets exactly what its rule says."""
    subscriber = Subscriber(broker.port, "cams/#", client_id="e2e-cams").start()
    hook = created(
        admin(
            server,
            "POST",
            "/destinations",
            json={
                "kind": "webhook",
                "url": f"{receiver.url}/{PATH_TOKEN}",
                "secret": SECRET,
                "name": "hook",
            },
        )
    )
    mqtt = created(
        admin(
            server,
            "POST",
            "/destinations",
            json={"kind": "mqtt", "url": broker.url, "topic": "cams/{camera_id}/{person_id}"},
        )
    )
    rule_a = created(
        admin(
            server,
            "POST",
            "/rules",
            json={
                "name": "Adrien",
                "destination_id": hook["destination_id"],
                "person_ids": ["adrien_brody"],
                "cooldown_seconds": 0,
            },
        )
    )
    assert rule_a["person_ids"] == ["adrien_brody"] and rule_a["camera_ids"] is None
    created(
        admin(
            server,
            "POST",
            "/rules",
            json={
                "name": "gate",
                "destination_id": mqtt["destination_id"],
                "unknown": True,
                "camera_ids": ["gate"],
                "cooldown_seconds": 0,
            },
        )
    )
    adrien = single_face_of(server, "adrien_brody")
    assert sight(server, adrien, "door") == ["adrien_brody"]
    assert sight(server, face_jpeg(), "door") == [None]  # no rule: a stranger at the door
    assert sight(server, adrien, "gate") == ["adrien_brody"]
    assert sight(server, face_jpeg(), "gate") == [None]

    webhooks = receiver.wait_for(2, timeout=20)
    assert len(webhooks) == 2
    for item in webhooks:
        assert item.signed_by(SECRET), "the signature verifies with the secret"
        assert not item.signed_by("another-secret-of-some-length")
        body = item.json()
        assert body["alert_id"] == item.alert_id and body["rule_id"] == rule_a["rule_id"]
        assert body["event"]["person_id"] == "adrien_brody"
    assert [item.json()["event"]["camera_id"] for item in webhooks] == ["door", "gate"]
    # The event is the one GET /events shows.
    event_id = webhooks[0].json()["event"]["event_id"]
    events = call("GET", f"{server.url}/api/v1/events?per_page=50", ADMIN_TOKEN).json()["items"]
    assert next(e for e in events if e["event_id"] == event_id) == webhooks[0].json()["event"]

    subscriber.wait_for(2, timeout=20)
    topics = sorted(topic for topic, _, _, _ in subscriber.messages)
    assert topics == ["cams/gate/adrien_brody", "cams/gate/unknown"]
    subscriber.stop()
    # The retained last-seen topic: a subscriber arriving later reads where Adrien was.
    late = Subscriber(broker.port, "facerec/people/+/last_seen", client_id="late").start(clean=True)
    deadline = time.monotonic() + 5
    while not late.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    late.stop()
    assert [(t, retained) for t, _, retained, _ in late.messages] == [
        ("facerec/people/adrien_brody/last_seen", True)
    ]
    assert json.loads(late.messages[0][1])["event"]["camera_id"] == "gate"

    deliveries = admin(server, "GET", "/deliveries?status=delivered").json()
    assert deliveries["total"] == 4
    assert {d["status"] for d in deliveries["items"]} == {"delivered"}
    assert all(d["attempts"] == 1 and d["last_error"] is None for d in deliveries["items"])
    assert admin(server, "GET", "/deliveries?status=pending").json()["total"] == 0
    for destination in (hook, mqtt):
        assert (
            admin(server, "DELETE", f"/destinations/{destination['destination_id']}").status_code
            == 204
        )
    assert admin(server, "GET", "/rules").json()["total"] == 0, "rules go with their destination"
    log = (Path(server.env["MODEL_DIR"]).parent / "gunicorn.log").read_text()
    assert PATH_TOKEN not in log and SECRET not in log


def test_send_test_reports_what_happened(server: ApiProcess, receiver: WebhookReceiver) -> None:
    good = created(
        admin(
            server,
            "POST",
            "/destinations",
            json={"kind": "webhook", "url": receiver.url, "secret": SECRET},
        )
    )
    answer = admin(server, "POST", f"/destinations/{good['destination_id']}/test")
    assert answer.status_code == 200 and answer.json()["delivered"] is True
    [item] = receiver.received
    assert item.signed_by(SECRET) and item.json() == {
        "alert_id": answer.json()["alert_id"],
        "rule_id": None,
        "event": None,
    }
    dead = created(
        admin(
            server,
            "POST",
            "/destinations",
            json={"kind": "mqtt", "url": f"mqtt://127.0.0.1:{free_port()}"},
        )
    )
    answer = admin(server, "POST", f"/destinations/{dead['destination_id']}/test")
    assert answer.status_code == 502 and answer.json()["code"] == "DELIVERY_FAILED"
    assert "could not connect" in answer.json()["message"]
    for destination in (good, dead):
        admin(server, "DELETE", f"/destinations/{destination['destination_id']}")
