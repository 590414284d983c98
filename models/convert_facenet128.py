"""FaceNet 128-d (Sandberg 20170512-110547) from its Keras 2.1 h5 to ONNX.

`keras.models.load_model` cannot read this file under Keras 3 or tf_keras: its 21 Lambda
layers hold marshalled Python 3.6 bytecode. Every Lambda computes the Inception-ResNet
residual `inputs[0] + inputs[1] * scale`, so we rebuild the graph from the h5's
`model_config` JSON with an explicit layer for that, and load the weights by layer name
with h5py. Only the nine layer kinds this file uses are mapped; anything else is an error.

Imported only when a conversion is needed (TensorFlow takes seconds to import).
"""

from __future__ import annotations

import io
import json
from typing import Any

import h5py
import keras
import numpy as np
import tensorflow as tf
import tf2onnx

from models.parity import Conversion

INPUT_SIZE = 160
OPSET = 13
FRAMEWORK = "Keras 3 on TensorFlow (graph rebuilt from the h5)"


@keras.saving.register_keras_serializable(package="facenet128")
class ScaleSum(keras.layers.Layer):
    """The residual merge the h5's Lambda layers hold as bytecode: a + b * scale."""

    def __init__(self, scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        return inputs[0] + inputs[1] * self.scale

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


def _layer(class_name: str, config: dict[str, Any]) -> keras.layers.Layer:
    """A Keras 3 layer equivalent to one Keras 2.1 layer config."""
    name = config["name"]
    if class_name == "Conv2D":
        return keras.layers.Conv2D(
            config["filters"],
            tuple(config["kernel_size"]),
            strides=tuple(config["strides"]),
            padding=config["padding"],
            use_bias=config["use_bias"],
            activation=config["activation"],
            name=name,
        )
    if class_name == "BatchNormalization":
        return keras.layers.BatchNormalization(
            axis=config["axis"],
            epsilon=config["epsilon"],
            center=config["center"],
            scale=config["scale"],
            name=name,
        )
    if class_name == "Activation":
        return keras.layers.Activation(config["activation"], name=name)
    if class_name == "MaxPooling2D":
        return keras.layers.MaxPooling2D(
            tuple(config["pool_size"]),
            strides=tuple(config["strides"]),
            padding=config["padding"],
            name=name,
        )
    if class_name == "Concatenate":
        return keras.layers.Concatenate(axis=config["axis"], name=name)
    if class_name == "GlobalAveragePooling2D":
        return keras.layers.GlobalAveragePooling2D(name=name)
    if class_name == "Dropout":
        return keras.layers.Dropout(config["rate"], name=name)
    if class_name == "Dense":
        return keras.layers.Dense(
            config["units"], use_bias=config["use_bias"], activation=config["activation"], name=name
        )
    if class_name == "Lambda":
        return ScaleSum(config["arguments"]["scale"], name=name)
    raise ValueError(f"unexpected layer {class_name} ({name}) in the FaceNet h5")


def _rebuild(model_config: dict[str, Any]) -> keras.Model:
    """The functional graph of `model_config`, layers built in the file's (topological) order."""
    config = model_config["config"]
    tensors: dict[str, keras.KerasTensor] = {}
    for spec in config["layers"]:
        name = spec["name"]
        if spec["class_name"] == "InputLayer":
            tensors[name] = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), name=name)
            continue
        (node,) = spec["inbound_nodes"]  # every layer here is called exactly once
        inputs = [tensors[inbound[0]] for inbound in node]
        layer = _layer(spec["class_name"], spec["config"])
        tensors[name] = layer(inputs if len(inputs) > 1 else inputs[0])
    (input_name, _, _) = config["input_layers"][0]
    (output_name, _, _) = config["output_layers"][0]
    return keras.Model(tensors[input_name], tensors[output_name], name="facenet128")


def _load_weights(model: keras.Model, weights: h5py.Group) -> int:
    """Set every weighted layer from the h5 group of the same name; returns how many."""
    loaded = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        group = weights[layer.name]
        arrays = [np.asarray(group[name]) for name in group.attrs["weight_names"]]
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            raise ValueError(f"{layer.name}: h5 shapes {[a.shape for a in arrays]} != {expected}")
        layer.set_weights(arrays)
        loaded += 1
    weighted_in_file = sum(
        1 for name in weights if weights[name].attrs.get("weight_names", []).size
    )
    if loaded != weighted_in_file:
        raise ValueError(f"loaded {loaded} weighted layers, the h5 has {weighted_in_file}")
    return loaded


def load_keras(h5_bytes: bytes) -> keras.Model:
    """The FaceNet Keras model with the h5's weights, ready for inference."""
    with h5py.File(io.BytesIO(h5_bytes), "r") as h5:
        model = _rebuild(json.loads(h5.attrs["model_config"]))
        _load_weights(model, h5["model_weights"])
    return model


def convert(h5_bytes: bytes) -> Conversion:
    """ONNX (opset 13, input `input` NHWC float32 [N,160,160,3]) plus the Keras reference."""
    model = load_keras(h5_bytes)
    signature = (tf.TensorSpec((None, INPUT_SIZE, INPUT_SIZE, 3), tf.float32, name="input"),)
    onnx_model, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET)

    def reference(batch: np.ndarray) -> np.ndarray:
        return model(batch, training=False).numpy()

    return Conversion(
        onnx=onnx_model.SerializeToString(), reference=reference, source_framework=FRAMEWORK
    )
