"""Floating-point work of one forward pass, counted from an ONNX graph.

Convolutions and matrix products are where a CNN's arithmetic is (everything else is a
few per cent and memory-bound), so the count is 2 x the multiply-accumulates of every
Conv, MatMul and Gemm, with shapes from ONNX shape inference at batch 1. That is the
figure to divide a measured rate by to see how close a runtime comes to the machine.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Static shape of every tensor: graph inputs, weights and inferred intermediates."""
    shapes: dict[str, tuple[int, ...]] = {
        init.name: tuple(init.dims) for init in model.graph.initializer
    }
    for value in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(d.dim_value for d in dims)
    return shapes


def _fix_batch(model: onnx.ModelProto, batch: int) -> None:
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch


def _shape(shapes: dict[str, tuple[int, ...]], name: str, node: onnx.NodeProto) -> tuple[int, ...]:
    if name not in shapes:
        raise ValueError(f"{node.op_type} {node.name}: shape of {name!r} is not static")
    return shapes[name]


def count_macs(model: onnx.ModelProto) -> Counter[str]:
    """Multiply-accumulates per op type (Conv, MatMul, Gemm) at batch 1."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    _fix_batch(model, 1)
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    shapes = _shapes(inferred)
    macs: Counter[str] = Counter()
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            # every output element sums over (input channels / group) x kernel
            weight = _shape(shapes, node.input[1], node)
            output = _shape(shapes, node.output[0], node)
            macs["Conv"] += int(np.prod(output)) * int(np.prod(weight[1:]))
        elif node.op_type == "MatMul":
            left = _shape(shapes, node.input[0], node)
            output = _shape(shapes, node.output[0], node)
            macs["MatMul"] += int(np.prod(output)) * left[-1]
        elif node.op_type == "Gemm":
            left = _shape(shapes, node.input[0], node)
            output = _shape(shapes, node.output[0], node)
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            macs["Gemm"] += int(np.prod(output)) * (left[0] if trans_a else left[1])
    return macs


def flops_per_sample(path: Path) -> int:
    """2 x the Conv/MatMul/Gemm multiply-accumulates of one input of the model at `path`."""
    return 2 * sum(count_macs(onnx.load(str(path))).values())
