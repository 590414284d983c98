"""The endpoints the page added: face thumbnails, cameras, recognitions per hour.

Against real gunicorn servers on SQLite and MariaDB (the hour is computed by each
database's own SQL), with real enrolled faces and real recognitions.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from api.thumbnail import square_around
from tests.api.client import create_person, enrol, recognize
from tests.live_api import ApiProcess
from tests.ui.conftest import lfw

DAY = "2025-03-09"  # far from "now": other events never fall in these hours


def get(url: str, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{url}{path}", params=params, timeout=60)


def at(clock: str) -> str:
    return f"{DAY}T{clock}"


@pytest.fixture(scope="module")
def kidman(backend_api: ApiProcess) -> dict[str, Any]:
    """Nicole Kidman enrolled from two photos; Jackie Chan from one."""
    assert create_person(backend_api.url, "kidman", "Nicole Kidman").status_code == 201
    answer = enrol(backend_api.url, "kidman", [lfw("Nicole_Kidman", 1), lfw("Nicole_Kidman", 2)])
    assert create_person(backend_api.url, "chan", "Jackie Chan").status_code == 201
    other = enrol(backend_api.url, "chan", [lfw("Jackie_Chan", 1)])
    return {"faces": answer["faces"], "other_face_id": other["faces"][0]["face_id"]}


def test_square_around_a_face_stays_inside_the_image() -> None:
    assert square_around((100, 100, 140, 160), 400, 300) == (75, 85, 165, 175)  # 60 * 1.5
    assert square_around((0, 0, 40, 40), 400, 300) == (0, 0, 60, 60)  # pushed inside
    assert square_around((380, 250, 400, 300), 400, 300) == (325, 225, 400, 300)
    assert square_around((0, 0, 390, 290), 400, 300) == (45, 0, 345, 300)  # at most 300


def phone_photo(image: Path, side: int = 1600) -> bytes:
    """`image` enlarged, stored sideways with EXIF orientation 6, as phones save portraits."""
    with Image.open(image) as upright:
        sideways = upright.resize((side, side)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    out = io.BytesIO()
    sideways.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def assert_shows_face_of(url: str, thumbnail: bytes, person_id: str) -> int:
    """The thumbnail is square, centred on one face filling about two thirds of it, and
    the service names that face `person_id`. Returns its side."""
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert image.format == "JPEG" and image.width == image.height
        side = image.width
    found = requests.post(
        f"{url}/api/v1/detect", files={"image": ("t.jpg", thumbnail)}, timeout=60
    ).json()
    assert len(found["faces"]) == 1
    box = found["faces"][0]["box"]
    centre = ((box["left"] + box["right"]) / 2, (box["top"] + box["bottom"]) / 2)
    assert all(abs(c - side / 2) < 0.15 * side for c in centre), (box, side)
    assert 0.45 < (box["right"] - box["left"]) / side < 0.85, (box, side)
    assert [f["person_id"] for f in recognize(url, thumbnail).json()["faces"]] == [person_id]
    return side


def test_thumbnail_is_a_small_jpeg_of_that_face(backend_api: ApiProcess, kidman: dict) -> None:
    url = backend_api.url
    face_id = kidman["faces"][0]["face_id"]
    path = f"/api/v1/people/kidman/faces/{face_id}/thumbnail"

    default = get(url, path)
    assert default.status_code == 200 and default.headers["Content-Type"] == "image/jpeg"
    assert default.headers["Cache-Control"] == "private, no-cache"
    with Image.open(io.BytesIO(default.content)) as image:
        assert (image.format, image.size) == ("JPEG", (96, 96))
    # The largest of a 250 px LFW photo is the whole crop (1.5 x the face), not upscaled.
    assert 96 < assert_shows_face_of(url, get(url, path, size=256).content, "kidman") < 250

    again = requests.get(
        f"{url}{path}", headers={"If-None-Match": default.headers["ETag"]}, timeout=60
    )
    assert again.status_code == 304 and again.content == b""


def test_thumbnail_of_a_sideways_phone_photo_is_upright(
    backend_api: ApiProcess, kidman: dict
) -> None:
    url = backend_api.url
    response = requests.post(
        f"{url}/api/v1/people/kidman/faces",
        files={"image": ("phone.jpg", phone_photo(lfw("Nicole_Kidman", 4)), "image/jpeg")},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    face_id = response.json()["faces"][0]["face_id"]
    thumbnail = get(url, f"/api/v1/people/kidman/faces/{face_id}/thumbnail", size=200)
    assert assert_shows_face_of(url, thumbnail.content, "kidman") == 200


def test_thumbnail_errors(backend_api: ApiProcess, kidman: dict) -> None:
    url = backend_api.url
    face_id = kidman["faces"][0]["face_id"]
    other = get(url, f"/api/v1/people/kidman/faces/{kidman['other_face_id']}/thumbnail")
    assert (other.status_code, other.json()["code"]) == (404, "FACE_NOT_FOUND")
    missing = get(url, "/api/v1/people/kidman/faces/999999/thumbnail")
    assert (missing.status_code, missing.json()["code"]) == (404, "FACE_NOT_FOUND")
    for size in ("8", "257", "big", "-1"):
        bad = get(url, f"/api/v1/people/kidman/faces/{face_id}/thumbnail", size=size)
        assert (bad.status_code, bad.json()["code"]) == (400, "VALIDATION_ERROR"), size


def sighting(url: str, image: Path, camera: str, captured_at: str) -> str | None:
    answer = recognize(url, image, camera_id=camera, captured_at=captured_at).json()
    assert answer["events_stored"] == 1, answer
    return answer["faces"][0]["person_id"]


@pytest.fixture(scope="module")
def sightings(backend_api: ApiProcess, kidman: dict) -> None:
    """cam-a on DAY: known 10:15, 10:45 (sent as 11:45+01:00), 10:59:59.5, 12:00:00;
    unknown 10:30. cam-b: known 10:20."""
    url = backend_api.url
    known, stranger = lfw("Nicole_Kidman", 3), lfw("Hu_Jintao", 2)
    for camera, clock in (
        ("cam-a", "10:15:00Z"),
        ("cam-a", "11:45:00+01:00"),
        ("cam-a", "10:59:59.500000Z"),
        ("cam-a", "12:00:00Z"),
        ("cam-b", "10:20:00Z"),
    ):
        assert sighting(url, known, camera, at(clock)) == "kidman"
    assert sighting(url, stranger, "cam-a", at("10:30:00Z")) is None


def counts(body: dict) -> list[tuple[str, int, int]]:
    return [(h["hour"][11:13], h["known"], h["unknown"]) for h in body["hours"]]


def test_hourly_counts_known_and_unknown(backend_api: ApiProcess, sightings: None) -> None:
    url = backend_api.url
    body = get(
        url,
        "/api/v1/events/hourly",
        camera_id="cam-a",
        since=at("09:30:00Z"),
        until=at("12:30:00Z"),
    ).json()
    assert (body["since"], body["until"]) == (at("09:00:00Z"), at("13:00:00Z"))
    assert counts(body) == [("09", 0, 0), ("10", 3, 1), ("11", 0, 0), ("12", 1, 0)]
    assert (body["camera_id"], body["known"], body["unknown"]) == ("cam-a", 4, 1)

    every = get(url, "/api/v1/events/hourly", since=at("10:00:00Z"), until=at("11:00:00Z"))
    assert counts(every.json()) == [("10", 4, 1)]  # cam-b's sighting too
    exclusive = get(
        url, "/api/v1/events/hourly", camera_id="cam-a", since=at("10:00Z"), until=at("12:00Z")
    )
    assert counts(exclusive.json()) == [("10", 3, 1), ("11", 0, 0)]

    recent = get(url, "/api/v1/events/hourly").json()  # the last 24 hours, nothing then
    assert len(recent["hours"]) == 24 and (recent["known"], recent["unknown"]) == (0, 0)


def test_hourly_refuses_bad_ranges(backend_api: ApiProcess) -> None:
    url = backend_api.url
    for params in (
        {"since": at("12:00Z"), "until": at("10:00Z")},
        {"since": "2025-01-01T00:00Z", "until": "2025-02-02T00:00Z"},  # 32 days
        {"since": "yesterday"},
        {"camera_id": "no spaces please"},
    ):
        bad = get(url, "/api/v1/events/hourly", **params)
        assert bad.status_code == 400 and bad.json()["code"] in {"VALIDATION_ERROR", "INVALID_ID"}


def test_cameras_are_listed_most_recent_first(backend_api: ApiProcess, sightings: None) -> None:
    items = get(backend_api.url, "/api/v1/cameras").json()["items"]
    assert items == [
        {
            "camera_id": "cam-a",
            "events": 5,
            "known": 4,
            "unknown": 1,
            "last_event_at": at("12:00:00Z"),
        },
        {
            "camera_id": "cam-b",
            "events": 1,
            "known": 1,
            "unknown": 0,
            "last_event_at": at("10:20:00Z"),
        },
    ]
