"""A small HTTP client for the cloud API, in the style of `requests`.

Errors are split by what the caller should do with them: `CloudUnavailableError` (connection
failure, timeout, 5xx: try again later, spool the crop) and `CloudRejectedError` (4xx: the
request itself is wrong, retrying cannot help). One `requests.Session` per thread keeps
connections alive without sharing a session across the sender's worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests

API_PREFIX = "/api/v1"


class CloudError(Exception):
    """Any failure to get an answer from the cloud API."""


class CloudUnavailableError(CloudError):
    """The cloud could not answer now (network, timeout, 5xx): worth retrying later."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CloudRejectedError(CloudError):
    """The cloud refused the request (4xx) with an error code; retrying will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def base_url_from(url: str | None = None, ip_address: str | None = None) -> str:
    """The API base URL from `--url`, or from the original programs' `--ip-address`
    (host or host:port, plain HTTP); a bare host:port in `url` gets http:// too."""
    value = url or ip_address
    if not value:
        raise ValueError("give the API address with --url (or --ip-address host:port)")
    if "://" not in value:
        value = "http://" + value
    return value.rstrip("/")


def isoformat_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, the form the API stores events with."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CloudClient:
    """The cloud API's v1 endpoints the edge and the programs use."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            if self._api_key:
                session.headers["X-API-Key"] = self._api_key
            self._local.session = session
        return session

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and return the decoded JSON body (None when empty).

        Raises CloudUnavailableError or CloudRejectedError as described in the module docstring."""
        url = f"{self.base_url}{path}"
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self._session().request(method, url, **kwargs)
        except requests.Timeout as error:
            raise CloudUnavailableError(
                f"{method} {path}: timed out after {self.timeout}s"
            ) from error
        except requests.ConnectionError as error:
            raise CloudUnavailableError(
                f"{method} {path}: cannot connect to {self.base_url}"
            ) from error
        if response.status_code >= 500:
            raise CloudUnavailableError(
                f"{method} {path}: server error {response.status_code}", response.status_code
            )
        if response.status_code >= 400:
            code, message = _error_fields(response)
            raise CloudRejectedError(response.status_code, code, message)
        return response.json() if response.content else None

    def recognize(
        self,
        jpeg: bytes,
        *,
        camera_id: str,
        location: str,
        captured_at: datetime,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> dict[str, Any]:
        """Every face in the crop with its identity (`person_id` null when unknown)."""
        data = {
            "camera_id": camera_id,
            "location": location,
            "captured_at": isoformat_utc(captured_at),
        }
        if top_k is not None:
            data["top_k"] = str(top_k)
        if threshold is not None:
            data["threshold"] = str(threshold)
        files = {"image": ("face.jpg", jpeg, "image/jpeg")}
        return self.request("POST", f"{API_PREFIX}/recognize", data=data, files=files)

    def create_person(self, person_id: str, name: str) -> dict[str, Any]:
        return self.request(
            "POST", f"{API_PREFIX}/people", json={"person_id": person_id, "name": name}
        )

    def add_faces(
        self, person_id: str, images: Sequence[tuple[str, bytes]], largest_face_only: bool = True
    ) -> dict[str, Any]:
        """Enrol images (filename, bytes); the answer lists `faces` added and `rejected`."""
        files = [("image", (name, data, "application/octet-stream")) for name, data in images]
        data = {"largest_face_only": "true" if largest_face_only else "false"}
        return self.request(
            "POST", f"{API_PREFIX}/people/{person_id}/faces", data=data, files=files
        )

    def start_training(self, mode: str = "optimized") -> dict[str, Any]:
        return self.request("POST", f"{API_PREFIX}/training", json={"mode": mode})

    def training_status(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"{API_PREFIX}/training/{job_id}")

    def wait_for_training(
        self, job_id: str, timeout_s: float = 600.0, poll_s: float = 1.0
    ) -> dict[str, Any]:
        """Poll until the job succeeds or fails; CloudUnavailableError past `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.training_status(job_id)
            if job.get("status") in ("succeeded", "failed"):
                return job
            if time.monotonic() > deadline:
                raise CloudUnavailableError(f"training job {job_id} still {job.get('status')}")
            time.sleep(poll_s)


def _error_fields(response: requests.Response) -> tuple[str, str]:
    """(code, message) of an error answer; the HTTP reason when the body is not JSON."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return str(body.get("code", f"HTTP_{response.status_code}")), str(body.get("message", ""))
    return f"HTTP_{response.status_code}", response.reason or ""
