"""`make bench`: every benchmark in turn, then the report (benchmarks/REPORT.md, README).

Each benchmark runs as its own process (`python -m benchmarks.<name>`), so one that fails
or runs out of memory does not take the others with it; the report is regenerated from
whatever JSON is in benchmarks/results/ at the end, and the exit status says whether any
benchmark failed. The gallery benchmark reads from MariaDB too (`make bench` starts it).

Run: .venv/bin/python -m benchmarks.run_all [--quick] [--skip-slow] [--skip NAME ...]
     [--only NAME ...] [--list]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from dataclasses import dataclass

from benchmarks.common import REPO_ROOT

log = logging.getLogger("benchmarks.run_all")


@dataclass(frozen=True)
class Benchmark:
    name: str  # module benchmarks.<name>
    quick_args: tuple[str, ...] = ()
    slow: bool = False  # minutes even when nothing else runs; --skip-slow leaves it out
    args: tuple[str, ...] = ()  # always passed


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "lfw_verification", ("--max-pairs", "200"), slow=True, args=("--precisions", "fp32", "int8")
    ),
    Benchmark(
        "lfw_verification",
        ("--max-pairs", "400"),
        slow=True,
        args=("--all-pairs", "--embedders", "facenet128", "--precisions", "fp32", "int8"),
    ),
    Benchmark("lfw_recipe", ("--embedders", "facenet128", "--skip-api"), slow=True),
    Benchmark("open_set_identification", ("--strangers", "100", "--ks", "1", "5"), slow=True),
    Benchmark("detector_quality", ("--repeats", "1")),
    Benchmark("throughput", ("--faces", "16", "--repeats", "1")),
    Benchmark("api_recognize", ("--requests-per-level", "16"), slow=True),
    Benchmark(
        "framework_client",
        ("--concurrent", "20", "--rounds", "1", "--single", "10"),
        slow=True,
        args=("--profile", "20"),
    ),
    Benchmark("edge_benchmark", ("--repeats", "1", "--frames", "10")),
    Benchmark("training_benchmark", ("--quick",), slow=True),
    Benchmark("gallery_benchmark", ("--quick",), slow=True, args=("--mariadb",)),
    Benchmark("data_lifecycle", ("--quick",), slow=True),
    Benchmark("alert_latency", ("--seconds", "5")),
    Benchmark("face_quality", ("--quick",), slow=True),
    Benchmark("sighting_search", ("--quick",)),
    Benchmark("unknown_people", ("--quick",), slow=True),
)


def plan(args: argparse.Namespace) -> list[Benchmark]:
    chosen = list(BENCHMARKS)
    if args.only:
        chosen = [b for b in chosen if b.name in args.only]
    if args.skip_slow:
        chosen = [b for b in chosen if not b.slow]
    return [b for b in chosen if b.name not in args.skip]


def run(benchmark: Benchmark, quick: bool) -> bool:
    command = [sys.executable, "-m", f"benchmarks.{benchmark.name}", *benchmark.args]
    if quick:
        command += benchmark.quick_args
    log.info("running %s", " ".join(command[1:]))
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, check=False)
    minutes = (time.perf_counter() - started) / 60
    if done.returncode != 0:
        log.error("%s failed (exit %d) after %.1f min", benchmark.name, done.returncode, minutes)
        return False
    log.info("%s done in %.1f min", benchmark.name, minutes)
    return True


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples (minutes)")
    parser.add_argument("--skip-slow", action="store_true", help="leave out the slow ones")
    parser.add_argument("--skip", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--list", action="store_true", help="print the plan and exit")
    args = parser.parse_args()
    chosen = plan(args)
    if args.list:
        for benchmark in chosen:
            print(benchmark.name + (" (slow)" if benchmark.slow else ""))
        return 0
    failed = [b.name for b in chosen if not run(b, args.quick)]
    report = subprocess.run([sys.executable, "-m", "benchmarks.report"], cwd=REPO_ROOT, check=False)
    if failed:
        log.error("failed: %s", ", ".join(failed))
    return 1 if failed or report.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
