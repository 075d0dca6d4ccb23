"""The command line before any AWS call: targets, flags and usage errors (exit 2, one line, nothing read)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest

from dsse_remediation.cli import arguments, commands
from dsse_remediation.cli.arguments import Target, UsageError, parse_target
from dsse_remediation.exceptions import InvalidRequest

KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`dsse-remediate` with a key configured; reaching AWS fails the test (a usage error must come first)."""
    monkeypatch.setenv("DSSE_KMS_KEY", KEY)
    for name in ("ALERT_TOPIC_ARN", "PROTECTED_BUCKETS", "EXCLUDED_BUCKETS", "MODE"):
        monkeypatch.delenv(name, raising=False)

    def no_aws(*_: Any, **__: Any) -> Any:
        raise AssertionError("the command line reached AWS")

    monkeypatch.setattr(commands, "connect", no_aws)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = commands.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.mark.parametrize(
    ("uri", "recursive", "target"),
    [
        ("s3://example-bucket", False, Target("example-bucket", "")),
        ("s3://example-bucket/a/b.csv", False, Target("example-bucket", "a/b.csv")),
        ("s3://example-bucket/reports/", True, Target("example-bucket", "reports/")),
        ("s3://example-bucket", True, Target("example-bucket", "")),
        ("s3://Legacy_Reports/a.csv", False, Target("Legacy_Reports", "a.csv")),
    ],
)
def test_an_s3_uri_names_a_bucket_an_object_or_a_prefix(uri: str, recursive: bool, target: Target) -> None:
    assert parse_target(uri, recursive, all_versions=False) == target
    assert str(target) == uri


@pytest.mark.parametrize(
    ("uri", "recursive", "all_versions", "message"),
    [
        ("example-protected-bucket/a.csv", False, False, "is not an S3 URI"),
        ("s3://ab/a.csv", False, False, "is not a valid S3 bucket name"),
        ("s3://example-protected-bucket/reports/", False, False, "add --recursive"),
        ("s3://example-protected-bucket", False, True, "--all-versions needs"),
    ],
)
def test_a_target_that_cannot_be_meant_is_a_usage_error(
    uri: str, recursive: bool, all_versions: bool, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_target(uri, recursive, all_versions)


def test_an_object_key_over_the_s3_limit_is_refused_before_any_call() -> None:
    with pytest.raises(InvalidRequest, match="S3 keys are at most 1,024 bytes"):
        parse_target("s3://example-protected-bucket/" + "k" * 1025, recursive=False, all_versions=False)


@pytest.mark.parametrize(("raw", "value"), [("1", 1), ("8", 8), (str(arguments.MAX_CONCURRENCY), 64)])
def test_concurrency_is_a_whole_number_within_the_limit(raw: str, value: int) -> None:
    assert arguments.concurrency(raw) == value


@pytest.mark.parametrize(("raw", "message"), [("0", "outside 1-64"), ("65", "outside 1-64"), ("x", "not a whole")])
def test_concurrency_outside_the_limit_is_refused(raw: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        arguments.concurrency(raw)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "example-protected-bucket/a.csv"], "is not an S3 URI"),
        (["check", "s3://ab/a.csv"], "is not a valid S3 bucket name"),
        (["check", "s3://example-protected-bucket/reports/"], "add --recursive"),
        (["check", "s3://example-protected-bucket", "--all-versions"], "--all-versions needs"),
        (["check", "s3://example-protected-bucket/" + "k" * 1025], "S3 keys are at most 1,024 bytes"),
        (["check", "s3://example-protected-bucket/a", "--include", "Bad Pattern"], "invalid bucket patterns"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], message: str, run: Any) -> None:
    code, out, err = run(*argv)

    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_key_is_a_usage_error(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSSE_KMS_KEY")

    code, _, err = run("check", "s3://example-protected-bucket/a.csv")

    assert code == 2
    assert err == "dsse-remediate: no DSSE key: pass --key <key ARN or alias> or set DSSE_KMS_KEY\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["frobnicate", "s3://b/k"],
        ["fix", "s3://b/k", "--concurrency", "0"],
        ["fix", "s3://b/", "-r", "--max-objects", "0"],
        ["backfill", "s3://b", "--no-alerts"],  # backfill publishes nothing itself: the stack sends each job's alert
    ],
)
def test_argparse_errors_exit_2(argv: list[str], run: Any) -> None:
    code, _, err = run(*argv)

    assert code == 2
    assert "usage: dsse-remediate" in err


