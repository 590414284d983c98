"""Destination URLs: what is accepted, and which addresses an alert may be sent to.

SSRF: whoever manages alerts (an admin key) could point a webhook at an internal service
(a cloud metadata endpoint, the database, the cluster's API) and read its answers back in
the delivery's error. So, unless ALERT_ALLOW_PRIVATE_DESTINATIONS is on, a destination
whose host is, or resolves to, a loopback, private, link-local, shared (CGNAT), multicast
or reserved address is refused: at creation when the URL names such an address
literally, and at every send after resolving the name (names change). What remains: a
name that resolves to a public address at the check and to a private one a moment later
(DNS rebinding) is not caught here; deployments that must rule that out also restrict the
pods' egress (a NetworkPolicy). Delivery errors never echo a response body.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"webhook": ("http", "https"), "mqtt": ("mqtt", "mqtts")}
DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}
MAX_URL_LENGTH = 2048


class AddressRefusedError(ValueError):
    """The destination's address is not one alerts may be sent to."""


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int


def parse_url(url: object, kind: str) -> Endpoint:
    """The endpoint of a destination URL; ValueError (a message for the client) if bad."""
    schemes = SCHEMES[kind]
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_LENGTH:
        raise ValueError(f"url must be a string of 1-{MAX_URL_LENGTH} characters")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise ValueError("url must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ValueError(f"a {kind} url must start with {' or '.join(s + '://' for s in schemes)}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "url must not carry credentials (they would be shown and logged): "
            "use the secret (webhook) or username and secret (mqtt) fields"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("url has an invalid port") from None
    if not parts.hostname:
        raise ValueError("url must name a host")
    if kind == "mqtt" and parts.path not in ("", "/"):
        raise ValueError("an mqtt url names only the broker (mqtt://host:port); use topic")
    return Endpoint(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme])


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refuse_literal_private(endpoint: Endpoint, allow_private: bool) -> None:
    """At creation: a URL naming a private address literally is refused at once."""
    if allow_private:
        return
    try:
        public = _is_public(endpoint.host)
    except ValueError:
        return  # a name: checked when resolved, at send time
    if not public:
        raise AddressRefusedError(_REFUSED)


def check_resolved(endpoint: Endpoint, allow_private: bool) -> None:
    """At send time: every address the host resolves to must be public."""
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(endpoint.host, endpoint.port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return  # the connection attempt reports the name error itself
    if any(not _is_public(str(info[4][0])) for info in infos):
        raise AddressRefusedError(_REFUSED)


_REFUSED = (
    "the destination is a loopback, private, link-local or reserved address "
    "(ALERT_ALLOW_PRIVATE_DESTINATIONS is off)"
)
