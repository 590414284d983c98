"""Running a training job: embeddings in, a new release on the model volume out.

`optimized` trains from the stored embeddings of the configured embedder; `full` first
re-embeds every stored face image (needed after changing EMBEDDER). A failure marks the
job failed with the reason and leaves `current` untouched.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from api.db import training_jobs as jobs
from api.db.gallery import bump_version, encode_vector, load_snapshot
from api.db.schema import face_embeddings, face_images
from api.imaging import decode_image
from api.recognition.classifier import train_linear_classifier
from api.recognition.faces import FaceAnalyzer
from api.recognition.release import Release, new_version, publish_release
from api.vision import Face

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
REEMBED_BATCH = 32


class TrainingError(RuntimeError):
    """The job cannot produce a release; the message is stored on the job."""


@dataclass(frozen=True)
class TrainingContext:
    engine: Engine
    analyzer: FaceAnalyzer
    model_dir: Path
    threshold: float
    keep_releases: int
    max_image_pixels: int


def _box_overlap(face: Face, box: tuple[float, float, float, float]) -> float:
    left, top = max(face.box[0], box[0]), max(face.box[1], box[1])
    right, bottom = min(face.box[2], box[2]), min(face.box[3], box[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (face.area + area - inter + 1e-9)


def reembed_all(context: TrainingContext, job_id: str) -> int:
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
            bump_version(conn)
            jobs.report_progress(conn, job_id, 0.8 * (start + len(batch)) / len(face_ids))
        done += len(vectors)
    return done


def train_release(context: TrainingContext) -> Release:
    """Fit the classifier on every stored embedding and publish it as a new release."""
    embedder = context.analyzer.embedder
    with context.engine.connect() as conn:
        snapshot = load_snapshot(conn, embedder.name, embedder.dim)
    if snapshot.size == 0:
        raise TrainingError(f"no enrolled face has a {embedder.name} embedding; enrol people first")
    classifier = train_linear_classifier(snapshot.vectors, list(snapshot.person_ids))
    release = Release(
        version=new_version(),
        embedder=embedder.name,
        threshold=context.threshold,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        classifier=classifier,
        faces=snapshot.size,
    )
    publish_release(context.model_dir, release, keep=context.keep_releases)
    return release


def run_job(context: TrainingContext, job_id: str, mode: str) -> None:
    """Claim and execute one job; every outcome is written to its row."""
    with context.engine.begin() as conn:
        if not jobs.mark_running(conn, job_id, WORKER_ID):
            return
    log.info("training started", extra={"job_id": job_id, "mode": mode})
    try:
        if mode == "full":
            reembed_all(context, job_id)
        release = train_release(context)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        log.exception("training failed", extra={"job_id": job_id})
        with context.engine.begin() as conn:
            jobs.finish_job(conn, job_id, jobs.FAILED, reason[:2000])
        return
    with context.engine.begin() as conn:
        jobs.finish_job(
            conn,
            job_id,
            jobs.SUCCEEDED,
            None,
            release_version=release.version,
            people_count=release.people,
            faces_count=release.faces,
        )
    log.info("training succeeded", extra={"job_id": job_id, "release": release.version})


def start_job_in_background(context: TrainingContext, job_id: str, mode: str) -> threading.Thread:
    """Run the job on a thread of this worker so the request returns at once."""
    thread = threading.Thread(
        target=run_job, args=(context, job_id, mode), daemon=True, name=f"train-{job_id[:8]}"
    )
    thread.start()
    return thread
