"""Validation of what clients send: identifiers, names, pages, times, uploaded files; and
`iso`, the one form every answer writes a time in (what `timestamp_or_400` reads back).

Identifiers end up in URLs, file names of exports and SQL parameters: they are 1-128
letters (with the combining marks many scripts write them with), digits and `. _ - @`, in
Unicode NFC, and not only dots; so path separators, `.`/`..`, control characters, SQL
metacharacters, symbols and emoji are refused with 400 before anything happens. NFD input
is refused rather than normalised so that two look-alike IDs can never name two people.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import request
from werkzeug.datastructures import FileStorage

from api.errors import ApiError

# What a JSON schema can state (Python's `re` has no \p{M}): no whitespace, control
# characters or ASCII punctuation but `. _ - @` (quotes as \x22 and \x27, valid in every
# regex dialect). `person_id_or_400` is the exact rule.
PERSON_ID_PATTERN = r"^[^\s\x00-\x1f\x7f!\x22#$%&\x27()*+,/:;<=>?\[\\\]^`{|}~]{1,128}$"
MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 255
MAX_PER_PAGE = 500
MAX_PAGE = 10_000_000  # keeps OFFSET inside a 64-bit integer on every database
_ID_PUNCTUATION = frozenset("._-@")
_MARKS = frozenset({"Mn", "Mc"})
# Joiners are part of emoji sequences and some scripts; other format characters (bidi
# overrides, zero-width spaces, invisible tags) only serve to disguise text, and line or
# paragraph separators to break log and CSV lines like a newline would.
_NAME_JOINERS = frozenset({"\u200c", "\u200d"})
_NAME_FORBIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _is_id_char(char: str, first: bool) -> bool:
    if char in _ID_PUNCTUATION:
        return True
    category = unicodedata.category(char)
    return category[0] in "LN" or (category in _MARKS and not first)


def is_valid_id(value: object) -> bool:
    """The identifier rule (see the module docstring)."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= MAX_ID_LENGTH
        and unicodedata.is_normalized("NFC", value)
        and all(_is_id_char(char, index == 0) for index, char in enumerate(value))
        and value.strip(".") != ""
    )


def person_id_or_400(value: str, field: str = "person_id") -> str:
    if not is_valid_id(value):
        raise ApiError(
            400,
            "INVALID_ID",
            f"{field} must be 1-128 letters, digits or . _ - @ of any script in Unicode NFC "
            "(no spaces, slashes, symbols, emoji or control characters; not only dots)",
        )
    return value


def text_or_400(
    value: str | None, field: str, max_length: int, required: bool = False
) -> str | None:
    """Free text (names, locations): any script, no control characters, bounded."""
    if value is None or value == "":
        if required:
            raise ApiError(400, "VALIDATION_ERROR", f"{field} is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be a string")
    value = unicodedata.normalize("NFC", value.strip())
    if not value or len(value) > max_length:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be 1-{max_length} characters")
    if any(
        unicodedata.category(char) in _NAME_FORBIDDEN and char not in _NAME_JOINERS
        for char in value
    ):
        raise ApiError(400, "VALIDATION_ERROR", f"{field} contains control characters")
    return value


def page_or_400() -> tuple[int, int, int]:
    """(page, per_page, offset) from the query string; pages start at 1."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", 50))
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", "page and per_page must be integers") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f"page must be between 1 and {MAX_PAGE} and per_page between 1 and {MAX_PER_PAGE}",
        )
    return page, per_page, (page - 1) * per_page


def timestamp_or_400(value: str | None, field: str) -> datetime | None:
    """ISO 8601 -> naive UTC (zone-less input is taken as UTC)."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be an ISO 8601 time") from None
    return moment


def iso(moment: datetime) -> str:
    """A stored time (naive UTC, see `api.db.engine.utcnow`) as ISO 8601 marked UTC."""
    return moment.isoformat() + "Z"


def require_multipart() -> None:
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "send multipart/form-data with the image in a file field",
        )


def files_or_400(field: str, max_count: int) -> list[FileStorage]:
    require_multipart()
    files = [f for f in request.files.getlist(field) if f is not None]
    if not files:
        raise ApiError(400, "VALIDATION_ERROR", f"the file field {field!r} is required")
    if len(files) > max_count:
        raise ApiError(
            400, "TOO_MANY_IMAGES", f"at most {max_count} images per request ({len(files)} sent)"
        )
    return files


def single_file_or_400(field: str) -> bytes:
    return files_or_400(field, 1)[0].read()


Number = TypeVar("Number", int, float)


def _form_number_or_400(
    field: str, parse: Callable[[str], Number], kind: str, low: Number, high: Number
) -> Number | None:
    """Form field `field` parsed by `parse` and within [low, high]; None when absent or
    empty. NaN fails the range check, so it is refused like any value out of range."""
    raw = request.form.get(field, "")
    if raw == "":
        return None
    try:
        value = parse(raw)
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be {kind}") from None
    if not low <= value <= high:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be between {low} and {high}")
    return value


def form_int_or_400(field: str, default: int, low: int, high: int) -> int:
    value = _form_number_or_400(field, int, "an integer", low, high)
    return default if value is None else value


def form_float_or_400(field: str, low: float, high: float) -> float | None:
    return _form_number_or_400(field, float, "a number", low, high)


def form_bool(field: str) -> bool:
    return request.form.get(field, "").strip().lower() in {"1", "true", "yes", "on"}
