"""Every error path of the contract answers its status and code, and changes nothing."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import Connection, text, update
from sqlalchemy.exc import DBAPIError

from api.db.engine import create_db_engine
from api.db.schema import people
from api.errors import to_api_error
from tests.api.client import create_person
from tests.api.conftest import start_api
from tests.api.images import blank_png, face_jpeg, gif, group_jpeg, png_bomb
from tests.databases import DATABASE_KINDS, mariadb_database, scratch_database_url
from tests.live_api import ApiProcess
from tests.tcp_proxy import relayed_mariadb

T = 60


def assert_error(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text
    return body


def people_count(url: str) -> int:
    return requests.get(f"{url}/api/v1/people", timeout=T).json()["total"]


def post_image(url: str, path: str, data: bytes, field: str = "image", **form: str):
    return requests.post(f"{url}{path}", files={field: ("x.jpg", data)}, data=form, timeout=T)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "no id"}, "VALIDATION_ERROR"),
        ({"person_id": "a/b"}, "VALIDATION_ERROR"),
        ({"person_id": "../../etc/passwd"}, "VALIDATION_ERROR"),
        ({"person_id": "x';DROP TABLE people;--"}, "VALIDATION_ERROR"),
        ({"person_id": "tab\there"}, "VALIDATION_ERROR"),
        ({"person_id": "p" * 10_000}, "VALIDATION_ERROR"),
        ({"person_id": 42}, "VALIDATION_ERROR"),
        ({"person_id": "ok_id", "name": "bell\x07"}, "VALIDATION_ERROR"),
        ({"person_id": "ok_id", "name": "n" * 256}, "VALIDATION_ERROR"),
    ],
)
def test_bad_people_are_refused_and_nothing_changes(
    sqlite_api: ApiProcess, body: dict, code: str
) -> None:
    before = people_count(sqlite_api.url)
    response = requests.post(f"{sqlite_api.url}/api/v1/people", json=body, timeout=T)
    assert_error(response, 400, code)
    assert people_count(sqlite_api.url) == before


def test_unicode_names_and_ids_work(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    response = create_person(url, "zoë_ñandú-张伟", "Zoë Ñandú 张伟")
    assert response.status_code == 201, response.text
    person = requests.get(f"{url}/api/v1/people/zoë_ñandú-张伟", timeout=T).json()
    assert person["name"] == "Zoë Ñandú 张伟" and person["faces"] == 0


def test_duplicate_person_is_409(sqlite_api: ApiProcess) -> None:
    assert create_person(sqlite_api.url, "twice").status_code == 201
    assert_error(create_person(sqlite_api.url, "twice"), 409, "PERSON_EXISTS")


def test_unknown_things_are_404(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    assert_error(requests.get(f"{url}/api/v1/people/nobody", timeout=T), 404, "PERSON_NOT_FOUND")
    assert_error(requests.delete(f"{url}/api/v1/people/nobody", timeout=T), 404, "PERSON_NOT_FOUND")
    assert_error(
        post_image(url, "/api/v1/people/nobody/faces", face_jpeg()), 404, "PERSON_NOT_FOUND"
    )
    assert create_person(url, "faceless").status_code == 201
    assert_error(
        requests.delete(f"{url}/api/v1/people/faceless/faces/999999", timeout=T),
        404,
        "FACE_NOT_FOUND",
    )
    assert_error(
        requests.get(f"{url}/api/v1/training/no-such-job", timeout=T), 404, "JOB_NOT_FOUND"
    )
    assert_error(requests.get(f"{url}/no/such/path", timeout=T), 404, "NOT_FOUND")
    assert_error(requests.put(f"{url}/api/v1/recognize", timeout=T), 405, "METHOD_NOT_ALLOWED")


def test_wrong_media_types_are_415(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    assert create_person(url, "media").status_code == 201
    response = requests.post(f"{url}/api/v1/people/media/faces", json={"image": "x"}, timeout=T)
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(post_image(url, "/api/v1/recognize", gif()), 415, "UNSUPPORTED_IMAGE_FORMAT")
    response = requests.post(f"{url}/api/v1/people", data="person_id=x", timeout=T)
    assert response.status_code in (400, 415)
    assert "code" in response.json()


def test_oversized_requests_and_images_are_413(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    huge = b"\xff\xd8" + b"\x00" * (4 * 2**20)
    assert_error(post_image(url, "/api/v1/recognize", huge), 413, "REQUEST_TOO_LARGE")
    body = assert_error(
        post_image(url, "/api/v1/recognize", png_bomb(20000, 20000)), 413, "IMAGE_TOO_LARGE"
    )
    assert "20000x20000" in body["message"]


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 100, "truncated"],
    ids=["empty", "text", "jpeg-magic-only", "truncated-jpeg"],
)
def test_unreadable_images_are_422(sqlite_api: ApiProcess, data: bytes | str) -> None:
    payload = face_jpeg()[: len(face_jpeg()) // 2] if data == "truncated" else data
    assert_error(post_image(sqlite_api.url, "/api/v1/recognize", payload), 422, "IMAGE_UNREADABLE")


def test_invalid_parameters_are_400(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    for params in ({"since": "yesterday"}, {"per_page": 0}, {"page": "x"}, {"camera_id": "a/b"}):
        assert_error(
            requests.get(f"{url}/api/v1/events", params=params, timeout=T),
            400,
            "VALIDATION_ERROR" if "camera_id" not in params else "INVALID_ID",
        )
    for form in (
        {"top_k": "100"},
        {"threshold": "abc"},
        {"threshold": "2"},
        {"camera_id": "cam 1"},
    ):
        response = post_image(url, "/api/v1/recognize", face_jpeg(), **form)
        assert response.status_code == 400, (form, response.text)
    assert_error(
        requests.post(f"{url}/api/v1/recognize", data={"x": "1"}, timeout=T),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    response = requests.post(f"{url}/api/v1/recognize", files={"other": ("x", b"1")}, timeout=T)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert_error(
        requests.post(f"{url}/api/v1/training", json={"mode": "fastest"}, timeout=T),
        400,
        "VALIDATION_ERROR",
    )


def test_verify_without_a_face_is_422(sqlite_api: ApiProcess) -> None:
    response = requests.post(
        f"{sqlite_api.url}/api/v1/verify",
        files={"image_a": ("a.jpg", face_jpeg()), "image_b": ("b.png", blank_png())},
        timeout=T,
    )
    body = assert_error(response, 422, "NO_FACE_FOUND")
    assert body["message"].startswith("image_b")


def test_enrolment_keeps_good_images_and_explains_each_rejection(sqlite_api: ApiProcess) -> None:
    url = sqlite_api.url
    assert create_person(url, "mixed").status_code == 201
    uploads = [face_jpeg(), blank_png(), b"garbage", group_jpeg(), png_bomb(20000, 20000)]
    response = requests.post(
        f"{url}/api/v1/people/mixed/faces",
        files=[("image", (f"{i}.img", data)) for i, data in enumerate(uploads)],
        timeout=T,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert [f["image_index"] for f in body["faces"]] == [0]
    assert [(r["image_index"], r["code"]) for r in body["rejected"]] == [
        (1, "NO_FACE_FOUND"),
        (2, "IMAGE_UNREADABLE"),
        (3, "MULTIPLE_FACES"),
        (4, "IMAGE_TOO_LARGE"),
    ]
    faces = requests.get(f"{url}/api/v1/people/mixed/faces", timeout=T).json()
    assert faces["total"] == 1 and faces["items"][0]["face_id"] == body["faces"][0]["face_id"]

    # Asked explicitly, the largest face of a group photo is kept.
    response = requests.post(
        f"{url}/api/v1/people/mixed/faces",
        files=[("image", ("group.jpg", group_jpeg()))],
        data={"largest_face_only": "true"},
        timeout=T,
    )
    assert response.status_code == 201 and len(response.json()["faces"]) == 1


def test_enrolment_with_nothing_acceptable_is_422_and_stores_nothing(
    sqlite_api: ApiProcess,
) -> None:
    url = sqlite_api.url
    assert create_person(url, "nothing").status_code == 201
    response = requests.post(
        f"{url}/api/v1/people/nothing/faces",
        files=[("image", ("a.png", blank_png())), ("image", ("b.bin", b""))],
        timeout=T,
    )
    body = assert_error(response, 422, "NO_FACE_ACCEPTED")
    assert [r["code"] for r in body["rejected"]] == ["NO_FACE_FOUND", "IMAGE_UNREADABLE"]
    assert requests.get(f"{url}/api/v1/people/nothing", timeout=T).json()["faces"] == 0


def test_swagger_is_valid_openapi_and_documents_the_contract(sqlite_api: ApiProcess) -> None:
    from openapi_spec_validator import validate

    spec = requests.get(f"{sqlite_api.url}/swagger.json", timeout=T).json()
    validate(spec)
    for path in (
        "/api/v1/people",
        "/api/v1/people/{person_id}/faces",
        "/api/v1/recognize",
        "/api/v1/verify",
        "/api/v1/detect",
        "/api/v1/training",
        "/api/v1/training/{job_id}",
        "/api/v1/model",
        "/api/v1/events",
        "/api/v1/people/{person_id}/last-seen",
        "/face-recognition/get-results",
        "/model/train",
    ):
        assert path in spec["paths"], path
    docs = requests.get(f"{sqlite_api.url}/docs", timeout=T)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert json.dumps(spec).count("multipart/form-data") >= 3


@pytest.mark.mariadb
def test_database_outage_answers_503_fast_and_recovers(tmp_path) -> None:
    with mariadb_database() as url, relayed_mariadb(url) as (_, proxied, relay):
        server = start_api(tmp_path, proxied, workers=1, DB_TIMEOUT_SECONDS="2")
        try:
            assert create_person(server.url, "before_outage").status_code == 201
            relay.cut()
            started = time.monotonic()
            assert requests.get(f"{server.url}/readyz", timeout=T).status_code == 503
            assert_error(
                requests.get(f"{server.url}/api/v1/people", timeout=T), 503, "DATABASE_UNAVAILABLE"
            )
            assert_error(create_person(server.url, "during_outage"), 503, "DATABASE_UNAVAILABLE")
            assert time.monotonic() - started < 20
            assert requests.get(f"{server.url}/healthz", timeout=T).status_code == 200
            relay.restore()
            server.wait_ready(30)  # raises when it did not recover
            people = requests.get(f"{server.url}/api/v1/people", timeout=T).json()
            assert [p["person_id"] for p in people["items"]] == ["before_outage"]
        finally:
            server.stop()


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_a_write_waiting_on_another_transactions_lock_answers_503_busy(kind: str, tmp_path) -> None:
    """A row held by another transaction (an import, an operator's SQL session) longer than
    DB_LOCK_WAIT_SECONDS: the request gives up with 503 DATABASE_BUSY instead of hanging a
    worker thread (MariaDB's own wait is 50 s) or answering 500, changes nothing, and
    succeeds when retried after the lock is gone."""
    with scratch_database_url(kind, tmp_path) as url:
        server = start_api(tmp_path / "api", url, workers=1, DB_LOCK_WAIT_SECONDS="1")
        direct = create_db_engine(url)
        try:
            assert create_person(server.url, "held", name="Held").status_code == 201
            with direct.begin() as conn:
                conn.execute(
                    update(people).where(people.c.person_id == "held").values(name="Renamed")
                )
                started = time.monotonic()
                refused = requests.delete(f"{server.url}/api/v1/people/held", timeout=T)
                waited = time.monotonic() - started
                conn.rollback()
            assert_error(refused, 503, "DATABASE_BUSY")
            assert 0.9 < waited < 10, waited
            listed = requests.get(f"{server.url}/api/v1/people", timeout=T).json()["items"]
            assert [(p["person_id"], p["name"]) for p in listed] == [("held", "Held")]
            assert requests.delete(f"{server.url}/api/v1/people/held", timeout=T).ok
            assert people_count(server.url) == 0
        finally:
            server.stop()
            direct.dispose()


@pytest.mark.mariadb
def test_a_deadlock_victim_is_answered_503_busy() -> None:
    """A real deadlock: two transactions each hold one row and want the other's; MariaDB
    rolls one back with error 1213, which the API answers as DATABASE_BUSY, not a 500."""
    with mariadb_database() as url:
        engine = create_db_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE counters (id INT PRIMARY KEY, n INT)"))
            conn.execute(text("INSERT INTO counters VALUES (1, 0), (2, 0)"))
        first, second = engine.connect(), engine.connect()
        victims: list[DBAPIError] = []

        def bump(connection: Connection, row: int) -> None:
            connection.execute(text("UPDATE counters SET n = n + 1 WHERE id = :id"), {"id": row})

        try:
            first.begin()
            second.begin()
            bump(first, 1)
            bump(second, 2)
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(bump, first, 2)
                time.sleep(0.5)  # first now waits for row 2
                for connection, finish in (
                    (second, lambda: bump(second, 1)),
                    (first, lambda: waiting.result(timeout=T)),
                ):
                    try:
                        finish()
                    except DBAPIError as error:
                        victims.append(error)
                        connection.rollback()
        finally:
            first.close()
            second.close()
            engine.dispose()
    assert [victim.orig.errno for victim in victims] == [1213]
    error = to_api_error(victims[0])
    assert (error.status, error.code) == (503, "DATABASE_BUSY")
