"""Images for error-path tests: real faces from ../shared and hostile bytes made here."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.shared_data import shared_path


def face_jpeg() -> bytes:
    return shared_path(
        "data", "lfw-ident20", "Nicole_Kidman", "Nicole_Kidman_0001.jpg"
    ).read_bytes()


def group_jpeg() -> bytes:
    return shared_path(
        "data", "scenes", "stills", "face_recognition_obama_and_biden.jpg"
    ).read_bytes()


def blank_png(width: int = 200, height: int = 200) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (235, 235, 235)).save(buffer, "PNG")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (20, 20)).save(buffer, "GIF")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A valid PNG header claiming 400 megapixels in a few hundred bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * width
    data = zlib.compress(row * 8, 9)  # a few rows: the header is what matters
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )
