"""Running one claimed training job: embeddings in, a new release on the model volume out.

`optimized` trains from the stored embeddings of the configured embedder; `full` first
re-embeds every stored face image (needed after changing EMBEDDER), reporting progress.
The release directory is written first; `current` flips to it only inside the database
transaction that records success under this runner's lease, so a runner that lost its
lease never publishes. A failure marks the job failed with the reason and leaves
`current` untouched.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from api.db import training_jobs as jobs
from api.db.gallery import ADDED, GallerySnapshot, encode_vector, load_snapshot, record_changes
from api.db.schema import face_embeddings, face_images
from api.imaging import decode_image
from api.recognition.classifier import train_linear_classifier
from api.recognition.faces import FaceAnalyzer
from api.recognition.release import (
    Release,
    activate_release,
    new_version,
    prune_releases,
    write_release,
)
from api.vision import Face

log = logging.getLogger(__name__)

REEMBED_BATCH = 32
REEMBED_SHARE = 0.8  # of a full job's progress; training and publishing take the rest


class TrainingError(RuntimeError):
    """The job cannot produce a release; the message is stored on the job."""


class LeaseLostError(RuntimeError):
    """Another runner owns the job now (this one stalled past its lease): stop quietly."""


class JobHandedBackError(LeaseLostError):
    """This worker is shutting down and put the job back in the queue: stop, nothing lost."""


@dataclass(frozen=True)
class TrainingContext:
    engine: Engine
    analyzer: FaceAnalyzer
    model_dir: Path
    threshold: float
    keep_releases: int
    max_image_pixels: int
    threads: int


Progress = Callable[[float], None]


def _box_overlap(face: Face, box: tuple[float, float, float, float]) -> float:
    left, top = max(face.box[0], box[0]), max(face.box[1], box[1])
    right, bottom = min(face.box[2], box[2]), min(face.box[3], box[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (face.area + area - inter + 1e-9)


def reembed_all(context: TrainingContext, progress: Progress) -> int:
    """Recompute the configured embedder's vector of every stored face image."""
    embedder = context.analyzer.embedder.name
    with context.engine.connect() as conn:
        face_ids = (
            conn.execute(select(face_images.c.face_id).order_by(face_images.c.face_id))
            .scalars()
            .all()
        )
    done = 0
    for start in range(0, len(face_ids), REEMBED_BATCH):
        batch = face_ids[start : start + REEMBED_BATCH]
        with context.engine.connect() as conn:
            rows = conn.execute(select(face_images).where(face_images.c.face_id.in_(batch))).all()
        vectors: dict[int, np.ndarray] = {}
        for row in rows:
            rgb = decode_image(row.image, context.max_image_pixels).rgb
            stored_box = (row.box_left, row.box_top, row.box_right, row.box_bottom)
            faces = context.analyzer.detect(rgb)
            if not faces:
                log.warning("face %s: no face found on re-embedding; skipped", row.face_id)
                continue
            face = max(faces, key=lambda found: _box_overlap(found, stored_box))
            vectors[row.face_id] = context.analyzer.embed_faces(rgb, [face])[0].embedding
        with context.engine.begin() as conn:
            conn.execute(
                delete(face_embeddings).where(
                    face_embeddings.c.face_id.in_(list(vectors))
                    & (face_embeddings.c.embedder == embedder)
                )
            )
            if vectors:
                conn.execute(
                    insert(face_embeddings),
                    [
                        {
                            "face_id": fid,
                            "embedder": embedder,
                            "dim": len(v),
                            "vector": encode_vector(v),
                        }
                        for fid, v in vectors.items()
                    ],
                )
            owners = {row.face_id: row.person_id for row in rows if row.face_id in vectors}
            record_changes(conn, ADDED, owners)
        progress(REEMBED_SHARE * (start + len(batch)) / len(face_ids))
        done += len(vectors)
    return done


def release_from_snapshot(
    snapshot: GallerySnapshot, embedder: str, threshold: float, threads: int, version: str
) -> Release:
    """The release a training publishes, fitted on `snapshot`'s embeddings; shared with
    benchmarks/open_set_identification.py so that it measures exactly this release."""
    return Release(
        version=version,
        embedder=embedder,
        threshold=threshold,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        classifier=train_linear_classifier(
            snapshot.vectors, list(snapshot.person_ids), threads=threads
        ),
        faces=snapshot.size,
    )


def train_release(context: TrainingContext) -> Release:
    """Fit the classifier on every stored embedding of the configured embedder."""
    embedder = context.analyzer.embedder
    with context.engine.connect() as conn:
        snapshot = load_snapshot(conn, embedder.name, embedder.dim)
    if snapshot.size == 0:
        raise TrainingError(f"no enrolled face has a {embedder.name} embedding; enrol people first")
    return release_from_snapshot(
        snapshot, embedder.name, context.threshold, context.threads, new_version()
    )


def _publish(context: TrainingContext, claim: jobs.Claim, release: Release) -> None:
    """Record success and flip `current` in one transaction, under the lease."""
    folder = write_release(context.model_dir, release)
    with context.engine.begin() as conn:
        recorded = jobs.finish_job(
            conn,
            claim,
            jobs.SUCCEEDED,
            None,
            release_version=release.version,
            people_count=release.people,
            faces_count=release.faces,
        )
        if not recorded:
            shutil.rmtree(folder, ignore_errors=True)
            raise LeaseLostError(claim.job_id)
        # The job row stays locked until commit: a successor cannot take the job over
        # between this check and the flip. If the commit then fails, the release is live
        # and valid; the job is retried after its lease and publishes a newer one.
        activate_release(context.model_dir, release.version)
    prune_releases(context.model_dir, context.keep_releases)


def run_job(context: TrainingContext, claim: jobs.Claim, progress: Progress) -> None:
    """Execute a claimed job; every outcome is written to its row (fenced by the lease).

    `progress` records a fraction done and raises LeaseLostError when the lease is gone.
    """
    extra = {"job_id": claim.job_id, "mode": claim.mode, "attempt": claim.attempt}
    log.info("training started", extra=extra)
    try:
        if claim.mode == "full":
            reembed_all(context, progress)
        release = train_release(context)
        progress(0.95)
        _publish(context, claim, release)
    except JobHandedBackError:
        log.info("training stopped: this worker is shutting down", extra=extra)
        return
    except LeaseLostError:
        log.warning("training lease lost; the job's new owner carries on", extra=extra)
        return
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        log.exception("training failed", extra=extra)
        with context.engine.begin() as conn:
            jobs.finish_job(conn, claim, jobs.FAILED, reason[:2000])
        return
    log.info("training succeeded", extra={**extra, "release": release.version})
