"""The original framework's client shape against this API: int8 vs fp32, per worker memory.

The original `API-benchmark.py` (grequests) fires N concurrent POSTs of one image to
`/face-recognition/get-results`, each on its own connection, and reports requests/s. This
does the same with a thread per request (N at once, released together), on both images of
issue 17 (a 107x150 edge crop of an LFW face and a 250x250 LFW photo, the size of the
original's `Test_image.jpg`), against real gunicorn (2 workers x 2 threads, the shipped
layout) with 10,000 synthetic faces in the gallery, once per EMBEDDER_PRECISION. Also:
one client's p50/p99 latency on the crop; each worker's resident (RSS) and proportional
(PSS: shared pages split between the workers) memory after the load; the mean time of
each pipeline stage from /metrics (facerec_stage_seconds). With --profile, py-spy samples
both workers through further crop bursts: one gives the flame graph
(results/framework_client_flame_<precision>.svg), the other the share of the samples
spent in each function of the API (the "profile" rows).

The original framework's own figures (it needs TensorFlow 1.x; not runnable here) are the
ones issue 17 recorded on this machine kind: 16.4 req/s on the crop, 15.8 on its image,
568-730 MiB per worker. Every figure is stamped with the machine, date and load average:
on a shared machine they are lower bounds, to be re-run on a quiet one.

Run: .venv/bin/python -m benchmarks.framework_client [--concurrent 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import requests

from api.db.engine import create_db_engine
from api.db.migrations import upgrade_schema
from api.metrics import STAGES
from api.vision import load_embedder
from api.vision.cores import QUIET_SECONDS
from benchmarks.common import (
    PRECISION,
    REPO_ROOT,
    RESULTS,
    SHARED,
    load_average,
    machine,
    markdown_table,
    write_result,
)
from benchmarks.gallery_benchmark import fill, synthetic_gallery
from models.parity import random_faces
from models.runtime import ModelStore
from tests.live_api import ApiProcess, worker_pids

PATH = "/face-recognition/get-results"
GALLERY_FACES = 10_000
ORIGINAL = {"crop": 16.4, "photo": 15.8, "rss_mib": "568-730"}  # issue 17, same machine kind
# Machines of one kind differ: issue 17 timed this API's float32 FaceNet on the machine it
# ran the original on (one thread, batch 1): 17.1 ms a face. Timed again here, the same
# model says how much faster this machine is at the work both frameworks consist of.
ORIGINAL_MACHINE_FACENET_MS = 17.1
YARDSTICK_RUNS = 100
PRECISIONS = ("int8", "fp32")
STARTUP_SECONDS = 300  # model loading on a loaded shared machine takes minutes


def images() -> dict[str, bytes]:
    """The edge crop (107x150, cut around the face of an LFW photo) and the photo itself."""
    path = SHARED / "data" / "lfw-ident20" / "Nicole_Kidman" / "Nicole_Kidman_0001.jpg"
    photo = path.read_bytes()
    rgb = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    ok, crop = cv2.imencode(".jpg", rgb[50:200, 72:179], [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return {"crop": crop.tobytes(), "photo": photo}


def facenet_yardstick_ms() -> float:
    """Median ms of the float32 facenet128 on one thread at batch 1: this machine's speed
    at the original's dominant work, comparable with ORIGINAL_MACHINE_FACENET_MS."""
    embedder = load_embedder("facenet128", ModelStore(), 1, precision="fp32", centred=False)
    face = random_faces(1)
    for _ in range(10):  # the first runs allocate and page the weights in
        embedder.embed(face)
    times = []
    for _ in range(YARDSTICK_RUNS):
        started = time.perf_counter()
        embedder.embed(face)
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def ratios(rate: float, image: str, yardstick_ms: float) -> str:
    """`rate` against the original's figure, as measured and scaled to its machine's speed."""
    scaled = rate * yardstick_ms / ORIGINAL_MACHINE_FACENET_MS
    return (
        f"{rate / ORIGINAL[image]:.1f}x the original, "
        f"{scaled / ORIGINAL[image]:.1f}x at its machine's speed"
    )


def post(url: str, image: bytes) -> float:
    """One request on a new connection, as grequests sends them; seconds."""
    started = time.perf_counter()
    response = requests.post(f"{url}{PATH}", files={"image": ("image.jpg", image)}, timeout=120)
    response.raise_for_status()
    return time.perf_counter() - started


def burst(url: str, image: bytes, concurrent: int) -> float:
    """`concurrent` requests released at once; requests per second of the whole burst."""
    gate = threading.Barrier(concurrent + 1)
    errors: list[BaseException] = []

    def one() -> None:
        gate.wait()
        try:
            post(url, image)
        except BaseException as error:  # reported after the burst
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {concurrent} requests failed: {errors[0]!r}")
    return concurrent / wall


def one_client(url: str, image: bytes, requests_count: int) -> dict[str, float]:
    latencies = sorted(post(url, image) for _ in range(requests_count))
    return {
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, round(0.99 * len(latencies)))], 1),
    }


