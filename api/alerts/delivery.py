"""What a send needs and how it fails: shared by the webhook and MQTT senders."""

from __future__ import annotations

from dataclasses import dataclass


class DeliveryError(Exception):
    """A send that did not succeed. `permanent`: retrying cannot help (refused address).

    The message is stored as the delivery's last error and shown to admins: it names the
    failure (status, timeout, refusal), never a URL, a secret or a response body.
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Destination:
    """A destination as the senders see it, its secret decrypted (never logged)."""

    destination_id: str
    kind: str
    url: str
    topic: str | None
    last_seen_topic: str | None
    username: str | None
    secret: str | None

    def __repr__(self) -> str:  # a dataclass repr would print the secret
        return f"Destination({self.destination_id!r}, {self.kind!r})"


@dataclass(frozen=True)
class Alert:
    """One message to send: its id, body and the subject its topics are made of."""

    alert_id: str
    body: str
    camera_id: str | None
    person_id: str | None
