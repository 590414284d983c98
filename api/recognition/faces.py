"""Faces in an image: MTCNN re-extraction, alignment, one batched embedding call.

The edge may send false positives and loose crops; re-detecting here drops them and
gives the landmarks that alignment needs.

Detection runs on a copy downscaled to at most `detect_max_pixels` (DETECT_MAX_PIXELS):
MTCNN's image pyramid grows with the image (its first level of a 40-megapixel photograph
alone is 350 MB of float32), while a face worth naming in such a photograph is large. The
boxes and landmarks are scaled back and alignment crops from the full-resolution image,
so a face found keeps every pixel it has. The smallest face found in an image of N pixels
is then MIN_FACE_SIZE x sqrt(N / DETECT_MAX_PIXELS) pixels (63 px at 40 megapixels).
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import cv2
import numpy as np

from api.metrics import WIDE_EMBEDDINGS
from api.sightings.quality import FaceQuality, face_quality
from api.vision import Embedder, Face, MtcnnDetector, align_face
from api.vision.cores import ComputeGate


@dataclass(frozen=True)
class AnalyzedFace:
    face: Face
    embedding: np.ndarray  # unit vector
    crop: np.ndarray  # the aligned RGB crop the embedder saw (the sighting's stored face)
    quality: FaceQuality


def _scaled(face: Face, scale_x: float, scale_y: float) -> Face:
    left, top, right, bottom = face.box
    return Face(
        box=(left * scale_x, top * scale_y, right * scale_x, bottom * scale_y),
        score=face.score,
        landmarks=tuple((x * scale_x, y * scale_y) for x, y in face.landmarks),
    )


class FaceAnalyzer:
    """Detector + embedder of one worker (loaded once, shared by its threads). With a
    `gate`, an embedding whose request is the only one computing runs on the embedder's
    wide session (api/vision/cores.py)."""

    def __init__(
        self,
        detector: MtcnnDetector,
        embedder: Embedder,
        flip: bool = False,
        detect_max_pixels: int = 4_000_000,
        gate: ComputeGate | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.flip = flip
        self.detect_max_pixels = detect_max_pixels
        self.gate = gate

    def computing(self) -> AbstractContextManager[None]:
        """Count the calling thread's request or job as in flight for the block (the
        gate's hold), so no other embedding takes every core meanwhile."""
        return self.gate.hold() if self.gate is not None else nullcontext()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in full-resolution coordinates, found on a copy of at most
        `detect_max_pixels` pixels."""
        height, width = rgb.shape[:2]
        factor = math.sqrt(self.detect_max_pixels / max(1, height * width))
        if factor >= 1.0:
            return self.detector.detect(rgb)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        scale_x, scale_y = width / size[0], height / size[1]
        return [_scaled(face, scale_x, scale_y) for face in self.detector.detect(small)]

    def embed_faces(
        self, rgb: np.ndarray, faces: list[Face], flip: bool | None = None
    ) -> list[AnalyzedFace]:
        """`faces` of `rgb` aligned and embedded in one run; `flip` (default: the
        analyzer's) also averages each with its mirror image."""
        if not faces:
            return []
        crops = np.stack([align_face(rgb, face, self.embedder.crop) for face in faces])
        flip = self.flip if flip is None else flip
        if self.gate is None or not self.embedder.has_wide:
            embeddings = self.embedder.embed(crops, flip=flip)
        else:
            with self.gate.alone() as alone:
                embeddings = self.embedder.embed(crops, flip=flip, wide=alone)
            if alone:
                WIDE_EMBEDDINGS.inc()
        return [
            AnalyzedFace(face, vector, crop, face_quality(face, rgb))
            for face, vector, crop in zip(faces, embeddings, crops, strict=True)
        ]

    def analyze(self, rgb: np.ndarray) -> list[AnalyzedFace]:
        """Every face in the image, largest first, with its embedding."""
        return self.embed_faces(rgb, self.detect(rgb))
