"""Checking a converted model against the framework it came from.

A conversion that loads is not a conversion that computes the same thing (a wrong
padding mode or a BatchNorm loaded without its scale still runs). So each converted file
is run next to its source framework on the same inputs: deterministic random images and
real face photos shipped inside the FaceNet sdist, both through the model's own
preprocessing, and the largest absolute output difference is recorded in the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from models.preprocessing import Preprocess

PARITY_TOLERANCE = 1e-4
RANDOM_IMAGES = 4
RANDOM_SEED = 20240607


@dataclass(frozen=True)
class Conversion:
    """A converted ONNX model and the source framework's forward pass to compare it with."""

    onnx: bytes
    reference: Callable[[np.ndarray], np.ndarray]
    source_framework: str


class ParityError(RuntimeError):
    """The converted model's outputs differ from the source framework's beyond tolerance."""


def random_faces(count: int = RANDOM_IMAGES, size: int = 160) -> np.ndarray:
    """Deterministic uint8 RGB images: smooth blobs plus noise, not flat uniform noise,
    so activations reach the ranges real photos produce."""
    rng = np.random.default_rng(RANDOM_SEED)
    coarse = rng.integers(0, 256, size=(count, 8, 8, 3)).astype(np.float32)
    smooth = np.repeat(np.repeat(coarse, size // 8, axis=1), size // 8, axis=2)
    noisy = smooth + rng.normal(0.0, 20.0, size=smooth.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def decode_faces(jpegs: list[bytes], size: int = 160) -> np.ndarray:
    """JPEG photos centre-cropped to a square and resized to `size`, as uint8 RGB.

    Decoded with TensorFlow, which the build has anyway (the build venv has no OpenCV).
    """
    import tensorflow as tf  # build-time only; imported here so a no-op build skips it

    faces = []
    for jpeg in jpegs:
        image = tf.io.decode_jpeg(jpeg, channels=3)
        side = int(min(image.shape[0], image.shape[1]))
        square = tf.image.resize_with_crop_or_pad(image, side, side)
        resized = tf.image.resize(square, (size, size), method="area")
        faces.append(np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8))
    return np.stack(faces)


def measure(
    conversion: Conversion, faces: np.ndarray, preprocess: Preprocess
) -> dict[str, float | int]:
    """Max abs difference between onnxruntime and the source framework on `faces`."""
    batch = preprocess(faces)
    session = ort.InferenceSession(conversion.onnx, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    onnx_out = session.run(None, {input_name: batch})[0]
    reference_out = np.asarray(conversion.reference(batch))
    if onnx_out.shape != reference_out.shape:
        raise ParityError(
            f"output shapes differ: onnx {onnx_out.shape}, source {reference_out.shape}"
        )
    return {
        "max_abs_diff": float(np.max(np.abs(onnx_out - reference_out))),
        "images": len(faces),
        "tolerance": PARITY_TOLERANCE,
    }


def check(result: dict[str, float | int], model_name: str) -> None:
    """Raise ParityError when the measured difference exceeds the tolerance."""
    if result["max_abs_diff"] > PARITY_TOLERANCE:
        raise ParityError(
            f"{model_name}: the built model differs from its source by "
            f"{result['max_abs_diff']:.3g} > {PARITY_TOLERANCE}"
        )
