"""The machine's float32 GEMM rate: numpy (OpenBLAS) multiplying two n x n matrices.

2 n^3 FLOP per product, on a given number of BLAS threads: the rate a well-tuned dense
kernel reaches here, the yardstick of benchmarks/throughput.py. That script runs this one
in a child process with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from the
environment: some machines set them to pin an old, safe kernel (Haswell's AVX2 on an
AVX-512 CPU runs at half the rate), which would make the yardstick half the machine. The
kernel OpenBLAS then chose is recorded beside the figures.

Run: .venv/bin/python -m benchmarks.gemm_rate [--size 2048] [--repeats 3] [--threads 1 2]
(prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from benchmarks.common import fastest_times, run_json

# Variables that pin OpenBLAS's kernel or cache sizes instead of letting it detect the CPU.
PINNING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def gemm_gflops(threads: int, size: int, repeats: int) -> dict[str, float]:
    """GFLOP per wall second and per CPU second with `threads` BLAS threads."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b  # warm-up: the first call allocates the threads' buffers
        timing = fastest_times(repeats, np.matmul, a, b)
    flop = 2 * size**3
    return {
        "gflops": round(flop / timing.wall_s / 1e9, 1),
        "gflops_per_cpu_s": round(flop / timing.cpu_s / 1e9, 1),
    }


def blas_kernel() -> str:
    """The kernel family OpenBLAS runs (e.g. SkylakeX, Haswell), as threadpoolctl reports."""
    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return str(blas[0].get("architecture", "unknown")) if blas else "unknown"


def measure_unpinned(threads: tuple[int, ...], size: int, repeats: int) -> dict[str, Any]:
    """{"kernel": ..., "rates": {threads: rates}} from a child with the CPU detected."""
    environment = {k: v for k, v in os.environ.items() if k not in PINNING_VARIABLES}
    arguments = ["--size", str(size), "--repeats", str(repeats), "--threads", *map(str, threads)]
    result = run_json(sys.executable, "benchmarks.gemm_rate", *arguments, env=environment)
    return {"kernel": result["kernel"], "rates": {int(t): r for t, r in result["rates"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rates = {t: gemm_gflops(t, args.size, args.repeats) for t in args.threads}
    print(json.dumps({"kernel": blas_kernel(), "rates": rates}))


if __name__ == "__main__":
    main()
