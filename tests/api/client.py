"""Small HTTP helpers the API tests share (the real `requests`, against a real server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

TIMEOUT = 60


def create_person(url: str, person_id: str, name: str | None = None) -> requests.Response:
    return requests.post(
        f"{url}/api/v1/people",
        json={"person_id": person_id, "name": name or person_id},
        timeout=TIMEOUT,
    )


def key_header(api_key: str | None) -> dict[str, str]:
    """The header that carries `api_key`; none for a server without keys."""
    return {"X-API-Key": api_key} if api_key else {}


def enrol(
    url: str,
    person_id: str,
    images: list[Path],
    largest_only: bool = True,
    api_key: str | None = None,
) -> dict[str, Any]:
    files = [("image", (p.name, p.read_bytes(), "image/jpeg")) for p in images]
    response = requests.post(
        f"{url}/api/v1/people/{person_id}/faces",
        files=files,
        data={"largest_face_only": "true" if largest_only else "false"},
        headers=key_header(api_key),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def train(url: str, mode: str = "optimized", timeout: float = 120) -> dict[str, Any]:
    """Queue a training and wait for it to end; returns the finished job."""
    response = requests.post(f"{url}/api/v1/training", json={"mode": mode}, timeout=TIMEOUT)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{url}/api/v1/training/{job_id}", timeout=TIMEOUT).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"training {job_id} did not finish in {timeout} s")


def recognize(
    url: str, image: Path | bytes, api_key: str | None = None, **form: str
) -> requests.Response:
    """One POST /api/v1/recognize on a new connection; `form` may carry camera_id etc."""
    data = image.read_bytes() if isinstance(image, Path) else image
    return requests.post(
        f"{url}/api/v1/recognize",
        files={"image": ("probe.jpg", data, "image/jpeg")},
        data=form,
        headers=key_header(api_key),
        timeout=TIMEOUT,
    )
