"""A keyed gunicorn for the page, a headless Chromium on it, and a keyed HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.conftest import backend_api, start_keyed_api  # noqa: F401 - a fixture here too
from tests.live_api import ApiProcess
from tests.shared_data import REPO_ROOT, shared_path
from tests.ui.browser import chromium, chromium_or_skip

ADMIN_TOKEN = "admin-token-for-ui-tests-0123456789"
RECOGNIZE_TOKEN = "recognize-token-for-ui-tests-0123456789"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "ui"
TIMEOUT = 60


def lfw(person: str, number: int) -> Path:
    return shared_path("data", "lfw-ident20", person, f"{person}_{number:04d}.jpg")


@dataclass
class Keyed:
    """Plain `requests` calls to the server with an API key."""

    url: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-API-Key": self.token, **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs
        )

    def create_person(self, person_id: str, name: str) -> None:
        response = self.call("POST", "/api/v1/people", json={"person_id": person_id, "name": name})
        assert response.status_code == 201, response.text

    def enrol(self, person_id: str, images: list[Path]) -> list[int]:
        response = self.call(
            "POST",
            f"/api/v1/people/{person_id}/faces",
            files=[("image", (p.name, p.read_bytes(), "image/jpeg")) for p in images],
            data={"largest_face_only": "true"},
        )
        assert response.status_code == 201, response.text
        return [face["face_id"] for face in response.json()["faces"]]

    def recognize(self, image: Path, **form: str) -> list[str | None]:
        """The person_id (or None) of each face; `form` may carry camera_id etc."""
        response = self.call(
            "POST",
            "/api/v1/recognize",
            files={"image": (image.name, image.read_bytes(), "image/jpeg")},
            data=form,
        )
        assert response.status_code == 200, response.text
        return [face["person_id"] for face in response.json()["faces"]]


@pytest.fixture(scope="module")
def ui_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """One worker on SQLite with an admin and a recognize key (auth on, as in production)."""
    folder = tmp_path_factory.mktemp("api-ui")
    server = start_keyed_api(folder, ADMIN_TOKEN, RECOGNIZE_TOKEN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(ui_api: ApiProcess) -> Keyed:
    return Keyed(ui_api.url, ADMIN_TOKEN)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium_or_skip()
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver
