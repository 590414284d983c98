"""Model releases on the shared volume: immutable directories and an atomic `current`.

Layout under MODEL_DIR:
    releases/<version>/classifier.npz   arrays only (np.load with allow_pickle=False)
    releases/<version>/release.json     labels, threshold, embedder, sha256 of the arrays
    current -> releases/<version>        a symlink replaced with os.replace (atomic)

A release directory is written under a temporary name and renamed into place before
`current` points at it, so a reader never sees half a release; readers stat one symlink
per request instead of globbing the folder (the original's cost and race).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from api.recognition.classifier import LinearClassifier
from models.manifest import sha256_of

log = logging.getLogger(__name__)

CLASSIFIER_FILE = "classifier.npz"
RELEASE_FILE = "release.json"
CURRENT_LINK = "current"
RELEASES_DIR = "releases"
STAGING_PREFIX = ".staging-"


class ReleaseError(RuntimeError):
    """A release is missing, incomplete or fails its checksum: it must not serve."""


@dataclass(frozen=True)
class Release:
    """What one training produced and every worker serves."""

    version: str
    embedder: str
    threshold: float  # cosine similarity below which a face is unknown
    trained_at: str
    classifier: LinearClassifier
    faces: int

    @property
    def people(self) -> int:
        return len(self.classifier.labels)


def new_version(now: datetime | None = None) -> str:
    """Sortable, unique across pods: UTC time plus random suffix."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{moment}-{secrets.token_hex(3)}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_release(model_dir: Path, release: Release) -> Path:
    """Write `release` as a new, complete directory under releases/ (not live yet)."""
    releases = model_dir / RELEASES_DIR
    releases.mkdir(parents=True, exist_ok=True)
    staging = releases / f"{STAGING_PREFIX}{release.version}"
    staging.mkdir()
    classifier = release.classifier
    arrays_path = staging / CLASSIFIER_FILE
    with arrays_path.open("wb") as stream:
        np.savez(
            stream,
            coef=classifier.coef,
            intercept=classifier.intercept,
            temperature=np.float64(classifier.temperature),
        )
        stream.flush()
        os.fsync(stream.fileno())
    meta = {
        "version": release.version,
        "embedder": release.embedder,
        "threshold": release.threshold,
        "trained_at": release.trained_at,
        "labels": list(classifier.labels),
        "faces": release.faces,
        "files": {CLASSIFIER_FILE: sha256_of(arrays_path)},
    }
    meta_path = staging / RELEASE_FILE
    with meta_path.open("w", encoding="utf-8") as stream:
        json.dump(meta, stream, indent=1, ensure_ascii=False)
        stream.flush()
        os.fsync(stream.fileno())
    final = releases / release.version
    os.replace(staging, final)
    _fsync_dir(releases)
    return final


def activate_release(model_dir: Path, version: str) -> None:
    """Point `current` at releases/<version>: one atomic rename of a fresh symlink."""
    link_tmp = model_dir / f".{CURRENT_LINK}.{version}"
    os.symlink(Path(RELEASES_DIR) / version, link_tmp)
    os.replace(link_tmp, model_dir / CURRENT_LINK)
    _fsync_dir(model_dir)


def current_version(model_dir: Path) -> str | None:
    """The version `current` points at (one readlink), or None before the first training."""
    try:
        return Path(os.readlink(model_dir / CURRENT_LINK)).name
    except (FileNotFoundError, OSError):
        return None


def prune_releases(model_dir: Path, keep: int) -> list[str]:
    """Remove all but the newest `keep` releases, never the live one, and dead leftovers.

    Called by the only running training job (the database lease), so any staging
    directory or temporary link still there belongs to a writer that died.
    """
    releases = model_dir / RELEASES_DIR
    live = current_version(model_dir)
    versions = sorted(
        p.name for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    doomed = [v for v in versions[: max(0, len(versions) - keep)] if v != live]
    for version in doomed:
        shutil.rmtree(releases / version, ignore_errors=True)
    for leftover in releases.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for link in model_dir.glob(f".{CURRENT_LINK}.*"):
        link.unlink(missing_ok=True)
    return doomed


def load_release(model_dir: Path, version: str) -> Release:
    """Read and verify one release; raise ReleaseError when anything is off."""
    folder = model_dir / RELEASES_DIR / version
    try:
        meta = json.loads((folder / RELEASE_FILE).read_text(encoding="utf-8"))
        arrays_path = folder / CLASSIFIER_FILE
        expected = meta["files"][CLASSIFIER_FILE]
        if sha256_of(arrays_path) != expected:
            raise ReleaseError(f"release {version}: {CLASSIFIER_FILE} fails its sha256 check")
        with np.load(arrays_path, allow_pickle=False) as arrays:
            classifier = LinearClassifier(
                labels=tuple(meta["labels"]),
                coef=np.ascontiguousarray(arrays["coef"], dtype=np.float32),
                intercept=np.ascontiguousarray(arrays["intercept"], dtype=np.float32),
                temperature=float(arrays["temperature"]),
            )
    except ReleaseError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise ReleaseError(f"release {version} is unreadable: {error}") from error
    if classifier.coef.shape[0] != len(classifier.labels):
        raise ReleaseError(f"release {version}: {len(classifier.labels)} labels, coef disagrees")
    return Release(
        version=meta["version"],
        embedder=meta["embedder"],
        threshold=float(meta["threshold"]),
        trained_at=meta["trained_at"],
        classifier=classifier,
        faces=int(meta["faces"]),
    )


class ReleaseWatcher:
    """Per-worker holder of the live release; swaps it when `current` flips.

    `get()` costs one readlink. A new release is loaded beside the old one and the
    reference swapped; requests that already hold the old object finish on it. A release
    that fails to load is refused and remembered, and the old one keeps serving.
    """

    def __init__(self, model_dir: Path, embedder: str) -> None:
        self.model_dir = model_dir
        self.embedder = embedder
        self._release: Release | None = None
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def get(self) -> Release | None:
        version = current_version(self.model_dir)
        loaded = self._release
        if version is None or (loaded is not None and loaded.version == version):
            return loaded
        if version in self._refused:
            return loaded
        with self._lock:
            if self._release is not None and self._release.version == version:
                return self._release
            try:
                release = load_release(self.model_dir, version)
                if release.embedder != self.embedder:
                    raise ReleaseError(
                        f"release {version} was trained with {release.embedder}, "
                        f"this worker embeds with {self.embedder}"
                    )
            except ReleaseError as error:
                log.error("refusing model release: %s", error)
                self._refused.add(version)
                return self._release
            log.info("serving model release %s", version, extra={"release": version})
            self._release = release
            return release
