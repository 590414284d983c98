"""What `make bench` would run: the plan, the skip options and other helpers' benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from benchmarks import run_all


def options(**overrides: object) -> argparse.Namespace:
    values = {"only": [], "skip": [], "skip_slow": False, **overrides}
    return argparse.Namespace(**values)


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "training_time.py").write_text('parser.add_argument("--quick")\n')
    (tmp_path / "gallery_search.py").write_text("print('no options')\n")
    (tmp_path / "helper.py").write_text("")
    monkeypatch.setattr(run_all, "BENCH_DIR", tmp_path)
    return tmp_path


def test_every_listed_benchmark_module_exists() -> None:
    for benchmark in run_all.BENCHMARKS:
        assert (Path(run_all.__file__).parent / f"{benchmark.name}.py").is_file()


def test_other_helpers_benchmarks_are_found_with_quick_only_where_offered(
    bench_dir: Path,
) -> None:
    found = {b.name: b.quick_args for b in run_all.discovered()}
    assert found == {"training_time": ("--quick",), "gallery_search": ()}


def test_plan_runs_everything_by_default(bench_dir: Path) -> None:
    names = [b.name for b in run_all.plan(options())]
    assert names[: len(run_all.BENCHMARKS)] == [b.name for b in run_all.BENCHMARKS]
    assert names[len(run_all.BENCHMARKS) :] == ["training_time", "gallery_search"]


def test_skip_slow_skip_and_only(bench_dir: Path) -> None:
    slow = {b.name for b in run_all.BENCHMARKS if b.slow}
    assert slow and "lfw_verification" in slow
    fast = [b.name for b in run_all.plan(options(skip_slow=True))]
    assert not slow & set(fast) and "detector_quality" in fast
    skipped = [b.name for b in run_all.plan(options(skip=["throughput", "gallery_search"]))]
    assert "throughput" not in skipped and "gallery_search" not in skipped
    only = [b.name for b in run_all.plan(options(only=["throughput", "training_time"]))]
    assert only == ["throughput", "training_time"]