def worker_memory(server: ApiProcess) -> list[dict[str, float]]:
    """RSS and PSS (MiB) of each worker: the master's children."""
    assert server.process is not None
    rows = []
    for pid in worker_pids(server.process.pid):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="utf-8")
        except OSError:
            continue
        kib = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+):\s+(\d+) kB", rollup, re.M)}
        rows.append(
            {"rss_mib": round(kib["Rss"] / 1024, 1), "pss_mib": round(kib["Pss"] / 1024, 1)}
        )
    return rows


def stage_means(url: str) -> dict[str, float]:
    """Mean ms per stage over everything the server answered (summed over workers)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    means = {}
    for stage in STAGES:
        total = re.search(rf'^facerec_stage_seconds_sum{{stage="{stage}"}} (\S+)$', text, re.M)
        count = re.search(rf'^facerec_stage_seconds_count{{stage="{stage}"}} (\S+)$', text, re.M)
        if total and count and float(count[1]):
            means[stage] = round(1000 * float(total[1]) / float(count[1]), 2)
    return means


def spy_command(pid: int, seconds: int, form: str, out: Path) -> list[str]:
    """py-spy (installed beside this interpreter) sampling `pid` 100 times a second."""
    spy = Path(sys.executable).with_name("py-spy")
    timing = ("--duration", str(seconds), "--rate", "100", "--nonblocking")
    return [str(spy), "record", "--pid", str(pid), *timing, "--format", form, "--output", str(out)]


def profile(server: ApiProcess, image: bytes, args: argparse.Namespace, precision: str) -> dict:
    """py-spy on both workers while crop bursts keep them busy for `args.profile` seconds:
    a flame graph of one, the top functions of the other (inclusive share of samples)."""
    assert server.process is not None
    flame = RESULTS / f"framework_client_flame_{precision}.svg"
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "stacks.txt"
        spies = [
            subprocess.Popen(
                spy_command(pid, args.profile, form, out),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, form, out in zip(
                worker_pids(server.process.pid), ("flamegraph", "raw"), (flame, raw), strict=True
            )
        ]
        deadline = time.monotonic() + args.profile
        while time.monotonic() < deadline:
            burst(server.url, image, 16)
        for spy in spies:
            spy.wait(timeout=60)
        stacks = raw.read_text(encoding="utf-8").splitlines()
    return {"flame_graph": flame.name, "top_functions": top_functions(stacks)}


def _function(frame: str) -> str | None:
    """ "name (<repo>/api/x.py:12)" -> "name (api/x.py)"; None for a frame outside the
    repository's api/ and models/."""
    found = re.fullmatch(
        rf"(.+) \((?:{re.escape(str(REPO_ROOT))}/)?((?:api|models)/[^:]+):\d+\)", frame
    )
    return f"{found[1]} ({found[2]})" if found else None


def top_functions(stacks: list[str], count: int = 12) -> list[dict[str, Any]]:
    """py-spy raw lines ("frame;frame;... samples"): the API's functions (frames in api/
    or models/) with the share of all samples whose stack holds them."""
    samples: dict[str, int] = {}
    total = 0
    for line in stacks:
        frames, _, number = line.rpartition(" ")
        total += int(number)
        names = {_function(frame) for frame in frames.split(";")} - {None}
        for name in names:
            samples[name] = samples.get(name, 0) + int(number)
    ranked = sorted(samples.items(), key=lambda item: -item[1])[:count]
    return [{"function": name, "share": round(n / max(total, 1), 3)} for name, n in ranked]


def measure(folder: Path, precision: str, args: argparse.Namespace) -> dict[str, Any]:
    server = ApiProcess(
        env={
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "MODEL_DIR": str(folder / f"models-{precision}"),
            "EMBEDDER_PRECISION": precision,
        },
        workers=2,
        threads=2,
        log_path=folder / f"gunicorn-{precision}.log",
    ).start(timeout=STARTUP_SECONDS)
    try:
        payloads = images()
        for image in payloads.values():  # warm-up: both workers, both images
            burst(server.url, image, 8)
        row: dict[str, Any] = {"precision": precision, "load_average_before": load_average()}
        for name, image in payloads.items():
            rates = [burst(server.url, image, args.concurrent) for _ in range(args.rounds)]
            row[f"{name}_req_per_s"] = round(max(rates), 1)
        # One client means a pod that has seen no other for a while: right after the
        # bursts the API keeps lone requests on one core for QUIET_SECONDS (cores.py).
        time.sleep(QUIET_SECONDS)
        row["one_client_crop"] = one_client(server.url, payloads["crop"], args.single)
        row["workers"] = worker_memory(server)
        row["stage_ms"] = stage_means(server.url)
        row["load_average_after"] = load_average()
        if args.profile:
            row["profile"] = profile(server, payloads["crop"], args, precision)
        return row
    finally:
        server.stop()


