"""What a run amounts to: the results it keeps, its counts, the exit code, the summary table and the JSON summary.

A recursive run may cover millions of objects, so a run keeps counts, not results: each result is counted, written to
the CSV report as it comes, and kept only when the JSON document will print it.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import BucketResult, KeyResult, ObjectResult, Outcome, Result
from .arguments import EXIT_ATTENTION, EXIT_INTERRUPTED, EXIT_OK, PROG
from .report import report_row

NEEDS_ATTENTION = frozenset({Outcome.FAILED, Outcome.UNREMEDIABLE, Outcome.WOULD_REMEDIATE, Outcome.HELD})


class Results:
    """Every result of a run, in listing order: counted; kept only when `keep` (the JSON document); written to the
    CSV report at once."""

    def __init__(self, keep: bool = True, report: csv.DictWriter[str] | None = None) -> None:
        self.counts: Counter[Outcome] = Counter()
        self.kept: list[Result] = []
        self._keep = keep
        self._report = report

    def add(self, result: Result) -> None:
        self.counts[result.outcome] += 1
        if self._keep:
            self.kept.append(result)
        if self._report is not None and isinstance(result, ObjectResult | BucketResult):
            self._report.writerow(report_row(result))


@dataclass(frozen=True)
class Run:
    command: str
    target: str
    dry_run: bool
    counts: Mapping[Outcome, int]
    total: int  # resources listed (a listing stopped by Ctrl-C: listed so far)
    elapsed: float
    results: Sequence[Result] = field(default_factory=tuple)  # only when kept (the JSON document)
    interrupted: bool = False
    still_running: int = 0
    alert_errors: int = 0
    listing_complete: bool = True

    @property
    def processed(self) -> int:
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_ATTENTION if any(self.counts.get(outcome) for outcome in NEEDS_ATTENTION) else EXIT_OK

    def summary(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "target": self.target,
            "dryRun": self.dry_run,
            "total": self.total,
            "processed": self.processed,
            "outcomes": {outcome.value: self.counts.get(outcome, 0) for outcome in Outcome},
            "interrupted": self.interrupted,
            "stillRunning": self.still_running,
            "alertErrors": self.alert_errors,
            "elapsedSeconds": round(self.elapsed, 3),
            "exitCode": self.exit_code,
        }


def summary_table(run: Run) -> str:
    width = max(len(outcome.value) for outcome in Outcome)
    rows = [f"{o.value:<{width}}  {run.counts[o]:>7}" for o in Outcome if run.counts.get(o)]
    title = f"{run.command} {run.target}" + (" (dry run: nothing changed)" if run.dry_run else "")
    lines = ["", f"Summary: {title}", f"{'outcome':<{width}}  {'count':>7}", *rows]
    lines += [f"{'-' * width}  {'-' * 7}", f"{'total':<{width}}  {run.processed:>7}"]
    rate = run.processed / run.elapsed if run.elapsed > 0 else 0.0
    lines.append(f"{run.processed} of {run.total} in {run.elapsed:.1f}s ({rate:.1f}/s); {verdict(run)}")
    return "\n".join(lines) + "\n"


def verdict(run: Run) -> str:
    attention = sum(n for outcome, n in run.counts.items() if outcome in NEEDS_ATTENTION)
    if run.interrupted:
        running = f", {run.still_running} still running" if run.still_running else ""
        unlisted = "" if run.listing_complete else ", more not listed"  # a streamed listing stops with the work
        return f"interrupted: {run.total - run.processed} not processed{running}{unlisted} (exit 130)"
    if not attention:
        return "everything in scope is DSSE-KMS under its key (exit 0)"
    if run.dry_run and attention == run.counts.get(Outcome.WOULD_REMEDIATE, 0):
        return f"{attention} not compliant; run `{PROG} fix` to remediate (exit 1)"
    return f"{attention} need attention: see the reasons above (exit 1)"


def key_report(result: KeyResult) -> str:
    """`key` in text mode: the key's facts, one per line, and every bucket scope that depends on it."""
    rotation = {True: "on", False: "off", None: "-"}[result.rotation_enabled]
    protects = result.protects or ("no configured bucket scope",)
    lines = [
        f"key       {result.key_arn}",
        f"outcome   {result.outcome.value}: {result.reason}",
        f"state     {result.key_state or '-'}",
        f"rotation  {rotation}",
        f"deletion  {result.deletion_date or '-'}",
        *(f"{'protects' if i == 0 else '':<8}  {scope}" for i, scope in enumerate(protects)),
    ]
    return "\n".join(lines) + "\n"
