"""The original framework's clients work unchanged: its paths answer its shapes."""

from __future__ import annotations

import requests

from tests.live_api import ApiProcess
from tests.shared_data import ident20_people

T = 120


def _images(person: str, count: int, start: int = 0) -> list[bytes]:
    return [p.read_bytes() for p in ident20_people()[person.lower()][start : start + count]]


def test_original_enrol_train_recognise_cycle(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    for raw, person in (("Meryl Streep", "Meryl_Streep"), ("MIKE WEIR", "Mike_Weir")):
        created = requests.post(f"{url}/dataset/{raw}", timeout=T)
        assert created.status_code == 201, created.text
        normalised = raw.lower().replace(" ", "_")
        assert created.json()["id"] == normalised
        for data in _images(person, 4):
            added = requests.post(
                f"{url}/dataset/{normalised}/image", files={"image": ("f.jpg", data)}, timeout=T
            )
            assert added.status_code == 201, added.text
    assert requests.post(f"{url}/dataset/Meryl Streep", timeout=T).status_code == 409
    assert set(requests.get(f"{url}/dataset", timeout=T).json()["people"]) >= {
        "meryl_streep",
        "mike_weir",
    }

    trained = requests.post(f"{url}/model/optimized-train", timeout=T)
    assert trained.status_code == 200 and trained.json()["status"] == "succeeded", trained.text
    full = requests.post(f"{url}/model/train", timeout=T)
    assert full.status_code == 200 and full.json()["status"] == "succeeded", full.text
    assert full.json()["faces"] >= 8

    probe = _images("Meryl_Streep", 1, start=6)[0]
    results = requests.post(
        f"{url}/face-recognition/get-results",
        files={"image": ("p.jpg", probe)},
        data={"include_predictions": "true"},
        timeout=T,
    ).json()
    face = results["faces"][0]
    assert set(face) == {"top_prediction", "bounding_box", "all_predictions"}
    assert face["top_prediction"]["label"] == "meryl_streep"
    assert 0.0 <= face["top_prediction"]["confidence"] <= 1.0
    assert set(face["bounding_box"]) == {"left", "top", "right", "bottom"}
    assert face["all_predictions"][0]["label"] == "meryl_streep"
    without = requests.post(
        f"{url}/face-recognition/get-results", files={"image": ("p.jpg", probe)}, timeout=T
    )
    assert "all_predictions" not in without.json()["faces"][0]

    stored = requests.post(
        f"{url}/face-recognition/store-results",
        files={"image": ("p.jpg", probe)},
        data={"camera_id": "door-1", "location_id": "Front door"},
        timeout=T,
    )
    assert (
        stored.status_code == 200
        and stored.json()["faces"][0]["top_prediction"]["label"] == "meryl_streep"
    )
    where = requests.get(f"{url}/database/Meryl Streep/last-known-location", timeout=T).json()
    assert (
        where["id"] == "meryl_streep"
        and where["camera_id"] == "door-1"
        and where["location_id"] == "Front door"
    )
    seen = requests.get(f"{url}/database/people", timeout=T).json()["people"]
    assert "meryl_streep" in seen and "mike_weir" not in seen  # enrolled, never seen

    assert requests.delete(f"{url}/dataset/Mike Weir", timeout=T).status_code == 200
    assert requests.delete(f"{url}/dataset/Mike Weir", timeout=T).status_code == 404
    assert "mike_weir" not in requests.get(f"{url}/dataset", timeout=T).json()["people"]


def test_compat_errors_use_the_contract_body(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    response = requests.post(
        f"{url}/dataset/nobody/image", files={"image": ("f.jpg", b"x")}, timeout=T
    )
    assert response.status_code == 404 and response.json()["code"] == "PERSON_NOT_FOUND"
    response = requests.get(f"{url}/database/nobody/last-known-location", timeout=T)
    assert response.status_code == 404 and response.json()["code"] == "PERSON_NOT_FOUND"
    response = requests.post(
        f"{url}/face-recognition/get-results", files={"image": ("f.jpg", b"")}, timeout=T
    )
    assert response.status_code == 422 and response.json()["code"] == "IMAGE_UNREADABLE"