def test_version_and_help_exit_0(run: Any) -> None:
    code, out, _ = run("--version")
    assert (code, out) == (0, "dsse-remediate 0.1.0\n")

    code, out, _ = run("fix", "--help")
    assert code == 0
    assert "--report FILE.csv" in out
    assert ", ".join(arguments.REPORT_FIELDS) in " ".join(out.split())


def test_backfill_help_names_every_way_to_find_the_stacks_parts(run: Any) -> None:
    code, out, _ = run("backfill", "--help")

    text = " ".join(out.split())
    assert code == 0
    for flag in ("--all", "--from-inventory", "--estimate-only", "--wait", "--stack NAME", "--task-function ARN"):
        assert flag in text
    assert "BatchTaskFunctionAlias, BatchJobRoleArn, ReportBucketName" in text


def test_the_console_script_entry_point_is_the_package_main(run: Any) -> None:
    from dsse_remediation import cli

    assert cli.main(["--version"]) == 0


ROLE = "arn:aws:iam::111111111111:role/dsse-remediation-operator"


@pytest.mark.parametrize(
    "arn",
    [
        ROLE,
        "arn:aws:iam::111111111111:role/security/audit/dsse-operator",
        "arn:aws-us-gov:iam::111111111111:role/x",
        "arn:aws-cn:iam::111111111111:role/a+b=c,d.e@f_g-h",
    ],
)
def test_a_role_arn_names_an_iam_role(arn: str) -> None:
    assert arguments.role_arn(arn) == arn


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role-arn", "arn:aws:iam::11111111111:role/x"], "is not an IAM role ARN"),
        (["--role-arn", "arn:aws:iam::111111111111:user/x"], "is not an IAM role ARN"),
        (["--role-arn", "arn:aws:sts::111111111111:assumed-role/x/s"], "is not an IAM role ARN"),
        (["--role-arn", "dsse-remediation-operator"], "is not an IAM role ARN"),
        (["--role-arn", "arn:aws:iam::111111111111:role/"], "is not an IAM role ARN"),
        (["--role-arn", ROLE, "--role-session-name", "x"], "is not a role session name"),
        (["--role-arn", ROLE, "--role-session-name", "jane doe"], "is not a role session name"),
        (["--role-arn", ROLE, "--external-id", "a"], "is not an external id"),
    ],
)
@pytest.mark.parametrize(
    "command", [["check", "s3://example-protected-bucket/a.csv"], ["org-status", "--stack-set", "s"]]
)
def test_a_malformed_role_flag_is_a_usage_error(command: list[str], argv: list[str], message: str, run: Any) -> None:
    code, out, err = run(*command, *argv)

    assert (code, out) == (2, "")
    assert message in err


