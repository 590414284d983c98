"""API keys: scopes, camera binding, revocation, hashing, and no keys -> loopback only."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import requests

from api.app import create_app
from api.config import Settings
from tests.api.client import call, create_key
from tests.api.conftest import ADMIN_TOKEN, RECOGNIZE_TOKEN
from tests.api.images import face_jpeg
from tests.databases import sqlite_url
from tests.live_api import GUNICORN, ApiProcess, free_port
from tests.shared_data import REPO_ROOT


def code_of(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_requests_without_a_valid_key_are_401(keyed_api: ApiProcess) -> None:
    url = keyed_api.url
    assert code_of(call("GET", f"{url}/api/v1/people")) == (401, "UNAUTHORIZED")
    for bad in ("nope", "fr_unknown_secret", "fr__", ADMIN_TOKEN + "x", "x" * 4_000):
        assert code_of(call("GET", f"{url}/api/v1/people", bad)) == (401, "UNAUTHORIZED")
    # Past gunicorn's 8 KiB header limit the request never reaches the application.
    assert call("GET", f"{url}/api/v1/people", "x" * 10_000).status_code == 431
    assert code_of(call("POST", f"{url}/dataset/someone")) == (401, "UNAUTHORIZED")
    assert code_of(call("POST", f"{url}/face-recognition/get-results", files={"image": b"x"})) == (
        401,
        "UNAUTHORIZED",
    )
    assert call("GET", f"{url}/healthz").status_code == 200
    assert call("GET", f"{url}/readyz").status_code == 200
    assert call("GET", f"{url}/swagger.json").status_code == 200


def test_scopes(keyed_api: ApiProcess) -> None:
    url = keyed_api.url
    assert call("GET", f"{url}/api/v1/people", RECOGNIZE_TOKEN).status_code == 200
    forbidden = call("POST", f"{url}/api/v1/people", RECOGNIZE_TOKEN, json={"person_id": "x"})
    assert code_of(forbidden) == (403, "FORBIDDEN")
    assert code_of(call("POST", f"{url}/dataset/x", RECOGNIZE_TOKEN)) == (403, "FORBIDDEN")
    assert code_of(call("POST", f"{url}/api/v1/training", RECOGNIZE_TOKEN, json={})) == (
        403,
        "FORBIDDEN",
    )
    assert code_of(call("GET", f"{url}/api/v1/keys", RECOGNIZE_TOKEN)) == (403, "FORBIDDEN")
    assert (
        call("POST", f"{url}/api/v1/people", ADMIN_TOKEN, json={"person_id": "x"}).status_code
        == 201
    )
    recognised = call(
        "POST", f"{url}/api/v1/recognize", RECOGNIZE_TOKEN, files={"image": face_jpeg()}
    )
    assert recognised.status_code == 200 and len(recognised.json()["faces"]) == 1
    assert (
        call(
            "POST", f"{url}/api/v1/recognize", ADMIN_TOKEN, files={"image": face_jpeg()}
        ).status_code
        == 200
    )


def test_database_keys_camera_binding_and_revocation(keyed_api: ApiProcess) -> None:
    url = keyed_api.url
    key = create_key(url, ADMIN_TOKEN, "edge lobby", "recognize", camera_id="lobby")
    token = key["token"]
    assert token.startswith(f"fr_{key['key_id']}_")
    listed = call("GET", f"{url}/api/v1/keys", ADMIN_TOKEN).json()["items"]
    assert any(k["key_id"] == key["key_id"] for k in listed)
    assert all("token" not in k and "secret_sha256" not in k for k in listed)

    other_camera = call(
        "POST",
        f"{url}/api/v1/recognize",
        token,
        files={"image": face_jpeg()},
        data={"camera_id": "garage"},
    )
    assert code_of(other_camera) == (403, "FORBIDDEN")
    stored = call("POST", f"{url}/api/v1/recognize", token, files={"image": face_jpeg()})
    assert stored.status_code == 200 and stored.json()["events_stored"] == 1
    events = call("GET", f"{url}/api/v1/events", token, params={"camera_id": "lobby"}).json()
    assert events["total"] == 1

    database = Path(keyed_api.env["DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(database) as conn:
        digest_stored = conn.execute(
            "SELECT secret_sha256 FROM api_keys WHERE key_id = ?", (key["key_id"],)
        ).fetchone()[0]
    secret = token.split("_", 2)[2]
    assert digest_stored != secret and len(digest_stored) == 64
    assert secret.encode() not in database.read_bytes()

    assert call("DELETE", f"{url}/api/v1/keys/{key['key_id']}", ADMIN_TOKEN).status_code == 204
    assert code_of(call("GET", f"{url}/api/v1/people", token)) == (401, "UNAUTHORIZED")
    assert code_of(call("DELETE", f"{url}/api/v1/keys/{key['key_id']}", ADMIN_TOKEN)) == (
        404,
        "KEY_NOT_FOUND",
    )


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": sqlite_url(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.keys", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )

    created = cli("create", "--scope", "admin", "--name", "ops")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["scope"] == "admin" and key["token"].startswith("fr_")
    listing = cli("list")
    assert key["key_id"] in listing.stdout and key["token"] not in listing.stdout
    assert cli("revoke", key["key_id"]).returncode == 0
    assert cli("revoke", key["key_id"]).returncode == 1
    assert '"revoked_at": null' not in cli("list").stdout


def test_without_keys_the_server_refuses_a_public_address(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url(tmp_path),
        "MODEL_DIR": str(tmp_path / "models"),
        "BIND": f"0.0.0.0:{free_port()}",
        "API_KEYS": "",
    }
    result = subprocess.run(
        [str(GUNICORN), "--config", "gunicorn.conf.py", "api.app:create_app()"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0 without API keys" in result.stdout + result.stderr


def test_without_keys_only_loopback_callers_are_served(tmp_path: Path) -> None:
    settings = Settings(database_url=sqlite_url(tmp_path), model_dir=tmp_path / "models")
    client = create_app(settings).test_client()
    assert (
        client.get("/api/v1/people", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    )
    remote = client.get("/api/v1/people", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 403 and remote.json["code"] == "FORBIDDEN"
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
