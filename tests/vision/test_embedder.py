"""FaceNet embedders on real weights: LFW verification accuracy and the vector contract."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from api.config import Settings
from api.vision import EMBEDDER_NAMES, Embedder, load_embedder
from api.vision.embedder import PRECISIONS, VERIFY_THRESHOLDS, verify_flip
from benchmarks.lfw import (
    Pair,
    accuracy_at,
    every_pair_key,
    every_pair_tar,
    kfold_accuracies,
    pair_distances,
)
from models.runtime import ModelError, ModelStore

# Ten-fold accuracy on LFW View 1 DevTest (threshold from the other nine folds) of what
# /verify runs by default, at both precisions, 0.5 points under what was measured
# (results/lfw_view1.json: facenet128 99.2% at both, facenet512 98.5% fp32 and 98.2%
# int8): a regression of the face choice, the crop, the flip setting or the quantization
# fails here.
MIN_LFW_ACCURACY = {
    ("facenet128", "fp32"): 0.987,
    ("facenet512", "fp32"): 0.980,
    ("facenet128", "int8"): 0.987,
    ("facenet512", "int8"): 0.977,
}

# Genuine pairs accepted at a false-accept rate of 1e-4 over every pair of DevTest's
# images (1.2 million impostor pairs: naming a face against a gallery), 0.5 points under
# what was measured (facenet128 92.9% at both precisions; facenet512 83.6% fp32, 83.5%
# int8). facenet128's box + 0.3 of its mean side, the crop before the margin
# sweep, read 91.2%: a wider crop fails here.
LOW_FAR = 1e-4
MIN_TAR_AT_LOW_FAR = {
    ("facenet128", "fp32"): 0.924,
    ("facenet512", "fp32"): 0.831,
    ("facenet128", "int8"): 0.924,
    ("facenet512", "int8"): 0.830,
}

# Cosine of an int8 embedding to its float32 one on every 5th LFW DevTest face, lowest and
# mean (measured: facenet128 0.9928 / 0.99914, facenet512 0.9978 / 0.99926 on 310 faces),
# and how many of DevTest's 1,000 pairs may be decided otherwise at the shipped threshold
# (measured: facenet128 1 with flip averaging, facenet512 3).
INT8_SAMPLE_STEP = 5
INT8_COSINE_FLOORS = {"facenet128": (0.99, 0.998), "facenet512": (0.99, 0.998)}
INT8_CHANGED_DECISIONS = 5


def shipped_threshold(name: str) -> float:
    """The L2 threshold /verify decides with for `name` by default (fitted on DevTrain)."""
    return VERIFY_THRESHOLDS[(name, verify_flip(name, Settings().verify_flip))]


@pytest.fixture(scope="module", params=EMBEDDER_NAMES)
def embedder(request: pytest.FixtureRequest, embedders: dict[str, dict[str, Embedder]]) -> Embedder:
    return embedders["fp32"][request.param]


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", EMBEDDER_NAMES)
def test_lfw_view1_accuracy(
    name: str,
    precision: str,
    lfw_pairs: list[Pair],
    lfw_embeddings: dict[str, dict[str, dict[str, np.ndarray]]],
) -> None:
    distances, same = pair_distances(lfw_pairs, lfw_embeddings[precision][name])
    folds = np.array([pair.fold for pair in lfw_pairs])
    accuracy = float(np.mean([acc for _, acc in kfold_accuracies(distances, same, folds)]))
    default = shipped_threshold(name)
    at_default = accuracy_at(distances, same, default)
    print(
        f"\n{name} {precision}: LFW View 1 DevTest {len(lfw_pairs)} pairs: ten-fold accuracy "
        f"{accuracy:.4f}; {at_default:.4f} at the shipped threshold {default} (from DevTrain)"
    )
    assert len(lfw_pairs) == 1000 and same.sum() == 500
    assert accuracy >= MIN_LFW_ACCURACY[(name, precision)]
    # the shipped threshold, fitted on DevTrain, holds on pairs it was not fitted on
    assert at_default >= accuracy - 0.005


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", EMBEDDER_NAMES)
def test_lfw_view1_acceptance_at_a_low_false_accept_rate(
    name: str, precision: str, lfw_embeddings: dict[str, dict[str, dict[str, np.ndarray]]]
) -> None:
    figures = every_pair_tar(lfw_embeddings[precision][name], [LOW_FAR])
    tar = figures[every_pair_key(LOW_FAR)]
    print(
        f"\n{name} {precision}: every pair of DevTest's images ({figures['every_pair_genuine']} "
        f"genuine, {figures['every_pair_impostors']} impostor): TAR {tar:.4f} at FAR {LOW_FAR:g}"
    )
    assert figures["every_pair_impostors"] > 1_000_000
    assert tar >= MIN_TAR_AT_LOW_FAR[(name, precision)]


def test_vectors_are_unit_float32_of_the_model_dim(
    embedder: Embedder, lfw_crops: dict[str, dict[str, np.ndarray]]
) -> None:
    crops = lfw_crops[embedder.name]
    faces = np.stack([crops[name] for name in sorted(crops)[:5]])
    vectors = embedder.embed(faces)
    assert embedder.dim == {"facenet128": 128, "facenet512": 512}[embedder.name]
    assert vectors.shape == (5, embedder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed(faces[:0]).shape == (0, embedder.dim)


def test_batch_equals_one_by_one(
    embedder: Embedder, lfw_crops: dict[str, dict[str, np.ndarray]]
) -> None:
    """The converted graphs have a dynamic batch: batching must not change any vector."""
    crops = lfw_crops[embedder.name]
    faces = np.stack([crops[name] for name in sorted(crops)[:6]])
    batched = embedder.embed(faces)
    single = np.concatenate([embedder.embed(face[None]) for face in faces])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_flip_averages_a_face_with_its_mirror(
    embedder: Embedder, lfw_crops: dict[str, dict[str, np.ndarray]]
) -> None:
    crops = lfw_crops[embedder.name]
    faces = np.stack([crops[name] for name in sorted(crops)[:4]])
    plain = embedder.embed(faces)
    flipped = embedder.embed(faces, flip=True)
    mirrored = embedder.embed(np.ascontiguousarray(faces[:, :, ::-1]), flip=True)
    # mirror-averaging is symmetric: a mirrored face gives the same vector
    np.testing.assert_allclose(flipped, mirrored, atol=1e-5)
    cosines = np.sum(plain * flipped, axis=1)
    assert np.all(cosines > 0.85) and np.all(cosines < 0.9999)


def test_concurrent_calls_give_the_sequential_results(
    embedder: Embedder, lfw_crops: dict[str, dict[str, np.ndarray]]
) -> None:
    crops = lfw_crops[embedder.name]
    names = sorted(crops)[:16]
    batches = [np.stack([crops[n] for n in names[i : i + 4]]) for i in range(0, 16, 4)]
    expected = [embedder.embed(batch) for batch in batches]
    results: list[np.ndarray | None] = [None] * len(batches)

    def work(index: int) -> None:
        results[index] = embedder.embed(batches[index])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_wide_session_computes_the_same_vectors(
    store: ModelStore, precision: str, lfw_crops: dict[str, dict[str, np.ndarray]]
) -> None:
    """IDLE_EMBED_THREADS: a lone request's run on every core gives its usual vectors
    (onnxruntime splits each operator's output, not its sums)."""
    embedder = load_embedder("facenet128", store, 1, precision=precision, wide_threads=2)
    crops = lfw_crops["facenet128"]
    faces = np.stack([crops[name] for name in sorted(crops)[:4]])
    assert embedder.has_wide
    np.testing.assert_allclose(embedder.embed(faces, wide=True), embedder.embed(faces), atol=1e-6)
    np.testing.assert_allclose(
        embedder.embed(faces, flip=True, wide=True), embedder.embed(faces, flip=True), atol=1e-6
    )
    assert not load_embedder("facenet128", store, precision=precision).has_wide


def test_wrong_input_is_refused(embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="160"):
        embedder.embed(np.zeros((1, 112, 112, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        embedder.embed(np.zeros((1, 160, 160, 3), dtype=np.float32))


def test_unknown_embedder_is_refused(store: ModelStore) -> None:
    with pytest.raises(ModelError, match="arcface"):
        load_embedder("arcface", store, precision="int8")


@pytest.mark.parametrize("name", EMBEDDER_NAMES)
def test_int8_embeddings_agree_with_float32(
    name: str,
    embedders: dict[str, dict[str, Embedder]],
    lfw_crops: dict[str, dict[str, np.ndarray]],
    lfw_pairs: list[Pair],
    lfw_embeddings: dict[str, dict[str, dict[str, np.ndarray]]],
) -> None:
    embedder = embedders["int8"][name]
    assert (embedder.name, embedder.precision, embedder.dim) == (name, "int8", int(name[7:]))
    names = sorted(lfw_crops[name])[::INT8_SAMPLE_STEP]
    crops = np.stack([lfw_crops[name][n] for n in names])
    vectors, reference = (
        np.concatenate([e.embed(crops[i : i + 64]) for i in range(0, len(crops), 64)])
        for e in (embedder, embedders["fp32"][name])
    )
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(vectors * reference, axis=1)
    threshold = shipped_threshold(name)
    decisions = {
        precision: pair_distances(lfw_pairs, lfw_embeddings[precision][name])[0] < threshold
        for precision in PRECISIONS
    }
    changed = int(np.sum(decisions["int8"] != decisions["fp32"]))
    lowest, mean = INT8_COSINE_FLOORS[name]
    print(
        f"\n{name} int8 vs fp32 on {len(names)} LFW faces: cosine min {cosines.min():.4f}, "
        f"mean {cosines.mean():.5f}; {changed} of {len(lfw_pairs)} pairs decided otherwise"
    )
    assert cosines.min() >= lowest and cosines.mean() >= mean
    assert changed <= INT8_CHANGED_DECISIONS


def test_unknown_precision_is_refused(store: ModelStore) -> None:
    with pytest.raises(ModelError, match="fp16"):
        load_embedder("facenet128", store, precision="fp16")
