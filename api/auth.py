"""API keys: who may call what.

Tokens look like `fr_<key_id>_<secret>`: the key id finds the stored row, the secret is
compared as a SHA-256 digest with `hmac.compare_digest` (constant time). Keys may also come
from the environment (`API_KEYS="admin:<token>,recognize:<token>"` or a file named by
`API_KEYS_FILE`, one `scope:token` a line), which is how a Kubernetes Secret provides them;
those are held only as digests in memory.

Scopes: `admin` (enrol, delete, train, manage keys; includes everything `recognize` may do)
and `recognize` (recognise, verify, detect, read people, events and the model). A key may be
bound to a camera: its sightings are then always stored under that camera.

Auth is on whenever any key exists. With none, the service is for loopback use only: it
refuses to start on another address (gunicorn.conf.py) and answers 403 to any request that
does not come from loopback.
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

from flask import g, request
from sqlalchemy import Connection

from api.db import api_keys as keys_db
from api.errors import ApiError

ADMIN, RECOGNIZE = "admin", "recognize"
SCOPES = (ADMIN, RECOGNIZE)
HEADER = "X-API-Key"
TOKEN_PREFIX = "fr"  # noqa: S105 - a public marker, not a secret
_ADMIN_PREFIXES = (
    "/api/v1/people",
    "/api/v1/training",
    "/api/v1/keys",
    "/api/v1/cameras",
    "/api/v1/unknowns",  # naming, merging, dismissing unknown people
    "/api/v1/events/",  # corrections of sightings (POST .../correction)
    "/dataset",
    "/model",
)
_PUBLIC_PATHS = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/swagger.json",
    "/swaggerui/",
    "/ui",
    "/static/",
)
_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

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


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs; None for the public operational endpoints and the
    operator's page (`/` redirects to it), which hold no data."""
    if path == "/" or path.startswith(_PUBLIC_PATHS):
        return None
    if path.startswith("/api/v1/keys"):
        return ADMIN
    if method in _MUTATING and path.startswith(_ADMIN_PREFIXES):
        return ADMIN
    return RECOGNIZE


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Authenticator:
    """Checks each request's key; one per worker."""

    def __init__(self, env_keys: dict[str, str]) -> None:
        self.env_keys = env_keys

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
        self, connect: ConnectionFactory, needed: str, token: str | None
    ) -> Caller | None:
        """The caller of a request that needs scope `needed` (see `required_scope`, which
        the caller has already asked); None for a loopback caller while no key exists.

        The database is asked only when the environment's keys cannot answer: a token that
        is not one of them, or no token while no key is configured there.
        """
        if token is None:
            if not self.keys_exist(connect):
                if is_loopback(request.remote_addr):
                    return None
                raise ApiError(
                    403, "FORBIDDEN", "no API key is configured: this service only answers loopback"
                )
            raise ApiError(401, "UNAUTHORIZED", f"send a valid API key in the {HEADER} header")
        caller = self._from_env(token) or self._from_db(connect, token)
        if caller is None:
            raise ApiError(401, "UNAUTHORIZED", "the API key is invalid or revoked")
        if needed == ADMIN and caller.scope != ADMIN:
            raise ApiError(403, "FORBIDDEN", "this API key may not do that (admin scope needed)")
        return caller


def current_caller() -> Caller | None:
    return g.get("caller")


def check_bind_allowed(hosts: list[str], conn_factory: ConnectionFactory) -> None:
    """Refuse to serve a non-loopback address while no API key exists anywhere.

    Called by gunicorn before it binds. When the database cannot be asked, start anyway:
    the per-request rule (no keys -> loopback callers only) still protects the service.
    """
    exposed = [host for host in hosts if not is_loopback(host) and host != "localhost"]
    if not exposed or parse_env_keys():
        return
    try:
        with conn_factory() as conn:
            if keys_db.any_active(conn):
                return
    except Exception:
        return
    raise SystemExit(
        f"refusing to listen on {', '.join(exposed)} without API keys: set API_KEYS or create "
        "one with `python -m api.keys create --scope admin --name ops`, or bind 127.0.0.1"
    )
