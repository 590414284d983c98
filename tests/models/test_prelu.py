"""models/prelu.py: the rewritten graph computes exactly what PRelu computes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from models import prelu

# Slopes of every sign and size MTCNN's own have (-1.28 to 1.30), and two beyond.
SLOPES = np.array([-1.5, -0.4, 0.0, 0.25, 1.0, 1.3], np.float32).reshape(1, 6, 1, 1)


def conv_prelu_model() -> bytes:
    """Conv -> PRelu -> Conv, the shape of MTCNN's convolution layers (slope per channel)."""
    rng = np.random.default_rng(7)
    return model_of(
        [
            helper.make_node("Conv", ["x", "w1"], ["c1"]),
            helper.make_node("PRelu", ["c1", "slope"], ["a1"]),
            helper.make_node("Conv", ["a1", "w2"], ["y"]),
        ],
        {
            "w1": rng.normal(0, 1, (6, 3, 3, 3)).astype(np.float32),
            "w2": rng.normal(0, 1, (2, 6, 1, 1)).astype(np.float32),
            "slope": SLOPES,
        },
        ["N", 3, 12, 12],
        ["N", 2, 10, 10],
    )


def dense_prelu_model() -> bytes:
    """Gemm -> PRelu -> Gemm, the shape of MTCNN's dense layers (slope per unit)."""
    rng = np.random.default_rng(8)
    return model_of(
        [
            helper.make_node("Gemm", ["x", "w1"], ["c1"]),
            helper.make_node("PRelu", ["c1", "slope"], ["a1"]),
            helper.make_node("Gemm", ["a1", "w2"], ["y"]),
        ],
        {
            "w1": rng.normal(0, 1, (5, 6)).astype(np.float32),
            "w2": rng.normal(0, 1, (6, 2)).astype(np.float32),
            "slope": SLOPES.reshape(6),
        },
        ["N", 5],
        ["N", 2],
    )


def model_of(
    nodes: list[onnx.NodeProto],
    weights: dict[str, np.ndarray],
    x_shape: list[int | str],
    y_shape: list[int | str],
) -> bytes:
    graph = helper.make_graph(
        nodes,
        "prelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 8
    return model.SerializeToString()


def run(onnx_bytes: bytes, x: np.ndarray, output: str = "y") -> np.ndarray:
    model = onnx.load_from_string(onnx_bytes)
    if output != "y":  # expose an inner tensor as an output too
        model.graph.output.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run([output], {"x": x})[0]


@pytest.mark.parametrize(
    ("model", "x_shape", "ops", "slopes"),
    [
        (
            conv_prelu_model,
            (3, 3, 12, 12),
            ["Conv", "Relu", "Conv", "Relu", "Conv", "Add", "Conv"],
            SLOPES,
        ),
        (
            dense_prelu_model,
            (40, 5),
            ["Gemm", "Relu", "Min", "Mul", "Add", "Gemm"],
            SLOPES[0, :, 0, 0],
        ),
    ],
    ids=["per-channel: depthwise convolutions", "dense: element-wise"],
)
def test_the_rewrite_removes_prelu_and_keeps_every_bit(
    model: Callable[[], bytes], x_shape: tuple[int, ...], ops: list[str], slopes: np.ndarray
) -> None:
    original = model()
    rewritten = prelu.rewrite(original)
    graph = onnx.load_from_string(rewritten).graph
    assert [node.op_type for node in graph.node] == ops
    read = {name for node in graph.node for name in node.input}
    assert {init.name for init in graph.initializer} <= read  # the PRelu slope is gone
    x = np.random.default_rng(1).normal(0, 50, x_shape).astype(np.float32)
    activation = run(rewritten, x, "a1")
    before = run(original, x, "c1")
    assert np.array_equal(activation, np.where(before > 0, before, before * slopes))
    assert (before < 0).any() and (before > 0).any()
    assert np.array_equal(run(rewritten, x), run(original, x))
    assert prelu.max_abs_diff(original, rewritten, x) == 0.0


def test_only_one_slope_per_channel_becomes_depthwise_weights() -> None:
    for shape in ((1, 6, 1, 1), (6, 1, 1)):
        weights = prelu.channel_slopes(SLOPES.reshape(shape))
        assert weights is not None and weights.shape == (6, 1, 1, 1)
        assert np.array_equal(weights.ravel(), SLOPES.ravel())
    for other in (SLOPES.reshape(6), SLOPES.reshape(1, 1, 6, 1), np.ones((1, 1, 1, 1)), None):
        assert prelu.channel_slopes(other) is None


def test_a_graph_without_prelu_is_left_as_it_was() -> None:
    once = prelu.rewrite(conv_prelu_model())
    assert prelu.rewrite(once) == once


def test_check_inputs_cover_both_signs_at_each_stages_size() -> None:
    for shape, side in ((("N", "W", "H", 3), 48), (("N", 24, 24, 3), 24)):
        inputs = prelu.check_inputs(shape)
        assert inputs.shape == (8, side, side, 3) and inputs.dtype == np.float32
        assert inputs.min() < -0.9 and inputs.max() > 0.9
