"""Judging one hostile request: a clear 4xx in the contract's shape, and nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Collection

import requests

from tests.security.server import SecuredServer
from tests.security.tally import SecurityReport


def contract_code(response: requests.Response) -> str:
    """The error body's code, after checking the body is the contract's JSON."""
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        response.status_code,
        response.headers.get("Content-Type"),
        response.text[:200],
    )
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert "Traceback" not in response.text
    return body["code"]


def expect_refused(
    server: SecuredServer,
    report: SecurityReport,
    kind: str,
    send: Callable[[], requests.Response],
    statuses: int | Collection[int],
    code: str | None = None,
    label: str = "",
) -> requests.Response:
    """Send a bad request; assert its 4xx answer and unchanged tables; record it."""
    allowed = {statuses} if isinstance(statuses, int) else set(statuses)
    before = server.snapshot()
    response = send()
    changed = server.snapshot() != before
    answered = contract_code(response) if response.status_code < 500 else None
    report.record_input(kind, response.status_code, answered, changed)
    where = (kind, label, response.status_code, response.text[:300])
    assert response.status_code in allowed, where
    if code is not None:
        assert answered == code, where
    assert not changed, (kind, label, before, server.snapshot())
    return response


def expect_accepted(
    report: SecurityReport, kind: str, response: requests.Response, status: int
) -> dict:
    """A request that must work (Unicode names, sniffed formats): record and return its body."""
    report.record_input(kind, response.status_code, None, changed=False)
    assert response.status_code == status, (kind, response.status_code, response.text[:300])
    return response.json() if response.content else {}
