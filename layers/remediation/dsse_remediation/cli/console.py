"""The terminal: result lines and the summary (text) or one JSON document (json) on stdout; notes and a progress line
on stderr, so `--output json` can be piped into a JSON reader untouched."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from ..model import BucketResult, KeyResult, Outcome, Result, answer
from .arguments import PROG
from .pool import Tally
from .summary import Run, summary_table


class AlertErrors:
    """Counts alerts that could not be published (from any worker thread) and says so once: the run goes on."""

    def __init__(self, notice: Callable[[str], None]) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._notice = notice

    def __call__(self, exc: Exception) -> None:
        with self._lock:
            self.count += 1
            first = self.count == 1
        if first:
            self._notice(f"an alert could not be published ({exc}); the run goes on")


def progress_line(done: int, total: int, elapsed: float, counts: Mapping[Outcome, int], listed: bool = True) -> str:
    """`total` is what was listed so far; while the listing goes on (`listed` False) there is no percentage."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if listed:
        percent = 100 * done // total if total else 100
        where = f"{done}/{total} objects ({percent}%)"
    else:
        where = f"{done}/{total}+ objects (listing)"
    return (
        f"{where}  {rate:.1f}/s  remediated {counts.get(Outcome.REMEDIATED, 0)}  failed {counts.get(Outcome.FAILED, 0)}"
    )


def job_progress_line(label: str, status: str, done: int, total: int, failed: int, width: int = 20) -> str:
    """One Batch Operations job: a bar of its finished tasks (succeeded + failed) against its total, the label last
    (a narrow terminal cuts it, not the bar). The total is 0 until the manifest is read (statuses New, Preparing)."""
    if not total:
        return f"[{'.' * width}]   -   {status}  {label}"
    filled = min(width, width * done // total)
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {100 * done // total:>3}%  {done:,}/{total:,}  failed {failed:,}  {status}  {label}"


class Console:
    """stdout: result lines and the summary table (text), or nothing until the JSON document (json).
    stderr: notes, and a progress line that redraws in place, only when stderr is a terminal."""

    REDRAW_SECONDS = 0.2

    def __init__(self, json_mode: bool, show_versions: bool) -> None:
        self.json_mode = json_mode
        self.show_versions = show_versions
        self.out: TextIO = sys.stdout
        self.err: TextIO = sys.stderr
        self.progress_enabled = self.err.isatty()
        self.counts: Counter[Outcome] = Counter()
        self.tally = Tally()  # what the progress line counts against: the pool's, during a listing
        self.started = time.monotonic()
        self._drawn = 0.0
        self._progress_lines = 0  # lines of progress drawn on stderr, cleared before anything else is printed

    def notice(self, text: str) -> None:
        self._clear_progress()
        print(f"{PROG}: {text}", file=self.err, flush=True)

    def result(self, result: Result) -> None:
        self.counts[result.outcome] += 1
        if not self.json_mode:
            self._clear_progress()
            print(f"{result.outcome.value:<16} {self.resource(result)}  {result.reason}", file=self.out, flush=True)
            impact = getattr(result, "reader_impact", None)
            if impact and result.outcome is not Outcome.HELD:  # a held result's reason already says it
                print(f"{'':<16} readers: {impact}", file=self.out, flush=True)
        self.progress()

    def progress(self) -> None:
        now = time.monotonic()
        if not self.progress_enabled or not self.tally.taken or now - self._drawn < self.REDRAW_SECONDS:
            return
        self._drawn = now
        done = sum(self.counts.values())
        self.draw([progress_line(done, self.tally.taken, now - self.started, self.counts, self.tally.complete)])

    def draw(self, lines: Sequence[str]) -> None:
        """Progress lines drawn over the previous ones, on a terminal only. Each is cut to the terminal's width: a
        wrapped line would throw off the cursor moves of the next redraw."""
        if not self.progress_enabled:
            return
        if not lines:
            self._clear_progress()
            return
        width = max(20, shutil.get_terminal_size().columns - 1)
        up = "\x1b[A" * (self._progress_lines - 1)  # back to the first line drawn last time
        below = "\x1b[J" if len(lines) < self._progress_lines else ""  # fewer lines now: clear the rest
        self.err.write(up + "\r\x1b[K" + "\n\x1b[K".join(line[:width] for line in lines) + below)
        self.err.flush()
        self._progress_lines = len(lines)

    def _clear_progress(self) -> None:
        if self._progress_lines:
            self.err.write("\r\x1b[K" + "\x1b[A\x1b[K" * (self._progress_lines - 1))
            self.err.flush()
            self._progress_lines = 0

    def resource(self, result: Result) -> str:
        if isinstance(result, BucketResult):
            return f"s3://{result.bucket} (default encryption)"
        if isinstance(result, KeyResult):
            return result.key_arn
        text = f"s3://{result.bucket}/{result.key}"
        if self.show_versions and result.version_id not in (None, "null"):
            text += f" (version {result.version_id})"
        return text

    def line(self, text: str) -> None:
        """A line of the command's own output on stdout; none in json mode, whose document is all of stdout."""
        if self.json_mode:
            return
        self._clear_progress()
        print(text, file=self.out, flush=True)

    def document(self, document: Mapping[str, object]) -> None:
        """`--output json`: the one JSON document on stdout."""
        self._clear_progress()
        print(json.dumps(document, indent=2, default=str), file=self.out, flush=True)

    def finish(self, run: Run) -> None:
        self._clear_progress()
        if self.json_mode:
            self.document({"results": [answer(r) for r in run.results], "summary": run.summary()})
            return
        self.out.write(summary_table(run))
        self.out.flush()
