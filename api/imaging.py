"""Turning untrusted upload bytes into an RGB array, or a precise refusal.

The format is sniffed from the bytes (never the filename or the part's content type),
the pixel count is checked from the header before any pixel is decoded (decompression
bombs), EXIF orientation is honoured (phones store portraits sideways) and every decoder
failure becomes a client error, not a 500.
"""

from __future__ import annotations

import io
import logging
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from api.errors import ApiError

log = logging.getLogger(__name__)

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP")
_NAMED_OTHER_FORMATS = ("GIF", "BMP", "TIFF", "ICO", "PPM", "PSD", "JPEG2000", "AVIF", "HEIF")

# Our own pixel check (the configured limit) runs before any pixel is decoded; Pillow's
# global guard stays as a backstop, and its refusals are answered 413 like ours. Its
# warning (between one and two times its limit) would only repeat our check on stderr.
Image.MAX_IMAGE_PIXELS = 200_000_000
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# What Pillow's decoders raise on bytes they cannot make sense of. struct.error and
# EOFError escape from some header and metadata parsers rather than becoming OSError.
_DECODER_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error)

_EXIF_ORIENTATION = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT_GREY = {"I;16", "I;16B", "I;16L"}
# Pixels are copied out of Pillow in strips of about this many bytes: numpy's own
# conversion goes through one bytes object built from a list of chunks, which holds the
# image twice more at its peak (240 MB more for a 40-megapixel photograph).
_STRIP_BYTES = 8 * 2**20
# Images over this many pixels are decoded and analysed one at a time per process (a
# 40-megapixel one holds about 300 MB while it is): the memory a worker needs then grows
# with its threads only by small images, whatever the uploads.
LARGE_IMAGE_PIXELS = 8_000_000
_LARGE_IMAGE_SLOT = threading.Lock()


@dataclass(frozen=True)
class DecodedImage:
    """An upload decoded to HxWx3 uint8 RGB, upright."""

    rgb: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def _unreadable(why: str) -> ApiError:
    return ApiError(422, "IMAGE_UNREADABLE", f"the image cannot be decoded: {why}")


def _too_large(width: int, height: int, max_pixels: int) -> ApiError:
    return ApiError(
        413,
        "IMAGE_TOO_LARGE",
        f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels",
    )


def webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """Width and height a WebP header claims, or None when `data` is no WebP header.

    libwebp allocates the whole canvas when Pillow merely opens the file, and Pillow's
    own check there uses its global limit, not ours: read the size first.
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8X":
        return (
            int.from_bytes(data[24:27], "little") + 1,
            int.from_bytes(data[27:30], "little") + 1,
        )
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _identify_other_format(data: bytes) -> str | None:
    """Name of a format a client may send by mistake (GIF, BMP...), from the header.

    Only common formats are tried (every other parser is attack surface for nothing),
    and any failure just means the 422 answer is given instead of the 415 one.
    """
    try:
        with Image.open(io.BytesIO(data), formats=_NAMED_OTHER_FORMATS) as other:
            return other.format
    except Exception:  # naming is best effort; the bytes are refused either way
        return None


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open (parse the header of) a JPEG, PNG or WebP; nothing is decoded yet."""
    claimed = webp_canvas_size(data)
    if claimed is not None and claimed[0] * claimed[1] > max_pixels:
        raise _too_large(*claimed, max_pixels)
    try:
        return Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError:
        other = _identify_other_format(data)
        if other:
            raise ApiError(
                415,
                "UNSUPPORTED_IMAGE_FORMAT",
                f"{other} images are not accepted; send JPEG, PNG or WebP",
            ) from None
        raise _unreadable("not a JPEG, PNG or WebP image") from None
    except Image.DecompressionBombError:
        raise ApiError(
            413, "IMAGE_TOO_LARGE", f"the image has more than the limit of {max_pixels} pixels"
        ) from None
    except _DECODER_ERRORS as error:
        raise _unreadable(type(error).__name__) from None


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8), 1 when absent or unparseable.

    Broken metadata must not cost a sighting: the pixels are used as stored. (Pillow's
    exif_transpose re-serialises the EXIF block and raises on some corrupt ones, so
    anything that turns stored uploads upright, thumbnails included, should use this.)
    """
    try:
        value = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # any parser failure means "no usable orientation"
        log.debug("unreadable EXIF block; orientation ignored")
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """`image` turned as EXIF `orientation` says (a copy; the same image for 1)."""
    turn = _UPRIGHT.get(orientation)
    return image if turn is None else image.transpose(turn)


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB; 16-bit grey (infrared cameras) is scaled, not clipped to white."""
    if image.mode in _SIXTEEN_BIT_GREY:
        grey = (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    # Already RGB: no copy (a 40-megapixel image is 120 MB a copy).
    return image if image.mode == "RGB" else image.convert("RGB")


def header_pixels(data: bytes) -> int:
    """Width x height from the image's header (nothing decoded); 0 when unreadable (the
    decoding then says why)."""
    try:
        with Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS) as image:
            width, height = image.size
    except Exception:
        return 0
    claimed = webp_canvas_size(data)
    return max(width * height, claimed[0] * claimed[1] if claimed else 0)


@contextmanager
def large_image_slot(data: bytes) -> Iterator[None]:
    """Hold the process's one slot for large images while `data` is decoded and analysed
    inside this block, when it has more than LARGE_IMAGE_PIXELS; small ones pass at once."""
    if header_pixels(data) <= LARGE_IMAGE_PIXELS:
        yield
        return
    with _LARGE_IMAGE_SLOT:
        yield


def _pixels(image: Image.Image) -> np.ndarray:
    """The RGB pixels of `image` as one new uint8 array, copied strip by strip."""
    width, height = image.size
    rows = max(1, _STRIP_BYTES // (3 * width))
    if rows >= height:
        return np.asarray(image, dtype=np.uint8)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        pixels[top:bottom] = np.asarray(image.crop((0, top, width, bottom)), dtype=np.uint8)
    return pixels


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Decode `data` or raise ApiError: IMAGE_UNREADABLE (422), IMAGE_TOO_LARGE (413),
    UNSUPPORTED_IMAGE_FORMAT (415)."""
    if not data:
        raise _unreadable("it is empty (0 bytes)")
    image = _open(data, max_pixels)
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise _unreadable("it has no pixels")
        if width * height > max_pixels:
            raise _too_large(width, height, max_pixels)
        try:
            image.load()
            rgb = upright(_to_rgb(image), exif_orientation(image))
        except _DECODER_ERRORS as error:
            raise _unreadable(f"truncated or corrupt data ({type(error).__name__})") from None
        return DecodedImage(rgb=_pixels(rgb), format=image.format or "")
