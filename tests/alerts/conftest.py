"""A keyed gunicorn with alerts configured for tests: loopback receivers allowed (the
SSRF guard would refuse them), quick polls, short leases and backoff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.alerts.receivers import PrivateMosquitto, WebhookReceiver
from tests.api.conftest import ADMIN_TOKEN, RECOGNIZE_TOKEN, start_api
from tests.live_api import ApiProcess

SECRETS_KEY = Fernet.generate_key().decode()
ALERT_ENV = {
    "API_KEYS": f"admin:{ADMIN_TOKEN},recognize:{RECOGNIZE_TOKEN}",
    "ALERT_SECRETS_KEY": SECRETS_KEY,
    "ALERT_ALLOW_PRIVATE_DESTINATIONS": "true",
    "ALERT_POLL_SECONDS": "0.2",
    "ALERT_LEASE_SECONDS": "3",
    "ALERT_TIMEOUT_SECONDS": "2",
    "ALERT_BACKOFF_BASE_SECONDS": "0.2",
    "ALERT_BACKOFF_MAX_SECONDS": "1",
    "ALERT_MAX_ATTEMPTS": "40",
}


def start_alerts_api(folder: Path, database_url: str, workers: int = 2, **env: str) -> ApiProcess:
    return start_api(folder, database_url, workers=workers, **{**ALERT_ENV, **env})


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    mosquitto = PrivateMosquitto(tmp_path / "mosquitto").start()
    yield mosquitto
    mosquitto.stop()
