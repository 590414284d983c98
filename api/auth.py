"""API keys: who may call what.

Tokens look like `fr_<key_id>_<secret>`: the key id finds the stored row, the secret is
compared as a SHA-256 digest with `hmac.compare_digest` (constant time). Keys may also come
from the environment (`API_KEYS="admin:<token>,recognize:<token>"` or a file named by
`API_KEYS_FILE`, one `scope:token` a line), which is how a Kubernetes Secret provides them;
those are held only as digests in memory.

Scopes: `admin` (enrol, delete, train, manage keys; includes everything `recognize` may do)
and `recognize` (recognise, verify, detect, read people, events and the model). Every view
declares what it needs with `@requires(...)` (tests/api/test_route_scopes.py walks the
whole route table): nothing is inferred from a path, and an undeclared view is admin-only.
A key may be bound to a camera (an edge box in the street): its sightings are then always
stored under that camera, and it may call only what a camera needs (views declared with
`camera_key=True`: recognise, verify, detect, the model), never people, faces or events.

Auth is on whenever any key exists. With none, the service is for loopback use only: it
refuses to start on another address or behind a declared reverse proxy (TRUSTED_PROXIES,
gunicorn.conf.py), and answers 403 to any request that is not a loopback caller's own:
one from another address, from a trusted proxy, or carrying a proxy's forwarding headers
(a proxy on the same host would otherwise make every remote caller look local).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Request, g, request
from sqlalchemy import Connection

from api.db import api_keys as keys_db
from api.errors import ApiError

ADMIN, RECOGNIZE, PUBLIC = "admin", "recognize", "public"
SCOPES = (ADMIN, RECOGNIZE)
HEADER = "X-API-Key"
TOKEN_PREFIX = "fr"  # noqa: S105 - a public marker, not a secret
# What flask and flask-restx register themselves: static files, the Swagger UI and spec.
_FRAMEWORK_PUBLIC = frozenset({"static", "specs", "doc", "root", "restx_doc.static"})
# Headers a reverse proxy adds: a request carrying one was relayed, whoever connected.
_FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host", "Via")
View = TypeVar("View", bound=Callable[..., Any])

# Opens a database connection (`engine.connect`): handed over instead of an open one, so
# that a request whose key is in the environment never takes one from the pool for auth.
ConnectionFactory = Callable[[], Connection]


@dataclass(frozen=True)
class Caller:
    """The authenticated key of a request (None where auth is off)."""

    scope: str
    camera_id: str | None
    key_id: str | None = None  # stored with what the caller changes (corrections)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str, str]:
    """(key_id, secret, token) for a new key; only the token is shown, once."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{TOKEN_PREFIX}_{key_id}_{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def parse_env_keys(environ: dict[str, str] | None = None) -> dict[str, str]:
    """{sha256 of token: scope} from API_KEYS and API_KEYS_FILE."""
    env = os.environ if environ is None else environ
    entries = [e for e in env.get("API_KEYS", "").split(",") if e.strip()]
    key_file = env.get("API_KEYS_FILE", "")
    if key_file:
        entries += [
            line for line in Path(key_file).read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    parsed: dict[str, str] = {}
    for entry in entries:
        scope, _, token = entry.strip().partition(":")
        if scope not in SCOPES or len(token) < 16:
            raise ValueError(
                "API_KEYS entries must be '<admin|recognize>:<token of 16+ characters>'"
            )
        parsed[digest(token)] = scope
    return parsed


@dataclass(frozen=True)
class Access:
    """What a view needs: a scope (PUBLIC: no key) and whether a camera-bound key may call it."""

    scope: str
    camera_key: bool = False


_STRICTNESS = {PUBLIC: 0, RECOGNIZE: 1, ADMIN: 2}
# No route matched (404, 405): a key is needed to learn even that.
UNROUTED = Access(RECOGNIZE, camera_key=True)
# A route whose view declared nothing: only admin, never by accident public.
UNDECLARED = Access(ADMIN)


def requires(scope: str, camera_key: bool = False) -> Callable[[View], View]:
    """Declare the access a view needs: a flask view function or a Resource method."""
    if scope not in _STRICTNESS:
        raise ValueError(f"unknown scope {scope!r}")

    def declare(view: View) -> View:
        view.access = Access(scope, camera_key)  # type: ignore[attr-defined]
        return view

    return declare


def declared_access(app: Flask, endpoint: str, method: str) -> Access | None:
    """The access `method` on `endpoint` declares; None where it declares none. HEAD is
    GET's; OPTIONS (which only lists methods) is the least its methods need."""
    if endpoint in _FRAMEWORK_PUBLIC:
        return Access(PUBLIC, camera_key=True)
    view = app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is None:  # a function: one declaration for all its methods
        return getattr(view, "access", None)
    if method == "OPTIONS":
        found = [declared_access(app, endpoint, m) for m in sorted(view_class.methods or ())]
        if not found or None in found:
            return None
        return min(found, key=lambda a: (_STRICTNESS[a.scope], not a.camera_key))  # type: ignore[union-attr]
    handler = getattr(view_class, "get" if method == "HEAD" else method.lower(), None)
    return getattr(handler, "access", None)


def access_of(app: Flask, endpoint: str | None, method: str) -> Access:
    """What this request needs: its view's declaration (UNROUTED, UNDECLARED otherwise)."""
    if endpoint is None:
        return UNROUTED
    return declared_access(app, endpoint, method) or UNDECLARED


def parse_proxies(raw: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """TRUSTED_PROXIES: comma-separated addresses or networks of reverse proxies."""
    try:
        return [ipaddress.ip_network(p.strip(), strict=False) for p in raw.split(",") if p.strip()]
    except ValueError as error:
        raise ValueError(f"TRUSTED_PROXIES: {error}") from error


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Authenticator:
    """Checks each request's key; one per worker."""

    def __init__(self, env_keys: dict[str, str], trusted_proxies: str = "") -> None:
        self.env_keys = env_keys
        self.proxies = parse_proxies(trusted_proxies)

    def is_local_caller(self, req: Request) -> bool:
        """A caller on this host talking to the service directly: a loopback peer that is
        neither a declared proxy nor relaying for someone (forwarding headers)."""
        if not is_loopback(req.remote_addr):
            return False
        peer = ipaddress.ip_address(req.remote_addr or "")
        if any(peer in network for network in self.proxies):
            return False
        return not any(name in req.headers for name in _FORWARDING_HEADERS)

    def _from_env(self, token: str) -> Caller | None:
        presented = digest(token)
        match = None
        for stored, scope in self.env_keys.items():
            if hmac.compare_digest(stored, presented):
                # No id of its own: named by its hash's first 8 digits (not secret).
                match = Caller(scope=scope, camera_id=None, key_id=f"env-{stored[:8]}")
        return match

    def _from_db(self, connect: ConnectionFactory, token: str) -> Caller | None:
        parts = split_token(token)
        if parts is None:
            return None
        with connect() as conn:
            row = keys_db.find_active(conn, parts[0])
        if row is None or not hmac.compare_digest(row["secret_sha256"], digest(parts[1])):
            return None
        return Caller(scope=row["scope"], camera_id=row["camera_id"], key_id=parts[0])

    def keys_exist(self, connect: ConnectionFactory) -> bool:
        if self.env_keys:
            return True
        with connect() as conn:
            return keys_db.any_active(conn)

    def authenticate(
        self, connect: ConnectionFactory, needed: Access, token: str | None
    ) -> Caller | None:
        """The caller of a request that needs `needed` (see `access_of`, which the caller
        has already asked); None for a local caller (`is_local_caller`) while no key exists.

        The database is asked only when the environment's keys cannot answer: a token that
        is not one of them, or no token while no key is configured there.
        """
        if token is None:
            if not self.keys_exist(connect):
                if self.is_local_caller(request):
                    return None
                raise ApiError(
                    403,
                    "FORBIDDEN",
                    "no API key is configured: this service only answers callers on its own "
                    "host that connect directly (not through a proxy)",
                )
            raise ApiError(401, "UNAUTHORIZED", f"send a valid API key in the {HEADER} header")
        caller = self._from_env(token) or self._from_db(connect, token)
        if caller is None:
            raise ApiError(401, "UNAUTHORIZED", "the API key is invalid or revoked")
        if needed.scope == ADMIN and caller.scope != ADMIN:
            raise ApiError(403, "FORBIDDEN", "this API key may not do that (admin scope needed)")
        if caller.camera_id is not None and not needed.camera_key:
            raise ApiError(
                403,
                "FORBIDDEN",
                f"this API key is bound to camera {caller.camera_id}: it may only recognise",
            )
        return caller


def current_caller() -> Caller | None:
    return g.get("caller")


def check_bind_allowed(
    hosts: list[str], conn_factory: ConnectionFactory, trusted_proxies: str = ""
) -> None:
    """Refuse to serve a non-loopback address, or behind a declared reverse proxy (which
    makes remote callers look local), while no API key exists anywhere.

    Called by gunicorn before it binds. When the database cannot be asked, start anyway:
    the per-request rule (no keys -> local callers only) still protects the service.
    """
    exposed = [host for host in hosts if not is_loopback(host) and host != "localhost"]
    proxies = parse_proxies(trusted_proxies)
    if not (exposed or proxies) or parse_env_keys():
        return
    try:
        with conn_factory() as conn:
            if keys_db.any_active(conn):
                return
    except Exception:
        return
    where = f"on {', '.join(exposed)}" if exposed else "behind the proxies in TRUSTED_PROXIES"
    raise SystemExit(
        f"refusing to serve {where} without API keys: set API_KEYS or create "
        "one with `python -m api.keys create --scope admin --name ops`, or bind 127.0.0.1 "
        "with no proxy in front"
    )
