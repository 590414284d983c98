"""What `make bench` would run: the plan and the skip options."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from benchmarks import run_all


def options(**overrides: object) -> argparse.Namespace:
    values = {"only": [], "skip": [], "skip_slow": False, **overrides}
    return argparse.Namespace(**values)


def test_every_benchmark_module_is_listed_and_exists() -> None:
    folder = Path(run_all.__file__).parent
    for benchmark in run_all.BENCHMARKS:
        assert (folder / f"{benchmark.name}.py").is_file()
    with_main = {
        path.stem
        for path in folder.glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
    }
    # tf_throughput and gemm_rate are parts of throughput, which runs them in children.
    not_benchmarks = {"run_all", "report", "tf_throughput", "gemm_rate"}
    assert with_main - not_benchmarks == {b.name for b in run_all.BENCHMARKS}


@pytest.mark.parametrize("name", [b.name for b in run_all.BENCHMARKS])
def test_every_benchmark_imports(name: str) -> None:
    """A benchmark left behind by a change to what it imports (framework_client once
    imported a schema function the migrations had replaced) fails here, not at `make bench`."""
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(module.main)


def test_plan_runs_everything_by_default() -> None:
    names = [b.name for b in run_all.plan(options())]
    assert names == [b.name for b in run_all.BENCHMARKS]


def test_skip_slow_skip_and_only() -> None:
    slow = {b.name for b in run_all.BENCHMARKS if b.slow}
    assert slow and "lfw_verification" in slow
    fast = [b.name for b in run_all.plan(options(skip_slow=True))]
    assert not slow & set(fast) and "detector_quality" in fast
    skipped = [b.name for b in run_all.plan(options(skip=["throughput", "gallery_benchmark"]))]
    assert "throughput" not in skipped and "gallery_benchmark" not in skipped
    only = [b.name for b in run_all.plan(options(only=["throughput", "training_benchmark"]))]
    assert only == ["throughput", "training_benchmark"]
