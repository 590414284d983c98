"""Real receivers for alerts: an HTTP webhook endpoint and a private Mosquitto broker.

The broker is the one place tests start Mosquitto: its own process on a free port (`mosquitto
-c` with a config written here), so stopping it disturbs nobody else's broker. It keeps
sessions on disk, so a subscriber with a persistent session gets every QoS 1 message sent
while it (or the broker) was away.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

from tests.live_api import free_port


@dataclass
class Received:
    alert_id: str
    signature: str
    body: bytes
    at: float  # time.time() when it arrived

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature)


@dataclass
class WebhookReceiver:
    """POSTs on 127.0.0.1:`port`, recorded as they arrive; `status` and `delay` (seconds
    before answering) say how it answers. stop() and start() keep the port."""

    port: int = field(default_factory=free_port)
    status: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                item = Received(
                    self.headers.get("X-Facerec-Alert-Id", ""),
                    self.headers.get("X-Facerec-Signature", ""),
                    body,
                    time.time(),
                )
                with receiver._lock:
                    receiver.received.append(item)
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def alert_ids(self) -> list[str]:
        with self._lock:
            return [item.alert_id for item in self.received]

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Until `count` distinct alert ids have arrived; all received so far."""
        deadline = time.monotonic() + timeout
        while len(set(self.alert_ids())) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            return list(self.received)


@dataclass
class PrivateMosquitto:
    """A Mosquitto broker of the test's own on 127.0.0.1:`port`, persistence on."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> PrivateMosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            pytest.skip("mosquitto is absent: apt-get install mosquitto")
        self.folder.mkdir(parents=True, exist_ok=True)
        # Started as root, mosquitto would drop to its own user, which cannot enter
        # pytest's 0700 temporary folders: it could not save its sessions at shutdown and a
        # restart would forget the subscriber's (and what was queued for it). So it stays
        # the user running the tests (the setting does nothing for a non-root user).
        config = self.folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"user {getpass.getuser()}\n"
            f"persistence true\npersistence_location {self.folder}/\n"
        )
        log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 - the process holds it
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
            log = (self.folder / "mosquitto.log").read_text(errors="replace")
            assert "Error saving" not in log, f"the broker lost its sessions: {log[-500:]}"


@dataclass
class Subscriber:
    """A persistent-session QoS 1 subscriber recording (topic, payload, retained, time)."""

    port: int
    topic: str
    client_id: str = "facerec-test-subscriber"
    messages: list[tuple[str, bytes, bool, float]] = field(default_factory=list)
    _client: paho.Client | None = None
    _subscribed: threading.Event = field(default_factory=threading.Event)

    def start(self, clean: bool = False) -> Subscriber:
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=clean
        )
        client.reconnect_delay_set(0.1, 0.5)

        def on_connect(c, _userdata, _flags, _reason, _properties) -> None:
            c.subscribe(self.topic, qos=1)

        def on_subscribe(*_args: object) -> None:
            self._subscribed.set()

        def on_message(_c, _userdata, message) -> None:
            self.messages.append((message.topic, message.payload, message.retain, time.time()))

        client.on_connect, client.on_subscribe, client.on_message = (
            on_connect,
            on_subscribe,
            on_message,
        )
        client.connect("127.0.0.1", self.port, keepalive=10)
        client.loop_start()
        self._client = client
        assert self._subscribed.wait(10), "the subscription was not acknowledged"
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def alert_ids(self) -> list[str]:
        return [json.loads(payload)["alert_id"] for _, payload, _, _ in list(self.messages)]

    def wait_for(self, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(set(self.alert_ids())) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.alert_ids()
