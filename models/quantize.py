"""int8 FaceNet: onnxruntime static quantization of a built float32 FaceNet.

int8 dot products run at several times the float32 rate on the CPU's vector units. The
recipe (../shared/docs/models.md, then measured here on 100 LFW faces, cosine of each
int8 embedding to its float32 one, min / mean):
- `quant_pre_process` (graph optimisation and shape inference; symbolic shape inference
  skipped: tf2onnx's graph has none to add and it fails on it);
- `quantize_static`, QDQ format (the form onnxruntime fuses into integer kernels),
  per-channel weights (one scale per output channel: FaceNet's convolutions differ by
  orders of magnitude channel to channel), MinMax calibration;
- QUInt8 activations x QInt8 weights with `reduce_range` (7-bit weights). Without it, on a
  CPU with AVX2 but no VNNI (this machine kind: AMD EPYC, avx2, no avx512/vnni flag)
  onnxruntime's u8 x s8 kernel (vpmaddubsw) saturates its 16-bit pair sums: 0.82 / 0.94
  (S8S8 the same: it runs on the same kernel). reduce_range: 0.968 / 0.991, and 3x the
  float32 speed. U8U8 is exact (0.9965 / 0.9989) but no faster than float32 here, so
  pointless.
- The first two convolutions (FLOAT_CONVOLUTIONS) stay float32, so the image itself is
  never quantized. Measured on 345 LFW DevTrain faces (facenet128, per-tensor error of
  every activation against the float32 model with onnxruntime's qdq_loss_debug, then
  embeddings): the signal-to-noise ratio fell from 41 dB at the first convolution's input
  to 26 dB after the second, where 7-bit weights on an 8-bit image lose most; every later
  layer costs a dB or less. Cosine to float32 min / mean: all quantized 0.961 / 0.9913;
  the second convolution float32 0.993 / 0.9979; the first two 0.996 / 0.9991 (8-bit
  weights everywhere instead, on a VNNI CPU only: 0.996 / 0.9989). facenet512: 0.9976 /
  0.9989 -> 0.9984 / 0.9993. Cost: 0.6 ms a face at batch 1 on one thread (9.0 -> 9.6 ms,
  float32 25 ms): those two layers run on 3 and 32 input channels. Percentile calibration
  (99.99, 99.999) and calibrating on mirrored faces too changed nothing (0.991-0.992).
- Calibrated on the faces in the FaceNet sdist's own example photos (`train/`, 5 people),
  checked on those of its `val/` photos, which calibration never saw: cosine of each int8
  embedding to the float32 one, recorded in the manifest; the build fails under
  COSINE_FLOOR. The faces are cut out exactly as the API cuts them (its MTCNN and
  align_face, on the MTCNN files built just before): calibrated on whole photos
  centre-cropped instead, the activation ranges are a photo's, not a face's, and LFW faces
  came out at cosine 0.977 (min) instead of 0.997.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from models.preprocessing import Preprocess
from models.runtime import ModelStore

# Lowest cosine between an int8 embedding and its float32 one that a build accepts, and
# the lowest mean. Measured on the val photos' faces: facenet128 0.9982 / 0.9991,
# facenet512 0.9986 / 0.9992 (with the image quantized too: 0.977 / 0.990); a saturating
# kernel or a broken calibration gives 0.7-0.8 / 0.92-0.94.
COSINE_FLOOR = 0.99
MEAN_COSINE_FLOOR = 0.997
CALIBRATION_BATCH = 8
FLOAT_CONVOLUTIONS = 2
# onnxruntime's quantize_static settings (see the module docstring for each choice).
QUANTIZATION: dict[str, Any] = {
    "quant_format": QuantFormat.QDQ,
    "per_channel": True,
    "activation_type": QuantType.QUInt8,
    "weight_type": QuantType.QInt8,
    "reduce_range": True,
    "calibrate_method": CalibrationMethod.MinMax,
}
# What a built int8 file was made with, recorded in its manifest entry, derived from the
# settings themselves so that no change to them goes unrecorded: a file made by another
# recipe is rebuilt by the next `make models` (models/build.py pending).
RECIPE: dict[str, Any] = {
    **{key: getattr(value, "name", value) for key, value in QUANTIZATION.items()},
    "float32_convolutions": FLOAT_CONVOLUTIONS,
}


class QuantizationError(RuntimeError):
    """The int8 model's embeddings stray from the float32 ones beyond COSINE_FLOOR."""


