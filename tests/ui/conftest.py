"""A keyed gunicorn for the page, a headless Chromium on it, and a keyed HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api import client
from tests.api.conftest import ADMIN_TOKEN, backend_api, keyed_api  # noqa: F401 - fixtures too
from tests.live_api import ApiProcess
from tests.shared_data import REPO_ROOT, shared_path
from tests.ui.browser import chromium, chromium_or_skip

ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "ui"


def lfw(person: str, number: int) -> Path:
    return shared_path("data", "lfw-ident20", person, f"{person}_{number:04d}.jpg")


@dataclass
class Keyed:
    """Plain `requests` calls to the server with an API key."""

    url: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return client.call(method, f"{self.url}{path}", self.token, **kwargs)

    def create_person(self, person_id: str, name: str) -> None:
        response = client.create_person(self.url, person_id, name, api_key=self.token)
        assert response.status_code == 201, response.text

    def enrol(self, person_id: str, images: list[Path]) -> list[int]:
        answer = client.enrol(self.url, person_id, images, api_key=self.token)
        return [face["face_id"] for face in answer["faces"]]

    def recognize(self, image: Path, **form: str) -> list[str | None]:
        """The person_id (or None) of each face; `form` may carry camera_id etc."""
        response = client.recognize(self.url, image, self.token, **form)
        assert response.status_code == 200, response.text
        return [face["person_id"] for face in response.json()["faces"]]


@pytest.fixture(scope="module")
def admin(keyed_api: ApiProcess) -> Keyed:  # noqa: F811 - the fixture imported above
    return Keyed(keyed_api.url, ADMIN_TOKEN)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium_or_skip()
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver
