"""Service settings, read once from the environment (12-factor) with safe defaults.

Every knob an operator may turn lives here so the rest of the code receives plain values
and tests can build an app from a dict without touching `os.environ`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{REPO_ROOT / 'var' / 'facerec.sqlite3'}"


def _default_compute_lock_file() -> Path:
    """One per user in the temporary folder: every API process there (a pod's workers,
    whose /tmp is the pod's own) shares the cores it stands for."""
    return Path(tempfile.gettempdir()) / f"facerec-compute-{os.getuid()}.lock"


@dataclass(frozen=True)
class Settings:
    """What one API process needs to know; see README's configuration table."""

    database_url: str = field(default_factory=_default_database_url)
    model_dir: Path = REPO_ROOT / "var" / "models"
    face_models_dir: Path | None = None
    embedder: str = "facenet128"
    embedder_precision: str = "int8"
    ort_intra_op_threads: int = 1
    # A lone request's FaceNet run on this many threads (api/vision/cores.py); 1: never.
    idle_embed_threads: int = 2
    compute_lock_file: Path = field(default_factory=_default_compute_lock_file)
    max_request_bytes: int = 16 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    detect_max_pixels: int = 4_000_000
    max_images_per_request: int = 50
    min_face_size: int = 20
    mtcnn_crop_max_side: int = 256
    recognize_threshold: float | None = None
    # Face quality gates (api/sightings/quality.py; calibrated by benchmarks/face_quality.py).
    min_enrol_quality: float = 0.4
    min_match_quality: float = 0.1
    flip_augmentation: bool = False
    verify_flip: bool | None = None  # None: the embedder's own (api/vision/embedder.py)
    centre_embeddings: bool = False
    keep_releases: int = 5
    release_poll_seconds: float = 1.0
    heap_trim_seconds: float = 10.0
    delete_events_with_person: bool = True
    db_timeout_seconds: float = 3.0
    db_lock_wait_seconds: int = 30
    training_lease_seconds: float = 30.0
    training_poll_seconds: float = 2.0
    training_max_attempts: int = 2
    training_threads: int = 2
    trusted_proxies: str = ""
    event_retention_days: float = 30.0
    unknown_face_retention_days: float = 7.0
    purge_interval_seconds: float = 3600.0
    purge_batch_size: int = 1000
    # Alerts (api/alerts); the secrets key is never printed with the settings.
    alert_secrets_key: str | None = field(default=None, repr=False)
    alert_max_attempts: int = 20
    alert_lease_seconds: float = 30.0
    alert_poll_seconds: float = 1.0
    alert_timeout_seconds: float = 5.0
    alert_backoff_base_seconds: float = 2.0
    alert_backoff_max_seconds: float = 300.0
    alert_allow_private_destinations: bool = False
    alert_dispatch_threads: int = 4
    # Unknown people (api/unknowns/; GROUP_SIMILARITY measured by benchmarks/unknown_people.py).
    unknown_group_similarity: float = 0.55
    unknown_regroup_interval_seconds: float = 300.0
    unknown_regroup_window: int = 5000
    enrol_from_sightings_max: int = 10

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default os.environ): upper-case field names."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = env.get(spec.name.upper())
            if raw is None or raw == "":
                continue
            values[spec.name] = _FIELD_PARSERS[spec.name](raw)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        data = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        data.update(changes)
        return Settings(**data)


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


# A field's declared type (a string: annotations are postponed), less any `| None`,
# names how its variable is read.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "Path": Path,
    "int": int,
    "float": float,
    "bool": _flag,
}
# Built at import, so a field of a type with no parser fails at once, not on first use.
_FIELD_PARSERS = {
    spec.name: _PARSERS[spec.type.removesuffix(" | None")] for spec in fields(Settings)
}
