"""The three image endpoints' work: recognise (1:N), verify (1:1), detect.

Shared by the v1 resources and the original framework's compatibility paths so both
answer from the same pipeline and store the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from api.alerts.outbox import enqueue_alerts
from api.corrections.negatives import with_negatives
from api.db.cameras import get_camera
from api.db.engine import utcnow
from api.db.events import NewEvent
from api.db.people import names_of
from api.db.sightings import NewSightingFace
from api.errors import ApiError
from api.imaging import decode_image, large_image_slot
from api.metrics import timed
from api.recognition.faces import AnalyzedFace
from api.recognition.matcher import Identification, identify
from api.services import Services
from api.sightings.quality import FaceQuality, face_quality
from api.sightings.record import face_jpeg, record_sightings
from api.unknowns.assign import assign_unknowns
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


def quality_json(quality: FaceQuality) -> dict[str, Any]:
    return {"quality": round(quality.score, 4), "quality_details": quality.to_json()}


def _decision(
    match: Identification, quality: FaceQuality, min_quality: float, refused: bool
) -> dict[str, Any]:
    """Who the face is named as, and why nobody when nobody: a face below the match
    quality gate is never named, whatever it resembles; "corrected" when an operator's
    "wrong person" (api/corrections/negatives.py) refused the name it would have had."""
    if quality.score < min_quality:
        return {"person_id": None, "reason": "low_quality"}
    if match.person_id is None:
        return {"person_id": None, "reason": "corrected" if refused else "below_threshold"}
    return {"person_id": match.person_id, "reason": None}


def _face_json(
    analyzed: AnalyzedFace,
    match: Identification,
    names: dict[str, str],
    min_quality: float,
    refused: bool,
) -> dict[str, Any]:
    decision = _decision(match, analyzed.quality, min_quality, refused)
    person_id = decision["person_id"]
    return {
        "box": box_json(analyzed.face),
        "detection_score": round(analyzed.face.score, 4),
        "person_id": person_id,
        "name": names.get(person_id) if person_id else None,
        "reason": decision["reason"],
        **quality_json(analyzed.quality),
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
    """Every face in the image with its identity or null; a sighting stored per face (with
    its crop and embedding) when a camera is given. Each stage's time goes to
    facerec_stage_seconds (api/metrics).

    The naming threshold is the request's, else the camera's own (PUT /cameras), else the
    global one.
    """
    with large_image_slot(data):
        with timed("decode"):
            decoded = decode_image(data, services.settings.max_image_pixels)
        with timed("detect"):
            detected = services.analyzer.detect(decoded.rgb)
        with timed("embed"):
            analyzed = services.analyzer.embed_faces(decoded.rgb, detected)
    release = services.releases.get()
    with timed("match"), services.engine.connect() as conn:
        camera = get_camera(conn, sighting.camera_id) if sighting is not None else None
        limit = threshold
        if limit is None and camera is not None:
            limit = camera["threshold"]
        if limit is None:
            limit = services.threshold_for(release)
        gallery = services.gallery_index(conn)
        negatives = services.negative_index(conn)
        matches, refused = [], []
        for a in analyzed:
            match, was_refused = with_negatives(
                identify(a.embedding, release, gallery, limit, top_k), a.embedding, negatives, limit
            )
            matches.append(match)
            refused.append(was_refused)
        people = {c.person_id for m in matches for c in m.candidates}
        names = names_of(conn, people)
    version = release.version if release else None
    min_quality = services.settings.min_match_quality
    faces = [
        _face_json(a, m, names, min_quality, r)
        for a, m, r in zip(analyzed, matches, refused, strict=True)
    ]
    if sighting is not None and faces:
        location = sighting.location or (camera["location"] if camera else None)
        event_ids = _store(services, sighting, location, version, analyzed, faces)
        for face, event_id in zip(faces, event_ids, strict=True):
            face["event_id"] = event_id
    return {
        "model_version": version,
        "threshold": round(limit, 4),
        "faces": faces,
        "events_stored": len(faces) if sighting is not None else 0,
    }


def _store(
    services: Services,
    sighting: Sighting,
    location: str | None,
    version: str | None,
    analyzed: list[AnalyzedFace],
    faces: list[dict[str, Any]],
) -> list[int]:
    """Store one event per face; an unknown face of sufficient quality joins an unknown
    group (api/unknowns/assign.py) in the same transaction."""
    captured_at = sighting.captured_at or utcnow()
    settings = services.settings
    eligible = [
        face["person_id"] is None and face["quality"] >= settings.min_match_quality
        for face in faces
    ]
    embedder = services.analyzer.embedder.name
    crops = [NewSightingFace(face_jpeg(a.crop), embedder, a.embedding) for a in analyzed]
    with timed("store"), services.engine.begin() as conn:
        unknown_ids = assign_unknowns(
            conn,
            services.sightings,
            [a.embedding for a in analyzed],
            eligible,
            settings.unknown_group_similarity,
        )
        events = [
            NewEvent(
                captured_at=captured_at,
                camera_id=sighting.camera_id,
                location=location,
                person_id=face["person_id"],
                confidence=face["confidence"],
                similarity=face["similarity"],
                box=tuple(face["box"].values()),
                model_version=version,
                quality=face["quality"],
                unknown_id=unknown_id,
            )
            for face, unknown_id in zip(faces, unknown_ids, strict=True)
        ]
        event_ids = record_sightings(conn, events, crops)
        enqueue_alerts(conn, event_ids)  # the alerts' outbox, in the sightings' transaction
    for face, unknown_id in zip(faces, unknown_ids, strict=True):
        face["unknown_id"] = unknown_id
    return event_ids


def _embedded_face(
    services: Services,
    data: bytes,
    field: str,
    choose: Callable[[list[Face], int, int], Face | None],
    flip: bool | None = None,
) -> AnalyzedFace:
    """The face `choose` picks (from the detections, largest first, and the image's width
    and height) in an uploaded image, embedded (mirror-averaged if `flip`, default the
    analyzer's); 422 NO_FACE_FOUND without one."""
    with large_image_slot(data):
        try:
            decoded = decode_image(data, services.settings.max_image_pixels)
        except ApiError as error:
            raise ApiError(error.status, error.code, f"{field}: {error.message}") from None
        face = choose(services.analyzer.detect(decoded.rgb), decoded.width, decoded.height)
        if face is None:
            raise ApiError(422, "NO_FACE_FOUND", f"{field}: no face was found in the image")
        return services.analyzer.embed_faces(decoded.rgb, [face], flip)[0]


def largest_face(services: Services, data: bytes, field: str) -> AnalyzedFace:
    """The largest face of an uploaded image, embedded (search by face)."""
    return _embedded_face(services, data, field, lambda faces, *_: faces[0] if faces else None)


def verify_images(
    services: Services, image_a: bytes, image_b: bytes, threshold: float | None
) -> dict[str, Any]:
    """1:1 — the subject of each image (api/vision/choice.py: large and central); same
    person when similarity >= threshold. Both faces are new, so they may be embedded
    with flip averaging (VERIFY_FLIP) whatever the gallery's vectors were made with."""
    flip = services.verify_flip
    first = _embedded_face(services, image_a, "image_a", primary_face, flip).embedding
    second = _embedded_face(services, image_b, "image_b", primary_face, flip).embedding
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
    with large_image_slot(data):
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
                **quality_json(face_quality(face, decoded.rgb)),
            }
            for face in faces
        ],
    }
