"""Validation of what clients send: identifiers, names, pages, times, uploaded files.

Identifiers end up in URLs, file names of exports and SQL parameters: they are limited to
letters and digits of any script plus `. _ - @`, 1-128 characters, so path separators,
control characters and SQL metacharacters are refused with 400 before anything happens.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from flask import request
from werkzeug.datastructures import FileStorage

from api.errors import ApiError

PERSON_ID_PATTERN = r"^[\w.@-]{1,128}$"
_PERSON_ID = re.compile(PERSON_ID_PATTERN)
MAX_NAME_LENGTH = 255
MAX_PER_PAGE = 500


def person_id_or_400(value: str, field: str = "person_id") -> str:
    if not isinstance(value, str) or not _PERSON_ID.fullmatch(value):
        raise ApiError(
            400,
            "INVALID_ID",
            f"{field} must be 1-128 letters, digits or . _ - @ (no spaces, slashes or "
            "control characters)",
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
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"} for char in value):
        raise ApiError(400, "VALIDATION_ERROR", f"{field} contains control characters")
    return value


def page_or_400() -> tuple[int, int, int]:
    """(page, per_page, offset) from the query string; pages start at 1."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", 50))
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", "page and per_page must be integers") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(
            400, "VALIDATION_ERROR", f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}"
        )
    return page, per_page, (page - 1) * per_page


def timestamp_or_400(value: str | None, field: str) -> datetime | None:
    """ISO 8601 -> naive UTC (zone-less input is taken as UTC)."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be an ISO 8601 time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


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


def form_int_or_400(field: str, default: int, low: int, high: int) -> int:
    raw = request.form.get(field, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be between {low} and {high}")
    return value


def form_float_or_400(field: str, low: float, high: float) -> float | None:
    raw = request.form.get(field, "")
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be a number") from None
    if not low <= value <= high:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be between {low} and {high}")
    return value


def form_bool(field: str) -> bool:
    return request.form.get(field, "").strip().lower() in {"1", "true", "yes", "on"}
