"""Model releases on the shared volume: immutable directories and an atomic `current`.

Layout under MODEL_DIR:
    releases/<version>/classifier.npz   arrays only (np.load with allow_pickle=False)
    releases/<version>/release.json     labels, threshold, embedder
    releases/<version>/SHA256SUMS        sha256 of every other file (both above)
    current -> releases/<version>        a symlink replaced with os.replace (atomic)

A release directory is written under a temporary name, every file and the directory
itself fsynced, and renamed into place before `current` points at it, so a reader never
sees half a release, even after a power cut. Every file is checksummed, the threshold and
labels in release.json included: a file changed on the volume is refused, never served.
Readers stat one symlink per request, and every RELEASE_POLL_SECONDS from a thread of
each worker (api/services.py) so idle workers follow too, instead of globbing the folder.

A worker that fails to load a new release (storage lag right after the flip, a damaged
file) keeps serving the old one and tries again with exponential backoff; a worker that
starts meanwhile, with no old one, serves the newest earlier release that loads (what its
siblings serve), not none. /metrics reports the release each worker serves
(`facerec_model_release_served`).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from prometheus_client import Counter, Gauge

from api.recognition.classifier import LinearClassifier
from models.manifest import sha256_of

log = logging.getLogger(__name__)

CLASSIFIER_FILE = "classifier.npz"
RELEASE_FILE = "release.json"
CHECKSUMS_FILE = "SHA256SUMS"
CURRENT_LINK = "current"
RELEASES_DIR = "releases"
STAGING_PREFIX = ".staging-"
# Retrying a release that failed to load: 1 s, 2 s, 4 s ... at most a minute apart.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0

SERVED = Gauge(
    "facerec_model_release_served",
    "1 for the model release this worker serves",
    ["version", "worker"],
    multiprocess_mode="liveall",
)
LOAD_FAILURES = Counter(
    "facerec_model_release_load_failures_total", "Attempts to load a release that failed"
)


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


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def write_checksums(folder: Path) -> None:
    """SHA256SUMS in `folder`: one `<sha256>  <name>` line for every other file in it."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS_FILE)
    lines = "".join(f"{sha256_of(folder / name)}  {name}\n" for name in names)
    _write_synced(folder / CHECKSUMS_FILE, lines.encode("ascii"))


def verify_checksums(folder: Path) -> None:
    """Raise ReleaseError unless SHA256SUMS lists exactly the folder's other files, the
    release's own two among them, each with its sha256."""
    try:
        lines = (folder / CHECKSUMS_FILE).read_text(encoding="ascii").splitlines()
        listed = dict(reversed(line.split("  ", 1)) for line in lines if line)
    except (OSError, ValueError) as error:
        raise ReleaseError(f"release {folder.name}: {CHECKSUMS_FILE} unreadable: {error}") from None
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != CHECKSUMS_FILE}
    expected = {CLASSIFIER_FILE, RELEASE_FILE}
    if set(listed) != present or not expected <= present:
        raise ReleaseError(
            f"release {folder.name}: files {sorted(present)} but {CHECKSUMS_FILE} lists "
            f"{sorted(listed)} (both {sorted(expected)} needed)"
        )
    for name, checksum in sorted(listed.items()):
        if sha256_of(folder / name) != checksum:
            raise ReleaseError(f"release {folder.name}: {name} fails its sha256 check")


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
    }
    text = json.dumps(meta, indent=1, ensure_ascii=False)
    _write_synced(staging / RELEASE_FILE, text.encode("utf-8"))
    write_checksums(staging)
    _fsync_dir(staging)  # the entries themselves, before the rename publishes them
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


def release_versions(model_dir: Path) -> list[str]:
    """The versions of the release directories on the volume, oldest first (staging
    directories, dot-prefixed, left out)."""
    return sorted(
        p.name
        for p in (model_dir / RELEASES_DIR).iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )


