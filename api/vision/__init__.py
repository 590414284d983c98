"""Cloud face vision: MTCNN detection, crop alignment and FaceNet embeddings.

Runtime dependencies only (onnxruntime, numpy, OpenCV); the model files come verified
from models.runtime.ModelStore.
"""

from api.vision.align import align_face
from api.vision.choice import primary_face
from api.vision.embedder import EMBEDDER_NAMES, Embedder, load_embedder
from api.vision.mtcnn import Face, MtcnnDetector

__all__ = [
    "EMBEDDER_NAMES",
    "Embedder",
    "Face",
    "MtcnnDetector",
    "align_face",
    "load_embedder",
    "primary_face",
]
