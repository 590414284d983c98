"""Real gunicorn servers for the API tests, on SQLite and on MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.databases import mariadb_database, sqlite_url
from tests.live_api import ApiProcess

BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
# The keys of `keyed_api` (16+ characters each, as the API requires).
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
RECOGNIZE_TOKEN = "recognize-token-for-tests-0123456789"


def start_api(folder: Path, database_url: str, workers: int = 2, **env: str) -> ApiProcess:
    folder.mkdir(parents=True, exist_ok=True)
    return ApiProcess(
        env={"DATABASE_URL": database_url, "MODEL_DIR": str(folder / "models"), **env},
        workers=workers,
        log_path=folder / "gunicorn.log",
    ).start()


@pytest.fixture(scope="module")
def keyed_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """One worker on SQLite with an admin and a recognize key: auth on, as in production."""
    folder = tmp_path_factory.mktemp("api-keyed")
    server = start_api(
        folder,
        sqlite_url(folder),
        workers=1,
        API_KEYS=f"admin:{ADMIN_TOKEN},recognize:{RECOGNIZE_TOKEN}",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def backend_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """A 2-worker gunicorn on a fresh database of each backend."""
    folder = tmp_path_factory.mktemp(f"api-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = sqlite_url(folder)
        else:
            url = stack.enter_context(mariadb_database())
        server = start_api(folder, url)
        stack.callback(server.stop)
        yield server


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    folder = tmp_path_factory.mktemp("api-errors")
    server = start_api(folder, sqlite_url(folder), workers=1, MAX_REQUEST_BYTES=str(3 * 2**20))
    yield server
    server.stop()
