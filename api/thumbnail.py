"""A small JPEG of one enrolled face, cut from the stored upload for the operator's page.

The stored box was found on the image turned upright per EXIF (see `api.imaging`), so the
image is turned the same way before cropping. The crop is square, centred on the box and
widened by a margin, so a thumbnail shows the whole head the way people recognise it.
A large JPEG (a phone photo) is decoded at a reduced scale chosen so the crop still has
enough pixels: a thumbnail then costs milliseconds, not a full 12-megapixel decode.
"""

from __future__ import annotations

import io

from PIL import Image

from api.imaging import exif_orientation, upright

MARGIN = 0.25  # of the box's larger side, on each side
JPEG_QUALITY = 85
_QUARTER_TURNS = {5, 6, 7, 8}  # orientations whose upright image swaps width and height


def square_around(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    """The square (left, top, right, bottom) around `box` with the margin, kept inside
    the image (shrunk only when the image itself is smaller than the square)."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top) * (1 + 2 * MARGIN)
    side = max(1, min(round(side), width, height))
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    x0 = min(max(round(centre_x - side / 2), 0), width - side)
    y0 = min(max(round(centre_y - side / 2), 0), height - side)
    return x0, y0, x0 + side, y0 + side


def _upright_size(image: Image.Image, orientation: int) -> tuple[int, int]:
    width, height = image.size
    if orientation in _QUARTER_TURNS:
        return height, width
    return width, height


def face_thumbnail(image: bytes, box: tuple[float, float, float, float], size: int) -> bytes:
    """JPEG bytes, `size` x `size` pixels (never upscaled past the crop's own size)."""
    with Image.open(io.BytesIO(image)) as stored:
        # Read before draft(), which changes the decode scale but not the metadata.
        orientation = exif_orientation(stored)
        width, height = _upright_size(stored, orientation)
        square = square_around(box, width, height)
        wanted = min(1.0, (size + 2) / (square[2] - square[0]))  # +2: rounding slack
        raw_width = stored.size[0]
        # JPEG only (a no-op otherwise): decode at 1/2, 1/4 or 1/8 while still >= wanted.
        stored.draft("RGB", (round(stored.size[0] * wanted), round(stored.size[1] * wanted)))
        scale = stored.size[0] / raw_width
        turned = upright(stored, orientation).convert("RGB")
    if scale != 1.0:
        left, top, right, bottom = box
        square = square_around(
            (left * scale, top * scale, right * scale, bottom * scale), *turned.size
        )
    crop = turned.crop(square)
    side = min(size, crop.width)
    thumb = crop.resize((side, side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
