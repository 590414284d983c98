"""Real models and real LFW images for the vision tests, loaded once per session.

Detection and embedding of the 1,549 LFW View 1 DevTest images are the expensive part
(about a minute on 2 cores), so they are session fixtures shared by every test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api.config import Settings
from api.vision import (
    EMBEDDER_NAMES,
    Embedder,
    Face,
    MtcnnDetector,
    align_face,
    load_embedder,
    primary_face,
)
from api.vision.embedder import CROPS, PRECISIONS, verify_flip
from benchmarks.lfw import Pair, read_pairs, read_rgb, split_folds
from models.runtime import ModelStore
from tests.shared_data import built_models_root, shared_path

THREADS = 2
BATCH = 64


@pytest.fixture(scope="session")
def store() -> ModelStore:
    return ModelStore(built_models_root())


@pytest.fixture(scope="session")
def detector(store: ModelStore) -> MtcnnDetector:
    return MtcnnDetector(store, intra_op_threads=THREADS)


@pytest.fixture(scope="session")
def embedders(store: ModelStore) -> dict[str, dict[str, Embedder]]:
    """Both FaceNets at both precisions, loaded once for the session:
    {precision: {name: embedder}}."""
    return {
        precision: {
            name: load_embedder(name, store, intra_op_threads=THREADS, precision=precision)
            for name in EMBEDDER_NAMES
        }
        for precision in PRECISIONS
    }


@pytest.fixture(scope="session")
def lfw_root() -> Path:
    return shared_path("data", "lfw-view1")


@pytest.fixture(scope="session")
def lfw_pairs(lfw_root: Path) -> list[Pair]:
    """DevTest's pairs dealt into ten folds (benchmarks/lfw.py)."""
    return split_folds(read_pairs(lfw_root / "pairsDevTest.txt"))


@pytest.fixture(scope="session")
def lfw_faces(
    lfw_root: Path, lfw_pairs: list[Pair], detector: MtcnnDetector
) -> dict[str, tuple[np.ndarray, Face | None]]:
    """Every image of the pairs with the face /verify takes (None where none was found)."""
    names = sorted({p.first for p in lfw_pairs} | {p.second for p in lfw_pairs})
    faces = {}
    for name in names:
        rgb = read_rgb(lfw_root / name)
        faces[name] = (rgb, primary_face(detector.detect(rgb), rgb.shape[1], rgb.shape[0]))
    return faces


@pytest.fixture(scope="session")
def lfw_crops(
    lfw_faces: dict[str, tuple[np.ndarray, Face | None]],
) -> dict[str, dict[str, np.ndarray]]:
    """{embedder name: {image name: 160x160 crop}}, each cut out with that embedder's
    crop; an image without a detection is left out (its pairs count as errors)."""
    return {
        embedder: {
            name: align_face(rgb, face, CROPS[embedder])
            for name, (rgb, face) in lfw_faces.items()
            if face is not None
        }
        for embedder in EMBEDDER_NAMES
    }


@pytest.fixture(scope="session")
def lfw_embeddings(
    embedders: dict[str, dict[str, Embedder]], lfw_crops: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """{precision: {embedder name: {image name: unit vector}}} for both embedders at both
    precisions, as /verify embeds by default (the embedder's crop and flip averaging)."""
    result: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for precision, by_name in embedders.items():
        result[precision] = {}
        for embedder_name, embedder in by_name.items():
            names = sorted(lfw_crops[embedder_name])
            crops = np.stack([lfw_crops[embedder_name][name] for name in names])
            flip = verify_flip(embedder_name, Settings().verify_flip)
            vectors = np.concatenate(
                [
                    embedder.embed(crops[i : i + BATCH], flip=flip)
                    for i in range(0, len(crops), BATCH)
                ]
            )
            result[precision][embedder_name] = dict(zip(names, vectors, strict=True))
    return result
