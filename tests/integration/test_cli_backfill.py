"""`dsse-remediate backfill` on fake AWS: moto for S3, KMS, CloudFormation, CloudWatch and STS, and the s3control
double (tests/s3control_double.py), which checks every CreateJob against the s3control model and plays the jobs:
their progress while `--wait` polls, and their completion reports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dsse_remediation import cli
from dsse_remediation.cli import backfill, session
from tests.helpers import ACCOUNT_ID, REGION
from tests.s3control_double import ReportRow, S3ControlDouble

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:dsse-batch-task"
ALIAS = f"{FUNCTION}:live"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/dsse-remediation-BatchJobRole"
REPORTS = "dsse-remediation-reports"
STACK = "dsse-remediation"


@pytest.fixture
def double(s3: Any, monkeypatch: pytest.MonkeyPatch) -> S3ControlDouble:
    """S3 Batch Operations for the CLI's App: s3control and the alias's GetAlias (version 7) from the double."""
    jobs = S3ControlDouble(ACCOUNT_ID, s3=s3, aliases={ALIAS: "7"})
    real_app = session.App
    monkeypatch.setattr(
        session,
        "App",
        lambda settings, client, *rest, **named: real_app(settings, jobs.factory(client), *rest, **named),
    )
    return jobs


@pytest.fixture
def stack(s3: Any, dsse_key: str) -> str:
    """A deployed stack as `--stack` reads it: the batch parts' outputs and the key and scope parameters."""
    return deployed(STACK, dsse_key)


