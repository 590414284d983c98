"""Faces in an image: MTCNN re-extraction, alignment, one batched embedding call.

The edge may send false positives and loose crops; re-detecting here drops them and
gives the landmarks that alignment needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from api.vision import Embedder, Face, MtcnnDetector, align_face


@dataclass(frozen=True)
class AnalyzedFace:
    face: Face
    embedding: np.ndarray  # unit vector
    crop: np.ndarray  # the aligned RGB crop the embedder saw (quality, sighting faces)


class FaceAnalyzer:
    """Detector + embedder of one worker (loaded once, shared by its threads)."""

    def __init__(self, detector: MtcnnDetector, embedder: Embedder, flip: bool = False) -> None:
        self.detector = detector
        self.embedder = embedder
        self.flip = flip

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self.detector.detect(rgb)

    def embed_faces(self, rgb: np.ndarray, faces: list[Face]) -> list[AnalyzedFace]:
        if not faces:
            return []
        crops = np.stack([align_face(rgb, face) for face in faces])
        embeddings = self.embedder.embed(crops, flip=self.flip)
        return [
            AnalyzedFace(face, vector, crop)
            for face, vector, crop in zip(faces, embeddings, crops, strict=True)
        ]

    def analyze(self, rgb: np.ndarray) -> list[AnalyzedFace]:
        """Every face in the image, largest first, with its embedding."""
        return self.embed_faces(rgb, self.detect(rgb))
