"""Logs never hold image bytes, embeddings or keys, even at LOG_LEVEL=DEBUG.

The keyed server has logged every request of the session (hostile inputs, fuzzing,
deletion) by the time this runs; this test adds valid, invalid and revoked keys, images
through every endpoint, errors and a training, then reads the whole log file.
"""

from __future__ import annotations

import base64
import secrets

import requests

from tests.api import client
from tests.security import payloads
from tests.security.leaks import find_leaks, image_needles
from tests.security.lfw import enrol_person, lfw_people, train
from tests.security.server import ADMIN_TOKEN, RECOGNIZE_TOKEN, SecuredServer
from tests.security.tally import SecurityReport


def test_the_leak_finder_finds_leaks() -> None:
    """The scanner is not vacuous: each kind of leak it must catch, it catches."""
    image = payloads.face_jpeg()
    needles = image_needles(image)
    vector = ", ".join(f"{value:.6f}" for value in [0.0123, -0.0456] * 64)
    for logged in (
        f'{{"message": "auth {ADMIN_TOKEN}"}}',
        f'{{"message": "{needles["base64@600"]}"}}',
        f'{{"message": "{needles["repr@600"]}"}}',
        f'{{"message": "[{vector}]"}}',
    ):
        assert find_leaks(logged, {"admin": ADMIN_TOKEN}, {"face": image}), logged
    # Unknown bytes in a known encoding are caught by shape alone.
    for unknown in (base64.b64encode(image[5000:5300]).decode(), image[5000:5100].hex()):
        assert find_leaks(f'{{"message": "{unknown}"}}', {}, {}), unknown
    assert not find_leaks("DEBUG GET /api/v1/people/" + "p" * 129, {}, {"face": image})


def test_logs_hold_no_images_embeddings_or_keys(
    secured: SecuredServer, security_report: SecurityReport
) -> None:
    url = secured.url
    people = lfw_people(2, 2, first=17)
    for person in people:
        enrol_person(secured, person)
    assert train(secured)["status"] == "succeeded"
    created = secured.call("POST", "/api/v1/keys", json={"name": "log-probe", "scope": "recognize"})
    assert created.status_code == 201
    db_token = created.json()["token"]
    images = {p.name: p.read_bytes() for person in people for p in person.enrol + person.probes[:2]}
    probe = people[0].probes[0].read_bytes()
    images["probe"] = probe

    def post(path: str, token: str, files: dict, **data: str) -> requests.Response:
        return client.call("POST", f"{url}{path}", token, files=files, data=data)

    for token in (RECOGNIZE_TOKEN, db_token, ADMIN_TOKEN):
        answer = post("/api/v1/recognize", token, {"image": ("p.jpg", probe)}, camera_id="log-cam")
        assert answer.status_code == 200
    second = people[0].probes[1].read_bytes()
    verify = {"image_a": ("a.jpg", probe), "image_b": ("b.jpg", second)}
    assert post("/api/v1/verify", RECOGNIZE_TOKEN, verify).status_code == 200
    assert post("/api/v1/detect", RECOGNIZE_TOKEN, {"image": ("d.jpg", probe)}).status_code == 200
    assert post("/face-recognition/get-results", db_token, {"image": ("g", probe)}).ok
    invalid = {
        "unknown well-formed": f"fr_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
        "admin plus one": ADMIN_TOKEN + "x",
        "random": secrets.token_urlsafe(30),
    }
    for token in invalid.values():
        assert post("/api/v1/recognize", token, {"image": ("p.jpg", probe)}).status_code == 401
    key_id = created.json()["key_id"]
    assert secured.call("DELETE", f"/api/v1/keys/{key_id}").status_code == 204
    assert post("/api/v1/recognize", db_token, {"image": ("p.jpg", probe)}).status_code == 401
    damaged = {"junk": probe[:4] + payloads.junk(3000), "cut": probe[: len(probe) // 2]}
    for data in damaged.values():
        assert post("/api/v1/recognize", ADMIN_TOKEN, {"image": ("x.jpg", data)}).status_code == 422
    images.update(damaged)
    assert secured.call("GET", "/api/v1/people/nobody").status_code == 404
    assert secured.call("PUT", "/api/v1/recognize").status_code == 405

    log = secured.log_path.read_text(encoding="utf-8", errors="replace")
    assert log.count("POST /api/v1/recognize") >= 9, "DEBUG request lines are missing"
    tokens = {"admin": ADMIN_TOKEN, "recognize": RECOGNIZE_TOKEN, "database key": db_token}
    tokens["database key secret"] = db_token.split("_", 2)[2]
    tokens.update({f"invalid ({name})": token for name, token in invalid.items()})
    leaks = find_leaks(log, tokens, images)
    security_report.record_fuzzing(
        "log scan (LOG_LEVEL=DEBUG)",
        log_lines=log.count("\n"),
        tokens_sought=len(tokens),
        images_sought=len(images),
        leaks=len(leaks),
    )
    assert leaks == []