def markdown(rows: list[dict[str, Any]], stamp: dict[str, Any], yardstick_ms: float) -> str:
    table = markdown_table(
        [
            "",
            "crop 107x150 (req/s)",
            "photo 250x250 (req/s)",
            "1 client crop p50 / p99",
            "RSS per worker",
            "PSS per worker",
            "stages (ms: decode/detect/embed/match)",
        ],
        [
            [
                "original framework (issue 17)",
                f"{ORIGINAL['crop']}",
                f"{ORIGINAL['photo']}",
                "",
                f"{ORIGINAL['rss_mib']} MiB",
                "",
                "",
            ]
        ]
        + [
            [
                f"this API, {r['precision']}",
                f"{r['crop_req_per_s']} ({ratios(r['crop_req_per_s'], 'crop', yardstick_ms)})",
                f"{r['photo_req_per_s']} ({ratios(r['photo_req_per_s'], 'photo', yardstick_ms)})",
                f"{r['one_client_crop']['p50_ms']} / {r['one_client_crop']['p99_ms']} ms",
                " / ".join(f"{w['rss_mib']:.0f}" for w in r["workers"]) + " MiB",
                " / ".join(f"{w['pss_mib']:.0f}" for w in r["workers"]) + " MiB",
                " / ".join(str(r["stage_ms"].get(s, "-")) for s in STAGES[:4]),
            ]
            for r in rows
        ],
    )
    text = (
        f"{stamp['cpu']}, {stamp['cores']} cores, {stamp['date']}, load average "
        f"{stamp['load_average']} before; each row's load is in the JSON. 2 workers x 2 "
        f"threads, {GALLERY_FACES:,} faces in the gallery, SQLite. The float32 FaceNet takes "
        f"{yardstick_ms} ms a face here (one thread, batch 1) against "
        f"{ORIGINAL_MACHINE_FACENET_MS} ms on the machine issue 17 ran the original on: "
        f"scaled to that machine's speed, a rate is multiplied by "
        f"{yardstick_ms / ORIGINAL_MACHINE_FACENET_MS:.2f}.\n\n{table}"
    )
    for r in (r for r in rows if "profile" in r):
        shares = markdown_table(
            ["function (file)", "share of a worker's samples"],
            [[f"`{f['function']}`", f"{f['share']:.0%}"] for f in r["profile"]["top_functions"]],
        )
        text += (
            f"\n\nWhere a worker's time goes under the crop bursts, {r['precision']} (py-spy, "
            f"100 samples/s; a function's share counts the samples its frame is on the stack "
            f"of, so nested ones overlap):\n\n{shares}\n\n"
            f"![flame graph, {r['precision']}](results/{r['profile']['flame_graph']})"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=100, help="requests per burst")
    parser.add_argument("--rounds", type=int, default=2, help="bursts per image (best kept)")
    parser.add_argument("--single", type=int, default=60, help="one-client requests")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument(
        "--profile", type=int, default=0, help="seconds of py-spy on both workers (0: none)"
    )
    args = parser.parse_args()
    stamp = machine()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = create_db_engine(f"sqlite:///{folder / 'db.sqlite3'}", 10.0)
        upgrade_schema(engine)
        fill(engine, synthetic_gallery(GALLERY_FACES))
        engine.dispose()
        yardstick_ms = facenet_yardstick_ms()
        rows = [measure(folder, precision, args) for precision in args.precisions]
    table = markdown(rows, stamp, yardstick_ms)
    print(table)
    write_result(
        "framework_client",
        {
            "machine": stamp,
            "original": ORIGINAL,
            "facenet_fp32_ms": {"here": yardstick_ms, "original": ORIGINAL_MACHINE_FACENET_MS},
            "gallery_faces": GALLERY_FACES,
            "concurrent": args.concurrent,
            "rounds": args.rounds,
            "results": rows,
            "markdown": table,
            "headlines": headlines(rows, yardstick_ms),
        },
    )


def headlines(rows: list[dict[str, Any]], yardstick_ms: float) -> list[dict[str, str]]:
    """README rows (benchmarks/report.py): each precision against the original."""
    return [
        {
            "what": f"Original framework's client shape, {r['precision']} FaceNet"
            f"{' (the default)' if r['precision'] == PRECISION else ''}: N concurrent "
            "POSTs of one image to /face-recognition/get-results (2 workers x 2 threads)",
            "value": f"crop {r['crop_req_per_s']} req/s "
            f"({ratios(r['crop_req_per_s'], 'crop', yardstick_ms)}), "
            f"photo {r['photo_req_per_s']} req/s "
            f"({ratios(r['photo_req_per_s'], 'photo', yardstick_ms)}); 1 client on the crop p50 "
            f"{r['one_client_crop']['p50_ms']} ms, p99 {r['one_client_crop']['p99_ms']} ms; "
            "RSS per worker "
            + " / ".join(f"{w['rss_mib']:.0f}" for w in r["workers"])
            + f" MiB; load average {r['load_average_before']} before",
        }
        for r in rows
    ]


if __name__ == "__main__":
    main()
