"""The dispatcher in-process on a real database: a destination that never answers ends
as failed after ALERT_MAX_ATTEMPTS with its error shown, the later alerts still go out;
an address the SSRF guard refuses fails at once; backoff grows with jitter."""

from __future__ import annotations

from datetime import datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, update

from api.alerts import store
from api.alerts.addresses import (
    AddressRefusedError,
    check_resolved,
    parse_url,
    refuse_literal_private,
)
from api.alerts.dispatcher import Dispatcher, DispatchSettings
from api.alerts.outbox import enqueue_alerts
from api.alerts.queue import backoff_seconds
from api.alerts.rules import rule_columns
from api.alerts.secrets import SecretBox, SecretsUnavailableError
from api.db.engine import utcnow
from api.db.events import NewEvent, add_events
from api.db.schema import alert_deliveries
from tests.alerts.receivers import WebhookReceiver
from tests.live_api import free_port

KEY = Fernet.generate_key().decode()


def settings(**changes: object) -> DispatchSettings:
    values = {
        "max_attempts": 3,
        "lease_seconds": 5.0,
        "poll_seconds": 0.1,
        "timeout_seconds": 1.0,
        "backoff_base_seconds": 0.0,
        "backoff_max_seconds": 0.0,
        "allow_private": True,
        "threads": 1,
    }
    return DispatchSettings(**{**values, **changes})


def _destination(engine: Engine, url: str) -> str:
    box = SecretBox(KEY)
    with engine.begin() as conn:
        row = store.add_destination(
            conn, {"kind": "webhook", "url": url, "secret_ciphertext": box.encrypt("s" * 20)}
        )
        store.add_rule(
            conn,
            {
                "name": "all",
                "destination_id": row["destination_id"],
                **rule_columns({"unknown": True, "cooldown_seconds": 0}),
            },
        )
    return row["destination_id"]


def _fire(engine: Engine, count: int) -> None:
    sighting = NewEvent(datetime(2026, 12, 1), "cam", None, None, 0.1, 0.1, (1, 2, 3, 4), None)
    with engine.begin() as conn:
        enqueue_alerts(conn, add_events(conn, [sighting] * count))


def _statuses(engine: Engine) -> list[tuple[str, int, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(alert_deliveries.c.status, alert_deliveries.c.attempts)
            .add_columns(alert_deliveries.c.last_error)
            .order_by(alert_deliveries.c.delivery_id)
        )
        return [tuple(row) for row in rows]


def _drain_until_settled(dispatcher: Dispatcher, engine: Engine, destination_id: str) -> None:
    for _ in range(20):
        with engine.begin() as conn:  # retries are due at once (no backoff here)
            conn.execute(update(alert_deliveries).values(next_attempt_at=utcnow()))
        dispatcher.drain(destination_id)
        if all(status != "pending" for status, _, _ in _statuses(engine)):
            return


def test_failed_after_max_attempts_then_the_next_ones_go_out(engine: Engine) -> None:
    receiver = WebhookReceiver(status=500).start()
    try:
        destination_id = _destination(engine, receiver.url)
        _fire(engine, 2)
        dispatcher = Dispatcher(engine, settings(), SecretBox(KEY))
        dispatcher.drain(destination_id)
        assert _statuses(engine) == [
            ("pending", 1, "answered HTTP 500"),
            ("pending", 0, None),
        ], "the first waits for its retry; the second waits behind it"
        _drain_until_settled(dispatcher, engine, destination_id)
        assert _statuses(engine) == [("failed", 3, "answered HTTP 500")] * 2
        receiver.status = 200
        _fire(engine, 1)
        dispatcher.drain(destination_id)
        assert _statuses(engine)[-1] == ("delivered", 1, None)
    finally:
        receiver.stop()


def test_a_refused_address_fails_at_once(engine: Engine) -> None:
    destination_id = _destination(engine, f"http://localhost:{free_port()}/hook")
    _fire(engine, 1)
    Dispatcher(engine, settings(allow_private=False), SecretBox(KEY)).drain(destination_id)
    [(status, attempts, error)] = _statuses(engine)
    assert (status, attempts) == ("failed", 1) and "ALERT_ALLOW_PRIVATE_DESTINATIONS" in error


def test_a_wrong_secrets_key_is_an_error_not_a_crash(engine: Engine) -> None:
    destination_id = _destination(engine, f"http://127.0.0.1:{free_port()}/hook")
    _fire(engine, 1)
    other_key = SecretBox(Fernet.generate_key().decode())
    Dispatcher(engine, settings(max_attempts=1), other_key).drain(destination_id)
    [(status, _, error)] = _statuses(engine)
    assert status == "failed" and "cannot be decrypted" in error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:192.168.0.1]/",
        "mqtt://100.64.0.1",
        "http://224.0.0.1/",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    endpoint = parse_url(url, "mqtt" if url.startswith("mqtt") else "webhook")
    with pytest.raises(AddressRefusedError):
        refuse_literal_private(endpoint, allow_private=False)
    refuse_literal_private(endpoint, allow_private=True)


def test_names_are_checked_once_resolved() -> None:
    with pytest.raises(AddressRefusedError):
        check_resolved(parse_url("http://localhost:9/", "webhook"), allow_private=False)
    refuse_literal_private(parse_url("http://localhost:9/", "webhook"), allow_private=False)
    check_resolved(parse_url("http://93.184.215.14/", "webhook"), allow_private=False)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    for attempts, low, high in [(1, 1, 2), (2, 2, 4), (3, 4, 8), (9, 30, 60)]:
        delays = [backoff_seconds(attempts, 2.0, 60.0) for _ in range(200)]
        assert low <= min(delays) and max(delays) <= high
        assert max(delays) - min(delays) > (high - low) / 4, "jittered"


def test_secret_box() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox(old).encrypt("hunter2-hunter2")
    assert "hunter2" not in token
    assert SecretBox(f"{new},{old}").decrypt(token) == "hunter2-hunter2", "rotation"
    with pytest.raises(SecretsUnavailableError, match="not set"):
        SecretBox(None).encrypt("x")
    with pytest.raises(SecretsUnavailableError, match="Fernet") as error:
        SecretBox("not-a-key")
    assert "not-a-key" not in str(error.value)
