"""FaceNet embeddings/s on TensorFlow, the runtime family the original framework used.

Runs in the build venv (`.venv-build/bin/python -m benchmarks.tf_throughput`), the only
one with TensorFlow; benchmarks/throughput.py starts it in a subprocess once per thread
count (TensorFlow fixes its thread pools at the first op) and reads the JSON line it
prints. The graphs are the very sources models/build.py converts to ONNX, loaded with
the converters' own code: facenet128 is the Keras model rebuilt from the h5 (run as a
tf.function, not eagerly), facenet512 the frozen graph with its batch made dynamic (run
in a TF1 session).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from benchmarks.rate import BATCHES, embeddings_per_second, model_inputs
from models import convert_facenet128, convert_facenet512
from models.build import RECIPES
from models.sources import obtain, read_member

log = logging.getLogger("benchmarks.tf_throughput")


def source_bytes(model: str) -> bytes:
    recipe = next(r for r in RECIPES if r.name == model)
    return read_member(obtain(recipe.archive), recipe.member)


def keras_runner(threads: int) -> Callable[[np.ndarray], np.ndarray]:
    del threads  # the process-wide pools were set in main()
    model = convert_facenet128.load_keras(source_bytes("facenet128"))
    forward = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
    return lambda batch: forward(tf.constant(batch)).numpy()


def frozen_graph_runner(threads: int) -> Callable[[np.ndarray], np.ndarray]:
    return convert_facenet512.dynamic_graph_runner(source_bytes("facenet512"), threads)[1]


RUNNERS = {"facenet128": keras_runner, "facenet512": frozen_graph_runner}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--faces", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(RUNNERS))
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rows = []
    for model in args.models:
        run = RUNNERS[model](args.threads)
        inputs = model_inputs(model, args.faces)
        for batch in BATCHES:
            rates = embeddings_per_second(run, inputs, batch, args.repeats)
            log.info("%s batch %d threads %d: %s", model, batch, args.threads, rates)
            rows.append({"model": model, "batch": batch, "threads": args.threads, **rates})
    print(json.dumps({"tensorflow": tf.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
