"""MTCNN's PRelu activations rewritten into nodes onnxruntime runs fast: same outputs.

onnxruntime's CPU PRelu (1.31) runs a per-channel slope far slower than plain kernels: in
O-Net on 4 candidates it took 44% of the run, as long as all four convolutions. Written as
element-wise nodes, Relu(x) + slope * Min(x, 0), it still cost: onnxruntime runs
convolutions in a blocked channel layout (NCHWc) that carries Conv, pooling, Relu and Add
but not Min or a per-channel Mul, so every convolution's output was reordered out of it
for four passes and back in for the pooling (O-Net on 6 candidates: 870 of its 2,320 us
in the first layer alone). A per-channel multiply is a 1x1 depthwise convolution, which
that layout does carry, so a convolution's PRelu is rewritten as

    Relu(x) + DepthwiseConv(-slope)(Relu(DepthwiseConv(-1)(x)))

where the first Relu-ed depthwise convolution fuses into one node and the Add into the
second convolution: nothing leaves the layout. The PRelu of a dense layer (a vector,
outside that layout) keeps the element-wise form. One thread of an Intel Xeon (AVX-512),
median of 300 runs, member / element-wise form / today's: O-Net on 4 candidates
1.74 / 1.31 / 0.87 ms, on 6 2.62 / 2.14 / 1.30 ms; R-Net on 17 1.45 / 0.96 / 0.71 ms;
P-Net on a 150x107 level 1.41 / 0.95 / 0.87 ms.

Both forms are exact in IEEE arithmetic, not approximations: multiplying by -1 is exact,
and where x > 0 the second term is a (signed) zero added to x, elsewhere the first term is
0 and the second is -slope * -x, the very product PRelu computes, whatever the slope's
sign or size. The build still runs both graphs on the same inputs and records the largest
difference (models/build.py; measured 0.0 on every output).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from models.parity import random_faces
from models.preprocessing import fixed_standardise

# Recorded in the manifest: a file made by another rewrite (or none) is rebuilt.
REWRITE = (
    "PRelu(x, slope) -> Relu(x) + DepthwiseConv(-slope)(Relu(DepthwiseConv(-1)(x))) "
    "per channel, Relu(x) + slope * Min(x, 0) on vectors"
)
ZERO = "prelu_rewrite_zero"
CHECK_SIDE = 48  # P-Net takes any size; R-Net and O-Net their fixed one


def rewrite(onnx_bytes: bytes) -> bytes:
    """The model with every PRelu node replaced, in place (the graph's node order stays
    topological; each keeps the PRelu's output name), and the initializers no node reads
    any more dropped (the slopes now depthwise weights; ZERO where no Min needs it); a
    model without PRelu comes back as it was."""
    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    if not any(node.op_type == "PRelu" for node in graph.node):
        return onnx_bytes
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    added: list[onnx.TensorProto] = []
    nodes = list(_expanded(graph.node, constants, added))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), ZERO))
    read = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def channel_slopes(slope: np.ndarray | None) -> np.ndarray | None:
    """The slopes as depthwise 1x1 weights (C, 1, 1, 1) when they are one per channel of
    an NCHW activation ((1, C, 1, 1) or (C, 1, 1)), else None. A single slope is None too:
    broadcast over channels whose number the graph does not say here."""
    if slope is None or slope.ndim not in (3, 4) or slope.size < 2:
        return None
    if slope.size != slope.shape[-3]:
        return None
    return slope.reshape(slope.size, 1, 1, 1).astype(np.float32)


def _expanded(
    nodes: list[onnx.NodeProto],
    constants: dict[str, np.ndarray],
    added: list[onnx.TensorProto],
) -> Iterator[onnx.NodeProto]:
    """`nodes` with each PRelu replaced by its rewrite; the depthwise weights it needs are
    appended to `added`."""
    for node in nodes:
        if node.op_type != "PRelu":
            yield node
            continue
        x, slope = node.input
        out = node.output[0]
        weights = channel_slopes(constants.get(slope))
        yield helper.make_node("Relu", [x], [f"{out}/positive"])
        if weights is None:
            yield helper.make_node("Min", [x, ZERO], [f"{out}/negative"])
            yield helper.make_node("Mul", [f"{out}/negative", slope], [f"{out}/scaled"])
        else:
            channels = len(weights)
            added.append(numpy_helper.from_array(-np.ones_like(weights), f"{out}/minus_one"))
            added.append(numpy_helper.from_array(-weights, f"{out}/minus_slope"))
            depthwise = {"group": channels, "kernel_shape": [1, 1]}
            yield helper.make_node("Conv", [x, f"{out}/minus_one"], [f"{out}/negated"], **depthwise)
            yield helper.make_node("Relu", [f"{out}/negated"], [f"{out}/negative_part"])
            yield helper.make_node(
                "Conv",
                [f"{out}/negative_part", f"{out}/minus_slope"],
                [f"{out}/scaled"],
                **depthwise,
            )
        yield helper.make_node("Add", [f"{out}/positive", f"{out}/scaled"], [out])


def check_inputs(input_shape: tuple[int | str, ...]) -> np.ndarray:
    """Inputs for comparing the two graphs of one MTCNN stage: deterministic smooth
    images in the networks' [-1, 1] scaling, and uniform noise over that whole range
    (every activation's both signs)."""
    side = input_shape[1] if isinstance(input_shape[1], int) else CHECK_SIDE
    images = random_faces(4, side)
    noise = np.random.default_rng(0).uniform(-1.0, 1.0, images.shape).astype(np.float32)
    return np.concatenate([fixed_standardise(images), noise])  # MTCNN's (x - 127.5) / 128


def max_abs_diff(original: bytes, rewritten: bytes, inputs: np.ndarray) -> float:
    """The largest difference between the two graphs over every output."""
    outputs = []
    for onnx_bytes in (original, rewritten):
        session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {session.get_inputs()[0].name: inputs}))
    return max(float(np.max(np.abs(a - b))) for a, b in zip(*outputs, strict=True))
