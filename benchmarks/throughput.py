"""FaceNet throughput against the limits: onnxruntime vs TensorFlow vs the machine.

- embeddings/s of both FaceNet graphs on onnxruntime (the API's sessions, from
  models.runtime.ModelStore) and on TensorFlow (the same weights in their source graphs,
  benchmarks/tf_throughput.py in the build venv), batch 1 and 16, 1 and 2 threads;
- the machine's float32 GEMM rate: numpy (OpenBLAS) multiplying two n x n matrices,
  2 n^3 FLOP, on 1 and 2 BLAS threads, with the kernel OpenBLAS picks for this CPU
  (benchmarks/gemm_rate.py): the rate a well-tuned dense kernel reaches here;
- the model's FLOPs per face, counted from the ONNX graph (benchmarks/flops.py);
- so the fraction of the machine's GEMM rate each runtime reaches.
Inputs are preprocessed before timing; each figure is the best of --repeats passes.

Rates are given per wall second (what a caller sees, inflated by whatever else runs on
the machine) and per CPU second of the measuring process (what the work costs on idle
cores; benchmarks.common.fastest_times). The share of the limit compares FLOP per CPU
second of the model with FLOP per CPU second of the GEMM at the same thread count, so
other jobs on a shared machine do not distort it.

Run: .venv/bin/python -m benchmarks.throughput [--faces 32] [--repeats 3] [--no-tensorflow]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from api.vision import EMBEDDER_NAMES
from benchmarks.common import (
    REPO_ROOT,
    RESULTS,
    chart,
    load_average,
    markdown_table,
    run_json,
    write_result,
)
from benchmarks.flops import flops_per_sample
from benchmarks.gemm_rate import measure_unpinned
from benchmarks.rate import BATCHES, embeddings_per_second, model_inputs
from models.runtime import ModelStore

log = logging.getLogger("benchmarks.throughput")

THREADS = (1, 2)
GEMM_SIZE = 2048
BUILD_PYTHON = REPO_ROOT / ".venv-build" / "bin" / "python"


def onnxruntime_rows(store: ModelStore, faces: int, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for model in EMBEDDER_NAMES:
        inputs = model_inputs(model, faces)
        for threads in THREADS:
            session = store.session(model, intra_op_threads=threads)

            def run(batch: np.ndarray, session: Any = session) -> Any:
                return session.run(None, {session.get_inputs()[0].name: batch})

            for batch in BATCHES:
                rates = embeddings_per_second(run, inputs, batch, repeats)
                log.info("onnxruntime %s batch %d threads %d: %s", model, batch, threads, rates)
                row = {"model": model, "batch": batch, "threads": threads, **rates}
                rows.append({"runtime": "onnxruntime", **row})
    return rows


def tensorflow_rows(faces: int, repeats: int) -> tuple[list[dict[str, Any]], str | None]:
    """TensorFlow's rows from one build-venv subprocess per thread count; none (with the
    reason logged) where the build venv is missing or the run fails."""
    if not BUILD_PYTHON.is_file():
        log.warning("no %s (make build-venv): TensorFlow figures skipped", BUILD_PYTHON)
        return [], None
    rows, version = [], None
    for threads in THREADS:
        arguments = ["--threads", str(threads), "--faces", str(faces), "--repeats", str(repeats)]
        try:
            report = run_json(BUILD_PYTHON, "benchmarks.tf_throughput", *arguments, timeout=900)
        except subprocess.CalledProcessError as failed:
            log.warning("TensorFlow run failed: %s", failed.stderr.strip().splitlines()[-1:])
            return [], None
        version = report["tensorflow"]
        rows += [{"runtime": "tensorflow", **row} for row in report["rows"]]
    return rows, version


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    with chart(path, 1, len(EMBEDDER_NAMES), figsize=(11, 4.5), squeeze=False, dpi=110) as axes:
        runtimes = sorted({r["runtime"] for r in rows})
        settings = [(b, t) for t in THREADS for b in BATCHES]
        x = np.arange(len(settings))
        width = 0.8 / len(runtimes)
        for axis, model in zip(axes[0], EMBEDDER_NAMES, strict=True):
            for i, runtime in enumerate(runtimes):
                values = [
                    next(
                        (
                            r["limit_fraction"] * 100
                            for r in rows
                            if (r["runtime"], r["model"], r["batch"], r["threads"])
                            == (runtime, model, b, t)
                        ),
                        0.0,
                    )
                    for b, t in settings
                ]
                axis.bar(x + i * width, values, width, label=runtime)
            axis.axhline(100, color="grey", linestyle=":", linewidth=1)
            axis.set_xticks(
                x + width * (len(runtimes) - 1) / 2, [f"batch {b}\n{t} thr" for b, t in settings]
            )
            axis.set(
                ylabel="% of float32 GEMM FLOP per CPU-second", title=f"{model}: share of the limit"
            )
            axis.legend(fontsize=8)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=32, help="faces per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-tensorflow", action="store_true")
    args = parser.parse_args()
    load_before = load_average()
    store = ModelStore()
    flops = {model: flops_per_sample(store.path(model)) for model in EMBEDDER_NAMES}
    measured = measure_unpinned(THREADS, GEMM_SIZE, args.repeats)
    gemm, kernel = measured["rates"], measured["kernel"]
    log.info("GEMM (%s kernel) %s; FLOPs/face %s", kernel, gemm, flops)
    rows = onnxruntime_rows(store, args.faces, args.repeats)
    tf_version = None
    if not args.no_tensorflow:
        tf_rows, tf_version = tensorflow_rows(args.faces, args.repeats)
        rows += tf_rows
    for row in rows:
        row["gflops"] = round(row["per_s"] * flops[row["model"]] / 1e9, 1)
        row["gflops_per_cpu_s"] = round(row["per_cpu_s"] * flops[row["model"]] / 1e9, 1)
        row["limit_fraction"] = round(
            row["gflops_per_cpu_s"] / gemm[row["threads"]]["gflops_per_cpu_s"], 3
        )
    table = markdown_table(
        [
            "model",
            "runtime",
            "batch",
            "threads",
            "embeddings/s",
            "per CPU-second",
            "GFLOP per CPU-second",
            "share of GEMM rate",
        ],
        [
            [
                r["model"],
                r["runtime"],
                r["batch"],
                r["threads"],
                r["per_s"],
                r["per_cpu_s"],
                r["gflops_per_cpu_s"],
                f"{r['limit_fraction']:.0%}",
            ]
            for r in sorted(
                rows, key=lambda r: (r["model"], r["threads"], r["batch"], r["runtime"])
            )
        ],
    )
    limits = markdown_table(
        ["machine limit", "1 thread", "2 threads"],
        [
            [
                f"numpy float32 GEMM ({kernel} kernel), GFLOP/s",
                gemm[1]["gflops"],
                gemm[2]["gflops"],
            ],
            ["the same per CPU-second", gemm[1]["gflops_per_cpu_s"], gemm[2]["gflops_per_cpu_s"]],
        ]
        + [[f"{m}: GFLOP per face", f"{flops[m] / 1e9:.2f}", ""] for m in EMBEDDER_NAMES],
    )
    markdown = table + "\n\n" + limits
    print(markdown)
    write_result(
        "throughput",
        {
            "load_average_before": load_before,
            "faces_per_pass": args.faces,
            "repeats": args.repeats,
            "gemm_size": GEMM_SIZE,
            "gemm": {str(t): v for t, v in gemm.items()},
            "gemm_kernel": kernel,
            "flops_per_face": flops,
            "onnxruntime": metadata.version("onnxruntime"),
            "tensorflow": tf_version,
            "results": rows,
            "markdown": markdown,
        },
    )
    plot(rows, RESULTS / "throughput.png")


if __name__ == "__main__":
    main()
