"""The LFW benchmark's flip-TTA shortcut gives exactly what the API's embedder gives."""

from __future__ import annotations

import numpy as np
import pytest

from api.config import Settings
from api.vision import EMBEDDER_NAMES, load_embedder
from benchmarks.lfw_verification import embed_plain_and_flipped
from models.parity import random_faces
from models.runtime import ModelStore
from tests.shared_data import built_models_root


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore(built_models_root())


@pytest.mark.parametrize("name", EMBEDDER_NAMES)
def test_plain_and_flipped_equal_the_embedders_own(store: ModelStore, name: str) -> None:
    embedder = load_embedder(
        name, store, intra_op_threads=1, precision=Settings().embedder_precision
    )
    faces = random_faces(3)
    plain, flipped = embed_plain_and_flipped(embedder, faces)
    np.testing.assert_allclose(plain, embedder.embed(faces), atol=1e-5)
    np.testing.assert_allclose(flipped, embedder.embed(faces, flip=True), atol=1e-5)
    assert not np.allclose(plain, flipped, atol=1e-3)  # the mirror did change something
