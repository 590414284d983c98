"""Sightings an operator can see and search (contract v1.1), on SQLite and MariaDB with a
real 2-worker gunicorn: the face of every sighting, face quality and its two gates,
search by face, per-camera thresholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFilter

from api.config import Settings
from api.recognition.faces import FaceAnalyzer
from api.vision import MtcnnDetector, load_embedder
from models.runtime import ModelStore
from tests.api.client import call, create_key, create_person, enrol, recognize
from tests.api.conftest import ADMIN_TOKEN, RECOGNIZE_TOKEN
from tests.api.images import blank_png, encode, face_jpeg
from tests.live_api import ApiProcess
from tests.shared_data import built_models_root, ident20_people

KNOWN, WANDERER, STRANGER = "nicole_kidman", "jackie_chan", "hu_jintao"


@pytest.fixture(scope="module")
def people() -> dict[str, list[Path]]:
    return ident20_people()


@pytest.fixture(scope="module")
def enrolled(backend_api: ApiProcess, people: dict[str, list[Path]]) -> str:
    """KNOWN enrolled from five photos; WANDERER and STRANGER never."""
    assert create_person(backend_api.url, KNOWN).status_code == 201
    enrol(backend_api.url, KNOWN, people[KNOWN][:5])
    return KNOWN


def local_analyzer() -> FaceAnalyzer:
    """The API's own detector and embedder, in this process."""
    store = ModelStore(built_models_root())
    return FaceAnalyzer(
        MtcnnDetector(store),
        load_embedder("facenet128", store, precision=Settings().embedder_precision),
    )


def blurred(path: Path, radius: float = 3.0) -> bytes:
    return encode(Image.open(path).convert("RGB").filter(ImageFilter.GaussianBlur(radius)), "JPEG")


def tiny(path: Path, scale: float = 0.3) -> bytes:
    image = Image.open(path).convert("RGB")
    size = (round(image.width * scale), round(image.height * scale))
    return encode(image.resize(size, Image.Resampling.LANCZOS), "JPEG")


