"""What every benchmark shares: where results go and which machine produced them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from api.config import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("SHARED_DIR", REPO_ROOT.parent / "shared"))
# The FaceNet precision the API serves by default (EMBEDDER_PRECISION): what a benchmark
# of the product's behaviour measures; the recipe study and the int8 comparison choose
# their own.
PRECISION = Settings().embedder_precision

T = TypeVar("T")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: on a shared machine a figure measured under load
    is slower than the CPU can do, and the reader should know by how much it may be."""
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare a figure with theirs."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "load_average": load_average(),
    }


@dataclass(frozen=True)
class Timing:
    wall_s: float  # elapsed: what a user waits
    cpu_s: float  # this process's CPU time, all its threads: what the work itself costs


def fastest_run(repeats: int, run: Callable[..., T], *args: Any) -> tuple[T, Timing]:
    """The last result of `repeats` runs of `run(*args)`, with their fastest wall time and
    smallest CPU time (`repeats=1`: one timed run).

    Other processes only ever add time, so on a shared machine the minimum is the closest
    to the CPU's own speed. Under heavy load even the fastest wall time is inflated by
    the share of the cores others hold; CPU time is not (a thread that waits for a core
    accrues none), so `cpu_s` is what the run costs on idle cores. The load average is
    recorded beside every result.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        result = run(*args)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, Timing(min(walls), min(cpus))


def fastest_times(repeats: int, run: Callable[..., Any], *args: Any) -> Timing:
    """The fastest wall time and the smallest CPU time of `repeats` runs of `run(*args)`
    (see fastest_run)."""
    return fastest_run(repeats, run, *args)[1]


def fastest_seconds(repeats: int, run: Callable[..., Any], *args: Any) -> float:
    """The fastest wall time of `repeats` runs of `run(*args)` (see fastest_run)."""
    return fastest_times(repeats, run, *args).wall_s


@contextmanager
def chart(path: Path | str, *subplots_args: Any, dpi: int, **subplots_kwargs: Any) -> Iterator[Any]:
    """The axes of `pyplot.subplots(...)` to draw on; on leaving the block their figure is
    laid out, written to `path` and closed. Closed on an error too: pyplot keeps every
    figure alive until it is closed, and a run draws several. matplotlib runs on the
    file-only Agg backend (benchmarks run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(*subplots_args, **subplots_kwargs)
    try:
        yield axes
        figure.tight_layout()
        figure.savefig(path, dpi=dpi)
    finally:
        plt.close(figure)


def run_json(
    python: Path | str,
    module: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Any:
    """The JSON of the last line `python -m module *args` prints, run in the repository
    root; subprocess.CalledProcessError (its stderr attached) when the child fails."""
    done = subprocess.run(
        [str(python), "-m", module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def ultraface_dir() -> Path:
    """`ULTRAFACE_DIR`, else the shared copy of the UltraFace files."""
    from edge.ultraface import ultraface_dir_from_env  # here: the build venv has no OpenCV

    return ultraface_dir_from_env() or SHARED / "models" / "ultraface"


def available_detectors(ultraface: Path) -> list[str]:
    """The edge detectors whose model files are here (UltraFace's in `ultraface`)."""
    from edge.retinaface import MANIFEST_NAME
    from edge.ultraface import ultraface_available
    from models.runtime import ModelStore

    names = [f"ultraface-{v}" for v in (640, 320) if ultraface_available(ultraface, v)]
    if MANIFEST_NAME in ModelStore():
        names.append("retinaface")
    return names


def write_result(name: str, data: dict[str, Any]) -> Path:
    """benchmarks/results/<name>.json with the machine stamped in."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
