"""The client against a real HTTP server on loopback: what it sends, how errors map."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from edge.client import (
    CloudClient,
    CloudRejectedError,
    CloudUnavailableError,
    base_url_from,
)
from tests.edge.http_recorder import RecordingServer
from tests.live_api import free_port


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recorder = RecordingServer().start()
    yield recorder
    recorder.stop()


def test_recognize_sends_the_crop_the_camera_and_the_capture_time(
    server: RecordingServer,
) -> None:
    client = CloudClient(server.url, api_key="secret-key")
    captured = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
    answer = client.recognize(
        b"\xff\xd8jpeg", camera_id="cam-7", location="hall", captured_at=captured, top_k=3
    )
    assert answer == {"model_version": "test", "faces": []}
    (request,) = server.received
    assert request.path == "/api/v1/recognize"
    assert request.headers["X-API-Key"] == "secret-key"
    assert request.fields == {
        "camera_id": "cam-7",
        "location": "hall",
        "captured_at": "2024-05-01T12:30:15.250Z",
        "top_k": "3",
    }
    assert request.files == {"image": [b"\xff\xd8jpeg"]}


def test_4xx_is_a_rejection_with_the_api_error_code(server: RecordingServer) -> None:
    server.status = 422
    with pytest.raises(CloudRejectedError) as raised:
        CloudClient(server.url).recognize(
            b"x", camera_id="c", location="l", captured_at=datetime.now(UTC)
        )
    assert (raised.value.status, raised.value.code) == (422, "TEST_ERROR")


def test_5xx_refused_connections_and_timeouts_are_unavailable(server: RecordingServer) -> None:
    def call(client: CloudClient) -> None:
        client.recognize(b"x", camera_id="c", location="l", captured_at=datetime.now(UTC))

    server.status = 503
    with pytest.raises(CloudUnavailableError) as raised:
        call(CloudClient(server.url))
    assert raised.value.status == 503
    with pytest.raises(CloudUnavailableError, match="cannot connect"):
        call(CloudClient(f"http://127.0.0.1:{free_port()}"))
    server.status, server.delay_s = 200, 1.0
    with pytest.raises(CloudUnavailableError, match="timed out"):
        call(CloudClient(server.url, timeout=0.2))


def test_enrolment_sends_every_image_in_one_request(server: RecordingServer) -> None:
    server.status = 201
    server.body = {"person_id": "ada", "faces": [], "rejected": []}
    CloudClient(server.url).add_faces("ada", [("a.jpg", b"A"), ("b.jpg", b"B")])
    (request,) = server.received
    assert request.path == "/api/v1/people/ada/faces"
    assert request.files == {"image": [b"A", b"B"]}
    assert request.fields == {"largest_face_only": "true"}


@pytest.mark.parametrize(
    ("url", "ip_address", "expected"),
    [
        ("http://api.example:8080/", None, "http://api.example:8080"),
        (None, "10.0.0.5:5000", "http://10.0.0.5:5000"),
        ("127.0.0.1:8080", None, "http://127.0.0.1:8080"),
        ("https://face.example", "ignored:1", "https://face.example"),
    ],
)
def test_base_url_accepts_url_or_the_original_ip_address(
    url: str | None, ip_address: str | None, expected: str
) -> None:
    assert base_url_from(url, ip_address) == expected
