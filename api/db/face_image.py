"""Reading one stored face image: its digest and box first, the bytes only when needed.

A thumbnail's ETag names the image's digest, and a revalidation (what the operator's page
mostly sends) is answered from the digest alone: the upload, megabytes for a phone photo,
is read only when a thumbnail has to be drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from api.db.schema import face_images


@dataclass(frozen=True)
class StoredFace:
    face_id: int
    sha256: str
    box: tuple[float, float, float, float]


def stored_face(conn: Connection, person_id: str, face_id: int) -> StoredFace | None:
    """The face `face_id` of `person_id`; None when it is not theirs or does not exist."""
    c = face_images.c
    row = conn.execute(
        select(c.image_sha256, c.box_left, c.box_top, c.box_right, c.box_bottom).where(
            (c.face_id == face_id) & (c.person_id == person_id)
        )
    ).first()
    if row is None:
        return None
    return StoredFace(
        face_id=face_id,
        sha256=row.image_sha256,
        box=(row.box_left, row.box_top, row.box_right, row.box_bottom),
    )


def image_bytes(conn: Connection, face: StoredFace) -> bytes | None:
    """The upload `face` was read from; None when it was deleted since (matching the
    digest too, so an id SQLite handed out again never yields another person's image)."""
    c = face_images.c
    image = conn.execute(
        select(c.image).where((c.face_id == face.face_id) & (c.image_sha256 == face.sha256))
    ).scalar()
    return None if image is None else bytes(image)
