"""Hand-built multipart bodies, for the shapes no well-behaved client library sends."""

from __future__ import annotations

BOUNDARY = "sec-boundary-7d1f"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


def part(
    name: str | bytes,
    data: bytes,
    filename: str | None = None,
    extra_headers: bytes = b"",
    boundary: str = BOUNDARY,
) -> bytes:
    raw_name = name if isinstance(name, bytes) else name.encode()
    disposition = b'Content-Disposition: form-data; name="' + raw_name + b'"'
    if filename is not None:
        disposition += f'; filename="{filename}"'.encode()
    return (
        f"--{boundary}\r\n".encode()
        + disposition
        + b"\r\n"
        + extra_headers
        + b"\r\n"
        + data
        + b"\r\n"
    )


def closing(boundary: str = BOUNDARY) -> bytes:
    return f"--{boundary}--\r\n".encode()


def body(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    return b"".join(parts) + closing(boundary)
