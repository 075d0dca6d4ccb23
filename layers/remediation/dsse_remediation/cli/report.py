"""`--report FILE.csv`: one row per resource, in listing order, written as the results come in.

Written row by row (not at the end) so a run over millions of objects never holds its rows, and an interrupted or
crashed run leaves the rows of everything it did.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator

from ..model import BucketResult, ObjectResult, Outcome
from .arguments import REPORT_FIELDS, UsageError

# A cell starting with one of these runs as a formula when the CSV is opened in a spreadsheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def report_row(result: ObjectResult | BucketResult) -> dict[str, str]:
    """encryptionAfter is the encryption after the run: the same as before when nothing was changed."""
    before = str(result.before) if result.before else ""
    after = result.after or (result.before if result.outcome is not Outcome.REMEDIATED else None)
    return {
        "bucket": result.bucket,
        "key": cell(result.key) if isinstance(result, ObjectResult) else "",
        "versionId": (result.version_id or "") if isinstance(result, ObjectResult) else "",
        "outcome": result.outcome.value,
        "reason": result.reason,
        "encryptionBefore": before,
        "encryptionAfter": str(after) if after else "",
    }


def cell(text: str) -> str:
    """A key opened in a spreadsheet must not run as a formula (keys may start with = + - @)."""
    return "'" + text if text[:1] in _FORMULA_STARTS else text


@contextlib.contextmanager
def report_file(path: str | None) -> Iterator[csv.DictWriter[str] | None]:
    """Opened before any work, so a bad path fails first (exit 2)."""
    if path is None:
        yield None
        return
    try:
        handle = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise UsageError(f"cannot write the report {path}: {exc.strerror}") from None
    with handle:
        writer = csv.DictWriter(handle, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        yield writer
