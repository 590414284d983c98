"""Enrol 20 LFW people, train, recognise their other images — on SQLite and MariaDB.

Real gunicorn (2 workers), real MTCNN + FaceNet weights, real images from ../shared.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.api.client import create_person, enrol, recognize, train
from tests.live_api import ApiProcess, ask_each_worker
from tests.shared_data import ident20_people, shared_path

ENROLLED_PER_PERSON = 5
MIN_TOP1_ACCURACY = 0.98


def strangers(count: int) -> list[Path]:
    """First image of LFW people who are not among the 20 enrolled."""
    enrolled = set(ident20_people())
    root = shared_path("data", "lfw-view1")
    folders = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() not in enrolled]
    return [sorted(d.glob("*.jpg"))[0] for d in folders[:count]]


def stranger_with_two_images() -> tuple[Path, Path]:
    """Two images of someone who is neither enrolled nor among `strangers(30)`."""
    used = {p.parent for p in strangers(30)}
    root = shared_path("data", "lfw-view1")
    enrolled = set(ident20_people())
    for folder in sorted(root.iterdir()):
        images = sorted(folder.glob("*.jpg"))
        if folder not in used and folder.name.lower() not in enrolled and len(images) >= 2:
            return images[0], images[1]
    raise AssertionError("lfw-view1 has no stranger with two images")


@pytest.fixture(scope="module")
def enrolled(backend_api: ApiProcess) -> dict[str, list[Path]]:
    """Enrol 5 images of each of the 20 people and train; returns the probe images."""
    probes: dict[str, list[Path]] = {}
    for person_id, images in ident20_people().items():
        assert (
            create_person(
                backend_api.url, person_id, person_id.replace("_", " ").title()
            ).status_code
            == 201
        )
        answer = enrol(backend_api.url, person_id, images[:ENROLLED_PER_PERSON])
        assert len(answer["faces"]) == ENROLLED_PER_PERSON, answer["rejected"]
        probes[person_id] = images[ENROLLED_PER_PERSON:]
    job = train(backend_api.url)
    assert job["status"] == "succeeded", job
    assert job["people"] == 20 and job["faces"] == 20 * ENROLLED_PER_PERSON
    return probes


def _largest_face(answer: dict) -> dict:
    return max(
        answer["faces"],
        key=lambda f: (
            (f["box"]["right"] - f["box"]["left"]) * (f["box"]["bottom"] - f["box"]["top"])
        ),
    )


def test_top1_accuracy_on_unseen_images(
    backend_api: ApiProcess, enrolled: dict[str, list[Path]]
) -> None:
    jobs = [(person, image) for person, images in enrolled.items() for image in images]

    def predict(job: tuple[str, Path]) -> tuple[str, str | None, str | None]:
        response = recognize(backend_api.url, job[1])
        assert response.status_code == 200, response.text
        answer = response.json()
        return job[0], _largest_face(answer)["person_id"], answer["model_version"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(predict, jobs))
    correct = sum(truth == predicted for truth, predicted, _ in results)
    accuracy = correct / len(results)
    print(f"top-1 accuracy on {len(results)} unseen images: {accuracy:.4f}")
    assert len(results) >= 200
    assert accuracy >= MIN_TOP1_ACCURACY
    assert {version for *_, version in results} == {
        requests.get(f"{backend_api.url}/api/v1/model", timeout=10).json()["version"]
    }


def test_people_never_enrolled_come_back_unknown(backend_api: ApiProcess, enrolled: dict) -> None:
    named = []
    images = strangers(30)
    for image in images:
        answer = recognize(backend_api.url, image).json()
        face = _largest_face(answer)
        if face["person_id"] is not None:
            named.append((image.name, face["person_id"], face["similarity"]))
        assert face["similarity"] <= 1.0 and face["candidates"], answer
    false_accept_rate = len(named) / len(images)
    print(f"strangers wrongly named: {len(named)}/{len(images)} {named}")
    assert false_accept_rate <= 0.1
    # The very first stranger is answered as unknown, with candidates still listed.
    first = _largest_face(recognize(backend_api.url, images[0]).json())
    assert first["person_id"] is None and first["name"] is None


def test_verify_separates_same_and_different_people(backend_api: ApiProcess) -> None:
    people = list(ident20_people().values())

    def verify(a: Path, b: Path) -> dict:
        response = requests.post(
            f"{backend_api.url}/api/v1/verify",
            files={"image_a": (a.name, a.read_bytes()), "image_b": (b.name, b.read_bytes())},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()

    same = [verify(images[0], images[-1]) for images in people[:10]]
    different = [verify(people[i][0], people[i + 1][0]) for i in range(10)]
    assert sum(r["same_person"] for r in same) >= 9
    assert sum(not r["same_person"] for r in different) == 10
    assert min(r["similarity"] for r in same) > max(r["similarity"] for r in different) - 0.2
    threshold = same[0]["threshold"]
    for result in same + different:
        assert result["same_person"] == (result["similarity"] >= threshold)
        assert result["distance"] == pytest.approx((2 - 2 * result["similarity"]) ** 0.5, abs=2e-3)


def test_events_are_stored_and_queryable(
    backend_api: ApiProcess, enrolled: dict[str, list[Path]]
) -> None:
    url = backend_api.url
    person = "nicole_kidman"
    # Probes the service names correctly (asked without camera_id: no event stored).
    images = [
        image
        for image in enrolled[person]
        if _largest_face(recognize(url, image).json())["person_id"] == person
    ][:3]
    assert len(images) == 3
    start = datetime.now(UTC) - timedelta(seconds=1)
    seen_at = "2026-01-02T03:04:05Z"
    for camera, image in (("cam-a", images[0]), ("cam-b", images[1])):
        answer = recognize(
            url, image, camera_id=camera, location="Gate 1", captured_at=seen_at
        ).json()
        assert answer["events_stored"] == len(answer["faces"]) >= 1
    answer = recognize(url, images[2], camera_id="cam-b", location="Lobby").json()
    assert _largest_face(answer)["person_id"] == person

    events = requests.get(f"{url}/api/v1/events", params={"person_id": person}, timeout=10).json()
    assert events["total"] == 3
    assert [e["camera_id"] for e in events["items"]] == ["cam-b", "cam-b", "cam-a"]
    cam_b = requests.get(
        f"{url}/api/v1/events", params={"camera_id": "cam-b", "person_id": person}, timeout=10
    ).json()
    assert cam_b["total"] == 2
    recent = requests.get(
        f"{url}/api/v1/events", params={"person_id": person, "since": start.isoformat()}, timeout=10
    ).json()
    assert recent["total"] == 1 and recent["items"][0]["location"] == "Lobby"
    old = requests.get(
        f"{url}/api/v1/events",
        params={"person_id": person, "until": "2026-01-02T03:04:06Z", "per_page": 1, "page": 2},
        timeout=10,
    ).json()
    assert (
        old["total"] == 2
        and len(old["items"]) == 1
        and old["items"][0]["captured_at"] == "2026-01-02T03:04:05Z"
    )

    last = requests.get(f"{url}/api/v1/people/{person}/last-seen", timeout=10).json()
    assert last["seen"] and last["camera_id"] == "cam-b" and last["location"] == "Lobby"
    never = requests.get(f"{url}/api/v1/people/hu_jintao/last-seen", timeout=10).json()
    assert never == {
        "person_id": "hu_jintao",
        "seen": False,
        "camera_id": None,
        "location": None,
        "captured_at": None,
    }


def test_new_person_is_recognised_before_retraining_and_deleted_never_again(
    backend_api: ApiProcess, enrolled: dict[str, list[Path]]
) -> None:
    url = backend_api.url
    image, probe = stranger_with_two_images()
    assert create_person(url, "newcomer").status_code == 201
    enrol(url, "newcomer", [image])
    assert _largest_face(recognize(url, probe).json())["person_id"] == "newcomer"

    victim = enrolled["jackie_chan"][0]
    assert _largest_face(recognize(url, victim).json())["person_id"] == "jackie_chan"
    assert requests.delete(f"{url}/api/v1/people/jackie_chan", timeout=10).status_code == 204
    assert backend_api.process is not None
    answers = ask_each_worker(  # every worker, not only the one that served the delete
        backend_api.process.pid, lambda: recognize(url, victim).json()
    )
    assert len(answers) == backend_api.workers, answers
    for answer in answers.values():
        assert all(
            c["person_id"] != "jackie_chan" for f in answer["faces"] for c in f["candidates"]
        )
        assert _largest_face(answer)["person_id"] is None
