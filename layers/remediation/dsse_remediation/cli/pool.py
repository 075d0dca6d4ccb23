"""A bounded worker pool fed by a stream, whose Ctrl-C stops cleanly. Standard library only, so it is tested alone.

Why a stream: a recursive run over millions of keys must not list them all before the first fix, nor hold them all.
The source (a listing) is pulled by the calling thread only when a slot is free, so at most `2 x concurrency` items
are taken and unfinished at any time: `concurrency` running and as many queued, which keeps every worker busy while
the next one is taken (and, at a page boundary, while the next listing page is read). The window is the bounded
queue between the lister and the workers; the lister is a plain iterator, with no thread of its own to stop.

Results are handed out twice: `on_done` as each finishes (a line on the terminal as soon as an object is fixed) and
`in_order` in the order the source gave the items (the JSON document and the CSV report). Finished results wait for
the earlier ones in a reorder buffer, which holds about the window; a slow item (a multipart copy) holds back the
ones that finish after it until it is done, never the work itself.

Ctrl-C: nothing new is taken or started, queued items are cancelled, `stop` tells running work to give up early
(multipart copies abort at their next part), and the running work is waited for and reported, so nothing that was
changed goes unreported. A second Ctrl-C stops the waiting; what is still running is counted, and finishes before
the process exits. While the pool runs in the main thread, SIGINT only counts presses, which the pool reads between
steps (within POLL_SECONDS, or once a listing page being read has arrived): a KeyboardInterrupt could land between
submitting an item and recording it, or between collecting a result and keeping it, and that object would be
changed but never reported.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
POLL_SECONDS = 0.1  # how soon a wait notices a Ctrl-C


@dataclass
class Tally:
    """How many items the pool has taken from its source, and whether the source has ended. A streamed listing's
    total is unknown until it ends, so a progress line reads `taken` as "listed so far"."""

    taken: int = 0
    complete: bool = False


@dataclass(frozen=True)
class PoolRun:
    processed: int  # results handed out (each exactly once to on_done and to in_order)
    interrupted: bool = False
    still_running: int = 0  # items left running when a second Ctrl-C stopped the wait (they finish before exit)


def _ignore(_: object) -> None:
    pass


def _nothing() -> None:
    pass


class _Results(Generic[R]):
    """Finished results: handed to `on_done` at once and to `in_order` once every earlier item has been handed."""

    def __init__(self, on_done: Callable[[R], None], in_order: Callable[[R], None]) -> None:
        self._on_done = on_done
        self._in_order = in_order
        self._waiting: dict[int, R] = {}  # finished, behind an earlier unfinished item
        self._next = 0  # the index in_order is waiting for
        self.processed = 0

    def add(self, index: int, result: R) -> None:
        self._waiting[index] = result  # kept before the callbacks: a Ctrl-C inside them loses no result
        self.processed += 1
        self._on_done(result)
        while self._next in self._waiting:
            self._in_order(self._waiting.pop(self._next))
            self._next += 1

    def flush(self) -> None:
        """After a Ctrl-C, cancelled items leave gaps: what finished is handed out in order, over the gaps."""
        for index in sorted(self._waiting):
            self._in_order(self._waiting.pop(index))


class CtrlC:
    """Counts SIGINT presses while the pool runs, instead of raising KeyboardInterrupt at an arbitrary point.

    Signal handlers can be set only in the main thread; elsewhere this counts nothing (Ctrl-C reaches the main
    thread only, and whatever runs there handles it)."""

    def __init__(self) -> None:
        self.presses = 0
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._press)
            self._installed = True
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.SIG_DFL if self._previous is None else self._previous)

    def _press(self, _signal: int, _frame: FrameType | None) -> None:
        self.presses += 1


def run_pool(
    source: Iterable[T],
    work: Callable[[T], R],
    *,
    failed: Callable[[T, Exception], R],
    concurrency: int,
    on_done: Callable[[R], None] = _ignore,
    in_order: Callable[[R], None] = _ignore,
    on_interrupt: Callable[[int], None] = _ignore,
    stop: Callable[[], None] = _nothing,
    tally: Tally | None = None,
    thread_name: str = "pool",
) -> PoolRun:
    """`work` on each item of `source`, `concurrency` at a time. An exception in one item becomes its result through
    `failed` (one object's surprise must not stop the run). `on_interrupt` gets the number of items still running
    when Ctrl-C came. The source itself should not raise: a listing that breaks off ends, and says so by its own
    means (an exception out of it stops the run after the running work, whose results are then not handed out)."""
    tally = tally if tally is not None else Tally()
    window = 2 * concurrency
    results: _Results[R] = _Results(on_done, in_order)
    pending: dict[Future[R], int] = {}

    def guarded(item: T) -> R:
        try:
            return work(item)
        except Exception as exc:
            return failed(item, exc)

    def collect_until(settled: Callable[[], bool]) -> None:
        while pending and not settled():
            done = wait(pending, POLL_SECONDS, return_when=FIRST_COMPLETED).done
            for future in sorted(done, key=pending.__getitem__):  # finished together: in listing order
                index = pending.pop(future)
                if not future.cancelled():
                    results.add(index, future.result())

    interrupted, still_running = False, 0
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=thread_name)
    with CtrlC() as ctrl_c:
        try:
            for index, item in enumerate(source):  # the source is read only when a slot is free
                tally.taken += 1
                if ctrl_c.presses:
                    break
                pending[pool.submit(guarded, item)] = index
                collect_until(lambda: len(pending) < window or ctrl_c.presses > 0)
            else:
                tally.complete = True
            collect_until(lambda: ctrl_c.presses > 0)
            if ctrl_c.presses:
                interrupted = True
                stop()
                for future in pending:
                    future.cancel()  # the queued ones; running ones go on, finished ones are collected
                on_interrupt(sum(1 for future in pending if not future.done()))
                collect_until(lambda: ctrl_c.presses > 1)
                collect_until(lambda: all(not future.done() for future in pending))
                still_running = len(pending)
        finally:
            pool.shutdown(wait=not still_running, cancel_futures=True)
    results.flush()
    return PoolRun(results.processed, interrupted, still_running)
