"""Small HTTP helpers the API tests share (the real `requests`, against a real server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

TIMEOUT = 60


def key_header(api_key: str | None) -> dict[str, str]:
    """The header that carries `api_key`; none for a server without keys."""
    return {"X-API-Key": api_key} if api_key else {}


def call(method: str, url: str, api_key: str | None = None, **kwargs: Any) -> requests.Response:
    """One request on a new connection with `api_key` (merged into any `headers` given)."""
    headers = {**key_header(api_key), **kwargs.pop("headers", {})}
    kwargs.setdefault("timeout", TIMEOUT)
    return requests.request(method, url, headers=headers, **kwargs)


def create_person(
    url: str, person_id: str, name: str | None = None, api_key: str | None = None
) -> requests.Response:
    return call(
        "POST",
        f"{url}/api/v1/people",
        api_key,
        json={"person_id": person_id, "name": name or person_id},
    )


def create_key(
    url: str, admin_key: str, name: str, scope: str, camera_id: str | None = None
) -> dict[str, Any]:
    """A new database key (its token shown this once), made with `admin_key`."""
    response = call(
        "POST",
        f"{url}/api/v1/keys",
        admin_key,
        json={"name": name, "scope": scope, "camera_id": camera_id},
    )
    assert response.status_code == 201, response.text
    return response.json()


def enrol(
    url: str,
    person_id: str,
    images: list[Path],
    largest_only: bool = True,
    api_key: str | None = None,
) -> dict[str, Any]:
    files = [("image", (p.name, p.read_bytes(), "image/jpeg")) for p in images]
    response = call(
        "POST",
        f"{url}/api/v1/people/{person_id}/faces",
        api_key,
        files=files,
        data={"largest_face_only": "true" if largest_only else "false"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def train(
    url: str, mode: str = "optimized", timeout: float = 120, api_key: str | None = None
) -> dict[str, Any]:
    """Queue a training and wait for it to end; returns the finished job."""
    response = call("POST", f"{url}/api/v1/training", api_key, json={"mode": mode})
    assert response.status_code == 202, response.text
    return wait_for_job(url, response.json()["job_id"], timeout, api_key)


def wait_for_job(
    url: str, job_id: str, timeout: float = 120, api_key: str | None = None
) -> dict[str, Any]:
    """Poll a training job until it has succeeded or failed; returns the finished job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = call("GET", f"{url}/api/v1/training/{job_id}", api_key).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"training {job_id} did not finish in {timeout} s")


def recognize(
    url: str, image: Path | bytes, api_key: str | None = None, **form: str
) -> requests.Response:
    """One POST /api/v1/recognize on a new connection; `form` may carry camera_id etc."""
    data = image.read_bytes() if isinstance(image, Path) else image
    return call(
        "POST",
        f"{url}/api/v1/recognize",
        api_key,
        files={"image": ("probe.jpg", data, "image/jpeg")},
        data=form,
    )
