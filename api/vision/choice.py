"""Which face of an image is "the" face when a request means one (1:1 verification).

A photo of one person often holds bystanders. The largest face is usually the subject,
but a nearer bystander at the edge can be larger; the most central one is usually the
subject, but a small background face can sit nearer the centre. The FaceNet author's
alignment (davidsandberg/facenet `align_dataset_mtcnn.py`) weighs both: box area less
twice the squared distance of the box centre from the image centre. LFW, which centres
its subject, scores the choice (benchmarks/lfw_recipe.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from api.vision.mtcnn import Face

CENTRE_WEIGHT = 2.0  # pixels^2 of area given up per pixel^2 of squared offset


def primary_face(faces: Sequence[Face], width: int, height: int) -> Face | None:
    """The face of a `width` x `height` image that is the subject, or None if none."""

    def weight(face: Face) -> float:
        left, top, right, bottom = face.box
        offset_x = (left + right) / 2 - width / 2
        offset_y = (top + bottom) / 2 - height / 2
        return face.area - CENTRE_WEIGHT * (offset_x**2 + offset_y**2)

    return max(faces, key=weight, default=None)
