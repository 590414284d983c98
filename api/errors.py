"""The contract's error body `{"code", "message"}` and the one exception that carries it.

Views raise `ApiError`; `register_error_handlers` turns it, and every other exception, into
that body with a fitting status. Unexpected exceptions are logged with their traceback on
the server and answered as a bare 500: a client never sees a stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify
from flask_restx import Api
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

from api.db.engine import is_lock_conflict

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the client can act on: a status, a stable code and a readable message."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, f"{what.upper()}_NOT_FOUND", f"{what} {ident!s} does not exist")


def database_unavailable() -> ApiError:
    return ApiError(503, "DATABASE_UNAVAILABLE", "the database is unavailable; retry later")


_CODES_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "TOO_MANY_REQUESTS",
}


# A schema validator's reason quotes the offending value whole; a 10 MB string would be
# echoed back (and logged by proxies), so each reason is cut.
MAX_REASON_CHARS = 200


def _short(reason: object) -> str:
    text = str(reason)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def _from_http_exception(error: HTTPException) -> ApiError:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if status == 400 and "errors" in data:
        fields = "; ".join(f"{name}: {_short(why)}" for name, why in sorted(data["errors"].items()))
        return ApiError(400, "VALIDATION_ERROR", f"invalid request: {fields}")
    message = data.get("message") or error.description or HTTPStatus(status).phrase
    return ApiError(status, _CODES_BY_STATUS.get(status, "HTTP_ERROR"), str(message))


def to_api_error(error: Exception) -> ApiError:
    """Map any exception to the ApiError a client should see."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, HTTPException):
        return _from_http_exception(error)
    if isinstance(error, DBAPIError) and is_lock_conflict(error):
        log.warning("database lock conflict: %s", type(error.orig).__name__)
        return ApiError(
            503,
            "DATABASE_BUSY",
            "another write held the data this request needed; nothing was changed; retry",
        )
    if isinstance(error, OperationalError | InterfaceError | PoolTimeoutError):
        log.warning("database unavailable: %s", type(error).__name__)
        return database_unavailable()
    if isinstance(error, OverflowError):
        # An integer from a URL or form beyond 64 bits reaches SQLite's driver, which
        # refuses it (DELETE /api/v1/people/x/faces/4988888673713421025280).
        log.info("number out of range in a request: %s", error)
        return ApiError(400, "VALIDATION_ERROR", "a number in the request is out of range")
    if isinstance(error, RecursionError) and "decoding a JSON" in str(error):
        # The json module recurses per nesting level: `[[[[...` from a client.
        return ApiError(400, "BAD_REQUEST", "the JSON body is nested too deeply")
    log.exception("unhandled error")
    return ApiError(500, "INTERNAL_ERROR", "internal server error")


class ContractApi(Api):
    """flask-restx's Api answering every error with the contract's body.

    Api.handle_error would otherwise prefer an exception's own `data` (reqparse's
    `{"errors": ...}`) over any handler's answer, so the body is shaped here instead.
    """

    def handle_error(self, e: Exception):
        api_error = to_api_error(e)
        return self.make_response(api_error.body(), api_error.status)

    def _should_use_fr_error_handler(self) -> bool:
        """flask-restx 1.3.2 re-matches a 405's URL with another method inside its except
        clause; where that match asks for a redirect (`//` merged, as in POST
        /api/v1/people/%2F/faces) the RequestRedirect escaped every handler and gunicorn
        answered a bare HTML 500. Such a URL is ours to answer: 405 in the contract's body.
        """
        try:
            return bool(super()._should_use_fr_error_handler())
        except RoutingException:
            return True


def register_error_handlers(app: Flask) -> None:
    """Errors raised outside the Api's resources (404 on unknown paths, 413 in parsing)."""

    def flask_handler(error: Exception):
        api_error = to_api_error(error)
        return jsonify(api_error.body()), api_error.status

    app.register_error_handler(Exception, flask_handler)
