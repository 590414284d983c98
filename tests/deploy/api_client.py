"""The service's HTTP API as the live deployment test calls it: through the load balancer,
from a non-loopback peer's point of view, so every call carries an API key."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

TIMEOUT = 60


class ApiClient:
    """One requests session with the `X-API-Key` header set."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = token

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.url}{path}", timeout=TIMEOUT)

    def create_person(self, person_id: str, name: str) -> requests.Response:
        return self.session.post(
            f"{self.url}/api/v1/people",
            json={"person_id": person_id, "name": name},
            timeout=TIMEOUT,
        )

    def enrol(self, person_id: str, images: list[Path]) -> requests.Response:
        """LFW photos often hold bystanders: enrol each photo's largest face."""
        files = [("image", (p.name, p.read_bytes(), "image/jpeg")) for p in images]
        return self.session.post(
            f"{self.url}/api/v1/people/{person_id}/faces",
            files=files,
            data={"largest_face_only": "true"},
            timeout=TIMEOUT,
        )

    def recognize(self, image: Path) -> requests.Response:
        files = {"image": (image.name, image.read_bytes(), "image/jpeg")}
        return self.session.post(f"{self.url}/api/v1/recognize", files=files, timeout=TIMEOUT)

    @staticmethod
    def main_face(answer: dict[str, Any]) -> str | None:
        """The person_id of the largest face in a recognition answer (None: no face or
        an unknown one)."""
        faces = answer["faces"]
        if not faces:
            return None

        def area(face: dict[str, Any]) -> int:
            box = face["box"]
            return (box["right"] - box["left"]) * (box["bottom"] - box["top"])

        return max(faces, key=area)["person_id"]

    def train(self, timeout: float) -> dict[str, Any]:
        """Queue an optimized training and poll it (on any replica) until it ends."""
        response = self.session.post(
            f"{self.url}/api/v1/training", json={"mode": "optimized"}, timeout=TIMEOUT
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/api/v1/training/{job_id}").json()
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(0.5)
        raise TimeoutError(f"training {job_id} did not finish in {timeout} s")
