"""No keys: loopback only, with nginx in front on the same host. nginx connects from
127.0.0.1, so the service must tell a relayed request from a local caller's own: by the
forwarding headers a proxy adds, and by TRUSTED_PROXIES for a proxy that adds none."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.client import call
from tests.api.conftest import ADMIN_TOKEN
from tests.databases import sqlite_url
from tests.live_api import ApiProcess
from tests.shared_data import REPO_ROOT
from tests.training.cluster import Nginx

# What every reverse-proxy guide (and a Kubernetes ingress controller) sets.
STANDARD_HEADERS = """
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
"""


def _serve(folder: Path, **env: str) -> ApiProcess:
    return ApiProcess(
        env={"DATABASE_URL": sqlite_url(folder), "MODEL_DIR": str(folder / "models"), **env},
        log_path=folder / "gunicorn.log",
    ).start()


@pytest.fixture
def keyless_api(tmp_path: Path) -> Iterator[ApiProcess]:
    api = _serve(tmp_path, API_KEYS="")
    yield api
    api.stop()


def test_nginx_with_forwarding_headers_does_not_make_callers_local(
    keyless_api: ApiProcess, tmp_path: Path
) -> None:
    nginx = Nginx(tmp_path / "nginx", [keyless_api.port], location=STANDARD_HEADERS).start()
    try:
        assert call("GET", f"{keyless_api.url}/api/v1/people").status_code == 200  # direct
        relayed = call("GET", f"{nginx.url}/api/v1/people")
        assert relayed.status_code == 403 and relayed.json()["code"] == "FORBIDDEN", relayed.text
        assert "not through a proxy" in relayed.json()["message"]
        assert call("GET", f"{nginx.url}/healthz").status_code == 200  # nginx does relay
    finally:
        nginx.stop()


def test_a_declared_proxy_without_headers_is_refused_once_no_key_is_left(tmp_path: Path) -> None:
    """A bare `proxy_pass` adds no header: declared in TRUSTED_PROXIES, it is refused while
    no key exists (the server refuses to start so; here the last key is revoked live)."""
    env = {**os.environ, "DATABASE_URL": sqlite_url(tmp_path)}
    created = subprocess.run(
        [sys.executable, "-m", "api.keys", "create", "--scope", "admin", "--name", "ops"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    key_id = created.stdout.split('"key_id": "', 1)[1].split('"', 1)[0]
    api = _serve(tmp_path, API_KEYS="", TRUSTED_PROXIES="127.0.0.1/32,::1")
    nginx = Nginx(tmp_path / "nginx", [api.port]).start()
    try:
        assert call("GET", f"{nginx.url}/api/v1/people").status_code == 401
        subprocess.run(
            [sys.executable, "-m", "api.keys", "revoke", key_id],
            cwd=REPO_ROOT, env=env, capture_output=True, timeout=60, check=True,
        )  # fmt: skip
        relayed = call("GET", f"{nginx.url}/api/v1/people")
        assert relayed.status_code == 403 and relayed.json()["code"] == "FORBIDDEN"
    finally:
        nginx.stop()
        api.stop()


def test_keys_work_through_nginx(tmp_path: Path) -> None:
    api = _serve(tmp_path, API_KEYS=f"admin:{ADMIN_TOKEN}", TRUSTED_PROXIES="127.0.0.1")
    nginx = Nginx(tmp_path / "nginx", [api.port], location=STANDARD_HEADERS).start()
    try:
        assert call("GET", f"{nginx.url}/api/v1/people", ADMIN_TOKEN).status_code == 200
        assert call("GET", f"{nginx.url}/api/v1/people").status_code == 401
    finally:
        nginx.stop()
        api.stop()
