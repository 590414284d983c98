"""FaceNet embeddings on onnxruntime: aligned 160x160 RGB faces -> unit vectors.

Two weight sets (models/build.py): `facenet128` (20170512-110547, MS-Celeb-1M, the
original framework's) and `facenet512` (20180408-102900, CASIA-WebFace). Each needs its
own input scaling (models/preprocessing.py). Outputs are L2-normalised, optionally
averaged with the mirrored face's, then centred: the build's mean embedding
(models/reference.py) is subtracted and the result re-normalised, which spreads faces
apart on the sphere (benchmarks/lfw_recipe.py measures the gain). Distances are
comparable across calls of one embedder, never across embedders.

Each also comes as `<name>_int8` (models/quantize.py), chosen by EMBEDDER_PRECISION (int8
by default: 2.6x faster, LFW kept): the same weights quantised to 8 bits, whose embeddings
stay within a measured cosine of the float32 ones, so both precisions share one gallery,
release and threshold.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import onnxruntime as ort

from api.vision.align import CropRecipe
from models.preprocessing import PREPROCESSING, Preprocess
from models.runtime import ModelError, ModelStore

INPUT_SIZE = 160
EMBEDDER_NAMES: tuple[str, ...] = ("facenet128", "facenet512")
PRECISIONS: tuple[str, ...] = ("int8", "fp32")

# How each weight set's faces are cut out, and whether /verify averages a face with its
# mirror image by default (VERIFY_FLIP unset): measured on LFW View 1 DevTrain, one cause
# at a time (benchmarks/lfw_recipe.py, results/lfw_recipe.json). facenet128's margin:
# accuracy is flat from 0.1 to 0.3 of the box's mean side, and a tighter crop accepts
# more genuine pairs at a low false-accept rate (every pair of DevTrain's images, FAR
# 1e-4: 83% at 0.3, 90% at 0.15); 0.15 is the most accurate on tilted heads. Its flip
# averaging adds about a point there (88.8% -> 89.9%) for 1.6x the CPU, at an accuracy
# within three pairs of 2,200. The 512-d weights lose half a point with the 128-d ones'
# crop, and gain nothing from flip averaging.
CROPS: dict[str, CropRecipe] = {
    "facenet128": CropRecipe(margin=0.15, per_axis=False, min_roll_degrees=8.0),
    "facenet512": CropRecipe(margin=0.2, per_axis=True, min_roll_degrees=8.0),
}
VERIFY_FLIP: dict[str, bool] = {"facenet128": True, "facenet512": False}


def verify_flip(embedder: str, setting: bool | None) -> bool:
    """Whether /verify averages each face with its mirror: the VERIFY_FLIP setting, else
    what was best on LFW DevTrain for `embedder`."""
    return VERIFY_FLIP[embedder] if setting is None else setting


# L2 distance between unit embeddings below which two faces are the same person, per
# (embedder, flip averaging): the accuracy-maximising threshold of the API's pipeline
# (subject face, the embedder's crop, not centred) on LFW View 1 DevTrain, fitted
# by benchmarks/lfw_recipe.py ("thresholds" in results/lfw_recipe.json, which
# tests/benchmarks/test_shipped_thresholds.py holds these to). DevTest, which they were not
# fitted on, checks them (tests/vision/test_embedder.py).
VERIFY_THRESHOLDS: dict[tuple[str, bool], float] = {
    ("facenet128", False): 1.09,
    ("facenet128", True): 1.061,
    ("facenet512", False): 1.116,
    ("facenet512", True): 1.108,
}


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class Embedder:
    """One FaceNet session and the crop its faces are cut out with (`crop`); `embed` may
    be called from several threads at once
    (onnxruntime sessions allow concurrent `run`, and nothing else here is mutable).

    `wide`, when given, is the same model on several threads for a run that has the
    machine's cores to itself (api/vision/cores.py); it computes the same vectors."""

    def __init__(
        self,
        name: str,
        session: ort.InferenceSession,
        preprocess: Preprocess,
        precision: str = "fp32",
        mean: np.ndarray | None = None,
        wide: ort.InferenceSession | None = None,
    ) -> None:
        self.name = name
        self.crop = CROPS[name]
        self.precision = precision
        self.mean = mean
        self._session = session
        self._wide = wide
        self._preprocess = preprocess
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name
        self.dim = int(session.get_outputs()[0].shape[1])

    @property
    def has_wide(self) -> bool:
        return self._wide is not None

    def embed(
        self, faces: np.ndarray, flip: bool = False, *, centred: bool = True, wide: bool = False
    ) -> np.ndarray:
        """(N, 160, 160, 3) uint8 RGB -> (N, dim) float32 unit vectors, in one ORT run.

        `flip` also embeds the mirrored faces and averages (test-time augmentation):
        twice the embedding compute for a steadier vector. `centred=False` skips the
        mean subtraction (the raw vectors the build's mean is computed from). `wide` runs
        on the wide session where there is one (the caller holds the cores).
        """
        if faces.ndim != 4 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(
                f"expected (N, {INPUT_SIZE}, {INPUT_SIZE}, 3) faces, got {faces.shape}"
            )
        if faces.dtype != np.uint8:
            raise ValueError(f"expected uint8 faces, got {faces.dtype}")
        count = len(faces)
        if count == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        batch = self._preprocess(faces)
        if flip:
            batch = np.concatenate([batch, batch[:, :, ::-1]])
        session = self._wide if wide and self._wide is not None else self._session
        vectors = l2_normalise(session.run([self._output], {self._input: batch})[0])
        if flip:
            vectors = l2_normalise(vectors[:count] + vectors[count:])
        return self.centre(vectors) if centred else vectors

    def centre(self, vectors: np.ndarray) -> np.ndarray:
        """Raw unit vectors moved off the build's mean embedding, re-normalised (unchanged
        for an embedder loaded with `centred=False`)."""
        return vectors if self.mean is None else l2_normalise(vectors - self.mean)