def deployed(name: str, dsse_key: str, mode: str | None = None) -> str:
    template: dict[str, Any] = {
        "Parameters": {
            "DsseKmsKeyArn": {"Type": "String"},
            "ProtectedBuckets": {"Type": "String"},
            "ExcludedBuckets": {"Type": "String"},
        },
        "Resources": {"ReportBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": REPORTS}}},
        "Outputs": {
            "BatchTaskFunctionAlias": {"Value": ALIAS},
            "BatchJobRoleArn": {"Value": ROLE},
            "ReportBucketName": {"Value": {"Ref": "ReportBucket"}},
        },
    }
    parameters = [
        {"ParameterKey": "DsseKmsKeyArn", "ParameterValue": dsse_key},
        {"ParameterKey": "ProtectedBuckets", "ParameterValue": "example-*"},
        {"ParameterKey": "ExcludedBuckets", "ParameterValue": "example-excluded-*"},
    ]
    if mode:
        template["Parameters"]["Mode"] = {"Type": "String"}
        parameters.append({"ParameterKey": "Mode", "ParameterValue": mode})
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps(template), Parameters=parameters
    )
    return name


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """`dsse-remediate backfill ...` with nothing configured in the environment: what it needs comes from flags."""
    for name in (
        "DSSE_KMS_KEY",
        "PROTECTED_BUCKETS",
        "EXCLUDED_BUCKETS",
        "ALERT_TOPIC_ARN",
        "ACCOUNT_ID",
        "BATCH_TASK_FUNCTION",
        "BATCH_JOB_ROLE_ARN",
        "REPORT_BUCKET",
    ):
        monkeypatch.delenv(name, raising=False)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["backfill", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def polls(monkeypatch: pytest.MonkeyPatch, *rounds: Callable[[], None]) -> list[float]:
    """`--wait` without sleeping: each sleep between two DescribeJob rounds plays the next round instead."""
    slept: list[float] = []
    pending: Iterator[Callable[[], None]] = iter(rounds)

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        next(pending)()

    monkeypatch.setattr(backfill, "POLLING", backfill.Polling(sleep=sleep))
    return slept


def object_count(bucket: str, count: int) -> None:
    """S3's daily storage metric, as CloudWatch has it for the estimate."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": "NumberOfObjects",
                "Dimensions": [
                    {"Name": "BucketName", "Value": bucket},
                    {"Name": "StorageType", "Value": "AllStorageTypes"},
                ],
                "Value": count,
                "Timestamp": datetime.now(UTC) - timedelta(hours=6),
            }
        ],
    )


def test_with_the_stack_it_estimates_starts_follows_and_summarises_each_job(
    s3: Any, bucket: str, stack: str, double: S3ControlDouble, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    object_count(bucket, 2_000_000)

    def activity() -> None:
        for job_id in double.jobs:
            double.progress(job_id, "Active", succeeded=1, total=2)

    def completion() -> None:
        rows = [
            ReportRow("q3/a%20b.csv", result="remediated: copied in place from AES256"),
            ReportRow("q3/ok.csv", result="compliant: DSSE-KMS under the key"),
        ]
        for job_id in double.jobs:
            double.finish(job_id, "Complete", report=rows)

    slept = polls(monkeypatch, activity, completion)

    code, out, err = run(f"s3://{bucket}", "--stack", stack, "--campaign", "audit-q4", "--wait")

    assert code == 0
    assert len(slept) == 2
    estimate = out.index("Estimated fees of 3 S3 Batch Operations jobs")
    assert "objects (CloudWatch NumberOfObjects of " in out  # (moto averages in its own datapoint of the bucket)
    job_ids = list(double.jobs)
    assert len(job_ids) == 3
    for job_id, encryption in zip(job_ids, ("NOTSSE", "SSES3", "SSEKMS"), strict=True):
        assert out.index(f"started  {job_id}  s3://{bucket} {encryption}") > estimate
        request = double.jobs[job_id]
        assert request["Operation"]["LambdaInvoke"]["FunctionArn"] == f"{FUNCTION}:7"  # the alias's version, pinned
        assert request["RoleArn"] == ROLE
        assert request["Report"]["Bucket"] == f"arn:aws:s3:::{REPORTS}"
        assert request["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"] == {
            "MatchAnyObjectEncryption": [{encryption: {}}]
        }
    assert f"completion reports under s3://{REPORTS}/reports/audit-q4/job-<job id>/" in out
    # One summary for the bucket's three jobs, as the run's one alert says it.
    assert out.count("Outcomes:  remediated 3, compliant 3") == 1
    assert f"S3 Batch Operations jobs {', '.join(job_ids)} on s3://{bucket} (NOTSSE, SSES3, SSEKMS)" in out
    assert f"Report:    s3://{REPORTS}/reports/audit-q4/\n" in out
    assert f"dsse-remediate: job {job_ids[0]} (s3://{bucket} NOTSSE): New" in err
    assert f"dsse-remediate: job {job_ids[0]} (s3://{bucket} NOTSSE): Complete" in err


def test_a_job_with_failed_objects_exits_1_and_its_summary_lists_them(
    s3: Any, bucket: str, stack: str, double: S3ControlDouble, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def completion() -> None:
        for job_id in double.jobs:
            failed = ReportRow("big.bin", "failed", "failed: CopyObject throttled", error_code="TemporaryFailure")
            double.finish(job_id, "Complete", report=[ReportRow("a.csv", result="remediated: copied"), failed])

    polls(monkeypatch, completion)

    code, out, _ = run(f"s3://{bucket}", "--stack", stack, "--wait", "--output", "json")

    document = json.loads(out)
    assert code == 1
    assert document["exitCode"] == 1
    [summary] = document["summaries"]  # the bucket's three jobs in one
    assert summary["outcome"] == "failed"
    assert summary["counts"] == {"remediated": 3, "failed": 3}


def test_dry_run_jobs_are_created_so_and_report_what_they_would_do(
    s3: Any, bucket: str, stack: str, double: S3ControlDouble, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def completion() -> None:
        for job_id in double.jobs:
            double.finish(job_id, report=[ReportRow("a.csv", result="would-remediate: dry run: would copy in place")])

    polls(monkeypatch, completion)

    code, out, _ = run(f"s3://{bucket}", "--stack", stack, "--dry-run", "--wait")

    assert code == 1  # as `fix --dry-run`: something is not compliant
    assert "(dry run: the jobs change nothing)" in out
    assert {job["Operation"]["LambdaInvoke"]["UserArguments"]["dryRun"] for job in double.jobs.values()} == {"true"}
    assert "Outcomes:  would-remediate 3" in out


def test_the_same_command_again_starts_no_second_set_of_jobs(
    bucket: str, stack: str, double: S3ControlDouble, run: Any
) -> None:
    first = run(f"s3://{bucket}", "--stack", stack, "--created-after", "2026-01-01T00:00:00Z")
    second = run(f"s3://{bucket}", "--stack", stack, "--created-after", "2026-01-01T00:00:00Z")

    assert (first[0], second[0]) == (0, 0)
    assert len(double.jobs) == 3
    assert first[1].splitlines()[-4:] == second[1].splitlines()[-4:]  # the same job ids (ClientRequestToken)
    generator = next(iter(double.jobs.values()))["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator["Filter"]["CreatedAfter"] == datetime(2026, 1, 1, tzinfo=UTC)


def test_all_takes_every_in_scope_bucket_but_the_report_bucket(
    s3: Any, bucket: str, stack: str, double: S3ControlDouble, run: Any
) -> None:
    for name in ("example-second-bucket", "example-excluded-logs", "unrelated-bucket"):
        s3.create_bucket(Bucket=name)

    code, _, _ = run("--all", "--stack", stack, "--include-dsse-other-keys")

    sources = [job["ManifestGenerator"]["S3JobManifestGenerator"]["SourceBucket"] for job in double.jobs.values()]
    assert code == 0
    assert sorted(set(sources)) == [
        f"arn:aws:s3:::{name}" for name in ("example-protected-bucket", "example-second-bucket")
    ]
    assert len(sources) == 8  # NOTSSE, SSES3, SSEKMS and DSSEKMS each


def test_explicit_flags_and_the_callers_account_instead_of_a_stack(
    s3: Any, bucket: str, dsse_key: str, double: S3ControlDouble, run: Any
) -> None:
    s3.create_bucket(Bucket=REPORTS)

    code, out, _ = run(
        f"s3://{bucket}",
        "--key",
        dsse_key,
        "--task-function",
        ALIAS,
        "--job-role",
        ROLE,
        "--report-bucket",
        REPORTS,
        "--priority",
        "50",
        "--output",
        "json",
    )

    document = json.loads(out)
    assert code == 0
    assert [job["encryption"] for job in document["jobs"]] == ["NOTSSE", "SSES3", "SSEKMS"]
    assert {job["AccountId"] for job in double.jobs.values()} == {ACCOUNT_ID}  # STS GetCallerIdentity
    assert {job["Priority"] for job in double.jobs.values()} == {50}


def test_a_job_refused_by_s3_is_reported_and_the_exit_is_1(
    bucket: str, stack: str, double: S3ControlDouble, run: Any
) -> None:
    double.fail("CreateJob", "AccessDenied", 403, "not authorized to perform iam:PassRole")

    code, out, err = run(f"s3://{bucket}", "--stack", stack)

    assert code == 1
    assert f"s3://{bucket} NOTSSE: CreateJob failed" in err
    assert "iam:PassRole" in err
    assert len(double.jobs) == 2
    assert f"s3://{bucket} SSES3" in out


def test_estimate_only_calls_no_s3control(bucket: str, stack: str, double: S3ControlDouble, run: Any) -> None:
    code, out, _ = run(f"s3://{bucket}", "--stack", stack, "--estimate-only")

    assert code == 0
    assert "Estimated fees of 3" in out
    assert double.calls == []


def test_an_unknown_stack_is_a_usage_error(aws: None, run: Any) -> None:
    code, out, err = run("s3://example-protected-bucket", "--stack", "no-such-stack")

    assert (code, out) == (2, "")
    assert "--stack no-such-stack: ValidationError: Stack with id no-such-stack does not exist" in err


def test_a_stack_without_the_batch_outputs_says_so(dsse_key: str, run: Any) -> None:
    template = {"Resources": {"Reports": {"Type": "AWS::S3::Bucket"}}}
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="old", TemplateBody=json.dumps(template))

    code, _, err = run("s3://example-protected-bucket", "--stack", "old", "--key", dsse_key)

    assert code == 2
    assert "stack old has no output BatchTaskFunctionAlias, BatchJobRoleArn, ReportBucketName" in err


def test_the_jobs_of_an_alert_only_stack_are_dry_runs(
    s3: Any, bucket: str, dsse_key: str, double: S3ControlDouble, run: Any
) -> None:
    stack = deployed("watch-only", dsse_key, mode="alert-only")

    code, _, _ = run(f"s3://{bucket}", "--stack", stack)

    assert code == 0
    assert {job["Operation"]["LambdaInvoke"]["UserArguments"]["dryRun"] for job in double.jobs.values()} == {"true"}
