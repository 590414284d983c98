"""Nothing accepted is lost: alerts survive a webhook receiver that is down for a while,
a Mosquitto broker stopped and restarted, and the dispatching worker killed with SIGKILL
in the middle of a delivery. Real gunicorn (2 workers), real receivers and broker.

Each test counts alerts fired (rows written with the sightings), delivered, received and
duplicated (received more than once: at-least-once allows it, always with the same alert
id), and writes them to tests/artifacts/alerts/outages.json; lost must be 0.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from api.db.schema import alert_deliveries, alert_destinations
from tests.alerts.conftest import start_alerts_api
from tests.alerts.receivers import PrivateMosquitto, Subscriber, WebhookReceiver
from tests.api.client import call, recognize
from tests.api.conftest import ADMIN_TOKEN, BACKENDS, RECOGNIZE_TOKEN
from tests.api.images import face_jpeg
from tests.databases import mariadb_database, sqlite_url
from tests.live_api import ApiProcess, parent_pid
from tests.shared_data import REPO_ROOT

SIGHTINGS = 8
ARTIFACT = REPO_ROOT / "tests" / "artifacts" / "alerts" / "outages.json"


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    folder = tmp_path_factory.mktemp(f"alerts-outages-{request.param}")
    with ExitStack() as stack:
        url = (
            sqlite_url(folder)
            if request.param == "sqlite"
            else stack.enter_context(mariadb_database())
        )
        api = start_alerts_api(folder, url)
        stack.callback(api.stop)
        yield api


def _strangers_to(server: ApiProcess, destination: dict[str, Any]) -> str:
    """A destination and a rule sending it every stranger seen (no cooldown)."""
    response = call(
        "POST", f"{server.url}/api/v1/alerts/destinations", ADMIN_TOKEN, json=destination
    )
    assert response.status_code == 201, response.text
    destination_id = response.json()["destination_id"]
    rule = {"name": "strangers", "destination_id": destination_id, "person_ids": []}
    rule |= {"unknown": True, "cooldown_seconds": 0}
    response = call("POST", f"{server.url}/api/v1/alerts/rules", ADMIN_TOKEN, json=rule)
    assert response.status_code == 201, response.text
    return destination_id


def _sightings(server: ApiProcess, count: int) -> None:
    for index in range(count):
        response = recognize(server.url, face_jpeg(), RECOGNIZE_TOKEN, camera_id=f"cam{index}")
        assert response.status_code == 200 and response.json()["events_stored"] == 1


def _rows(server: ApiProcess, destination_id: str) -> list[dict[str, Any]]:
    engine = create_engine(server.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(alert_deliveries)
                .where(alert_deliveries.c.destination_id == destination_id)
                .order_by(alert_deliveries.c.delivery_id)
            )
            return [dict(row) for row in rows.mappings()]
    finally:
        engine.dispose()


def _wait_rows(server: ApiProcess, destination_id: str, done, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    rows = _rows(server, destination_id)
    while not done(rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = _rows(server, destination_id)
    return rows


def _account(
    server: ApiProcess, name: str, rows: list[dict], received: list[str]
) -> dict[str, int]:
    """Counts, and the at-least-once checks: every fired alert received, nothing received
    that was not fired, and the alerts of the destination first arrived in their order."""
    fired = [row["alert_id"] for row in rows]
    first_arrivals = list(dict.fromkeys(received))
    counts = {
        "fired": len(fired),
        "delivered": sum(row["status"] == "delivered" for row in rows),
        "received": len(received),
        "duplicates": len(received) - len(first_arrivals),
        "lost": len(set(fired) - set(received)),
        "attempts": sum(row["attempts"] for row in rows),
    }
    assert set(received) <= set(fired), "something arrived that was never fired"
    assert first_arrivals == fired, "alerts of one destination arrive in order"
    assert counts["lost"] == 0 and counts["delivered"] == counts["fired"] == SIGHTINGS, counts
    results = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    backend = "sqlite" if server.env["DATABASE_URL"].startswith("sqlite") else "mariadb"
    results[f"{name} ({backend})"] = counts
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(results, indent=2) + "\n")
    print(name, counts)
    return counts


def _all_delivered(rows: list[dict]) -> bool:
    return len(rows) == SIGHTINGS and all(row["status"] == "delivered" for row in rows)


def _sightings_while_down(server: ApiProcess, destination_id: str, error: str) -> None:
    """Sightings while the destination is away: their alerts wait, the oldest retrying."""
    _sightings(server, SIGHTINGS)
    time.sleep(3)
    rows = _rows(server, destination_id)
    assert [row["status"] for row in rows] == ["pending"] * SIGHTINGS
    assert rows[0]["attempts"] >= 2 and error in rows[0]["last_error"]
    assert all(row["attempts"] == 0 for row in rows[1:]), "the later ones wait their turn"


def test_webhook_receiver_down_for_a_while(server: ApiProcess, receiver: WebhookReceiver) -> None:
    destination_id = _strangers_to(
        server, {"kind": "webhook", "url": receiver.url, "secret": "s" * 32}
    )
    receiver.stop()
    _sightings_while_down(server, destination_id, "connection failed")
    receiver.start()
    rows = _wait_rows(server, destination_id, _all_delivered, timeout=60)
    received = receiver.wait_for(SIGHTINGS, timeout=5)
    assert all(item.signed_by("s" * 32) for item in received)
    _account(server, "webhook receiver down", rows, [item.alert_id for item in received])


def test_mosquitto_stopped_and_restarted(server: ApiProcess, broker: PrivateMosquitto) -> None:
    subscriber = Subscriber(broker.port, "outage/#", client_id="outage-subscriber").start()
    destination_id = _strangers_to(
        server, {"kind": "mqtt", "url": broker.url, "topic": "outage/{camera_id}"}
    )
    broker.stop()
    _sightings_while_down(server, destination_id, "could not connect to the broker")
    broker.start()  # same port, same persistence: the subscriber's session comes back
    rows = _wait_rows(server, destination_id, _all_delivered, timeout=60)
    received = subscriber.wait_for(SIGHTINGS, timeout=20)
    subscriber.stop()
    _account(server, "mosquitto stopped and restarted", rows, received)


def test_dispatching_worker_killed_mid_delivery(
    server: ApiProcess, receiver: WebhookReceiver
) -> None:
    """The receiver holds each request 1.5 s; while it holds the first, the worker that
    sent it (the destination's lease owner) is killed with SIGKILL. Another worker takes
    over once the lease expires and resends what the dead one had not recorded."""
    receiver.delay = 1.5
    destination_id = _strangers_to(
        server, {"kind": "webhook", "url": receiver.url, "secret": "k" * 32}
    )
    _sightings(server, SIGHTINGS)
    _first_send_in_flight(receiver)
    os.kill(_lease_owner_pid(server, destination_id), signal.SIGKILL)
    receiver.delay = 0.0
    rows = _wait_rows(server, destination_id, _all_delivered, timeout=90)
    received = receiver.wait_for(SIGHTINGS, timeout=5)
    counts = _account(
        server, "dispatching worker killed", rows, [item.alert_id for item in received]
    )
    assert counts["duplicates"] <= 1, "only the alert in flight may arrive twice"


def _first_send_in_flight(receiver: WebhookReceiver) -> None:
    deadline = time.monotonic() + 20
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.received, "nothing was sent"


def _lease_owner_pid(server: ApiProcess, destination_id: str) -> int:
    engine = create_engine(server.env["DATABASE_URL"])
    with engine.connect() as conn:
        owner = conn.execute(
            select(alert_destinations.c.lease_owner).where(
                alert_destinations.c.destination_id == destination_id
            )
        ).scalar()
    engine.dispose()
    pid = int(owner.rsplit(":", 1)[1])
    assert parent_pid(pid) == server.process.pid, "the lease owner is one of its workers"
    return pid


def test_worker_stopped_gracefully_hands_its_leases_back(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """SIGTERM (a rolling update) to the sending worker: it gives its lease back as it
    exits, so another worker carries on at once instead of after the (here 2-minute) lease."""
    server = start_alerts_api(tmp_path, sqlite_url(tmp_path), ALERT_LEASE_SECONDS="120")
    try:
        receiver.delay = 1.0
        destination_id = _strangers_to(
            server, {"kind": "webhook", "url": receiver.url, "secret": "t" * 32}
        )
        _sightings(server, SIGHTINGS)
        _first_send_in_flight(receiver)
        os.kill(_lease_owner_pid(server, destination_id), signal.SIGTERM)
        receiver.delay = 0.0
        rows = _wait_rows(server, destination_id, _all_delivered, timeout=45)
        received = receiver.wait_for(SIGHTINGS, timeout=5)
        _account(server, "sending worker stopped (SIGTERM)", rows, [i.alert_id for i in received])
    finally:
        server.stop()
