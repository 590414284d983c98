"""What one worker loads once and every request shares: settings, database, models.

Created by the app factory (so each gunicorn worker, forked without --preload, opens its
own onnxruntime sessions and connection pool) and reached from views via `services()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from api.auth import Authenticator, parse_env_keys
from api.config import Settings
from api.db.engine import create_schema
from api.db.gallery import current_version, load_delta, load_snapshot
from api.recognition.faces import FaceAnalyzer
from api.recognition.gallery import Gallery, GalleryIndex
from api.recognition.matcher import IDENTIFY_THRESHOLDS
from api.recognition.release import Release, ReleaseWatcher
from api.training import TrainingContext
from api.training_worker import TrainingWorker
from api.vision import MtcnnDetector, load_embedder
from models.runtime import ModelStore

EXTENSION_KEY = "facerec"
log = logging.getLogger(__name__)


def similarity_threshold(verify_distance: float) -> float:
    """Unit vectors: |a-b|^2 = 2 - 2 cos, so a distance threshold maps to a similarity."""
    return 1.0 - verify_distance**2 / 2.0


@dataclass
class Services:
    settings: Settings
    engine: Engine
    analyzer: FaceAnalyzer
    releases: ReleaseWatcher
    gallery: Gallery
    authenticator: Authenticator
    training: TrainingWorker = field(init=False)  # built from the rest by load_services
    schema_ready: bool = False

    def ensure_schema(self) -> bool:
        """Create missing tables once; False while the database cannot be reached.

        A pod whose database is down at start still boots (liveness passes, readiness
        fails) and recovers by itself when the database returns.
        """
        if not self.schema_ready:
            try:
                create_schema(self.engine)
            except (OperationalError, InterfaceError) as error:
                log.warning("database unreachable, tables not checked: %s", type(error).__name__)
                return False
            self.schema_ready = True
        return True

    @property
    def identify_threshold(self) -> float:
        """RECOGNIZE_THRESHOLD, else the embedder's calibrated open-set threshold."""
        if self.settings.recognize_threshold is not None:
            return self.settings.recognize_threshold
        return IDENTIFY_THRESHOLDS[self.analyzer.embedder.name]

    @property
    def verify_threshold(self) -> float:
        """1:1 threshold: the embedder's best LFW pair threshold, as a similarity."""
        return similarity_threshold(self.analyzer.embedder.verify_threshold)

    def threshold_for(self, release: Release | None) -> float:
        """The release's own threshold (fixed when it was trained) unless overridden."""
        if self.settings.recognize_threshold is None and release is not None:
            return release.threshold
        return self.identify_threshold

    def gallery_index(self, conn: Connection) -> GalleryIndex:
        embedder = self.analyzer.embedder
        return self.gallery.current(
            current_version(conn),
            load=lambda: load_snapshot(conn, embedder.name, embedder.dim),
            changes=lambda since: load_delta(conn, since, embedder.name, embedder.dim),
        )

    def training_context(self) -> TrainingContext:
        return TrainingContext(
            engine=self.engine,
            analyzer=self.analyzer,
            model_dir=self.settings.model_dir,
            threshold=self.identify_threshold,
            keep_releases=self.settings.keep_releases,
            max_image_pixels=self.settings.max_image_pixels,
            threads=self.settings.training_threads,
        )


def load_services(settings: Settings, engine: Engine) -> Services:
    store = ModelStore(settings.face_models_dir)
    threads = settings.ort_intra_op_threads
    detector = MtcnnDetector(store, min_face_size=settings.min_face_size, intra_op_threads=threads)
    embedder = load_embedder(
        settings.embedder, store, intra_op_threads=threads, centred=settings.centre_embeddings
    )
    analyzer = FaceAnalyzer(detector, embedder, flip=settings.flip_augmentation)
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    svc = Services(
        settings=settings,
        engine=engine,
        analyzer=analyzer,
        releases=ReleaseWatcher(settings.model_dir, embedder.name),
        gallery=Gallery(embedder.dim),
        authenticator=Authenticator(parse_env_keys()),
    )
    svc.training = TrainingWorker(
        svc.training_context(),
        lease_seconds=settings.training_lease_seconds,
        poll_seconds=settings.training_poll_seconds,
        max_attempts=settings.training_max_attempts,
    )
    return svc


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
