"""`dsse-remediate posture`'s command line: what it refuses before any AWS call (exit 2, nothing read or written)."""

from __future__ import annotations

import pytest

from dsse_remediation.cli.arguments import UsageError, build_parser
from dsse_remediation.cli.commands import main
from dsse_remediation.cli.posture import parse_buckets

MANIFEST = "s3://reports/source/config/2026-01-02T01-00Z/manifest.json"


def buckets(*argv: str) -> list[str]:
    return parse_buckets(build_parser().parse_args(["posture", *argv]))


def test_named_buckets_are_taken_once_each_in_order() -> None:
    assert buckets("s3://one", "s3://two", "s3://one") == ["one", "two"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "name the buckets"),
        (("s3://one", "--all"), "not both"),
        (("s3://one/prefix/",), "posture surveys whole buckets"),
        (("one",), "is not an S3 URI"),
        (("s3://no spaces",), "is not a valid S3 bucket name"),
        (("s3://one", "s3://two", "--from-inventory", MANIFEST), "reads one bucket's report"),
        (("--from-inventory", "s3://reports"), "names no object"),
        (("--from-inventory", MANIFEST, "--source", "scan"), "contradict"),
        (("s3://one", "--source", "scan", "--sample", "10"), "--sample applies to an inventory"),
        (("s3://one", "--source", "scan", "--athena-sql"), "--athena-sql queries an inventory report"),
    ],
)
def test_a_contradictory_command_line_is_refused(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        buckets(*argv)


@pytest.mark.parametrize("argv", [("--sample", "0"), ("--concurrency", "65"), ("--source", "guess")])
def test_bad_values_are_usage_errors(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["posture", "s3://one", *argv]) == 2
    assert capsys.readouterr().out == ""


def test_usage_errors_exit_2_before_any_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["posture", "s3://one", "--all"]) == 2
    assert "not both" in capsys.readouterr().err
