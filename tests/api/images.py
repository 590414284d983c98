"""Images for error-path tests: real faces from ../shared and hostile bytes made here."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

from PIL import Image

from tests.shared_data import shared_path


@cache
def face_jpeg() -> bytes:
    """A real single-face photograph as LFW ships it (250x250 JPEG)."""
    return shared_path(
        "data", "lfw-ident20", "Nicole_Kidman", "Nicole_Kidman_0001.jpg"
    ).read_bytes()


def group_jpeg() -> bytes:
    return shared_path(
        "data", "scenes", "stills", "face_recognition_obama_and_biden.jpg"
    ).read_bytes()


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def blank_png(width: int = 200, height: int = 200) -> bytes:
    return encode(Image.new("RGB", (width, height), (235, 235, 235)), "PNG")


def gif() -> bytes:
    return encode(Image.new("P", (20, 20)), "GIF")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_with_ihdr(width: int, height: int, idat: bytes) -> bytes:
    """A PNG whose header claims width x height (8-bit greyscale) around `idat`."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height in a few hundred bytes (a few rows of
    data follow: the header is what matters)."""
    return png_with_ihdr(width, height, zlib.compress(b"\x00" * (width + 1) * 4, 9))