def prune_releases(model_dir: Path, keep: int) -> list[str]:
    """Remove all but the newest `keep` releases, never the live one, and dead leftovers.

    Called by the only running training job (the database lease), so any staging
    directory or temporary link still there belongs to a writer that died.
    """
    releases = model_dir / RELEASES_DIR
    live = current_version(model_dir)
    versions = release_versions(model_dir)
    doomed = [v for v in versions[: max(0, len(versions) - keep)] if v != live]
    for version in doomed:
        shutil.rmtree(releases / version, ignore_errors=True)
    for leftover in releases.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for link in model_dir.glob(f".{CURRENT_LINK}.*"):
        link.unlink(missing_ok=True)
    return doomed


def earlier_versions(model_dir: Path, version: str) -> list[str]:
    """The releases on the volume older than `version`, newest first."""
    try:
        versions = release_versions(model_dir)
    except OSError:
        return []
    return [v for v in reversed(versions) if v < version]


def load_release(model_dir: Path, version: str) -> Release:
    """Read and verify one release; raise ReleaseError when anything is off."""
    folder = model_dir / RELEASES_DIR / version
    try:
        verify_checksums(folder)
        meta = json.loads((folder / RELEASE_FILE).read_text(encoding="utf-8"))
        arrays_path = folder / CLASSIFIER_FILE
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
    that fails to load is refused for now and the old one keeps serving; it is tried again
    after RETRY_FIRST_SECONDS, then twice as long each time up to RETRY_MAX_SECONDS (a
    release flipped while the shared volume lags behind loads on a later try).
    """

    def __init__(
        self, model_dir: Path, embedder: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.model_dir = model_dir
        self.embedder = embedder
        self._clock = clock
        self._release: Release | None = None
        self._failures: dict[str, tuple[int, float]] = {}  # version: (failures, retry at)
        self._lock = threading.Lock()

    def _may_try(self, version: str) -> bool:
        failed = self._failures.get(version)
        return failed is None or self._clock() >= failed[1]

    def _failed(self, version: str, error: ReleaseError) -> None:
        count = self._failures.get(version, (0, 0.0))[0] + 1
        delay = min(RETRY_FIRST_SECONDS * 2 ** (count - 1), RETRY_MAX_SECONDS)
        self._failures = {version: (count, self._clock() + delay)}  # only the newest matters
        LOAD_FAILURES.inc()
        log.error(
            "refusing model release: %s (attempt %d; next in %.0f s)",
            error,
            count,
            delay,
            extra={"release": version},
        )

    def get(self) -> Release | None:
        version = current_version(self.model_dir)
        loaded = self._release
        if version is None or (loaded is not None and loaded.version == version):
            return loaded
        if not self._may_try(version):
            return loaded
        with self._lock:
            if self._release is not None and self._release.version == version:
                return self._release
            if not self._may_try(version):
                return self._release
            try:
                release = self._load(version)
            except ReleaseError as error:
                self._failed(version, error)
                if self._release is None:
                    self._serve_earlier(version)
                return self._release
            log.info("serving model release %s", version, extra={"release": version})
            self._serve(release)
            return release

    def _load(self, version: str) -> Release:
        release = load_release(self.model_dir, version)
        if release.embedder != self.embedder:
            raise ReleaseError(
                f"release {version} was trained with {release.embedder}, "
                f"this worker embeds with {self.embedder}"
            )
        return release

    def _serve_earlier(self, refused: str) -> None:
        """Serve the newest release older than `refused` that loads. Only for a worker
        that serves nothing yet (it started while `current` was damaged): its siblings
        kept that release, and without it this one would name nobody until a repair.
        `refused` is still retried on its backoff and replaces it once it loads."""
        for version in earlier_versions(self.model_dir, refused):
            try:
                release = self._load(version)
            except ReleaseError:
                continue
            log.warning(
                "serving earlier model release %s while %s is refused",
                version,
                refused,
                extra={"release": version},
            )
            self._serve(release)
            return

    def _serve(self, release: Release) -> None:
        worker = str(os.getpid())
        if self._release is not None:
            # Set to 0, not removed: in multiprocess mode (api/metrics) a removed label
            # stays in the worker's file with its last value, 1.
            SERVED.labels(self._release.version, worker).set(0)
        SERVED.labels(release.version, worker).set(1)
        self._release = release
        self._failures.pop(release.version, None)
