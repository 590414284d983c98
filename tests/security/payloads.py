"""Hostile bytes made from a real face: truncations, corruptions, bombs, non-images.

Every payload starts from an LFW photograph (read from ../shared, never copied) or from
a tiny image made here, and is damaged in one named, reproducible way.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from functools import cache

from PIL import Image

from tests.api.images import encode, face_jpeg, png_bomb, png_chunk, png_with_ihdr

FORMATS = ("JPEG", "PNG", "WEBP")


@cache
def face(fmt: str) -> bytes:
    """The same face in each accepted format."""
    if fmt == "JPEG":
        return face_jpeg()
    with Image.open(io.BytesIO(face_jpeg())) as image:
        return encode(image.convert("RGB"), fmt)


def junk(size: int, seed: int = 8) -> bytes:
    return random.Random(seed).randbytes(size)


def _sof_offset(jpeg: bytes) -> int:
    """Offset of the baseline frame header (FFC0) of a JPEG written by Pillow."""
    offset = jpeg.index(b"\xff\xc0")
    return offset + 5  # marker (2), length (2), precision (1): then height, width


def jpeg_with_size(width: int, height: int) -> bytes:
    """A tiny JPEG whose frame header claims width x height (its scan stays 8x8)."""
    data = bytearray(encode(Image.new("RGB", (8, 8), (90, 120, 150)), "JPEG"))
    offset = _sof_offset(bytes(data))
    data[offset : offset + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_lossless_with_size(width: int, height: int) -> bytes:
    """A tiny lossless WebP whose VP8L header claims width x height (max 16384)."""
    data = bytearray(encode(Image.new("RGB", (8, 8), (90, 120, 150)), "WEBP", lossless=True))
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little") & 0xF0000000  # keep alpha/version bits
    bits |= (width - 1) & 0x3FFF | ((height - 1) & 0x3FFF) << 14
    data[21:25] = bits.to_bytes(4, "little")
    return bytes(data)


def webp_extended_with_size(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP whose canvas claims width x height (max 16M x 16M)."""
    inner = encode(Image.new("RGB", (8, 8), (90, 120, 150)), "WEBP", lossless=True)[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + inner
    return b"RIFF" + struct.pack("<I", len(body)) + body


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """`jpeg` with an APP1 (EXIF) segment holding `payload` right after its SOI marker."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def with_corrupt_exif(jpeg: bytes, orientation: int = 6) -> bytes:
    """`jpeg` with an EXIF orientation beside an ImageLength tag holding text: readable,
    yet Pillow's exif_transpose raises struct.error re-writing it (found by fuzzing)."""
    tiff = b"MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 2)
    tiff += struct.pack(">HHI", 0x0101, 2, 4) + b"Cam\x00"  # ImageLength as ASCII
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += b"\x00\x00\x00\x00"
    return with_app1(jpeg, b"Exif\x00\x00" + tiff)


def decompression_bombs() -> dict[str, bytes]:
    """Each format's header claiming far more pixels than any limit; a few KB each."""
    return {
        "png-20000x20000": png_bomb(20000, 20000),
        "png-70000x70000": png_bomb(70000, 70000),
        "jpeg-65000x65000": jpeg_with_size(65000, 65000),
        "jpeg-8000x6000": jpeg_with_size(8000, 6000),
        "webp-vp8l-16384x16384": webp_lossless_with_size(16384, 16384),
        "webp-vp8x-1000000x1000000": webp_extended_with_size(1_000_000, 1_000_000),
    }


def truncations() -> dict[str, bytes]:
    """Each format cut at several points: header only, a tenth, half, nine tenths."""
    cuts: dict[str, bytes] = {}
    for fmt in FORMATS:
        data = face(fmt)
        for label, keep in (("header", 24), ("10%", len(data) // 10), ("50%", len(data) // 2)):
            cuts[f"{fmt.lower()}-{label}"] = data[:keep]
        cuts[f"{fmt.lower()}-90%"] = data[: len(data) * 9 // 10]
    return cuts


def malformations() -> dict[str, bytes]:
    """Valid magic numbers followed by broken structure, one way per entry."""
    png = face("PNG")
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # last byte of the IHDR chunk's CRC
    idat_at = png.index(b"IDAT") - 4
    (idat_length,) = struct.unpack(">I", png[idat_at : idat_at + 4])
    bad_idat = (
        png[:idat_at] + png_chunk(b"IDAT", junk(idat_length)) + png[idat_at + 12 + idat_length :]
    )
    webp = face("WEBP")
    return {
        "jpeg-header-then-junk": b"\xff\xd8\xff\xe0" + junk(4096),
        "jpeg-zero-width": jpeg_with_size(0, 64),
        "jpeg-scan-replaced-by-junk": face_jpeg()[:700] + junk(len(face_jpeg()) - 700),
        "png-bad-ihdr-crc": bytes(bad_crc),
        "png-idat-not-zlib": bad_idat,
        "png-zero-width": png_with_ihdr(0, 10, zlib.compress(b"\x00")),
        "webp-header-then-junk": webp[:30] + junk(len(webp) - 30),
        "webp-riff-only": b"RIFF\x00\x00\x00\x00WEBP",
    }


def non_images() -> dict[str, bytes]:
    """Bytes of other kinds that might be posted as an image."""
    return {
        "text": b"this is not an image, it is a sentence\n",
        "html": b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
        "json": b'{"image": "data:image/jpeg;base64,/9j/4AAQ"}',
        "base64-of-a-jpeg": __import__("base64").b64encode(face_jpeg()[:3000]),
        "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        "zip": b"PK\x03\x04" + junk(200),
        "elf": b"\x7fELF\x02\x01\x01" + junk(200),
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "random-4k": junk(4096, seed=3),
        "zeros-4k": bytes(4096),
    }


def other_image_formats() -> dict[str, bytes]:
    """Real images in formats Pillow reads but the API does not accept (415)."""
    small = Image.new("RGB", (32, 32), (10, 200, 30))
    return {
        "gif": encode(small.convert("P"), "GIF"),
        "bmp": encode(small, "BMP"),
        "tiff": encode(small, "TIFF"),
        "ico": encode(small, "ICO"),
    }
