"""Reading one stored face image (the bytes and the box found on it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from api.db.schema import face_images


@dataclass(frozen=True)
class StoredImage:
    image: bytes
    sha256: str
    box: tuple[float, float, float, float]


def stored_image(conn: Connection, person_id: str, face_id: int) -> StoredImage | None:
    """The face `face_id` of `person_id`; None when it is not theirs or does not exist."""
    c = face_images.c
    row = conn.execute(
        select(c.image, c.image_sha256, c.box_left, c.box_top, c.box_right, c.box_bottom).where(
            (c.face_id == face_id) & (c.person_id == person_id)
        )
    ).first()
    if row is None:
        return None
    return StoredImage(
        image=bytes(row.image),
        sha256=row.image_sha256,
        box=(row.box_left, row.box_top, row.box_right, row.box_bottom),
    )
