"""FLOP counting on ONNX graphs small enough to count by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is in benchmarks/requirements.txt (make bench)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from benchmarks.flops import count_macs, flops_per_sample  # noqa: E402


def tiny_model() -> onnx.ModelProto:
    """Dynamic-batch NCHW 3x8x8 -> Conv 4x3x3 pad 1 (stride 1) -> grouped Conv -> flatten
    -> MatMul to 10 -> Gemm (transB) to 5."""
    weights = [
        numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w_conv"),
        numpy_helper.from_array(np.ones((4, 2, 1, 1), np.float32), "w_group"),
        numpy_helper.from_array(np.array([1, 256], np.int64), "flat_shape"),
        numpy_helper.from_array(np.ones((256, 10), np.float32), "w_matmul"),
        numpy_helper.from_array(np.ones((5, 10), np.float32), "w_gemm"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w_conv"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w_group"], ["c2"], group=2),
        helper.make_node("Reshape", ["c2", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w_matmul"], ["m"]),
        helper.make_node("Gemm", ["m", "w_gemm"], ["y"], transB=1),
        helper.make_node("Relu", ["y"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_macs_of_each_op_kind_at_batch_one() -> None:
    macs = count_macs(tiny_model())
    assert macs["Conv"] == 4 * 8 * 8 * (3 * 3 * 3) + 4 * 8 * 8 * 2  # plain + grouped (2 in/out)
    assert macs["MatMul"] == 256 * 10
    assert macs["Gemm"] == 10 * 5


def test_flops_are_twice_the_macs(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_model(), str(path))
    assert flops_per_sample(path) == 2 * (4 * 64 * 27 + 4 * 64 * 2 + 2560 + 50)


def test_a_shape_that_cannot_be_inferred_is_an_error() -> None:
    model = tiny_model()
    # the MatMul's left operand now comes from a graph input of unknown width
    model.graph.input.append(helper.make_tensor_value_info("free", TensorProto.FLOAT, [1, "K"]))
    model.graph.node[3].input[0] = "free"
    with pytest.raises(ValueError, match="not static"):
        count_macs(model)
