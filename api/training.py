"""Running one claimed training job: embeddings in, a new release on the model volume out.

`optimized` trains from the stored embeddings of the configured embedder; `full` first
re-embeds every stored face image (needed after changing EMBEDDER), reporting progress.
A face that cannot be re-embedded (MTCNN no longer finds it, a stored image that no longer
decodes) never fails the job: it keeps its embedding where it has one of this embedder,
is left out of the release otherwise, and every such face is named in the job's message.
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
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select

from api.db import training_jobs as jobs
from api.db.gallery import ADDED, GallerySnapshot, encode_vector, load_snapshot, record_changes
from api.db.schema import face_embeddings, face_images
from api.errors import ApiError
from api.imaging import decode_image, large_image_slot
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
MESSAGE_LIMIT = 60_000  # characters of a job's message (a TEXT column holds 65,535 bytes)


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


@dataclass(frozen=True)
class NotReembedded:
    """A stored face a full training could not re-embed, and what became of it."""

    face_id: int
    person_id: str
    reason: str
    kept: bool  # its embedding of this embedder from before is still used

    def describe(self, embedder: str) -> str:
        fate = (
            f"its earlier {embedder} embedding kept"
            if self.kept
            else f"no {embedder} embedding: left out of this release"
        )
        return f"face {self.face_id} of {self.person_id} ({self.reason}; {fate})"


def reembed_report(skipped: list[NotReembedded], total: int, embedder: str) -> str | None:
    """The job's message: every face not re-embedded, or None when all were."""
    if not skipped:
        return None
    head = f"{len(skipped)} of {total} faces not re-embedded: "
    parts: list[str] = []
    used = len(head)
    for index, item in enumerate(skipped):
        text = item.describe(embedder)
        if used + len(text) + 80 > MESSAGE_LIMIT:
            parts.append(f"and {len(skipped) - index} more (each one is in the log)")
            break
        parts.append(text)
        used += len(text) + 2
    return head + "; ".join(parts)


def _embed_stored(context: TrainingContext, row: Any) -> np.ndarray | str:
    """The new vector of one stored face, or why there is none (never raises: one bad
    image must not cost the whole job)."""
    try:
        with large_image_slot(row.image):
            rgb = decode_image(row.image, context.max_image_pixels).rgb
            faces = context.analyzer.detect(rgb)
            if not faces:
                return "NO_FACE_FOUND: MTCNN no longer finds a face"
            stored_box = (row.box_left, row.box_top, row.box_right, row.box_bottom)
            face = max(faces, key=lambda found: _box_overlap(found, stored_box))
            return context.analyzer.embed_faces(rgb, [face])[0].embedding
    except ApiError as error:
        return f"{error.code}: {error.message}"
    except Exception as error:
        log.exception("face %s: re-embedding failed", row.face_id)
        return f"{type(error).__name__}: {error}"


def reembed_all(context: TrainingContext, progress: Progress) -> list[NotReembedded]:
    """Recompute the configured embedder's vector of every stored face image; the faces
    that could not be, each with its reason and whether its earlier vector stays."""
    embedder = context.analyzer.embedder.name
    with context.engine.connect() as conn:
        face_ids = (
            conn.execute(select(face_images.c.face_id).order_by(face_images.c.face_id))
            .scalars()
            .all()
        )
    skipped: list[NotReembedded] = []
    for start in range(0, len(face_ids), REEMBED_BATCH):
        batch = face_ids[start : start + REEMBED_BATCH]
        with context.engine.connect() as conn:
            rows = conn.execute(select(face_images).where(face_images.c.face_id.in_(batch))).all()
        vectors: dict[int, np.ndarray] = {}
        failed: dict[int, str] = {}
        for row in rows:
            outcome = _embed_stored(context, row)
            if isinstance(outcome, str):
                log.warning("face %s not re-embedded: %s", row.face_id, outcome)
                failed[row.face_id] = outcome
            else:
                vectors[row.face_id] = outcome
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
            kept = set(
                conn.execute(
                    select(face_embeddings.c.face_id).where(
                        face_embeddings.c.face_id.in_(list(failed))
                        & (face_embeddings.c.embedder == embedder)
                    )
                ).scalars()
            )
        skipped += [
            NotReembedded(row.face_id, row.person_id, failed[row.face_id], row.face_id in kept)
            for row in rows
            if row.face_id in failed
        ]
        progress(REEMBED_SHARE * (start + len(batch)) / len(face_ids))
    return skipped


def release_from_snapshot(
    snapshot: GallerySnapshot, embedder: str, threshold: float, threads: int, version: str
) -> Release:
    """The release a training publishes, fitted on `snapshot`'s embeddings; shared with
    benchmarks/open_set_identification.py so that it measures exactly this release.

    The fitting module is imported here, on a worker's first training job, not with the
    app: it brings SciPy and scikit-learn (api/recognition/fitting.py)."""
    from api.recognition.fitting import train_linear_classifier

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


def _publish(
    context: TrainingContext, claim: jobs.Claim, release: Release, message: str | None
) -> None:
    """Record success and flip `current` in one transaction, under the lease."""
    folder = write_release(context.model_dir, release)
    with context.engine.begin() as conn:
        recorded = jobs.finish_job(
            conn,
            claim,
            jobs.SUCCEEDED,
            message,
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
        message = None
        if claim.mode == "full":
            embedder = context.analyzer.embedder.name
            with context.engine.connect() as conn:
                total = conn.execute(select(func.count()).select_from(face_images)).scalar_one()
            message = reembed_report(reembed_all(context, progress), total, embedder)
        release = train_release(context)
        progress(0.95)
        _publish(context, claim, release, message)
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
