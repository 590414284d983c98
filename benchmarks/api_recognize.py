"""Throughput and latency of POST /api/v1/recognize through gunicorn, on edge-sized crops.

Starts real gunicorn servers on loopback (SQLite, a temporary MODEL_DIR), enrols 20 LFW
people, trains, then sends 250x250 LFW face crops (the size an edge crop of a face at a
few metres has) at concurrency 1, 2, 4 and 8 with the shipped configuration (workers =
cores, 2 threads each), and compares worker/thread layouts at concurrency 4.

Run: .venv/bin/python -m benchmarks.api_recognize [--requests-per-level 80]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import RESULTS, SHARED, chart, markdown_table, write_result
from tests.api.client import create_person, enrol, train
from tests.live_api import ApiProcess

CONCURRENCY = (1, 2, 4, 8)
LAYOUTS = ((2, 2), (1, 4), (4, 1), (2, 4))  # (workers, threads)


def lfw_people() -> dict[str, list[Path]]:
    root = SHARED / "data" / "lfw-ident20"
    return {d.name.lower(): sorted(d.glob("*.jpg")) for d in sorted(root.iterdir())}


def prepare(server: ApiProcess, people: dict[str, list[Path]]) -> None:
    """Enrol 3 images of each person (largest face) and train."""
    for person_id, images in people.items():
        create_person(server.url, person_id).raise_for_status()
        enrol(server.url, person_id, images[:3])
    job = train(server.url)
    assert job["status"] == "succeeded", job


def load(server: ApiProcess, probes: list[bytes], concurrency: int, total: int) -> dict[str, Any]:
    session_per_thread: dict[int, requests.Session] = {}

    def one(index: int) -> tuple[float, int]:
        session = session_per_thread.setdefault(threading.get_ident(), requests.Session())
        started = time.perf_counter()
        response = session.post(
            f"{server.url}/api/v1/recognize",
            files={"image": ("crop.jpg", probes[index % len(probes)])},
            timeout=120,
        )
        response.raise_for_status()
        return time.perf_counter() - started, len(response.json()["faces"])

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency * 2)))  # warm-up: every worker, every thread
        started = time.perf_counter()
        results = list(pool.map(one, range(total)))
        wall = time.perf_counter() - started
    latencies = sorted(seconds for seconds, _ in results)
    faces = sum(count for _, count in results)

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, round(q * (len(latencies) - 1)))] * 1000

    return {
        "concurrency": concurrency,
        "requests": total,
        "faces": faces,
        "faces_per_s": round(faces / wall, 2),
        "requests_per_s": round(total / wall, 2),
        "p50_ms": round(percentile(0.50), 1),
        "p99_ms": round(percentile(0.99), 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


def run_server(folder: Path, workers: int, threads: int) -> ApiProcess:
    return ApiProcess(
        env={
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "MODEL_DIR": str(folder / "models"),
        },
        workers=workers,
        threads=threads,
        log_path=folder / f"gunicorn-{workers}x{threads}.log",
    ).start()


def plot(levels: list[dict[str, Any]], path: Path) -> None:
    with chart(path, 1, 2, figsize=(10, 4), dpi=100) as (left, right):
        x = [row["concurrency"] for row in levels]
        left.plot(x, [row["p50_ms"] for row in levels], "o-", label="p50")
        left.plot(x, [row["p99_ms"] for row in levels], "s--", label="p99")
        left.set(
            xlabel="concurrent clients", ylabel="latency (ms)", title="/api/v1/recognize latency"
        )
        left.legend()
        right.bar([str(c) for c in x], [row["faces_per_s"] for row in levels])
        right.set(xlabel="concurrent clients", ylabel="faces/s", title="throughput")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-per-level", type=int, default=80)
    args = parser.parse_args()
    people = lfw_people()
    probes = [images[-1].read_bytes() for images in people.values()] + [
        images[-2].read_bytes() for images in people.values()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = run_server(folder, 2, 2)
        try:
            prepare(server, people)
            levels = [load(server, probes, c, args.requests_per_level) for c in CONCURRENCY]
        finally:
            server.stop()
        layouts = []
        for workers, threads in LAYOUTS:
            server = run_server(folder, workers, threads)
            try:
                row = load(server, probes, 4, args.requests_per_level)
            finally:
                server.stop()
            layouts.append({"workers": workers, "threads": threads, **row})
    table = markdown_table(
        ["clients", "faces/s", "p50 ms", "p99 ms"],
        [[r["concurrency"], r["faces_per_s"], r["p50_ms"], r["p99_ms"]] for r in levels],
    )
    layout_table = markdown_table(
        ["workers x threads", "faces/s at 4 clients", "p50 ms", "p99 ms"],
        [
            [f"{r['workers']} x {r['threads']}", r["faces_per_s"], r["p50_ms"], r["p99_ms"]]
            for r in layouts
        ],
    )
    markdown = table + "\n\n" + layout_table
    print(markdown)
    write_result(
        "api_recognize",
        {
            "configuration": {"workers": 2, "threads": 2, "ort_intra_op_threads": 1},
            "image": "LFW 250x250 face crops",
            "levels": levels,
            "layouts": layouts,
            "markdown": markdown,
        },
    )
    plot(levels, RESULTS / "api_recognize.png")


if __name__ == "__main__":
    main()
