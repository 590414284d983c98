"""Webhook destinations: a signed JSON POST.

The body is signed with HMAC-SHA256 under the destination's secret
(`X-Facerec-Signature: sha256=<hex>`); `X-Facerec-Alert-Id` is the same on every retry so
a receiver can drop duplicates. 2xx is delivered; anything else (another status, a
timeout, a refused connection) is retried by the dispatcher. Redirects are not followed
(a redirect to an internal address would bypass the address check).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading

import requests

from api.alerts.addresses import AddressRefusedError, check_resolved, parse_url
from api.alerts.delivery import Alert, DeliveryError, Destination

SIGNATURE_HEADER = "X-Facerec-Signature"
ALERT_ID_HEADER = "X-Facerec-Alert-Id"
USER_AGENT = "facerec-alerts/1"

_sessions = threading.local()  # one keep-alive pool per sending thread

# urllib3 logs every request line at DEBUG, and a webhook's path or query is often its
# credential (https://hooks.example/services/T0/B0/<token>): never below INFO.
logging.getLogger("urllib3").setLevel(max(logging.INFO, logging.getLogger("urllib3").level))


def sign(secret: str, body: bytes) -> str:
    """The header value a receiver recomputes: sha256=<hex HMAC-SHA256(secret, body)>."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
        session.trust_env = False  # no proxy from the environment: the address check decides
    return session


def send_webhook(
    destination: Destination, alert: Alert, timeout: float, allow_private: bool
) -> None:
    try:
        check_resolved(parse_url(destination.url, "webhook"), allow_private)
    except AddressRefusedError as error:
        raise DeliveryError(str(error), permanent=True) from None
    body = alert.body.encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        ALERT_ID_HEADER: alert.alert_id,
        SIGNATURE_HEADER: sign(destination.secret or "", body),
    }
    try:
        response = _session().post(
            destination.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except requests.ConnectionError:
        raise DeliveryError("connection failed (refused, reset or name not resolved)") from None
    except requests.RequestException as error:
        raise DeliveryError(f"request failed: {type(error).__name__}") from None
    response.close()
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"answered HTTP {response.status_code}")
