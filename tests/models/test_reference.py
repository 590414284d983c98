"""The mean embeddings `make models` records (models/reference.py) and the runtime's
refusal of a missing or stale one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from api.vision import EMBEDDER_NAMES
from api.vision.embedder import mean_embedding
from models.manifest import MANIFEST_NAME, read_manifest
from models.reference import build_means
from models.runtime import ModelError, ModelStore
from tests.shared_data import built_models_root


@pytest.fixture(scope="module")
def built() -> Path:
    return built_models_root()


@pytest.fixture
def linked_copy(built: Path, tmp_path: Path) -> Path:
    """The built folder with its own manifest and the model files linked, not copied."""
    for item in built.iterdir():
        target = tmp_path / item.name
        if item.name == MANIFEST_NAME:
            shutil.copy2(item, target)
        else:
            target.symlink_to(item)
    return tmp_path


def test_each_embedder_has_the_mean_of_the_reference_set(built: Path) -> None:
    entries = read_manifest(built)
    for name in EMBEDDER_NAMES:
        mean = entries[name].extra["mean_embedding"]
        vector = np.asarray(mean["vector"])
        print(f"\n{name}: mean of {mean['faces']} faces, norm {np.linalg.norm(vector):.3f}")
        assert "5-celebrity" in mean["source"] and mean["faces"] >= 110
        assert mean["model_sha256"] == entries[name].sha256
        assert vector.shape == (entries[name].extra["dim"],)
        # unit vectors of different people: a mean well inside the sphere, far from zero
        assert 0.2 < np.linalg.norm(vector) < 0.9


def test_a_second_run_recomputes_nothing_and_a_forced_one_the_same(linked_copy: Path) -> None:
    before = json.loads((linked_copy / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert build_means(linked_copy) == []
    assert build_means(linked_copy, force=True) == list(EMBEDDER_NAMES)
    after = json.loads((linked_copy / MANIFEST_NAME).read_text(encoding="utf-8"))
    for name in EMBEDDER_NAMES:
        np.testing.assert_allclose(
            after["models"][name]["extra"]["mean_embedding"]["vector"],
            before["models"][name]["extra"]["mean_embedding"]["vector"],
            atol=1e-5,
        )


def test_a_missing_or_stale_mean_is_refused(linked_copy: Path) -> None:
    path = linked_copy / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["models"]["facenet128"]["extra"]["mean_embedding"]["model_sha256"] = "0" * 64
    del manifest["models"]["facenet512"]["extra"]["mean_embedding"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    store = ModelStore(linked_copy)
    with pytest.raises(ModelError, match=r"facenet128 .* is stale .*make models"):
        mean_embedding(store, "facenet128")
    with pytest.raises(ModelError, match=r"facenet512 .* is missing"):
        mean_embedding(store, "facenet512")
    assert build_means(linked_copy) == list(EMBEDDER_NAMES)
    assert mean_embedding(ModelStore(linked_copy), "facenet128").shape == (128,)


def test_a_mean_of_faces_cut_out_another_way_is_stale(linked_copy: Path) -> None:
    """Changing an embedder's crop (api/vision/embedder.py CROPS) changes its mean: the
    next `make models` recomputes it, and until then the API refuses it."""
    path = linked_copy / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["models"]["facenet128"]["extra"]["mean_embedding"]["crop"]["margin"] = 0.25
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match=r"facenet128 .* is stale"):
        mean_embedding(ModelStore(linked_copy), "facenet128")
    assert build_means(linked_copy) == ["facenet128"]
    assert mean_embedding(ModelStore(linked_copy), "facenet128").shape == (128,)
