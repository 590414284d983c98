"""What one worker loads once and every request shares: settings, database, models.

Created by the app factory (so each gunicorn worker, forked without --preload, opens its
own onnxruntime sessions and connection pool) and reached from views via `services()`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from threadpoolctl import threadpool_limits

from api.alerts.dispatcher import Dispatcher, dispatcher_for
from api.auth import Authenticator, parse_env_keys
from api.config import Settings
from api.corrections.negatives import NegativeIndex, Negatives
from api.db.corrections import load_negatives, negatives_version
from api.db.gallery import current_version, load_delta, load_snapshot
from api.db.leases import PeriodicJob
from api.db.migrations import MigrationError, upgrade_schema
from api.memory import trim_heap
from api.recognition.faces import FaceAnalyzer
from api.recognition.gallery import Gallery, GalleryIndex
from api.recognition.matcher import IDENTIFY_THRESHOLDS
from api.recognition.release import Release, ReleaseWatcher
from api.retention.purge import RetentionLimits
from api.retention.worker import RetentionWorker
from api.sightings.search import SightingIndex
from api.training import TrainingContext
from api.training_worker import TrainingWorker
from api.unknowns.regroup import RegroupResult, regroup
from api.unknowns.worker import RegroupWorker
from api.vision import MtcnnDetector, load_embedder
from api.vision.cores import ComputeGate
from api.vision.embedder import VERIFY_THRESHOLDS, verify_flip
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
    sightings: SightingIndex
    negatives: Negatives = field(default_factory=Negatives)
    training: TrainingWorker = field(init=False)  # built from the rest by load_services
    retention: RetentionWorker = field(init=False)
    alerts: Dispatcher = field(init=False)
    regrouping: RegroupWorker = field(init=False)
    release_polling: PeriodicJob = field(init=False)
    heap_trimming: PeriodicJob = field(init=False)
    schema_ready: bool = False

    def ensure_schema(self) -> bool:
        """Upgrade the schema to this release's once; False while that cannot be done.

        A pod whose database is down at start still boots (liveness passes, readiness
        fails) and recovers by itself when the database returns. A database already at a
        newer schema than this release knows is never touched: the pod stays unready.
        """
        if not self.schema_ready:
            try:
                upgrade_schema(self.engine)
            except (OperationalError, InterfaceError) as error:
                log.warning("database unreachable, tables not checked: %s", type(error).__name__)
                return False
            except MigrationError as error:
                log.error("schema not upgraded: %s", error)
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
    def verify_flip(self) -> bool:
        """Whether /verify averages each face with its mirror (api/vision/embedder.py)."""
        return verify_flip(self.analyzer.embedder.name, self.settings.verify_flip)

    @property
    def verify_threshold(self) -> float:
        """1:1 threshold: the embedder's best LFW pair threshold (for its flip setting),
        as a similarity."""
        key = (self.analyzer.embedder.name, self.verify_flip)
        return similarity_threshold(VERIFY_THRESHOLDS[key])

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

    def negative_index(self, conn: Connection) -> NegativeIndex:
        """The negative faces of "wrong person" corrections, as of now."""
        embedder = self.analyzer.embedder
        return self.negatives.current(
            negatives_version(conn), lambda: load_negatives(conn, embedder.name, embedder.dim)
        )

    def regroup_unknowns(self) -> RegroupResult:
        """One re-grouping pass of unknown faces (the caller holds its lease); it computes,
        so no request's embedding takes every core meanwhile."""
        embedder, settings = self.analyzer.embedder, self.settings
        with self.analyzer.computing():
            return regroup(
                self.engine,
                embedder.name,
                embedder.dim,
                settings.min_match_quality,
                settings.unknown_group_similarity,
                settings.unknown_regroup_window,
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


def compute_gate(path: Path) -> ComputeGate | None:
    """The gate of IDLE_EMBED_THREADS, or none (every embedding on one thread) when its
    file cannot be opened: a read-only temporary folder must not fail every request."""
    try:
        return ComputeGate(path)
    except OSError as error:
        log.warning(
            "COMPUTE_LOCK_FILE %s unusable (%s): embeddings stay on one thread", path, error
        )
        return None


def load_services(settings: Settings, engine: Engine) -> Services:
    store = ModelStore(settings.face_models_dir)
    threads = settings.ort_intra_op_threads
    # numpy's BLAS (gallery and classifier products) would start a thread per core in
    # every worker, beside onnxruntime's and the request threads: oversubscribed, its
    # threads spin. It gets ORT_INTRA_OP_THREADS like onnxruntime (found by
    # `benchmarks/framework_client.py --profile`: +50% requests/s on 2 cores).
    threadpool_limits(limits=threads, user_api="blas")
    detector = MtcnnDetector(
        store,
        min_face_size=settings.min_face_size,
        intra_op_threads=threads,
        crop_max_side=settings.mtcnn_crop_max_side,
    )
    embedder = load_embedder(
        settings.embedder,
        store,
        threads,
        precision=settings.embedder_precision,
        centred=settings.centre_embeddings,
        wide_threads=settings.idle_embed_threads,
    )
    analyzer = FaceAnalyzer(
        detector,
        embedder,
        flip=settings.flip_augmentation,
        detect_max_pixels=settings.detect_max_pixels,
        gate=compute_gate(settings.compute_lock_file) if embedder.has_wide else None,
    )
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    svc = Services(
        settings=settings,
        engine=engine,
        analyzer=analyzer,
        releases=ReleaseWatcher(settings.model_dir, embedder.name),
        gallery=Gallery(embedder.dim),
        authenticator=Authenticator(parse_env_keys(), settings.trusted_proxies),
        sightings=SightingIndex(embedder.name, embedder.dim),
    )
    svc.training = TrainingWorker(
        svc.training_context(),
        lease_seconds=settings.training_lease_seconds,
        poll_seconds=settings.training_poll_seconds,
        max_attempts=settings.training_max_attempts,
    )
    svc.retention = RetentionWorker(
        engine,
        RetentionLimits(settings.event_retention_days, settings.unknown_face_retention_days),
        interval_seconds=settings.purge_interval_seconds,
        batch_size=settings.purge_batch_size,
    )
    svc.alerts = dispatcher_for(settings, engine)
    svc.regrouping = RegroupWorker(
        svc.regroup_unknowns, engine, settings.unknown_regroup_interval_seconds
    )
    # Besides every request: an idle worker loads a new release within the interval too.
    # Lazily, a worker idle through a publish kept the older release, and went on serving
    # it beside siblings on the newer one were `current` then pointed at a damaged release.
    svc.release_polling = PeriodicJob(
        "release-watch",
        svc.releases.get,
        settings.release_poll_seconds,
        first_within_seconds=settings.release_poll_seconds,
    )
    # Requests free their working sets (activations, decoded images, query rows) into the
    # heap, where glibc keeps them: a worker at rest held 15-20 MiB it no longer used, more
    # when a long-lived block pinned the heap's top. One trim costs 0.5-1.3 ms; on every
    # request that would be 3% of its time, every HEAP_TRIM_SECONDS it is nothing.
    svc.heap_trimming = PeriodicJob(
        "heap-trim",
        trim_heap,
        settings.heap_trim_seconds,
        first_within_seconds=settings.heap_trim_seconds,
    )
    return svc


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
