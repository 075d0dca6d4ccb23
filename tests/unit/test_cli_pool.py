"""The CLI's worker pool alone: no argparse, no AWS. Ctrl-C is a real SIGINT sent to the main thread, as a terminal
sends it, from inside a work item or the source, so it always lands while the pool runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dsse_remediation
from dsse_remediation.cli.pool import PoolRun, Tally, run_pool

TIMEOUT = 10.0  # seconds: a pool that deadlocks fails the test instead of hanging it


def ctrl_c() -> None:
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def failed(item: int, exc: Exception) -> str:
    return f"{item} failed: {exc}"


class Recorder:
    """The pool's callbacks, recorded."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.in_order: list[str] = []
        self.interrupts: list[int] = []
        self.stops = 0

    def run(self, source: Any, work: Callable[[int], str], concurrency: int = 4, **extra: Any) -> PoolRun:
        return run_pool(
            source,
            work,
            failed=failed,
            concurrency=concurrency,
            on_done=self.done.append,
            in_order=self.in_order.append,
            on_interrupt=self.interrupts.append,
            stop=self.stop,
            **extra,
        )

    def stop(self) -> None:
        self.stops += 1


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_results_are_handed_out_in_listing_order_whatever_order_they_finish_in(recorder: Recorder) -> None:
    def work(item: int) -> str:
        time.sleep(0.002 * (20 - item))  # the first items finish last
        return str(item)

    run = recorder.run(range(20), work)

    assert recorder.in_order == [str(i) for i in range(20)]
    assert sorted(recorder.done, key=int) == recorder.in_order
    assert recorder.done != recorder.in_order  # on_done follows completion, not the listing
    assert run == PoolRun(processed=20)


def test_no_more_than_concurrency_items_run_at_once(recorder: Recorder) -> None:
    running, most = [0], [0]
    lock = threading.Lock()

    def work(item: int) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.005)
        with lock:
            running[0] -= 1
        return str(item)

    recorder.run(range(40), work, concurrency=3)

    assert most[0] == 3


def test_the_source_is_read_only_as_work_finishes_so_memory_is_bounded_by_the_concurrency(
    recorder: Recorder,
) -> None:
    ahead: list[int] = []  # at each read: items taken from the source and not yet finished

    def source() -> Iterator[int]:
        for item in range(100):
            ahead.append(item - len(recorder.done))
            yield item

    recorder.run(source(), lambda item: str(item), concurrency=4)

    assert len(recorder.in_order) == 100
    assert max(ahead) <= 2 * 4


def test_work_starts_with_the_first_item_not_after_the_source_ends(recorder: Recorder) -> None:
    first_done = threading.Event()

    def source() -> Iterator[int]:
        yield 0
        assert first_done.wait(TIMEOUT), "the source was read to its end before any work ran"
        yield 1

    def work(item: int) -> str:
        first_done.set()
        return str(item)

    tally = Tally()
    recorder.run(source(), work, concurrency=1, tally=tally)

    assert recorder.in_order == ["0", "1"]
    assert tally == Tally(taken=2, complete=True)


def test_an_exception_in_one_item_is_its_result_and_the_others_still_run(recorder: Recorder) -> None:
    def work(item: int) -> str:
        if item == 3:
            raise RuntimeError("surprise")
        return str(item)

    run = recorder.run(range(6), work)

    assert recorder.in_order == ["0", "1", "2", "3 failed: surprise", "4", "5"]
    assert run == PoolRun(processed=6)


def test_ctrl_c_starts_nothing_new_stops_running_work_and_reports_what_finished(recorder: Recorder) -> None:
    released = threading.Event()
    started: list[int] = []

    def work(item: int) -> str:
        started.append(item)
        if item == 5:
            ctrl_c()
        if item >= 5:  # running work ends when told to stop, as a multipart copy aborts at its next part
            assert released.wait(TIMEOUT)
        return str(item)

    def source() -> Iterator[int]:
        yield from range(1000)

    tally = Tally()
    recorder.stop = released.set  # type: ignore[method-assign]
    run = recorder.run(source(), work, concurrency=2, tally=tally)

    assert run.interrupted
    assert run.still_running == 0
    assert len(recorder.interrupts) == 1
    assert 1 <= recorder.interrupts[0] <= 2  # item 5, and maybe the one beside it
    assert recorder.in_order == [str(item) for item in sorted(started)]  # everything that ran is reported
    assert run.processed == len(started) <= tally.taken <= 5 + 1 + 2 * 2  # the source was read no further
    assert not tally.complete


def test_a_second_ctrl_c_stops_waiting_and_counts_what_is_still_running(recorder: Recorder) -> None:
    never = threading.Event()
    interrupted = threading.Event()

    def work(item: int) -> str:
        if item == 0:
            ctrl_c()
            assert interrupted.wait(TIMEOUT)
            ctrl_c()  # the second Ctrl-C, while the pool waits for this item
            never.wait(TIMEOUT)
        return str(item)

    recorder.interrupts = _Signalling(interrupted)  # type: ignore[assignment]
    try:
        run = recorder.run(iter(range(10)), work, concurrency=1)
    finally:
        never.set()  # lets the abandoned item end, as it would before the process exits

    assert (run.interrupted, run.still_running, run.processed) == (True, 1, 0)
    assert recorder.stops == 1


def test_a_ctrl_c_while_the_source_is_read_takes_effect_once_the_read_returns(recorder: Recorder) -> None:
    started = threading.Semaphore(0)

    def source() -> Iterator[int]:
        yield from range(3)
        for _ in range(3):
            assert started.acquire(timeout=TIMEOUT)
        ctrl_c()  # Ctrl-C during a listing page read: the page still arrives
        yield from range(3, 10)

    def work(item: int) -> str:
        started.release()
        return str(item)

    tally = Tally()
    run = recorder.run(source(), work, concurrency=4, tally=tally)

    assert run.interrupted
    assert recorder.in_order == ["0", "1", "2"]  # item 3 was read, not started
    assert tally == Tally(taken=4, complete=False)


def test_the_ctrl_c_handler_is_put_back_after_the_run(recorder: Recorder) -> None:
    before = signal.getsignal(signal.SIGINT)

    recorder.run(range(3), lambda item: str(item))

    assert signal.getsignal(signal.SIGINT) is before


def test_the_pool_imports_neither_argparse_nor_boto3() -> None:
    code = (
        "import sys; import dsse_remediation.cli.pool; "
        "print(sorted(m for m in ('argparse', 'boto3', 'botocore') if m in sys.modules))"
    )
    library = Path(dsse_remediation.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(library)}
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)

    assert imported.stdout.strip() == "[]"


class _Signalling(list[int]):
    """An on_interrupt record that also tells the work the first Ctrl-C has been handled."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self._event = event

    def append(self, running: int) -> None:
        super().append(running)
        self._event.set()