def mean_is_current(mean: dict | None, model_sha256: str, crop: CropRecipe) -> bool:
    """A recorded mean embedding is of these weights and of faces cut out this way."""
    return (
        bool(mean) and mean.get("model_sha256") == model_sha256 and mean.get("crop") == asdict(crop)
    )


def mean_embedding(store: ModelStore, name: str) -> np.ndarray:
    """The mean embedding models/reference.py recorded for `name`'s current weights."""
    entry = store.entry(name)
    mean = entry.extra.get("mean_embedding")
    if not mean_is_current(mean, entry.sha256, CROPS[name]):
        state = "is stale (the weights or the crop changed)" if mean else "is missing"
        raise ModelError(
            f"the mean embedding of {name} in {store.root}/MANIFEST.json {state}; run `make models`"
        )
    return np.asarray(mean["vector"], dtype=np.float32)


def load_embedder(
    name: str,
    store: ModelStore,
    intra_op_threads: int | None = None,
    *,
    precision: str,
    centred: bool = False,
    wide_threads: int = 1,
) -> Embedder:
    """The embedder `name` (one of EMBEDDER_NAMES) at `precision` (one of PRECISIONS) from
    the verified model store (no default: callers say which, the API's being
    Settings.embedder_precision); its vectors centred on the build's mean embedding (that of
    the float32 weights, for both precisions) when `centred` (CENTRE_EMBEDDINGS); with a
    second session on `wide_threads` threads when more than one (IDLE_EMBED_THREADS)."""
    if name not in EMBEDDER_NAMES:
        raise ModelError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDER_NAMES)}")
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    model = name if precision == "fp32" else f"{name}_{precision}"
    session = store.session(model, intra_op_threads)
    wide = store.session(model, wide_threads, spinning=True) if wide_threads > 1 else None
    mean = mean_embedding(store, name) if centred else None
    return Embedder(name, session, PREPROCESSING[name][0], precision, mean, wide)
