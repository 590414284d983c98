"""Naming an unknown group: the group becomes a person (created, or extended) in one step.

The person's new faces are the group's best sightings (quality-ranked, at most
ENROL_FROM_SIGHTINGS_MAX, each at least MIN_ENROL_QUALITY): the stored aligned crop is
the face image and its stored embedding the face's embedding, so no model runs. They are
added through the enrolment path (api/db/people.py), which bumps the gallery version: every
worker recognises the person on its next request, and the next training includes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError

from api.db import people as people_db
from api.db import unknowns as unknowns_db
from api.db.people import NewFace
from api.errors import ApiError, not_found
from api.services import Services
from api.vision.embedder import INPUT_SIZE as CROP_SIZE


def sighting_face(jpeg: bytes, vector: np.ndarray) -> NewFace:
    """A sighting's stored face as an enrolled face: the crop is the whole image (the
    detector's box was the crop), its score unknown and taken as 1."""
    return NewFace(
        image=jpeg,
        image_format="JPEG",
        image_sha256=hashlib.sha256(jpeg).hexdigest(),
        width=CROP_SIZE,
        height=CROP_SIZE,
        box=(0.0, 0.0, float(CROP_SIZE), float(CROP_SIZE)),
        detection_score=1.0,
        embedding=np.asarray(vector, dtype=np.float32),
    )


@dataclass(frozen=True)
class Naming:
    person: dict[str, Any]
    created: bool
    face_ids: list[int]
    sightings: int


def enrol_group(services: Services, unknown_id: str, person_id: str, name: str | None) -> Naming:
    """Make group `unknown_id` person `person_id`; 404 without the group, 409 when the
    person exists under another name, 422 when no face of the group is good enough."""
    settings = services.settings
    try:
        with services.engine.begin() as conn:
            if not unknowns_db.group_size(conn, unknown_id):
                raise not_found("unknown", unknown_id)
            person = people_db.get_person(conn, person_id)
            if person is not None and name is not None and person["name"] != name:
                raise ApiError(
                    409,
                    "NAME_CONFLICT",
                    f"person {person_id} exists with the name {person['name']!r}, not "
                    f"{name!r}: send their name (or none) to extend them, or another person_id",
                )
            faces = unknowns_db.best_faces(
                conn,
                unknown_id,
                services.analyzer.embedder.name,
                settings.min_enrol_quality,
                settings.enrol_from_sightings_max,
            )
            if not faces:
                raise ApiError(
                    422,
                    "LOW_QUALITY_FACE",
                    f"no sighting of {unknown_id} reaches MIN_ENROL_QUALITY "
                    f"{settings.min_enrol_quality:.2f}; enrol photos of them instead",
                )
            created = person is None
            if created:
                person = people_db.create_person(conn, person_id, name or person_id)
            face_ids = people_db.add_faces(
                conn,
                person_id,
                services.analyzer.embedder.name,
                [sighting_face(face.jpeg, face.vector) for face in faces],
            )
            sightings = unknowns_db.name_group(conn, unknown_id, person_id)
    except IntegrityError:  # created by another request between our read and insert
        raise ApiError(
            409, "PERSON_EXISTS", f"person {person_id} was created meanwhile; retry"
        ) from None
    person = {**person, "faces": person["faces"] + len(face_ids)}
    return Naming(person, created, face_ids, sightings)
