"""A real gunicorn server with API keys, plus direct access to its database and log.

Hostile-input tests judge "nothing changed" from the tables themselves, not from what
the API chooses to report, and the log tests read the very file gunicorn writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, create_engine, func, select

from api.db.schema import (
    api_keys,
    cameras,
    face_embeddings,
    face_images,
    gallery_state,
    people,
    recognition_events,
    sighting_faces,
    training_jobs,
)
from tests.api.conftest import start_api
from tests.databases import sqlite_url
from tests.live_api import ApiProcess

# Environment keys, as a Kubernetes Secret provides them (16+ characters each).
ADMIN_TOKEN = "sec-admin-token-5f0c9d2b7e41a8c3"
RECOGNIZE_TOKEN = "sec-recognize-token-0a7b3e9c1d64f2b8"
TIMEOUT = 60
_COUNTED = {
    "people": people,
    "face_images": face_images,
    "face_embeddings": face_embeddings,
    "recognition_events": recognition_events,
    "sighting_faces": sighting_faces,
    "cameras": cameras,
    "training_jobs": training_jobs,
    "api_keys": api_keys,
}


@dataclass
class SecuredServer:
    """One keyed API on SQLite; `admin` is a session that sends the admin key."""

    process: ApiProcess
    folder: Path
    engine: Engine
    admin: requests.Session

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def log_path(self) -> Path:
        assert self.process.log_path is not None
        return self.process.log_path

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return self.admin.request(method, f"{self.url}{path}", **kwargs)

    def call_on_new_connection(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """For bodies the server refuses unread: on a reused keep-alive connection gunicorn
        may close it before the client has read the 413 (the client then sees a reset)."""
        headers = {**self.admin.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", TIMEOUT)
        return requests.request(method, f"{self.url}{path}", headers=headers, **kwargs)

    def wait_for_idle_training(self, timeout: float = 120.0) -> None:
        """Jobs queued by earlier tests (the fuzzer posts trainings) re-embed in the
        background and move the gallery version: let them finish before counting."""
        deadline = time.monotonic() + timeout
        busy = training_jobs.c.status.in_(("queued", "running"))
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                pending = conn.execute(select(func.count()).where(busy)).scalar_one()
            if not pending:
                return
            time.sleep(0.2)
        raise TimeoutError("training jobs still queued or running")

    def snapshot(self) -> dict[str, int]:
        """Row counts of every table a request could change, and the gallery version."""
        self.wait_for_idle_training()
        with self.engine.connect() as conn:
            counts = {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in _COUNTED.items()
            }
            counts["gallery_version"] = int(
                conn.execute(select(gallery_state.c.version)).scalar_one()
            )
        return counts

    def records(self) -> set[tuple[str, tuple[Any, ...]]]:
        """Every stored record, by table and primary key: what a fault may not lose."""
        self.wait_for_idle_training()
        with self.engine.connect() as conn:
            return {
                (name, tuple(row))
                for name, table in _COUNTED.items()
                for row in conn.execute(select(*table.primary_key.columns))
            }

    def stop(self) -> None:
        self.admin.close()
        self.engine.dispose()
        self.process.stop()


def start_secured(
    folder: Path, workers: int = 1, database_url: str | None = None, **env: str
) -> SecuredServer:
    """Keys from the environment, DEBUG logs: the configuration the log tests need.
    SQLite in `folder` unless `database_url` names another database."""
    url = database_url or sqlite_url(folder)
    process = start_api(
        folder,
        url,
        workers=workers,
        LOG_LEVEL="DEBUG",
        API_KEYS=f"admin:{ADMIN_TOKEN},recognize:{RECOGNIZE_TOKEN}",
        **env,
    )
    session = requests.Session()
    session.headers["X-API-Key"] = ADMIN_TOKEN
    return SecuredServer(process, folder, create_engine(url), session)
