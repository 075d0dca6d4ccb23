"""`dsse-remediate coverage` before and after its AWS calls: its flags and usage errors (exit 2, nothing read), the
settings it reads (the scope; never a key), and the text it prints for a report."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest

from dsse_remediation.cli import commands
from dsse_remediation.cli import coverage as command
from dsse_remediation.cli.arguments import build_parser
from dsse_remediation.cli.coverage import coverage_settings, text
from dsse_remediation.coverage.report import Trail, coverage
from dsse_remediation.coverage.selectors import AdvancedSelector, FieldSelector

OBJECTS = AdvancedSelector(
    (FieldSelector("eventCategory", equals=("Data",)), FieldSelector("resources.type", equals=("AWS::S3::Object",)))
)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["coverage", *argv])


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`dsse-remediate coverage`; reaching AWS fails the test (a usage error must come first)."""

    def no_aws(*_: Any, **__: Any) -> Any:
        raise AssertionError("the command line reached AWS")

    monkeypatch.setattr(command, "connect", no_aws)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = commands.main(["coverage", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("s3://example-bucket",), "unrecognized arguments: s3://example-bucket"),
        (("--key", "alias/dsse"), "unrecognized arguments: --key"),
        (("--output", "yaml"), "invalid choice: 'yaml'"),
        (("--external-id", "x-2026"), "--external-id and --role-session-name go with --role-arn"),
    ],
)
def test_what_coverage_does_not_take_is_a_usage_error_before_any_call(
    run: Any, argv: tuple[str, ...], message: str
) -> None:
    code, out, err = run(*argv)

    assert (code, out) == (2, "")
    assert message in err


def test_an_invalid_bucket_pattern_is_a_usage_error_before_any_call(run: Any) -> None:
    code, _, err = run("--include", "finance/*")

    assert code == 2
    assert "PROTECTED_BUCKETS has invalid bucket patterns ['finance/*']" in err


def test_the_scope_is_the_flags_else_the_lambdas_variables_and_no_key_is_read() -> None:
    environ = {
        "PROTECTED_BUCKETS": "finance-*,payments-*",
        "EXCLUDED_BUCKETS": "finance-tmp",
        "DSSE_KMS_KEY": "not a key reference",  # coverage reads no key: a bad one does not matter
        "BUCKET_KEY_MAP": "also=wrong",
        "ACCOUNT_ID": "123456789012",
        "REPORT_BUCKET": "dsse-reports",
    }

    from_env = coverage_settings(parse(), environ)
    from_flags = coverage_settings(parse("--include", "logs-*", "--exclude", ""), environ)

    assert (from_env.scope.include, from_env.scope.exclude) == (("finance-*", "payments-*"), ("finance-tmp",))
    assert (from_flags.scope.include, from_flags.scope.exclude) == (("logs-*",), ())
    assert (from_env.account_id, from_env.batch.report_bucket) == ("123456789012", "dsse-reports")
    assert from_env.bucket_keys == ()


def test_the_text_lists_the_trails_then_one_line_per_bucket_then_the_verdict() -> None:
    trails = (
        Trail(
            "data-events",
            "arn:aws:cloudtrail:eu-west-1:123456789012:trail/data-events",
            "eu-west-1",
            multi_region=True,
            logging=True,
            selectors=(OBJECTS,),
        ),
        Trail("eu-only", "arn:aws:cloudtrail:eu-west-1:123456789012:trail/eu-only", "eu-west-1", logging=True),
        Trail("org", "arn:aws:cloudtrail:us-east-1:999999999999:trail/org", "us-east-1", problem="denied"),
    )
    report = coverage(["finance"], trails, "us-east-1", "aws", "123456789012", "include *")

    printed = text(report, 0)

    assert printed.splitlines() == [
        "trails that log in us-east-1 (123456789012):",
        "  data-events  arn:aws:cloudtrail:eu-west-1:123456789012:trail/data-events  (home eu-west-1, multi-Region)  "
        "logging, advanced selectors (2 values)",
        "  eu-only  arn:aws:cloudtrail:eu-west-1:123456789012:trail/eu-only  (home eu-west-1, single-Region: does not "
        "log in us-east-1)  logging, no event selectors",
        "  org  arn:aws:cloudtrail:us-east-1:999999999999:trail/org  (home us-east-1)  unreadable: denied",
        "",
        "covered    s3://finance  by data-events",
        "",
        "all 1 in-scope bucket(s) covered in us-east-1 (exit 0)",
    ]