def only_face(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    faces = response.json()["faces"]
    assert len(faces) == 1, faces
    return faces[0]


def search(url: str, image: Path | bytes, **form: str) -> Any:
    data = image.read_bytes() if isinstance(image, Path) else image
    return call(
        "POST", f"{url}/api/v1/search", files={"image": ("q.jpg", data, "image/jpeg")}, data=form
    )


def test_stored_face_is_served_and_is_the_face_recognised(
    backend_api: ApiProcess, enrolled: str, people: dict[str, list[Path]]
) -> None:
    url, probe = backend_api.url, people[enrolled][10]
    face = only_face(recognize(url, probe, camera_id="door", location="Front door"))
    assert face["person_id"] == enrolled and face["reason"] is None
    assert 0.0 <= face["quality"] <= 1.0 and isinstance(face["event_id"], int)

    event = call("GET", f"{url}/api/v1/events/{face['event_id']}").json()
    assert event["event_id"] == face["event_id"] and event["person_id"] == enrolled
    assert event["quality"] == pytest.approx(face["quality"], abs=1e-4)
    assert event["unknown_id"] is None and event["corrected"] is False and event["has_face"]
    listed = call("GET", f"{url}/api/v1/events", params={"camera_id": "door"}).json()["items"]
    assert {k: listed[0][k] for k in ("event_id", "quality", "unknown_id", "corrected")} == {
        k: event[k] for k in ("event_id", "quality", "unknown_id", "corrected")
    }

    served = call("GET", f"{url}/api/v1/events/{face['event_id']}/face")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["ETag"] and "private" in served.headers["Cache-Control"]
    crop = cv2.imdecode(np.frombuffer(served.content, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape == (160, 160, 3)
    assert 2_000 < len(served.content) < 12_000  # a small JPEG, not the upload
    again = call(
        "GET",
        f"{url}/api/v1/events/{face['event_id']}/face",
        headers={"If-None-Match": served.headers["ETag"]},
    )
    assert again.status_code == 304 and not again.content

    # The stored crop is that face: embedded as it is (it is the aligned crop, no second
    # detection), it gives the probe's own embedding up to JPEG loss, far from anyone else.
    analyzer = local_analyzer()

    def embedding(path: Path) -> np.ndarray:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        return analyzer.analyze(rgb)[0].embedding

    stored = analyzer.embedder.embed(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)[None])[0]
    assert float(stored @ embedding(probe)) > 0.97
    assert float(stored @ embedding(people[STRANGER][0])) < 0.4


def test_unknown_event_is_404(backend_api: ApiProcess) -> None:
    missing = call("GET", f"{backend_api.url}/api/v1/events/987654321")
    assert missing.status_code == 404 and missing.json()["code"] == "EVENT_NOT_FOUND"
    face = call("GET", f"{backend_api.url}/api/v1/events/987654321/face")
    assert face.status_code == 404 and face.json()["code"] == "FACE_NOT_FOUND"


def test_search_finds_a_person_across_cameras_and_not_a_stranger(
    backend_api: ApiProcess, enrolled: str, people: dict[str, list[Path]]
) -> None:
    url = backend_api.url
    # Never enrolled: sightings of unknown people are searchable too.
    seen = {
        "lobby": only_face(recognize(url, people[WANDERER][0], camera_id="lobby"))["event_id"],
        "garage": only_face(recognize(url, people[WANDERER][1], camera_id="garage"))["event_id"],
    }
    stranger = only_face(recognize(url, people[STRANGER][1], camera_id="lobby"))["event_id"]

    answer = search(url, people[WANDERER][2])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    found = [item["event_id"] for item in body["items"]]
    assert set(seen.values()) <= set(found) and stranger not in found
    similarities = [item["similarity"] for item in body["items"]]
    assert similarities == sorted(similarities, reverse=True)
    assert all(s >= body["threshold"] for s in similarities)
    hit = next(item for item in body["items"] if item["event_id"] == seen["garage"])
    assert hit["camera_id"] == "garage" and hit["person_id"] is None
    assert set(hit) >= {"unknown_id", "location", "captured_at", "similarity"}
    assert body["total"] == len(body["items"]) and body["query"]["quality"] > 0

    only_garage = search(url, people[WANDERER][2], camera_id="garage").json()["items"]
    assert [item["event_id"] for item in only_garage] == [seen["garage"]]
    future = search(url, people[WANDERER][2], since="2999-01-01T00:00:00Z").json()
    assert future["items"] == [] and future["total"] == 0
    assert len(search(url, people[WANDERER][2], limit="1").json()["items"]) == 1


def test_search_refuses_bad_input(backend_api: ApiProcess) -> None:
    url = backend_api.url
    no_face = search(url, blank_png())
    assert no_face.status_code == 422 and no_face.json()["code"] == "NO_FACE_FOUND"
    for form in ({"threshold": "1.5"}, {"limit": "0"}, {"since": "yesterday"}):
        bad = search(url, face_jpeg(), **form)
        assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR", form


def test_quality_orders_sharp_blurred_tiny(
    backend_api: ApiProcess, people: dict[str, list[Path]]
) -> None:
    def quality(data: bytes) -> float:
        answer = call("POST", f"{backend_api.url}/api/v1/detect", files={"image": ("x.jpg", data)})
        assert answer.status_code == 200, answer.text
        return answer.json()["faces"][0]["quality"]

    for path in people[KNOWN][20:24]:
        sharp, soft, small = quality(path.read_bytes()), quality(blurred(path)), quality(tiny(path))
        assert sharp > soft and sharp > small, (path.name, sharp, soft, small)
        assert sharp >= 0.5 and soft < 0.2 and small < 0.3


def test_quality_gates_enrolment_and_naming(
    backend_api: ApiProcess, enrolled: str, people: dict[str, list[Path]]
) -> None:
    url, photo = backend_api.url, people[enrolled][12]
    files = [
        ("image", ("sharp.jpg", photo.read_bytes(), "image/jpeg")),
        ("image", ("blurred.jpg", blurred(photo), "image/jpeg")),
    ]
    answer = call(
        "POST",
        f"{url}/api/v1/people/{enrolled}/faces",
        files=files,
        data={"largest_face_only": "true"},
    )
    assert answer.status_code == 201, answer.text
    assert [f["filename"] for f in answer.json()["faces"]] == ["sharp.jpg"]
    [rejected] = answer.json()["rejected"]
    assert rejected["filename"] == "blurred.jpg" and rejected["code"] == "LOW_QUALITY_FACE"

    # Stored, never named: the blurred face resembles the enrolled person, yet is unknown.
    answer = recognize(url, blurred(photo), camera_id="gate")
    assert answer.status_code == 200, answer.text
    face = answer.json()["faces"][0]  # the largest
    assert face["person_id"] is None and face["reason"] == "low_quality"
    event = call("GET", f"{url}/api/v1/events/{face['event_id']}").json()
    assert event["person_id"] is None and event["quality"] < 0.2


def test_camera_threshold_overrides_the_global_one(
    backend_api: ApiProcess, enrolled: str, people: dict[str, list[Path]]
) -> None:
    url, probe = backend_api.url, people[enrolled][14]
    face = only_face(recognize(url, probe, camera_id="plain"))
    assert face["person_id"] == enrolled
    strict = face["similarity"] + 0.01
    put = call(
        "PUT", f"{url}/api/v1/cameras/strict", json={"location": "Vault", "threshold": strict}
    )
    assert put.status_code == 200, put.text
    settings = call("GET", f"{url}/api/v1/cameras/strict").json()
    assert settings["threshold"] == pytest.approx(strict) and settings["location"] == "Vault"

    answer = recognize(url, probe, camera_id="strict")
    face = only_face(answer)
    assert face["person_id"] is None and face["reason"] == "below_threshold"
    assert answer.json()["threshold"] == pytest.approx(strict, abs=1e-4)
    event = call("GET", f"{url}/api/v1/events/{face['event_id']}").json()
    assert event["location"] == "Vault"  # the camera's location when the request has none
    # A request's own threshold still wins over the camera's.
    assert only_face(recognize(url, probe, camera_id="strict", threshold="0.3"))["person_id"]

    lenient = call("PUT", f"{url}/api/v1/cameras/strict", json={"threshold": None}).json()
    assert lenient["threshold"] is None and lenient["location"] is None
    assert only_face(recognize(url, probe, camera_id="strict"))["person_id"] == enrolled

    for bad in ({"threshold": 1.5}, {"threshold": -0.1}, {"threshold": "high"}, [1]):
        refused = call("PUT", f"{url}/api/v1/cameras/strict", json=bad)
        assert refused.status_code == 400 and refused.json()["code"] == "VALIDATION_ERROR"
    unknown = call("GET", f"{url}/api/v1/cameras/never-configured").json()
    assert unknown["threshold"] is None and 0 < unknown["effective_threshold"] < 1


def test_camera_bound_key_reads_but_does_not_change_its_camera(keyed_api: ApiProcess) -> None:
    url = keyed_api.url
    bound = create_key(url, ADMIN_TOKEN, "cam", "recognize", camera_id="yard")["token"]
    assert call("PUT", f"{url}/api/v1/cameras/yard", ADMIN_TOKEN, json={"threshold": 0.6}).ok
    mine = call("GET", f"{url}/api/v1/cameras/yard", bound)
    assert mine.status_code == 200 and mine.json()["threshold"] == pytest.approx(0.6)
    assert call("GET", f"{url}/api/v1/cameras/other", bound).status_code == 403
    for token in (bound, RECOGNIZE_TOKEN):
        refused = call("PUT", f"{url}/api/v1/cameras/yard", token, json={"threshold": 0.9})
        assert refused.status_code == 403
    assert call("GET", f"{url}/api/v1/cameras/yard", ADMIN_TOKEN).json()["threshold"] == 0.6
