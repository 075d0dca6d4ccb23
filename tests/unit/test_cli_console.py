"""The terminal: result lines on stdout, notes and a progress line (on a terminal only) on stderr."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from dsse_remediation.cli.console import AlertErrors, Console, progress_line
from dsse_remediation.cli.pool import Tally
from dsse_remediation.cli.summary import Run
from dsse_remediation.model import BucketResult, KeyResult, ObjectResult, Outcome


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr as a terminal. Set in the test itself: pytest's capture sets sys.stderr again after the fixtures."""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(Console, "REDRAW_SECONDS", 0.0)
    return terminal


def test_progress_line() -> None:
    line = progress_line(10, 40, 2.0, {Outcome.REMEDIATED: 9, Outcome.FAILED: 1})

    assert line == "10/40 objects (25%)  5.0/s  remediated 9  failed 1"


def test_progress_line_while_the_listing_goes_on_counts_against_what_is_listed_so_far() -> None:
    line = progress_line(10, 40, 2.0, {Outcome.REMEDIATED: 9, Outcome.FAILED: 1}, listed=False)

    assert line == "10/40+ objects (listing)  5.0/s  remediated 9  failed 1"


def test_a_result_line_names_the_outcome_the_resource_and_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(json_mode=False, show_versions=False)

    console.result(ObjectResult(bucket="b", key="q3.csv", outcome=Outcome.REMEDIATED, reason="copied in place"))
    console.result(BucketResult(bucket="b", outcome=Outcome.COMPLIANT, reason="DSSE-KMS"))
    console.result(KeyResult(key_arn="arn:key", outcome=Outcome.COMPLIANT, reason="Enabled"))

    assert capsys.readouterr().out.splitlines() == [
        "remediated       s3://b/q3.csv  copied in place",
        "compliant        s3://b (default encryption)  DSSE-KMS",
        "compliant        arn:key  Enabled",
    ]


@pytest.mark.parametrize(("version", "shown"), [("v1", " (version v1)"), ("null", ""), (None, "")])
def test_versions_are_shown_with_all_versions_only_when_s3_has_one(version: str | None, shown: str) -> None:
    result = ObjectResult(bucket="b", key="k", version_id=version, outcome=Outcome.COMPLIANT, reason="")

    assert Console(json_mode=False, show_versions=True).resource(result) == "s3://b/k" + shown
    assert Console(json_mode=False, show_versions=False).resource(result) == "s3://b/k"


def test_json_mode_prints_one_document_and_no_result_lines(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(json_mode=True, show_versions=False)
    result = ObjectResult(bucket="b", key="k", outcome=Outcome.COMPLIANT, reason="ok")
    console.result(result)
    run = Run("check", "s3://b/k", True, Counter({Outcome.COMPLIANT: 1}), 1, 0.5, [result])

    console.finish(run)

    document = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in document["results"]] == ["k"]
    assert document["summary"]["exitCode"] == 0


def test_progress_redraws_on_stderr_against_the_tally_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = on_a_terminal(monkeypatch)
    console = Console(json_mode=True, show_versions=False)
    console.tally = Tally(taken=3, complete=False)

    console.result(ObjectResult(bucket="b", key="a", outcome=Outcome.REMEDIATED, reason=""))
    console.tally.complete = True
    console.result(ObjectResult(bucket="b", key="b", outcome=Outcome.FAILED, reason=""))

    drawn = terminal.getvalue().split("\r\x1b[K")
    assert drawn[1].startswith("1/3+ objects (listing)")
    assert drawn[2].startswith("2/3 objects (66%)")
    assert drawn[2].endswith("remediated 1  failed 1")
    assert capsys.readouterr().out == ""


def test_no_progress_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console(json_mode=True, show_versions=False)
    console.tally = Tally(taken=1, complete=True)

    console.result(ObjectResult(bucket="b", key="a", outcome=Outcome.REMEDIATED, reason=""))

    assert capsys.readouterr().err == ""


def test_a_notice_clears_the_progress_line_first(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_a_terminal(monkeypatch)
    console = Console(json_mode=True, show_versions=False)
    console.tally = Tally(taken=2, complete=True)
    console.result(ObjectResult(bucket="b", key="a", outcome=Outcome.REMEDIATED, reason=""))

    console.notice("interrupted")

    assert terminal.getvalue().endswith("remediated 1  failed 0\r\x1b[Kdsse-remediate: interrupted\n")


def test_alert_errors_are_counted_and_told_once() -> None:
    notes: list[str] = []
    errors = AlertErrors(notes.append)

    errors(RuntimeError("topic gone"))
    errors(RuntimeError("topic gone"))

    assert errors.count == 2
    assert notes == ["an alert could not be published (topic gone); the run goes on"]
