"""Turning untrusted upload bytes into an RGB array, or a precise refusal.

The format is sniffed from the bytes (never the filename or the part's content type),
the pixel count is checked from the header before any pixel is decoded (decompression
bombs), EXIF orientation is honoured (phones store portraits sideways) and every decoder
failure becomes a client error, not a 500.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from api.errors import ApiError

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP")

# Our own pixel check runs first with the configured limit; Pillow's global guard stays
# as a backstop for anything that reaches it.
Image.MAX_IMAGE_PIXELS = 200_000_000


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


def _identify_other_format(data: bytes) -> str | None:
    """Name of a format Pillow knows but we do not accept (GIF, BMP...), from the header."""
    try:
        with Image.open(io.BytesIO(data)) as other:
            return other.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def decode_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Decode `data` or raise ApiError: IMAGE_UNREADABLE (422), IMAGE_TOO_LARGE (413),
    UNSUPPORTED_IMAGE_FORMAT (415)."""
    if not data:
        raise _unreadable("it is empty (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except UnidentifiedImageError:
        other = _identify_other_format(data)
        if other:
            raise ApiError(
                415,
                "UNSUPPORTED_IMAGE_FORMAT",
                f"{other} images are not accepted; send JPEG, PNG or WebP",
            ) from None
        raise _unreadable("not a JPEG, PNG or WebP image") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise _unreadable(type(error).__name__) from None
    with image:
        width, height = image.size
        if width <= 0 or height <= 0:
            raise _unreadable("it has no pixels")
        if width * height > max_pixels:
            raise ApiError(
                413,
                "IMAGE_TOO_LARGE",
                f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels",
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = np.asarray(upright.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            raise _unreadable(f"truncated or corrupt data ({type(error).__name__})") from None
        except Image.DecompressionBombWarning:
            raise ApiError(413, "IMAGE_TOO_LARGE", "the image exceeds the pixel limit") from None
        return DecodedImage(rgb=np.ascontiguousarray(rgb), format=image.format or "")
