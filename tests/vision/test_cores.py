"""api/vision/cores.py: a holder is alone exactly when no other holder exists, in any
thread or process, and a holder that is alone keeps newcomers out until its block ends."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.services import compute_gate
from api.vision.cores import ComputeGate

WAIT = 10.0  # seconds: a bound on waiting for another thread, never a measured duration


@pytest.fixture
def gate(tmp_path: Path) -> ComputeGate:
    """A gate with no quiet period: each test sees who holds it, nothing else."""
    return ComputeGate(tmp_path / "compute.lock", quiet_seconds=0)


def alone_now(gate: ComputeGate) -> bool:
    with gate.hold(), gate.alone() as alone:
        return alone


def in_thread(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


@contextmanager
def another_request(gate: ComputeGate) -> Iterator[None]:
    """Another thread holds the gate for the block, as a second request in flight."""
    held, done = threading.Event(), threading.Event()

    def work() -> None:
        with gate.hold():
            held.set()
            done.wait(WAIT)

    thread = in_thread(work)
    assert held.wait(WAIT)
    try:
        yield
    finally:
        done.set()
        thread.join(WAIT)


def test_a_lone_holder_is_alone_and_shares_again_after(gate: ComputeGate) -> None:
    with gate.hold():
        with gate.alone() as alone:
            assert alone
        with gate.alone() as again:  # turned back to shared, not released
            assert again
        assert not alone_now(
            ComputeGate(gate.path, quiet_seconds=0)
        )  # this hold still counts for others


def test_outside_a_hold_nothing_is_alone(gate: ComputeGate) -> None:
    with gate.alone() as alone:
        assert not alone


def test_two_holders_in_two_threads_are_never_alone(gate: ComputeGate) -> None:
    with another_request(gate), gate.hold(), gate.alone() as alone:
        assert not alone
    assert alone_now(gate)  # the other request has ended


def hold_until(path: Path, held: multiprocessing.Event, done: multiprocessing.Event) -> None:
    with ComputeGate(path).hold():
        held.set()
        done.wait(WAIT)


def test_a_holder_in_another_worker_process_counts(gate: ComputeGate) -> None:
    context = multiprocessing.get_context("fork")
    held, done = context.Event(), context.Event()
    worker = context.Process(target=hold_until, args=(gate.path, held, done))
    worker.start()
    try:
        assert held.wait(WAIT)
        assert not alone_now(gate)
    finally:
        done.set()
        worker.join(WAIT)
    assert worker.exitcode == 0 and alone_now(gate)


def test_a_newcomer_waits_for_the_lone_run_to_end(gate: ComputeGate) -> None:
    events: list[str] = []
    started = threading.Event()

    def newcomer() -> None:
        started.set()
        with gate.hold():
            events.append("newcomer holds")

    with gate.hold(), gate.alone() as alone:
        assert alone
        thread = in_thread(newcomer)
        assert started.wait(WAIT)
        thread.join(0.2)  # given time, it still may not start while the run lasts
        events.append("lone run ends")
    thread.join(WAIT)
    assert events == ["lone run ends", "newcomer holds"]


def test_when_not_alone_the_shared_lock_is_kept(gate: ComputeGate) -> None:
    """A failed upgrade drops the lock inside flock(2); the gate takes it back, so the
    request still counts for others."""
    with gate.hold():
        with another_request(gate), gate.alone() as alone:
            assert not alone
        assert not alone_now(
            ComputeGate(gate.path, quiet_seconds=0)
        )  # this request still holds its lock


def test_a_hold_inside_a_hold_gives_the_outer_one_back(gate: ComputeGate) -> None:
    with gate.hold():
        with gate.hold(), gate.alone() as inner:
            assert not inner  # the outer hold is another holder
        with gate.alone() as outer:
            assert outer


def test_an_unusable_lock_file_turns_the_wide_runs_off(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "compute.lock"
    with pytest.raises(OSError):
        ComputeGate(missing)
    assert compute_gate(missing) is None  # the API starts, every run on one thread
    assert isinstance(compute_gate(tmp_path / "compute.lock"), ComputeGate)


def test_no_wide_run_within_the_quiet_period_after_company(tmp_path: Path) -> None:
    """Under load an embedding is now and then alone for a moment; the stamp left by the
    ones that found company keeps it on its own core until the pod has been quiet."""
    gate = ComputeGate(tmp_path / "compute.lock", quiet_seconds=60)
    long_ago = 0.0
    os.utime(gate.path, (long_ago, long_ago))
    assert alone_now(gate)  # quiet for ages
    with another_request(gate), gate.hold(), gate.alone() as alone:
        assert not alone  # company: stamps the file
    assert not alone_now(gate)  # alone now, but company was just seen
    os.utime(gate.path, (long_ago, long_ago))  # as if a minute without company passed
    assert alone_now(gate)
