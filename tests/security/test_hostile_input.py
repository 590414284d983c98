"""Hostile input through a real gunicorn server: each answers a clear 4xx, nothing changes.

Every request goes through the keyed server (admin key, so refusals come from input
checks, not from auth), and "nothing changed" is read from the tables themselves.
"""

from __future__ import annotations

import http.client
import json
import socket
import unicodedata
from collections.abc import Callable
from urllib.parse import quote

import pytest
import requests

from tests.security import payloads
from tests.security.judge import contract_code, expect_accepted, expect_refused
from tests.security.lfw import lfw_people
from tests.security.multipart import FORM, body, part
from tests.security.server import SecuredServer
from tests.security.tally import SecurityReport

TARGET = "sec_target"  # an existing person that hostile enrolments aim at
CAMERA = "sec-cam-1"
URL_LIMIT = 4000  # gunicorn refuses request lines over 4094 bytes before the app runs


@pytest.fixture(scope="module")
def server(secured: SecuredServer) -> SecuredServer:
    response = secured.call("POST", "/api/v1/people", json={"person_id": TARGET})
    assert response.status_code in (201, 409), response.text
    return secured


def recognize(server: SecuredServer, data: bytes, filename: str = "probe.jpg", **form: str):
    files = {"image": (filename, data, "image/jpeg")}
    return server.call("POST", "/api/v1/recognize", files=files, data={"camera_id": CAMERA, **form})


def image_endpoints(
    server: SecuredServer, data: bytes
) -> dict[str, Callable[[], requests.Response]]:
    """The same upload sent to recognition, v1 enrolment and the original enrolment path."""
    return {
        "recognize": lambda: recognize(server, data),
        "enrol": lambda: server.call(
            "POST", f"/api/v1/people/{TARGET}/faces", files={"image": ("x.jpg", data)}
        ),
        "compat-enrol": lambda: server.call(
            "POST", f"/dataset/{TARGET}/image", files={"image": ("x.jpg", data)}
        ),
    }


def refuse_image(
    server: SecuredServer, report: SecurityReport, kind: str, data: bytes, status: int, code: str
) -> None:
    """Every image endpoint refuses `data` with `code` (enrolment reports it per image)."""
    for endpoint, send in image_endpoints(server, data).items():
        if endpoint == "enrol":
            response = expect_refused(server, report, kind, send, 422, "NO_FACE_ACCEPTED")
            assert [r["code"] for r in response.json()["rejected"]] == [code]
        else:  # recognition, and the original single-image path that answers as it does
            expect_refused(server, report, kind, send, status, code)


def test_format_is_sniffed_from_bytes_not_name_or_type(
    server: SecuredServer, security_report: SecurityReport
) -> None:
    kind = "content sniffing"
    disguised = [
        (payloads.face("PNG"), "face.jpg", "text/plain"),
        (payloads.face("JPEG"), "face.png", "application/octet-stream"),
        (payloads.face("WEBP"), "face.gif", "image/gif"),
        (payloads.face("JPEG"), "no-extension", "application/pdf"),
    ]
    for data, filename, content_type in disguised:
        response = server.call(
            "POST", "/api/v1/detect", files={"image": (filename, data, content_type)}
        )
        faces = expect_accepted(security_report, kind, response, 200)["faces"]
        assert len(faces) == 1, (filename, faces)
    # A real JPEG's first bytes do not make junk a JPEG, whatever the name says.
    junk = payloads.face_jpeg()[:4] + payloads.junk(8000)
    expect_refused(
        server,
        security_report,
        kind,
        lambda: recognize(server, junk, filename="photo.jpg"),
        422,
        "IMAGE_UNREADABLE",
    )


