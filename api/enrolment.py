"""Enrolling face images: each image accepted or rejected on its own, never all-or-nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import FileStorage

from api.db.people import NewFace, add_faces
from api.errors import ApiError
from api.imaging import decode_image, large_image_slot
from api.services import Services


@dataclass(frozen=True)
class Rejection:
    image_index: int
    filename: str
    code: str
    message: str
    status: int  # what a single-image endpoint answers for it (413, 415, 422)

    def to_json(self) -> dict[str, Any]:
        return {
            "image_index": self.image_index,
            "filename": self.filename,
            "code": self.code,
            "message": self.message,
        }


def _prepare(services: Services, data: bytes, largest_only: bool) -> NewFace:
    with large_image_slot(data):
        return _analyse_upload(services, data, largest_only)


def _analyse_upload(services: Services, data: bytes, largest_only: bool) -> NewFace:
    decoded = decode_image(data, services.settings.max_image_pixels)
    faces = services.analyzer.detect(decoded.rgb)
    if not faces:
        raise ApiError(422, "NO_FACE_FOUND", "no face was found in the image")
    if len(faces) > 1 and not largest_only:
        raise ApiError(
            422,
            "MULTIPLE_FACES",
            f"{len(faces)} faces were found; send one face per image or set "
            "largest_face_only=true to keep the largest",
        )
    analyzed = services.analyzer.embed_faces(decoded.rgb, faces[:1])[0]
    quality = analyzed.quality.score
    minimum = services.settings.min_enrol_quality
    if quality < minimum:
        raise ApiError(
            422,
            "LOW_QUALITY_FACE",
            f"the face's quality {quality:.2f} is below MIN_ENROL_QUALITY {minimum:.2f}: "
            "send a sharper, larger, frontal, evenly lit photo",
        )
    return NewFace(
        image=data,
        image_format=decoded.format,
        image_sha256=hashlib.sha256(data).hexdigest(),
        width=decoded.width,
        height=decoded.height,
        box=analyzed.face.box,
        detection_score=analyzed.face.score,
        embedding=analyzed.embedding,
    )


def enrol_images(
    services: Services, person_id: str, files: list[FileStorage], largest_only: bool
) -> tuple[list[dict[str, Any]], list[Rejection]]:
    """Store every acceptable image of `files` for `person_id`, explain every other."""
    accepted: list[tuple[int, str, NewFace]] = []
    rejected: list[Rejection] = []
    for index, upload in enumerate(files):
        filename = (upload.filename or "")[:255]
        try:
            accepted.append((index, filename, _prepare(services, upload.read(), largest_only)))
        except ApiError as error:
            rejected.append(Rejection(index, filename, error.code, error.message, error.status))
    face_ids: list[int] = []
    if accepted:
        with services.engine.begin() as conn:
            face_ids = add_faces(
                conn, person_id, services.analyzer.embedder.name, [face for *_, face in accepted]
            )
    faces = [
        {"face_id": face_id, "image_index": index, "filename": filename, "box": _box(face.box)}
        for face_id, (index, filename, face) in zip(face_ids, accepted, strict=True)
    ]
    return faces, rejected


def _box(box: tuple[float, float, float, float]) -> dict[str, int]:
    left, top, right, bottom = (round(value) for value in box)
    return {"left": left, "top": top, "right": right, "bottom": bottom}
