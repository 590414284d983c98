"""models/prelu.py: the rewritten graph computes exactly what PRelu computes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from models import prelu

# Slopes of every sign and size MTCNN's own have (-1.28 to 1.30), and two beyond.
SLOPES = np.array([-1.5, -0.4, 0.0, 0.25, 1.0, 1.3], np.float32).reshape(1, 6, 1, 1)


def conv_prelu_model() -> bytes:
    """Conv -> PRelu -> Conv, the shape of MTCNN's layers (slope per channel)."""
    rng = np.random.default_rng(7)
    weights = {
        "w1": rng.normal(0, 1, (6, 3, 3, 3)).astype(np.float32),
        "w2": rng.normal(0, 1, (2, 6, 1, 1)).astype(np.float32),
        "slope": SLOPES,
    }
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w1"], ["c1"]),
            helper.make_node("PRelu", ["c1", "slope"], ["a1"]),
            helper.make_node("Conv", ["a1", "w2"], ["y"]),
        ],
        "conv_prelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 10, 10])],
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


def test_the_rewrite_removes_prelu_and_keeps_every_bit() -> None:
    original = conv_prelu_model()
    rewritten = prelu.rewrite(original)
    ops = [node.op_type for node in onnx.load_from_string(rewritten).graph.node]
    assert ops == ["Conv", "Relu", "Min", "Mul", "Add", "Conv"]
    x = np.random.default_rng(1).normal(0, 50, (3, 3, 12, 12)).astype(np.float32)
    activation = run(rewritten, x, "a1")
    convolved = run(original, x, "c1")
    assert np.array_equal(activation, np.where(convolved > 0, convolved, convolved * SLOPES))
    assert (convolved < 0).any() and (convolved > 0).any()
    assert np.array_equal(run(rewritten, x), run(original, x))
    assert prelu.max_abs_diff(original, rewritten, x) == 0.0


def test_a_graph_without_prelu_is_left_as_it_was() -> None:
    once = prelu.rewrite(conv_prelu_model())
    assert prelu.rewrite(once) == once


def test_check_inputs_cover_both_signs_at_each_stages_size() -> None:
    for shape, side in ((("N", "W", "H", 3), 48), (("N", 24, 24, 3), 24)):
        inputs = prelu.check_inputs(shape)
        assert inputs.shape == (8, side, side, 3) and inputs.dtype == np.float32
        assert inputs.min() < -0.9 and inputs.max() > 0.9
