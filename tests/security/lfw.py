"""Real people for the security tests: LFW identities enrolled through the keyed API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api import client
from tests.security.server import ADMIN_TOKEN, SecuredServer
from tests.shared_data import ident20_people


@dataclass(frozen=True)
class LfwPerson:
    person_id: str
    enrol: tuple[Path, ...]
    probes: tuple[Path, ...]


def lfw_people(count: int, enrol_per_person: int, first: int = 0) -> list[LfwPerson]:
    """`count` people of lfw-ident20 (alphabetical from `first`), split enrol/probe."""
    chosen = list(ident20_people().items())[first : first + count]
    return [
        LfwPerson(person_id, tuple(images[:enrol_per_person]), tuple(images[enrol_per_person:]))
        for person_id, images in chosen
    ]


def enrol_person(server: SecuredServer, person: LfwPerson) -> list[int]:
    """Create `person` and enrol every enrolment image; returns the new face ids."""
    created = client.create_person(server.url, person.person_id, api_key=ADMIN_TOKEN)
    assert created.status_code == 201, created.text
    answer = client.enrol(server.url, person.person_id, list(person.enrol), api_key=ADMIN_TOKEN)
    faces = answer["faces"]
    assert len(faces) == len(person.enrol), answer["rejected"]
    return [face["face_id"] for face in faces]


def train(server: SecuredServer, mode: str = "optimized", timeout: float = 120) -> dict[str, Any]:
    """Queue a training and wait for it to end; returns the finished job."""
    return client.train(server.url, mode, timeout, api_key=ADMIN_TOKEN)


def recognize(server: SecuredServer, image: Path, **form: str) -> dict[str, Any]:
    response = client.recognize(server.url, image, ADMIN_TOKEN, **form)
    assert response.status_code == 200, response.text
    return response.json()


def largest_face(answer: dict[str, Any]) -> dict[str, Any]:
    def area(face: dict[str, Any]) -> int:
        box = face["box"]
        return (box["right"] - box["left"]) * (box["bottom"] - box["top"])

    return max(answer["faces"], key=area)