DAMAGED = {
    "truncated image": (payloads.truncations, 422, "IMAGE_UNREADABLE"),
    "malformed image": (payloads.malformations, 422, "IMAGE_UNREADABLE"),
    "decompression bomb": (payloads.decompression_bombs, 413, "IMAGE_TOO_LARGE"),
    "non-image bytes": (payloads.non_images, 422, "IMAGE_UNREADABLE"),
    "unsupported image format": (payloads.other_image_formats, 415, "UNSUPPORTED_IMAGE_FORMAT"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_damaged_images_are_refused_everywhere(
    server: SecuredServer, security_report: SecurityReport, kind: str
) -> None:
    make, status, code = DAMAGED[kind]
    cases = make()
    assert len(cases) >= 4
    for data in cases.values():
        refuse_image(server, security_report, kind, data, status, code)


def test_bomb_refusal_names_the_claimed_size(server: SecuredServer) -> None:
    """The size comes from the header: 413 for a file of 38 bytes, before any decoding."""
    bomb = payloads.webp_lossless_with_size(16384, 16384)
    assert len(bomb) < 100
    response = recognize(server, bomb)
    assert response.status_code == 413
    assert "16384x16384" in response.json()["message"]


def test_zero_byte_files_are_refused_everywhere(
    server: SecuredServer, security_report: SecurityReport
) -> None:
    kind = "zero-byte file"
    face = payloads.face_jpeg()
    empty = ("empty.jpg", b"", "image/jpeg")
    refuse_image(server, security_report, kind, b"", 422, "IMAGE_UNREADABLE")
    for path in ("/api/v1/detect", "/face-recognition/get-results"):
        expect_refused(
            server,
            security_report,
            kind,
            lambda path=path: server.call("POST", path, files={"image": empty}),
            422,
            "IMAGE_UNREADABLE",
        )
    expect_refused(
        server,
        security_report,
        kind,
        lambda: server.call(
            "POST",
            "/face-recognition/store-results",
            files={"image": empty},
            data={"camera_id": CAMERA},
        ),
        422,
        "IMAGE_UNREADABLE",
    )
    for first, second in ((empty, ("b.jpg", face)), (("a.jpg", face), empty)):
        response = expect_refused(
            server,
            security_report,
            kind,
            lambda first=first, second=second: server.call(
                "POST", "/api/v1/verify", files={"image_a": first, "image_b": second}
            ),
            422,
            "IMAGE_UNREADABLE",
        )
        assert response.json()["message"].startswith("image_a" if first is empty else "image_b")


def multipart_abuse() -> dict[str, tuple[bytes, str, int, str]]:
    """label -> (body, content type, status, code) for POST /api/v1/recognize."""
    face = payloads.face_jpeg()
    image = part("image", face, "face.jpg")
    camera = part("camera_id", CAMERA.encode())
    nested = part(
        "image",
        b'--inner\r\nContent-Disposition: file; filename="a.jpg"\r\n\r\n' + face + b"\r\n--inner--",
        extra_headers=b"Content-Type: multipart/mixed; boundary=inner\r\n",
    )
    required = "VALIDATION_ERROR"
    return {
        "5000 text parts": (
            body(*(part(f"f{i}", b"x") for i in range(5000)), image),
            FORM,
            413,
            "REQUEST_TOO_LARGE",
        ),
        "3000 file parts": (
            body(*(part("image", b"x", f"{i}.jpg") for i in range(3000))),
            FORM,
            413,
            "REQUEST_TOO_LARGE",
        ),
        "1 MB field name": (body(part("n" * 2**20, b"x"), image), FORM, 413, "REQUEST_TOO_LARGE"),
        "1 MB part header": (
            body(part("image", face, "a.jpg", extra_headers=b"X-Pad: " + b"p" * 2**20 + b"\r\n")),
            FORM,
            413,
            "REQUEST_TOO_LARGE",
        ),
        "17 MB body": (
            body(part("image", face + bytes(17 * 2**20), "big.jpg")),
            FORM,
            413,
            "REQUEST_TOO_LARGE",
        ),
        "image part without filename": (body(part("image", face), camera), FORM, 400, required),
        "image field is text": (body(part("image", b"face.jpg"), camera), FORM, 400, required),
        "image under another name": (body(part("photo", face, "a.jpg")), FORM, 400, required),
        "two images where one is allowed": (
            body(image, part("image", face, "again.jpg"), camera),
            FORM,
            400,
            "TOO_MANY_IMAGES",
        ),
        "boundary differs from the body's": (
            body(image, camera),
            "multipart/form-data; boundary=other",
            400,
            required,
        ),
        "no boundary parameter": (body(image, camera), "multipart/form-data", 400, required),
        "empty boundary": (body(image, camera), "multipart/form-data; boundary=", 400, required),
        "no closing boundary": (image + camera, FORM, 400, required),
        "nested multipart/mixed": (body(nested, camera), FORM, 400, required),
        "binary garbage": (payloads.junk(2048), FORM, 400, required),
        "empty body": (b"", FORM, 400, required),
        "JSON instead of a form": (
            b'{"image": "x"}',
            "application/json",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        "urlencoded form": (
            b"image=x&camera_id=c",
            "application/x-www-form-urlencoded",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        "image as plain text body": (face, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    }


def test_multipart_abuse_is_refused(server: SecuredServer, security_report: SecurityReport) -> None:
    for label, (data, content_type, status, code) in multipart_abuse().items():
        expect_refused(
            server,
            security_report,
            "multipart abuse",
            lambda data=data, content_type=content_type: server.call_on_new_connection(
                "POST", "/api/v1/recognize", data=data, headers={"Content-Type": content_type}
            ),
            status,
            code,
            label=label,
        )
    # Too many images for one enrolment: refused as a whole, none stored.
    many = [("image", (f"{i}.jpg", payloads.face_jpeg())) for i in range(51)]
    expect_refused(
        server,
        security_report,
        "multipart abuse",
        lambda: server.call("POST", f"/api/v1/people/{TARGET}/faces", files=many),
        400,
        "TOO_MANY_IMAGES",
    )


HOSTILE_IDS = {
    "ID with path separators": [
        "a/b",
        "../../etc/passwd",
        "a\\b",
        "..\\..\\windows\\win.ini",
        ".",
        "..",
        "...",
        "/",
        "a%2Fb",
        "%2e%2e",
    ],
    "SQL metacharacters": [
        "x';DROP TABLE people;--",
        "1' OR '1'='1",
        '" OR ""="',
        "a;SELECT 1",
        "`people`",
        "a%",
        "$ne",
        "a' UNION SELECT secret_sha256 FROM api_keys--",
    ],
    "control characters": [
        "a\x00b",
        "tab\there",
        "new\nline",
        "cr\rlf",
        "esc\x1b[31m",
        "del\x7f",
        "rlo\u202eevil",
        "zero\u200bwidth",
        "bom\ufeff",
        "no\u00a0break",
        "line\u2028sep",
    ],
    "10,000 characters": ["p" * 10_000, "é" * 10_000, "p" * 129],
}


# Free text (names, locations) takes any script, but no control characters or line breaks.
HOSTILE_TEXT = {
    "control characters": [
        value for value in HOSTILE_IDS["control characters"] if "\u00a0" not in value
    ],
    "10,000 characters": ["p" * 10_000, "é" * 10_000],
}


def id_channels(server: SecuredServer, value: str) -> dict[str, tuple[Callable, set[int]]]:
    """Every place an identifier enters the API, with the 4xx statuses that are right there.

    In a URL path a decoded `/` changes the route (404) and a `.` segment is resolved by
    the client (404/405): both are refusals before any handler sees the value.
    """
    path = quote(value, safe="")
    face = payloads.face_jpeg()
    in_path = {400, 404, 405}
    return {
        "json": (
            lambda: server.call("POST", "/api/v1/people", json={"person_id": value, "name": "x"}),
            {400},
        ),
        "get": (lambda: server.call("GET", f"/api/v1/people/{path}"), in_path),
        "delete": (lambda: server.call("DELETE", f"/api/v1/people/{path}"), in_path),
        "enrol": (
            lambda: server.call(
                "POST", f"/api/v1/people/{path}/faces", files={"image": ("a.jpg", face)}
            ),
            in_path,
        ),
        "compat-create": (lambda: server.call("POST", f"/dataset/{path}"), in_path),
        "camera": (lambda: recognize(server, face, camera_id=value), {400}),
        "events": (
            lambda: server.call("GET", "/api/v1/events", params={"person_id": value}),
            {400},
        ),
        "key-camera": (
            lambda: server.call(
                "POST",
                "/api/v1/keys",
                json={"name": "k", "scope": "recognize", "camera_id": value},
            ),
            {400},
        ),
    }


@pytest.mark.parametrize("kind", sorted(HOSTILE_IDS))
def test_hostile_ids_are_refused_everywhere(
    server: SecuredServer, security_report: SecurityReport, kind: str
) -> None:
    for value in HOSTILE_IDS[kind]:
        for channel, (send, statuses) in id_channels(server, value).items():
            too_long_for_url = channel in {
                "get",
                "delete",
                "enrol",
                "compat-create",
                "events",
            } and (len(quote(value, safe="")) > URL_LIMIT)
            label = f"{value[:40]!r} via {channel}"
            if too_long_for_url:  # refused by gunicorn before the app runs, in the contract
                expect_refused(
                    server, security_report, kind, send, 414, "REQUEST_LINE_TOO_LONG", label
                )
                continue
            expect_refused(server, security_report, kind, send, statuses, label=label)
    for value in HOSTILE_TEXT.get(kind, []):
        as_name_then_as_location = (
            lambda value=value: server.call(
                "POST", "/api/v1/people", json={"person_id": "sec_name_probe", "name": value}
            ),
            lambda value=value: recognize(server, payloads.face_jpeg(), location=value),
        )
        for send in as_name_then_as_location:
            expect_refused(server, security_report, kind, send, 400, "VALIDATION_ERROR")


# Requests gunicorn refuses before the app runs, sent as raw bytes (no client library sends
# them). Each carries MARK, which must not come back: the old HTML page quoted the input.
MARK = b"zq7-hostile"
GUNICORN_REFUSALS = {
    "8 KB request line": (
        b"GET /api/v1/people/" + MARK * 750 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
        414,
        "REQUEST_LINE_TOO_LONG",
    ),
    "200 header fields": (
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-F%d: %s\r\n" % (i, MARK) for i in range(200))
        + b"\r\n",
        431,
        "HEADERS_TOO_LARGE",
    ),
    "9 KB header field": (
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Api-Key: " + MARK * 820 + b"\r\n\r\n",
        431,
        "HEADERS_TOO_LARGE",
    ),
    "garbage request line": (b"\x16\x03\x01" + MARK + b" <script>\r\n\r\n", 400, "BAD_REQUEST"),
    "invalid method": (b"G" + MARK + b"T / HTTP/1.1\r\nHost: t\r\n\r\n", 400, "BAD_REQUEST"),
    "invalid header name": (
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nBad(" + MARK + b"): v\r\n\r\n",
        400,
        "BAD_REQUEST",
    ),
    "unknown expectation": (
        b"POST /api/v1/people HTTP/1.1\r\nHost: t\r\nExpect: " + MARK + b"\r\n"
        b"Content-Length: 2\r\n\r\n{}",
        417,
        "EXPECTATION_FAILED",
    ),
}


def raw_exchange(server: SecuredServer, request: bytes) -> tuple[http.client.HTTPResponse, bytes]:
    """Send `request` as is on a new connection; the answer and its body."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer, answer.read()


@pytest.mark.parametrize("label", sorted(GUNICORN_REFUSALS))
def test_requests_gunicorn_refuses_get_the_contract_body(
    server: SecuredServer, security_report: SecurityReport, label: str
) -> None:
    request, status, code = GUNICORN_REFUSALS[label]
    before = server.snapshot()
    answer, content = raw_exchange(server, request)
    changed = server.snapshot() != before
    body = json.loads(content)
    security_report.record_input("malformed HTTP (gunicorn)", answer.status, body["code"], changed)
    assert (answer.status, body["code"]) == (status, code), content
    assert answer.getheader("Content-Type") == "application/json"
    assert isinstance(body["message"], str) and body["message"]
    assert MARK not in content and b"<" not in content
    assert not changed


def test_unknown_transfer_coding_gets_501_in_the_contract(server: SecuredServer) -> None:
    """The answer HTTP prescribes, not a server fault: kept out of the report's 5xx count."""
    request = b"POST /api/v1/people HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
    answer, content = raw_exchange(server, request + MARK + b", chunked\r\n\r\n")
    assert (answer.status, answer.reason) == (501, "Not Implemented")
    assert answer.getheader("Content-Type") == "application/json"
    assert json.loads(content)["code"] == "NOT_IMPLEMENTED" and MARK not in content


JSON_ABUSE = {
    "nested 5000 deep": (b"[" * 5000 + b"]" * 5000, "BAD_REQUEST"),
    "nested objects 5000 deep": (b'{"a":' * 5000 + b"1" + b"}" * 5000, "BAD_REQUEST"),
    "not JSON": (b"{person_id: x}", "BAD_REQUEST"),
    "invalid UTF-8": (b'{"person_id": "\xff\xfe"}', "BAD_REQUEST"),
    "lone surrogate name": (b'{"person_id": "sec_s", "name": "\\ud800"}', "VALIDATION_ERROR"),
    "null": (b"null", "VALIDATION_ERROR"),
    "array": (b'[{"person_id": "sec_a"}]', "VALIDATION_ERROR"),
    "id is an object": (b'{"person_id": {"$ne": null}}', "VALIDATION_ERROR"),
    "id is a number": (b'{"person_id": 7}', "VALIDATION_ERROR"),
    "name is NaN": (b'{"person_id": "sec_n", "name": NaN}', "VALIDATION_ERROR"),
    "10 MB name": (
        b'{"person_id": "sec_big", "name": "' + b"n" * 10**7 + b'"}',
        "VALIDATION_ERROR",
    ),
}


def test_json_body_abuse_is_refused(server: SecuredServer, security_report: SecurityReport) -> None:
    for label, (data, code) in JSON_ABUSE.items():
        response = expect_refused(
            server,
            security_report,
            "JSON body abuse",
            lambda data=data: server.call(
                "POST", "/api/v1/people", data=data, headers={"Content-Type": "application/json"}
            ),
            400,
            code,
        )
        # A validator quoting the offending value must not echo megabytes back.
        assert len(response.content) < 2000, label
    expect_refused(
        server,
        security_report,
        "JSON body abuse",
        lambda: server.call("POST", "/api/v1/training", json={"mode": ["full"]}),
        400,
        "VALIDATION_ERROR",
    )


def test_parameter_abuse_is_refused(server: SecuredServer, security_report: SecurityReport) -> None:
    kind = "parameter abuse"
    face = payloads.face_jpeg()
    queries = [
        {"since": "0001-01-01T00:00:00+05:00"},  # before year 1 once in UTC
        {"until": "9999-12-31T23:59:59-05:00"},  # after year 9999 once in UTC
        {"since": "yesterday"},
        {"page": "99999999999999999999"},
        {"page": str(10**17)},
        {"page": "-1"},
        {"per_page": "1e3"},
        {"per_page": "501"},
    ]
    forms = [
        {"captured_at": "0001-01-01T00:00:00+05:00"},
        {"captured_at": "not a time"},
        {"threshold": "nan"},
        {"threshold": "inf"},
        {"threshold": "-1e309"},
        {"top_k": "0"},
        {"top_k": "3.5"},
        {"top_k": "9" * 40},
    ]
    sends = [
        lambda params=params: server.call("GET", "/api/v1/events", params=params)
        for params in queries
    ]
    sends.append(lambda: server.call("GET", "/api/v1/people", params={"page": str(2**70)}))
    sends += [lambda form=form: recognize(server, face, **form) for form in forms]
    for send in sends:
        expect_refused(server, security_report, kind, send, 400, "VALIDATION_ERROR")


# Names are free text: NFC or NFD (stored NFC), right-to-left scripts, emoji sequences.
NAMES_THAT_WORK = {
    "sec_zoe_nfc": "Zoë Ñandú",
    "sec_zoe_nfd": "Zoe\u0308 N\u0303andu\u0301",
    "sec_arabic": "محمد بن عبد الله",
    "sec_hebrew": "דוד בן־גוריון",
    "sec_mixed_rtl": "Layla ليلى 2024",
    "sec_emoji": "Ada 👩\u200d💻 🇫🇷 👋🏽",
    "sec_cjk": "张伟 (Zhāng Wěi)",
}
# IDs: letters and combining marks of any script, digits, . _ - @ ; NFC only.
IDS_THAT_WORK = [
    "zoë",
    "अनिल",
    "สุดา",
    "ஸ்ரீ",
    "محمد",
    "דוד",
    "김민준",
    "Nguyễn.Văn-An",
    "ola@cam_1",
]
IDS_REFUSED = {
    "NFD form of zoë": "zoe\u0308",
    "emoji": "😀",
    "letters with emoji": "ada😀",
    "keycap sequence": "1\ufe0f\u20e3",
    "mark without a letter": "\u0301a",
    "zero-width joiner": "a\u200db",
}


def test_unicode_names_and_ids_work(server: SecuredServer, security_report: SecurityReport) -> None:
    kind = "Unicode names and IDs (must work)"
    for person_id, name in NAMES_THAT_WORK.items():
        response = server.call(
            "POST", "/api/v1/people", json={"person_id": person_id, "name": name}
        )
        created = expect_accepted(security_report, kind, response, 201)
        assert created["name"] == unicodedata.normalize("NFC", name)
    for person_id in IDS_THAT_WORK:
        response = server.call("POST", "/api/v1/people", json={"person_id": person_id})
        expect_accepted(security_report, kind, response, 201)
        response = server.call("GET", f"/api/v1/people/{quote(person_id, safe='')}")
        assert expect_accepted(security_report, kind, response, 200)["person_id"] == person_id
    # A right-to-left ID enrolled with a real face is recognised under that ID.
    enrolled = server.call(
        "POST",
        f"/api/v1/people/{quote('محمد')}/faces",
        files={"image": ("f.jpg", payloads.face_jpeg())},
    )
    expect_accepted(security_report, kind, enrolled, 201)
    found = expect_accepted(
        security_report, kind, recognize(server, payloads.face_jpeg(), camera_id="كاميرا-1"), 200
    )
    assert [face["person_id"] for face in found["faces"]] == ["محمد"]
    seen = server.call("GET", f"/api/v1/people/{quote('محمد')}/last-seen").json()
    assert seen["camera_id"] == "كاميرا-1"
    for person_id in [*NAMES_THAT_WORK, *IDS_THAT_WORK]:
        deleted = server.call("DELETE", f"/api/v1/people/{quote(person_id, safe='')}")
        expect_accepted(security_report, kind, deleted, 204)


def test_lookalike_and_emoji_ids_are_refused(
    server: SecuredServer, security_report: SecurityReport
) -> None:
    """Emoji are for names; an ID must be one unambiguous string (NFC, no invisible joins)."""
    for value in IDS_REFUSED.values():
        response = expect_refused(
            server,
            security_report,
            "look-alike and emoji IDs",
            lambda value=value: server.call("POST", "/api/v1/people", json={"person_id": value}),
            400,
        )
        assert contract_code(response) in {"INVALID_ID", "VALIDATION_ERROR"}


# Each of these answered 500 (or, for "..", created a person) before this suite found it.
REGRESSIONS = {
    "merged // in a path with another method's route": (
        lambda s: s.call("POST", "/api/v1/people/%2F/faces", files={"image": ("a", b"x")}),
        405,
        "METHOD_NOT_ALLOWED",
    ),
    "face id beyond 64 bits": (
        lambda s: s.call("DELETE", f"/api/v1/people/{TARGET}/faces/4988888673713421025280"),
        400,
        "VALIDATION_ERROR",
    ),
    "time before year 1 in UTC": (
        lambda s: s.call("GET", "/api/v1/events", params={"since": "0001-01-01T00:00+05:00"}),
        400,
        "VALIDATION_ERROR",
    ),
    "page beyond 64 bits": (
        lambda s: s.call("GET", "/api/v1/people", params={"page": "9" * 20}),
        400,
        "VALIDATION_ERROR",
    ),
    "JSON nested 5000 deep": (
        lambda s: s.call(
            "POST",
            "/api/v1/people",
            data=b"[" * 5000 + b"]" * 5000,
            headers={"Content-Type": "application/json"},
        ),
        400,
        "BAD_REQUEST",
    ),
    "person id ..": (
        lambda s: s.call("POST", "/api/v1/people", json={"person_id": ".."}),
        400,
        "INVALID_ID",
    ),
    "PNG claiming 70000x70000": (
        lambda s: recognize(s, payloads.png_bomb(70000, 70000)),
        413,
        "IMAGE_TOO_LARGE",
    ),
    "WebP canvas claiming 1000000x1000000": (
        lambda s: recognize(s, payloads.webp_extended_with_size(1_000_000, 1_000_000)),
        413,
        "IMAGE_TOO_LARGE",
    ),
}


@pytest.mark.parametrize("case", sorted(REGRESSIONS))
def test_crashes_found_by_this_suite_stay_fixed(
    server: SecuredServer, security_report: SecurityReport, case: str
) -> None:
    send, status, code = REGRESSIONS[case]
    expect_refused(
        server,
        security_report,
        "regressions (crashes found here)",
        lambda: send(server),
        status,
        code,
    )


def test_thumbnail_of_a_face_with_corrupt_exif(server: SecuredServer) -> None:
    (person,) = lfw_people(1, 1, first=19)
    image = payloads.with_corrupt_exif(person.enrol[0].read_bytes(), orientation=2)  # mirror
    assert server.call("POST", "/api/v1/people", json={"person_id": "sec_exif"}).ok
    try:
        enrolled = server.call(
            "POST", "/api/v1/people/sec_exif/faces", files={"image": ("e.jpg", image)}
        )
        assert enrolled.status_code == 201, enrolled.text
        face_id = enrolled.json()["faces"][0]["face_id"]
        thumbnail = server.call("GET", f"/api/v1/people/sec_exif/faces/{face_id}/thumbnail")
        assert thumbnail.status_code == 200, thumbnail.text
    finally:
        server.call("DELETE", "/api/v1/people/sec_exif")
