"""Property-based fuzzing of api.imaging.decode_image, and the crashes it found.

Property: for any bytes, decode_image returns an upright HxWx3 uint8 array of an accepted
format within the pixel limit, or raises ApiError with a 4xx status. Nothing else, ever.
The inputs are real images (an LFW face in every accepted format, with EXIF) mutated the
way broken uploads and attackers damage them: overwritten, cut, inserted, deleted and
repeated bytes, biased towards the headers where the parsers live.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

from api.errors import ApiError
from api.imaging import SUPPORTED_FORMATS, decode_image
from tests.security import payloads
from tests.security.tally import SecurityReport
from tests.shared_data import REPO_ROOT

MAX_PIXELS = 40_000_000
# Bounded for CI (a few seconds); raise it for a longer local hunt.
EXAMPLES = int(os.environ.get("FUZZ_DECODE_EXAMPLES", "2000"))
_OUTCOMES: Counter[str] = Counter()


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Camera"
    exif[0x8769] = {0x9003: "2024:01:01 00:00:00"}
    return exif.tobytes()


@cache
def seeds() -> dict[str, bytes]:
    """A small real face (mutations near the headers matter, not the pixel count)."""
    with Image.open(io.BytesIO(payloads.face_jpeg())) as image:
        face = image.convert("RGB").resize((64, 48))
    grey16 = Image.fromarray(np.asarray(face.convert("L"), dtype=np.uint16) * 257)
    return {
        "jpeg-exif": payloads.encode(face, "JPEG", exif=_exif(6)),
        "jpeg-progressive": payloads.encode(face, "JPEG", progressive=True),
        "png-exif": payloads.encode(face, "PNG", exif=_exif(3)),
        "png-palette": payloads.encode(face.convert("P"), "PNG"),
        "png-16bit": payloads.encode(grey16, "PNG"),
        "webp-exif": payloads.encode(face, "WEBP", exif=_exif(8)),
        "webp-lossless": payloads.encode(face, "WEBP", lossless=True),
    }


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    data = bytearray(seeds()[draw(st.sampled_from(sorted(seeds())))])
    for _ in range(draw(st.integers(1, 6))):
        if len(data) < 2:
            break
        in_header = draw(st.booleans())
        at = draw(st.integers(0, min(len(data) - 1, 400) if in_header else len(data) - 1))
        how = draw(st.sampled_from(("overwrite", "cut", "insert", "delete", "repeat")))
        if how == "overwrite":
            data[at : at + 4] = draw(st.binary(min_size=1, max_size=4))
        elif how == "cut":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def check_decoding(data: bytes) -> str:
    """The property itself; returns the outcome's name for the tally."""
    try:
        decoded = decode_image(data, MAX_PIXELS)
    except ApiError as error:
        assert 400 <= error.status < 500, (error.status, error.code)
        return f"{error.status} {error.code}"
    rgb = decoded.rgb
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert 0 < rgb.shape[0] * rgb.shape[1] <= MAX_PIXELS
    assert decoded.format in SUPPORTED_FORMATS
    return "decoded"


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on corrupt EXIF
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(damaged_images())
def test_decode_image_returns_rgb_or_a_4xx(data: bytes) -> None:
    _OUTCOMES[check_decoding(data)] += 1


@pytest.fixture(scope="module", autouse=True)
def _tally_fuzzing(security_report: SecurityReport):
    yield
    if _OUTCOMES:
        security_report.record_fuzzing(
            "decode_image (hypothesis)",
            examples=sum(_OUTCOMES.values()),
            seeds=sorted(seeds()),
            outcomes=dict(sorted(_OUTCOMES.items())),
            crashes=0,
        )


# Regression tests: each one a crash (500) the fuzzers or the hostile inputs found.


def _red(size: tuple[int, int]) -> bytes:
    return payloads.encode(Image.new("RGB", size, (200, 40, 40)), "JPEG")


def test_corrupt_exif_is_ignored_not_a_crash() -> None:
    """Found by fuzzing: an ImageLength tag holding text made exif_transpose raise
    struct.error (a 500). The orientation still counts; the broken tag does not matter."""
    decoded = decode_image(payloads.with_corrupt_exif(_red((40, 20))), MAX_PIXELS)
    assert decoded.rgb.shape == (40, 20, 3)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_unparseable_exif_leaves_the_image_as_stored() -> None:
    data = payloads.with_app1(_red((40, 20)), b"Exif\x00\x00MM\x00*" + b"\xff" * 40)
    assert decode_image(data, MAX_PIXELS).rgb.shape == (20, 40, 3)


@pytest.mark.parametrize(
    ("orientation", "shape"), [(1, (20, 40, 3)), (6, (40, 20, 3)), (3, (20, 40, 3))]
)
def test_exif_orientation_is_honoured(orientation: int, shape: tuple[int, int, int]) -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.putpixel((0, 0), (255, 255, 255))  # top-left marker
    data = payloads.encode(image, "PNG", exif=_exif(orientation))
    rgb = decode_image(data, MAX_PIXELS).rgb
    assert rgb.shape == shape
    corner = {1: (0, 0), 6: (0, 19), 3: (19, 39)}[orientation]  # where the marker lands
    assert rgb[corner].min() > 200


def test_sixteen_bit_grey_keeps_its_contrast() -> None:
    """A 16-bit PNG (infrared cameras) was clipped to white: every face vanished."""
    with Image.open(io.BytesIO(payloads.face_jpeg())) as image:
        grey = np.asarray(image.convert("L"))
    data = payloads.encode(Image.fromarray(grey.astype(np.uint16) * 257), "PNG")
    rgb = decode_image(data, MAX_PIXELS).rgb
    assert np.abs(rgb[..., 0].astype(int) - grey).max() <= 1


_BOMB_PROBE = """
import json, resource, sys
from api.errors import ApiError
from api.imaging import decode_image
from tests.security.payloads import decompression_bombs
bombs = decompression_bombs()
with open("/proc/self/status") as status:
    size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
limit = size + 512 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
answers = {}
for name, data in bombs.items():
    try:
        decode_image(data, 40_000_000)
        answers[name] = "decoded"
    except ApiError as error:
        answers[name] = f"{error.status} {error.code}"
    except MemoryError:
        answers[name] = "MemoryError"
json.dump(answers, sys.stdout)
"""


def test_bombs_of_every_format_are_refused_before_any_allocation() -> None:
    """Found here: WebP's decoder allocates the whole canvas when Pillow merely opens the
    file (1 GiB for 16384x16384), and headers beyond Pillow's own limit raised an
    uncaught DecompressionBombError (500). Under a 512 MiB address-space margin, every
    bomb must be refused 413 from its header alone."""
    if not sys.platform.startswith("linux"):
        pytest.skip("RLIMIT_AS and /proc are Linux facilities")
    result = subprocess.run(
        [sys.executable, "-c", _BOMB_PROBE],
        cwd=REPO_ROOT,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answers = json.loads(result.stdout)
    assert set(answers) == set(payloads.decompression_bombs())
    assert set(answers.values()) == {"413 IMAGE_TOO_LARGE"}, answers