# What STS AssumeRole documents (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): its \w is
# ASCII ("upper- and lower-case alphanumeric characters with no spaces"), and a value is the whole string. Python's
# `\w` takes any Unicode letter or digit and its `$` also matches before a trailing newline: each of these got past
# such a check, reached AssumeRole after the run had begun and ended it with exit 1 instead of a usage error.
STS_REFUSES = [
    pytest.param(["--role-arn", ROLE + "\n"], "is not an IAM role ARN", id="role-arn-trailing-newline"),
    pytest.param(["--role-arn", ROLE + "-é"], "is not an IAM role ARN", id="role-arn-non-ascii-letter"),
    pytest.param(
        ["--role-arn", "arn:aws:iam::\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661:role/x"],
        "is not an IAM role ARN",
        id="role-arn-arabic-indic-account",
    ),
    pytest.param(
        ["--role-arn", f"{ROLE.rsplit('/', 1)[0]}/{'p' * 511}/x"], "is not an IAM role ARN", id="path-over-512"
    ),
    pytest.param(
        ["--role-arn", ROLE, "--role-session-name", "audit-jane\n"],
        "is not a role session name",
        id="session-name-trailing-newline",
    ),
    pytest.param(
        ["--role-arn", ROLE, "--role-session-name", "audit-jané"],
        "is not a role session name",
        id="session-name-non-ascii-letter",
    ),
    pytest.param(
        ["--role-arn", ROLE, "--role-session-name", "x" * 65], "is not a role session name", id="session-name-65"
    ),
    pytest.param(
        ["--role-arn", ROLE, "--external-id", "dsse-2026\n"], "is not an external id", id="external-id-trailing-newline"
    ),
    pytest.param(
        ["--role-arn", ROLE, "--external-id", "dsse-ñ-2026"], "is not an external id", id="external-id-non-ascii-letter"
    ),
    pytest.param(["--role-arn", ROLE, "--external-id", "x" * 1225], "is not an external id", id="external-id-1225"),
]


@pytest.mark.parametrize(("argv", "message"), STS_REFUSES)
def test_a_role_flag_sts_would_refuse_is_a_usage_error_before_any_call(argv: list[str], message: str, run: Any) -> None:
    code, out, err = run("check", "s3://example-protected-bucket/a.csv", *argv)

    assert (code, out) == (2, "")
    assert message in err
    assert repr(argv[-1]) in err  # the value as given, a newline shown as \\n


def test_the_role_flags_take_everything_sts_documents() -> None:
    assert arguments.session_name("a" * 64) == "a" * 64
    assert arguments.session_name("Jane_Doe+audit=1,2.3@corp-x") == "Jane_Doe+audit=1,2.3@corp-x"
    assert arguments.external_id("z" * 1224) == "z" * 1224
    assert arguments.external_id("urn:partner/dsse_2026+a=b,c.d@e-f") == "urn:partner/dsse_2026+a=b,c.d@e-f"
    longest = f"arn:aws:iam::111111111111:role/{'p' * 510}/{'n' * 64}"
    assert arguments.role_arn(longest) == longest


@pytest.mark.parametrize("flag", [["--external-id", "dsse-2026"], ["--role-session-name", "audit-jane"]])
def test_the_role_companions_without_a_role_are_a_usage_error(flag: list[str], run: Any) -> None:
    code, out, err = run("check", "s3://example-protected-bucket/a.csv", *flag)

    assert (code, out) == (2, "")
    assert err == "dsse-remediate: --external-id and --role-session-name go with --role-arn\n"


@pytest.mark.parametrize(
    "command", [["check", "s3://b"], ["fix", "s3://b"], ["key", "k"], ["backfill"], ["org-status"]]
)
def test_every_command_can_run_in_another_account(command: list[str], run: Any) -> None:
    code, out, _ = run(*command, "--help")

    text = " ".join(out.split())
    assert code == 0
    for flag in (
        "--profile PROFILE",
        "--region REGION",
        "--role-arn ARN",
        "--external-id ID",
        "--role-session-name NAME",
    ):
        assert flag in text
    assert "(default dsse-remediate)" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["org-status"],  # --stack-set is required
        ["org-status", "--stack-set", "s", "--hours", "0"],
        ["org-status", "--stack-set", "s", "--hours", "337"],
        ["org-status", "--stack-set", "s", "--call-as", "ADMIN"],
        ["org-status", "--stack-set", "s", "--output", "yaml"],
    ],
)
def test_org_status_usage_errors_exit_2(argv: list[str], run: Any) -> None:
    code, _, err = run(*argv)

    assert code == 2
    assert "usage: dsse-remediate org-status" in err


def test_org_status_help_states_its_exit_codes(run: Any) -> None:
    code, out, _ = run("org-status", "--help")

    text = " ".join(out.split())
    assert code == 0
    for words in ("--stack-set NAME", "--results-log-group NAME", "--hours N", "--call-as {SELF,DELEGATED_ADMIN}"):
        assert words in text
    assert "exit codes: 0 every active account has the stack (status CURRENT) in every Region" in text
