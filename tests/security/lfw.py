"""Real people for the security tests: LFW identities enrolled through the keyed API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api import client
from tests.security.server import ADMIN_TOKEN, SecuredServer
from tests.shared_data import shared_path


@dataclass(frozen=True)
class LfwPerson:
    person_id: str
    enrol: tuple[Path, ...]
    probes: tuple[Path, ...]


def lfw_people(count: int, enrol_per_person: int, first: int = 0) -> list[LfwPerson]:
    """`count` people of lfw-ident20 (alphabetical from `first`), split enrol/probe."""
    root = shared_path("data", "lfw-ident20")
    folders = [d for d in sorted(root.iterdir()) if d.is_dir()][first : first + count]
    people = []
    for folder in folders:
        images = sorted(folder.glob("*.jpg"))
        people.append(
            LfwPerson(
                folder.name.lower(),
                tuple(images[:enrol_per_person]),
                tuple(images[enrol_per_person:]),
            )
        )
    return people


def enrol_person(server: SecuredServer, person: LfwPerson) -> list[int]:
    """Create `person` and enrol every enrolment image; returns the new face ids."""
    created = server.call("POST", "/api/v1/people", json={"person_id": person.person_id})
    assert created.status_code == 201, created.text
    files = [("image", (p.name, p.read_bytes(), "image/jpeg")) for p in person.enrol]
    answer = server.call(
        "POST",
        f"/api/v1/people/{person.person_id}/faces",
        files=files,
        data={"largest_face_only": "true"},
    )
    assert answer.status_code == 201, answer.text
    faces = answer.json()["faces"]
    assert len(faces) == len(person.enrol), answer.json()["rejected"]
    return [face["face_id"] for face in faces]


def train(server: SecuredServer, mode: str = "optimized", timeout: float = 120) -> dict[str, Any]:
    """Queue a training and wait for it to end; returns the finished job."""
    queued = server.call("POST", "/api/v1/training", json={"mode": mode})
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = server.call("GET", f"/api/v1/training/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"training {job_id} did not finish in {timeout} s")


def recognize(server: SecuredServer, image: Path, **form: str) -> dict[str, Any]:
    response = client.recognize(server.url, image, ADMIN_TOKEN, **form)
    assert response.status_code == 200, response.text
    return response.json()


def largest_face(answer: dict[str, Any]) -> dict[str, Any]:
    def area(face: dict[str, Any]) -> int:
        box = face["box"]
        return (box["right"] - box["left"]) * (box["bottom"] - box["top"])

    return max(answer["faces"], key=area)
