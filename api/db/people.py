"""People and their enrolled face images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, insert, select

from api.db.engine import utcnow
from api.db.gallery import ADDED, REMOVED, encode_vector, record_changes
from api.db.schema import (
    face_embeddings,
    face_images,
    people,
    recognition_events,
    sighting_faces,
)


@dataclass(frozen=True)
class NewFace:
    """A face accepted for enrolment: the original upload and what the pipeline found."""

    image: bytes
    image_format: str
    image_sha256: str
    width: int
    height: int
    box: tuple[float, float, float, float]
    detection_score: float
    embedding: np.ndarray


def _face_counts():
    return (
        select(face_images.c.person_id, func.count().label("faces"))
        .group_by(face_images.c.person_id)
        .subquery()
    )


def _person_dict(row: Any) -> dict[str, Any]:
    return {
        "person_id": row.person_id,
        "name": row.name,
        "created_at": row.created_at,
        "faces": int(row.faces or 0),
    }


def create_person(conn: Connection, person_id: str, name: str) -> dict[str, Any]:
    """Insert a person; raises sqlalchemy IntegrityError when the id is taken."""
    created_at = utcnow()
    conn.execute(insert(people).values(person_id=person_id, name=name, created_at=created_at))
    return {"person_id": person_id, "name": name, "created_at": created_at, "faces": 0}


def get_person(conn: Connection, person_id: str) -> dict[str, Any] | None:
    counts = _face_counts()
    row = conn.execute(
        select(people, counts.c.faces)
        .outerjoin(counts, counts.c.person_id == people.c.person_id)
        .where(people.c.person_id == person_id)
    ).first()
    return _person_dict(row) if row else None


def person_exists(conn: Connection, person_id: str) -> bool:
    return (
        conn.execute(select(people.c.person_id).where(people.c.person_id == person_id)).first()
        is not None
    )


def list_people(conn: Connection, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    counts = _face_counts()
    total = int(conn.execute(select(func.count()).select_from(people)).scalar_one())
    rows = conn.execute(
        select(people, counts.c.faces)
        .outerjoin(counts, counts.c.person_id == people.c.person_id)
        .order_by(people.c.person_id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [_person_dict(row) for row in rows], total


def names_of(conn: Connection, person_ids: set[str]) -> dict[str, str]:
    if not person_ids:
        return {}
    rows = conn.execute(
        select(people.c.person_id, people.c.name).where(people.c.person_id.in_(sorted(person_ids)))
    ).all()
    return {row.person_id: row.name for row in rows}


def delete_person(conn: Connection, person_id: str, delete_events: bool) -> bool:
    """Delete a person with every face image and embedding (for real, not a flag)."""
    # A locking read: a face enrolled concurrently is either listed (and logged as
    # removed) or waits and then finds the person gone; never deleted unlogged.
    owned = select(face_images.c.face_id).where(face_images.c.person_id == person_id)
    face_ids = conn.execute(owned.with_for_update()).scalars().all()
    conn.execute(delete(face_embeddings).where(face_embeddings.c.face_id.in_(face_ids)))
    conn.execute(delete(face_images).where(face_images.c.person_id == person_id))
    removed = conn.execute(delete(people).where(people.c.person_id == person_id)).rowcount
    if not removed:
        return False
    theirs = recognition_events.c.person_id == person_id
    if delete_events:  # their faces go with them (ON DELETE CASCADE)
        conn.execute(delete(recognition_events).where(theirs))
    else:  # the sightings stay as history (time, camera, scores), never the person's face
        events = select(recognition_events.c.event_id).where(theirs)
        conn.execute(delete(sighting_faces).where(sighting_faces.c.event_id.in_(events)))
    record_changes(conn, REMOVED, dict.fromkeys(face_ids, person_id))
    return True


def add_faces(conn: Connection, person_id: str, embedder: str, faces: list[NewFace]) -> list[int]:
    """Store images and embeddings of one person; returns the new face ids in order."""
    created_at = utcnow()
    face_ids: list[int] = []
    for face in faces:
        left, top, right, bottom = face.box
        result = conn.execute(
            insert(face_images).values(
                person_id=person_id,
                image=face.image,
                image_format=face.image_format,
                image_sha256=face.image_sha256,
                width=face.width,
                height=face.height,
                box_left=left,
                box_top=top,
                box_right=right,
                box_bottom=bottom,
                detection_score=face.detection_score,
                created_at=created_at,
            )
        )
        face_id = int(result.inserted_primary_key[0])
        conn.execute(
            insert(face_embeddings).values(
                face_id=face_id,
                embedder=embedder,
                dim=int(face.embedding.shape[0]),
                vector=encode_vector(face.embedding),
            )
        )
        face_ids.append(face_id)
    record_changes(conn, ADDED, dict.fromkeys(face_ids, person_id))
    return face_ids


def list_faces(conn: Connection, person_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            face_images.c.face_id,
            face_images.c.image_format,
            face_images.c.width,
            face_images.c.height,
            face_images.c.box_left,
            face_images.c.box_top,
            face_images.c.box_right,
            face_images.c.box_bottom,
            face_images.c.created_at,
        )
        .where(face_images.c.person_id == person_id)
        .order_by(face_images.c.face_id)
    ).all()
    return [
        {
            "face_id": row.face_id,
            "image_format": row.image_format,
            "width": row.width,
            "height": row.height,
            "box": {
                "left": row.box_left,
                "top": row.box_top,
                "right": row.box_right,
                "bottom": row.box_bottom,
            },
            "created_at": row.created_at,
        }
        for row in rows
    ]


def delete_face(conn: Connection, person_id: str, face_id: int) -> bool:
    owned = (face_images.c.face_id == face_id) & (face_images.c.person_id == person_id)
    if conn.execute(select(face_images.c.face_id).where(owned)).first() is None:
        return False
    conn.execute(delete(face_embeddings).where(face_embeddings.c.face_id == face_id))
    conn.execute(delete(face_images).where(owned))
    record_changes(conn, REMOVED, {face_id: person_id})
    return True
