"""The three image endpoints' work: recognise (1:N), verify (1:1), detect.

Shared by the v1 resources and the original framework's compatibility paths so both
answer from the same pipeline and store the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from api.db.engine import utcnow
from api.db.events import NewEvent, add_events
from api.db.people import names_of
from api.errors import ApiError
from api.imaging import decode_image
from api.recognition.matcher import Identification, identify
from api.services import Services
from api.vision import Face
from api.vision.choice import primary_face


@dataclass(frozen=True)
class Sighting:
    """Where and when an image was taken, when the client wants the event stored."""

    camera_id: str
    location: str | None
    captured_at: datetime | None


def box_json(face: Face) -> dict[str, int]:
    left, top, right, bottom = (round(value) for value in face.box)
    return {"left": left, "top": top, "right": right, "bottom": bottom}


def _face_json(face: Face, match: Identification, names: dict[str, str]) -> dict[str, Any]:
    return {
        "box": box_json(face),
        "detection_score": round(face.score, 4),
        "person_id": match.person_id,
        "name": names.get(match.person_id) if match.person_id else None,
        "confidence": round(match.confidence, 4),
        "similarity": round(match.similarity, 4),
        "candidates": [
            {
                "person_id": c.person_id,
                "name": names.get(c.person_id),
                "confidence": round(c.confidence, 4),
                "similarity": round(c.similarity, 4),
            }
            for c in match.candidates
        ],
    }


def recognize_image(
    services: Services,
    data: bytes,
    top_k: int,
    threshold: float | None,
    sighting: Sighting | None,
) -> dict[str, Any]:
    """Every face in the image with its identity or null; events stored when asked."""
    decoded = decode_image(data, services.settings.max_image_pixels)
    analyzed = services.analyzer.analyze(decoded.rgb)
    release = services.releases.get()
    limit = services.threshold_for(release) if threshold is None else threshold
    with services.engine.connect() as conn:
        gallery = services.gallery_index(conn)
        matches = [identify(f.embedding, release, gallery, limit, top_k) for f in analyzed]
        people = {c.person_id for m in matches for c in m.candidates}
        names = names_of(conn, people)
    version = release.version if release else None
    faces = [_face_json(a.face, m, names) for a, m in zip(analyzed, matches, strict=True)]
    stored = 0
    if sighting is not None and faces:
        captured_at = sighting.captured_at or utcnow()
        events = [
            NewEvent(
                captured_at=captured_at,
                camera_id=sighting.camera_id,
                location=sighting.location,
                person_id=face["person_id"],
                confidence=face["confidence"],
                similarity=face["similarity"],
                box=tuple(face["box"].values()),
                model_version=version,
            )
            for face in faces
        ]
        with services.engine.begin() as conn:
            stored = add_events(conn, events)
    return {
        "model_version": version,
        "threshold": round(limit, 4),
        "faces": faces,
        "events_stored": stored,
    }


def _primary_face_embedding(services: Services, data: bytes, field: str) -> np.ndarray:
    try:
        decoded = decode_image(data, services.settings.max_image_pixels)
    except ApiError as error:
        raise ApiError(error.status, error.code, f"{field}: {error.message}") from None
    face = primary_face(services.analyzer.detect(decoded.rgb), decoded.width, decoded.height)
    if face is None:
        raise ApiError(422, "NO_FACE_FOUND", f"{field}: no face was found in the image")
    return services.analyzer.embed_faces(decoded.rgb, [face])[0].embedding


def verify_images(
    services: Services, image_a: bytes, image_b: bytes, threshold: float | None
) -> dict[str, Any]:
    """1:1 — the subject of each image (api/vision/choice.py: large and central); same
    person when similarity >= threshold."""
    first = _primary_face_embedding(services, image_a, "image_a")
    second = _primary_face_embedding(services, image_b, "image_b")
    similarity = float(np.clip(first @ second, -1.0, 1.0))
    limit = services.verify_threshold if threshold is None else threshold
    return {
        "similarity": round(similarity, 4),
        "distance": round(float(np.linalg.norm(first - second)), 4),
        "same_person": similarity >= limit,
        "threshold": round(limit, 4),
        "embedder": services.analyzer.embedder.name,
    }


def detect_image(services: Services, data: bytes) -> dict[str, Any]:
    decoded = decode_image(data, services.settings.max_image_pixels)
    faces = services.analyzer.detect(decoded.rgb)
    return {
        "width": decoded.width,
        "height": decoded.height,
        "faces": [
            {
                "box": box_json(face),
                "score": round(face.score, 4),
                "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
            }
            for face in faces
        ],
    }
