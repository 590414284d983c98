"""gunicorn's gthread worker, answering the requests gunicorn itself refuses in the contract.

Some requests never reach Flask: gunicorn's parser refuses a request line over
limit_request_line (414), too many or too large header fields (431) and a malformed request
(400), and its answer was an HTML page quoting the offending input. Clients read the
contract's `{"code", "message"}` from every error (api/errors.py), so this worker answers
those refusals in that body with a fixed message: nothing of the request is echoed back.

gunicorn still decides the status, logs the refusal and writes its access-log line
(Worker.handle_error); only the page, which it writes through `gunicorn.util.write_error`,
is replaced, and only in the worker processes that run this class.
"""

from __future__ import annotations

import json
import socket
from http import HTTPStatus

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from api.errors import ApiError

# status -> (code, message) for every status gunicorn's handle_error answers.
ANSWERS = {
    400: ("BAD_REQUEST", "the request is malformed"),
    403: ("FORBIDDEN", "the request is forbidden"),
    414: ("REQUEST_LINE_TOO_LONG", "the request line (method, path and query) is too long"),
    417: ("EXPECTATION_FAILED", "the request's Expect header cannot be met"),
    431: ("HEADERS_TOO_LARGE", "the request has too many header fields, or one too large"),
    500: ("INTERNAL_ERROR", "internal server error"),
    501: ("NOT_IMPLEMENTED", "the request's transfer coding is not supported"),
}


def write_contract_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """util.write_error's replacement: same status, the contract's JSON body.

    `mesg` (gunicorn's detail, which quotes the request) is deliberately left out, and the
    status line takes the standard phrase: gunicorn's `reason` says "Bad Request" for 501.
    """
    phrase = HTTPStatus(status_int).phrase
    code, message = ANSWERS.get(status_int, ("HTTP_ERROR", phrase))
    body = json.dumps(ApiError(status_int, code, message).body()).encode()
    head = (
        f"HTTP/1.1 {status_int} {phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class ContractThreadWorker(ThreadWorker):
    """The gthread worker, unchanged but for the body of gunicorn's own error answers."""

    def init_process(self) -> None:
        # handle_error calls the module function util.write_error, so that function is
        # what is replaced, in this worker process only (the master serves nothing).
        util.write_error = write_contract_error
        super().init_process()
