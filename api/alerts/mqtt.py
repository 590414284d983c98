"""MQTT destinations: QoS 1 publishes through paho-mqtt, one connection per destination.

An alert is published to the destination's topic (a template with `{camera_id}` and
`{person_id}`; "unknown" for a stranger) and, for a recognised person, also retained on
`last_seen_topic` (default `facerec/people/{person_id}/last_seen`), so a subscriber that
connects later (Home Assistant) reads where everyone was last seen, the shape Double
Take users know. A publish counts once the broker's PUBACK arrives; anything else drops
the connection (and what paho had queued on it) so the dispatcher's retry starts clean.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass

import paho.mqtt.client as paho

from api.alerts.addresses import AddressRefusedError, check_resolved, parse_url
from api.alerts.delivery import Alert, DeliveryError, Destination

PLACEHOLDERS = ("camera_id", "person_id")
DEFAULT_TOPIC = "facerec/{camera_id}/{person_id}"
DEFAULT_LAST_SEEN_TOPIC = "facerec/people/{person_id}/last_seen"
UNKNOWN = "unknown"
KEEPALIVE_SECONDS = 30
MAX_TOPIC_LENGTH = 512


def check_topic(template: object, field: str) -> str:
    """A topic template: ValueError (the client's message) unless it is one."""
    if not isinstance(template, str) or not 1 <= len(template) <= MAX_TOPIC_LENGTH:
        raise ValueError(f"{field} must be a string of 1-{MAX_TOPIC_LENGTH} characters")
    try:
        probe = template.format_map({name: "x" for name in PLACEHOLDERS})
    except (KeyError, ValueError, IndexError, AttributeError):
        raise ValueError(f"{field} may hold only {{camera_id}} and {{person_id}}") from None
    if any(char in probe for char in "+#\x00") or probe.startswith("$"):
        raise ValueError(f"{field} must not contain the wildcards + or # or start with $")
    return template


def topic_for(template: str, alert: Alert) -> str:
    return template.format_map(
        {"camera_id": alert.camera_id or UNKNOWN, "person_id": alert.person_id or UNKNOWN}
    )


@dataclass
class _Connection:
    signature: tuple[str, str | None, str | None]  # what it was opened with
    client: paho.Client


class MqttPublisher:
    """Open connections by destination; used by one sender thread per destination at a
    time (the dispatcher's lease), so only the map itself needs the lock."""

    def __init__(self, timeout: float, allow_private: bool) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._connections: dict[str, _Connection] = {}
        self._lock = threading.Lock()

    def publish(self, destination: Destination, alert: Alert) -> None:
        client = self._client(destination)
        try:
            self._publish(client, topic_for(destination.topic or DEFAULT_TOPIC, alert), alert.body)
            if alert.person_id is not None and destination.last_seen_topic:
                topic = topic_for(destination.last_seen_topic, alert)
                self._publish(client, topic, alert.body, retain=True)
        except DeliveryError:
            self.drop(destination.destination_id)
            raise

    def _publish(self, client: paho.Client, topic: str, body: str, retain: bool = False) -> None:
        info = client.publish(topic, body.encode("utf-8"), qos=1, retain=retain)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError):
            raise DeliveryError("the broker connection was lost while publishing") from None
        if not info.is_published():
            raise DeliveryError(f"no PUBACK from the broker within {self.timeout:g} s")

    def _client(self, destination: Destination) -> paho.Client:
        signature = (destination.url, destination.username, destination.secret)
        with self._lock:
            current = self._connections.get(destination.destination_id)
        if current is not None and current.signature == signature and current.client.is_connected():
            return current.client
        self.drop(destination.destination_id)
        client = self._connect(destination)
        with self._lock:
            self._connections[destination.destination_id] = _Connection(signature, client)
        return client

    def _connect(self, destination: Destination) -> paho.Client:
        endpoint = parse_url(destination.url, "mqtt")
        try:
            check_resolved(endpoint, self.allow_private)
        except AddressRefusedError as error:
            raise DeliveryError(str(error), permanent=True) from None
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"facerec-{os.getpid()}-{secrets.token_hex(4)}",
            clean_session=True,
            reconnect_on_failure=False,
        )
        client.connect_timeout = self.timeout
        if endpoint.scheme == "mqtts":
            client.tls_set()
        if destination.username is not None:
            client.username_pw_set(destination.username, destination.secret)
        connected = threading.Event()
        outcome: list[object] = []

        def on_connect(_client, _userdata, _flags, reason_code, _properties) -> None:
            outcome.append(reason_code)
            connected.set()

        client.on_connect = on_connect
        try:
            client.connect(endpoint.host, endpoint.port, keepalive=KEEPALIVE_SECONDS)
        except OSError:
            raise DeliveryError("could not connect to the broker (refused, unreachable)") from None
        client.loop_start()
        if not connected.wait(self.timeout) or getattr(outcome[0], "is_failure", True):
            reason = outcome[0] if outcome else f"no CONNACK within {self.timeout:g} s"
            _close(client)
            raise DeliveryError(f"the broker refused the connection: {reason}")
        return client

    def drop(self, destination_id: str) -> None:
        with self._lock:
            current = self._connections.pop(destination_id, None)
        if current is not None:
            _close(current.client)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            _close(connection.client)


def _close(client: paho.Client) -> None:
    try:
        client.disconnect()
    finally:
        client.loop_stop()
