"""The rows of an S3 Batch Operations completion report, counted under the outcome each task ended with.

A result file's rows are `Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage`. The task
function answers every task with a `resultString` of `"<outcome>: <reason>"`, which S3 writes as ResultMessage, so
each row is counted under its outcome; a failed row without that prefix (S3's own errors: the function timed out,
could not be invoked) counts as `failed`, with its ErrorCode and HTTP status. The report format:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html (its manifest.json declares
`ErrorCode, HTTPStatusCode` while its example rows put the HTTP status first: the rows are told apart by content).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote_plus

from ..model import Outcome

MAX_EXAMPLES = 50  # failed and unremediable objects kept per job (each); the report has them all
UNKNOWN = "unknown"  # a succeeded row without an outcome prefix (not written by this product's task function)
_OUTCOMES = frozenset(o.value for o in Outcome)


@dataclass(frozen=True)
class TaskExample:
    """One object of the report a human should look at."""

    bucket: str
    key: str
    outcome: str
    reason: str
    version_id: str | None = None


def parse_row(row: list[str]) -> TaskExample | None:
    """One completion report row as (bucket, decoded key, outcome, reason); None for a row too short to be one.

    The outcome is the ResultMessage's `<outcome>: ` prefix that the task function writes. A failed row without it
    is S3's own failure (a timeout, an invocation error): `failed`, with its ErrorCode and HTTP status."""
    if len(row) < 4:
        return None
    bucket, raw_key, version, status = (cell.strip() for cell in row[:4])
    first, second = (row[4].strip() if len(row) > 4 else ""), (row[5].strip() if len(row) > 5 else "")
    # ReportSchema says ErrorCode, HTTPStatusCode; the documented example rows say 200, PermanentFailure.
    http, code = (first, second) if first.isdigit() else (second, first)
    message = ",".join(row[6:]).strip()
    head, sep, rest = message.partition(": ")
    if sep and head in _OUTCOMES:
        outcome, reason = head, rest
    elif status.lower() == "failed":
        what = " ".join(part for part in (code, f"(HTTP {http})" if http else "") if part) or "task failed"
        outcome, reason = Outcome.FAILED.value, f"{what}: {message}" if message else what
    else:
        outcome, reason = UNKNOWN, message
    return TaskExample(
        bucket=bucket, key=unquote_plus(raw_key), outcome=outcome, reason=reason, version_id=version or None
    )


class Tally:
    """Outcome counts and the first examples, over rows streamed once."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failed: list[TaskExample] = []
        self.unremediable: list[TaskExample] = []
        self.rows = 0
        self.succeeded_rows = 0

    def add(self, row: list[str]) -> None:
        example = parse_row(row)
        if example is None:
            return
        self.rows += 1
        self.succeeded_rows += row[3].strip().lower() != "failed"
        self.counts[example.outcome] += 1
        kept = {Outcome.FAILED.value: self.failed, Outcome.UNREMEDIABLE.value: self.unremediable}.get(example.outcome)
        if kept is not None and len(kept) < MAX_EXAMPLES:
            kept.append(example)
