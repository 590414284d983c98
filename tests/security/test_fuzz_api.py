"""Property-based fuzzing of the HTTP API from its own /swagger.json (schemathesis).

Every operation the server documents gets schema-valid and schema-violating requests
(with a valid admin key, so the input checks are what answers). Properties: never a 5xx;
documented success bodies match their schema and content type; every error is the
contract's JSON. The budget is bounded (FUZZ_API_EXAMPLES per operation and mode).
"""

from __future__ import annotations

import os
from collections import Counter

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, Response, checks

from tests.security.server import ADMIN_TOKEN, SecuredServer
from tests.security.tally import SecurityReport

EXAMPLES = int(os.environ.get("FUZZ_API_EXAMPLES", "20"))
# No parameters to fuzz, and each waits for a whole training to finish.
NOT_FUZZED = {"POST /model/train", "POST /model/optimized-train"}
SCHEMA_CHECKS = [checks.not_a_server_error, checks.response_schema_conformance]
# Defects this test found and that are reported but not yet fixed, by a sign in the
# failure text; the test fails once one no longer occurs, so the entry must go too.
KNOWN_DEFECTS: dict[str, str] = {}


def _error_is_contract(response: Response) -> str | None:
    """Why a 4xx is not the contract's body, or None when it is."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/json"):
        return f"content type {content_type}"
    body = response.json()
    if not (isinstance(body, dict) and body.get("code") and body.get("message")):
        return f"body {str(body)[:200]}"
    return None


def fuzz_operation(
    operation,
    mode: GenerationMode,
    server: SecuredServer,
    statuses: Counter[str],
    known: Counter[str],
) -> list[str]:
    """Run one operation's budget; returns the failures (empty when all held)."""
    failures: list[str] = []
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        response = case.call(
            base_url=server.url, session=session, headers={"X-API-Key": ADMIN_TOKEN}, timeout=60
        )
        statuses[f"{response.status_code // 100}xx"] += 1
        success = 200 <= response.status_code < 300
        wanted = SCHEMA_CHECKS + ([checks.content_type_conformance] if success else [])
        try:
            case.validate_response(response, checks=wanted, headers={"X-API-Key": ADMIN_TOKEN})
        except BaseException as failure:  # schemathesis raises a BaseExceptionGroup
            if not isinstance(failure, Exception | BaseExceptionGroup):
                raise
            text = str(failure)
            defect = next((name for name, sign in KNOWN_DEFECTS.items() if sign in text), None)
            if defect is not None and "Server error" not in text:
                known[defect] += 1
            else:
                failures.append(f"{operation.label} [{mode.value}]: {text[:300]}")
        if 400 <= response.status_code < 500 and (why := _error_is_contract(response)):
            failures.append(f"{operation.label} [{mode.value}] {response.status_code}: {why}")

    run()
    session.close()
    return failures


def test_api_fuzzed_from_its_own_spec(
    secured: SecuredServer, security_report: SecurityReport
) -> None:
    schema = schemathesis.openapi.from_url(f"{secured.url}/swagger.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if op.label not in NOT_FUZZED]
    assert len(fuzzed) >= 25, [op.label for op in operations]
    statuses: Counter[str] = Counter()
    known: Counter[str] = Counter()
    failures: list[str] = []
    for operation in fuzzed:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz_operation(operation, mode, secured, statuses, known)
    security_report.record_fuzzing(
        "HTTP API (schemathesis, from /swagger.json)",
        operations=len(fuzzed),
        requests=sum(statuses.values()),
        examples_per_operation_and_mode=EXAMPLES,
        statuses=dict(sorted(statuses.items())),
        server_errors=statuses["5xx"],
        failures=len(failures),
        known_defects=dict(known),
    )
    assert statuses["5xx"] == 0 and not failures, "\n".join(failures[:20])
    assert set(known) == set(KNOWN_DEFECTS), f"fixed? remove from KNOWN_DEFECTS: {known}"