class _Batches(CalibrationDataReader):
    """Preprocessed calibration faces, CALIBRATION_BATCH at a time."""

    def __init__(self, input_name: str, batch: np.ndarray) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(
            {input_name: batch[start : start + CALIBRATION_BATCH]}
            for start in range(0, len(batch), CALIBRATION_BATCH)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def calibration_crop(embedder: str) -> dict[str, Any]:
    """How the API cuts out `embedder`'s faces, as the manifest records it: activation
    ranges calibrated on faces cut out another way are stale (models/build.py rebuilds)."""
    from api.vision.embedder import CROPS  # the runtime's own crop recipe

    return asdict(CROPS[embedder])


def face_crops(jpegs: list[bytes], models: ModelStore, embedder: str) -> np.ndarray:
    """The largest face of each photo that has one, as the API would embed it for
    `embedder`: uint8 RGB (N, 160, 160, 3)."""
    from api.vision import MtcnnDetector, align_face  # the runtime's own crop recipe
    from api.vision.embedder import CROPS

    detector = MtcnnDetector(models)
    crops = []
    for jpeg in jpegs:
        bgr = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        faces = detector.detect(rgb)
        if faces:
            crops.append(align_face(rgb, faces[0], CROPS[embedder]))
    return np.stack(crops)


def quantize(fp32_onnx: bytes, calibration: np.ndarray, preprocess: Preprocess) -> bytes:
    """The int8 QDQ model of `fp32_onnx`, calibrated on uint8 RGB `calibration` faces."""
    input_name = _session(fp32_onnx).get_inputs()[0].name
    with tempfile.TemporaryDirectory(prefix="facenet-int8-") as scratch:
        folder = Path(scratch)
        source, prepared, quantized = (folder / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        source.write_bytes(fp32_onnx)
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared)).graph  # nodes in topological order
        first_convolutions = [n.name for n in graph.node if n.op_type == "Conv"]
        quantize_static(
            str(prepared),
            str(quantized),
            _Batches(input_name, preprocess(calibration)),
            nodes_to_exclude=first_convolutions[:FLOAT_CONVOLUTIONS],
            **QUANTIZATION,
        )
        return quantized.read_bytes()


def _session(onnx: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cosine_parity(
    fp32_onnx: bytes, int8_onnx: bytes, faces: np.ndarray, preprocess: Preprocess
) -> dict[str, Any]:
    """Cosine of each face's int8 embedding to its float32 one: mean, min, count."""
    batch = preprocess(faces)
    outputs = []
    for model in (fp32_onnx, int8_onnx):
        session = _session(model)
        outputs.append(_unit(session.run(None, {session.get_inputs()[0].name: batch})[0]))
    cosines = np.sum(outputs[0] * outputs[1], axis=1)
    return {
        "cosine_mean": round(float(cosines.mean()), 5),
        "cosine_min": round(float(cosines.min()), 5),
        "face_images": len(faces),
        "cosine_floor": COSINE_FLOOR,
        "mean_cosine_floor": MEAN_COSINE_FLOOR,
    }


def check(record: dict[str, Any], model_name: str) -> None:
    """Raise QuantizationError when any face's cosine, or their mean, fell under its floor."""
    if record["cosine_min"] < COSINE_FLOOR or record["cosine_mean"] < MEAN_COSINE_FLOOR:
        raise QuantizationError(
            f"{model_name}: int8 embeddings' cosine to float32: min {record['cosine_min']:.4f}"
            f" (floor {COSINE_FLOOR}), mean {record['cosine_mean']:.4f} (floor "
            f"{MEAN_COSINE_FLOOR})"
        )
