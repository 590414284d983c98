"""`python -m api.keys create|list|revoke`: manage API keys from a shell in the pod.

The token is printed once, at creation; only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import Connection, Engine

from api.auth import SCOPES, digest, new_token
from api.config import Settings
from api.db import api_keys as keys_db
from api.db.engine import engine_from_settings
from api.db.migrations import upgrade_schema


def create_key(conn: Connection, name: str, scope: str, camera_id: str | None) -> dict[str, Any]:
    """Store a new key; the returned dict holds the token, which is never stored."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    key_id, secret, token = new_token()
    stored = keys_db.add_key(conn, key_id, name, scope, camera_id, digest(secret))
    return {**stored, "token": token}


def _engine() -> Engine:
    settings = Settings.from_env()
    engine = engine_from_settings(settings)
    upgrade_schema(engine)
    return engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.keys", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print its token once")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. edge-lobby")
    create.add_argument("--scope", choices=SCOPES, required=True)
    create.add_argument("--camera", help="bind the key to this camera_id")
    commands.add_parser("list", help="list keys (never their tokens)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)

    engine = _engine()
    with engine.begin() as conn:
        if args.command == "create":
            print(json.dumps(create_key(conn, args.name, args.scope, args.camera), default=str))
        elif args.command == "list":
            for key in keys_db.list_keys(conn):
                print(json.dumps(key, default=str))
        elif not keys_db.revoke_key(conn, args.key_id):
            print(f"no active key {args.key_id}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
