"""Fixtures shared by the security suite: the keyed servers and the run's report."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.server import SecuredServer, start_secured
from tests.security.tally import SecurityReport


@pytest.fixture(scope="session")
def security_report() -> Iterator[SecurityReport]:
    report = SecurityReport()
    yield report
    report.write()


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredServer]:
    """One 1-worker server for hostile input, fuzzing, logs and deletion (started once)."""
    server = start_secured(tmp_path_factory.mktemp("secured-api"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredServer]:
    """A 2-worker server on a fresh database for faults (a worker to kill, one to carry
    on) and for deletion with DELETE_EVENTS_WITH_PERSON=false (sightings kept)."""
    server = start_secured(
        tmp_path_factory.mktemp("two-workers-api"), workers=2, DELETE_EVENTS_WITH_PERSON="false"
    )
    yield server
    server.stop()
