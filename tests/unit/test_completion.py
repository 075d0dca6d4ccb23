"""Job completion without AWS: how a completion report's rows are counted, what the summary and its one alert say,
and which jobs are left alone before anything is read. DescribeJob and the report files are plain in-memory fakes here
(the report bucket is tests/fakes.py's FakeReportFiles); the same paths on fake AWS with the Batch Operations stand-in
are in tests/integration/test_completion.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote_plus

import pytest

from dsse_remediation.alerts import SCHEMA, Alert, Alerts, Context
from dsse_remediation.aws.batch_jobs import JobStatus
from dsse_remediation.batch.completion import Completions
from dsse_remediation.batch.report import MAX_EXAMPLES, TaskExample, parse_row
from dsse_remediation.batch.summary import JobSummary, summary_alert
from dsse_remediation.config import BatchSettings
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.model import Failure, Outcome
from tests.batch_operations import JOB_ROLE_ARN, REPORT_BUCKET
from tests.clock import PINNED, PinnedClock
from tests.fakes import FakeReportFiles
from tests.helpers import ACCOUNT_ID, REGION

JOB_ID = "9c1d5e0b-fd60-4b6e-9ae7-c9ab5a41b3e6"
PREFIX = f"reports/backfill-1/job-{JOB_ID}"
CONTEXT = Context("remediate", ACCOUNT_ID, REGION, clock=PinnedClock())
SETTINGS = BatchSettings(job_role_arn=JOB_ROLE_ARN)


def job(status: str = "Complete", role: str = JOB_ROLE_ARN, total: int = 4, failed: int = 0, **extra: Any) -> JobStatus:
    return JobStatus(
        job_id=JOB_ID,
        arn=f"arn:aws:s3:{REGION}:{ACCOUNT_ID}:job/{JOB_ID}",
        status=status,
        description="dsse-remediation backfill-1 s3://example-protected-bucket NOTSSE",
        role_arn=role,
        total=total,
        succeeded=total - failed,
        failed=failed,
        report_bucket=REPORT_BUCKET,
        report_prefix="reports/backfill-1",
        user_arguments={"dryRun": "false", "campaign": "backfill-1"},
        **extra,
    )


class Jobs:
    def __init__(self, status: JobStatus) -> None:
        self.status = status
        self.described: list[str] = []

    def describe(self, job_id: str) -> JobStatus:
        self.described.append(job_id)
        return self.status

    def ids_described(self, prefix: str) -> list[str]:
        """A run of one job (tests/integration/test_completion.py covers runs of several)."""
        return [self.status.job_id] if self.status.description.startswith(prefix) else []


class Published:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def publish(self, alert: Alert) -> str:
        self.alerts.append(alert)
        return "m-1"


def report(*files: tuple[str, Iterable[tuple[str, ...]]]) -> dict[str, Any]:
    """A completion report: manifest.json plus one CSV per (TaskExecutionStatus, rows), as FakeReportFiles holds it."""
    objects: dict[str, Any] = {}
    results = []
    for n, (status, rows) in enumerate(files):
        key = f"{PREFIX}/results/{n}.csv"
        objects[f"{REPORT_BUCKET}/{key}"] = [list(row) for row in rows]
        results.append({"TaskExecutionStatus": status, "Bucket": REPORT_BUCKET, "MD5Checksum": "x", "Key": key})
    manifest = {"Format": "Report_CSV_20180820", "Results": results, "ReportSchema": "Bucket, Key, ..."}
    objects[f"{REPORT_BUCKET}/{PREFIX}/manifest.json"] = manifest
    return objects


def row(key: str, message: str, status: str = "succeeded", code: str = "", http: str = "200") -> tuple[str, ...]:
    return ("example-protected-bucket", quote_plus(key, safe="/"), "", status, code, http, message)


def completions(status: JobStatus, objects: dict[str, Any] | None = None) -> tuple[Any, ...]:
    jobs, files, sink = Jobs(status), FakeReportFiles(objects or {}), Published()
    alerts = Alerts(sink, Context("remediate", ACCOUNT_ID, REGION))
    return Completions(SETTINGS, jobs, files, alerts), jobs, files, sink  # type: ignore[arg-type]


# --- rows -----------------------------------------------------------------------------------------------------------


def test_a_row_is_counted_under_the_outcome_its_result_message_starts_with_and_its_key_is_decoded() -> None:
    parsed = parse_row(list(row("Q3 report+final 100%/Ünïcødé.txt", "remediated: copied in place")))

    assert parsed == TaskExample(
        bucket="example-protected-bucket",
        key="Q3 report+final 100%/Ünïcødé.txt",
        outcome="remediated",
        reason="copied in place",
    )


def test_a_failed_row_without_an_outcome_is_s3s_own_failure_counted_failed_with_its_error_code() -> None:
    parsed = parse_row(
        list(
            row(
                "image_1", 'Lambda returned function error: {"errorMessage": "timed out"}', "failed", "PermanentFailure"
            )
        )
    )

    assert parsed is not None
    assert parsed.outcome == "failed"
    assert parsed.reason.startswith("PermanentFailure (HTTP 200): Lambda returned function error")


def test_the_http_status_and_error_code_are_told_apart_in_either_column_order() -> None:
    """ReportSchema says ErrorCode, HTTPStatusCode; AWS's example rows put 200 first."""
    documented = parse_row(["b", "k", "", "failed", "PermanentFailure", "200", "boom"])
    example = parse_row(["b", "k", "", "failed", "200", "PermanentFailure", "boom"])

    assert documented == example
    assert documented is not None
    assert documented.reason == "PermanentFailure (HTTP 200): boom"


def test_a_result_message_with_commas_is_kept_whole_and_a_short_row_is_skipped() -> None:
    parsed = parse_row(["b", "k", "v1", "succeeded", "", "200", "unremediable: SSE-C", " customer key"])

    assert parsed is not None
    assert (parsed.outcome, parsed.reason, parsed.version_id) == ("unremediable", "SSE-C, customer key", "v1")
    assert parse_row(["b", "k"]) is None


# --- which jobs are summarised --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["New", "Preparing", "Active", "Completing", "Failing", "Paused"])
def test_a_status_that_is_not_final_is_ignored_before_anything_is_read(status: str) -> None:
    completion, jobs, files, sink = completions(job())

    assert completion.on_status_change(JOB_ID, status) is None
    assert (jobs.described, files.reads, sink.alerts) == ([], [], [])


def test_a_job_started_by_another_role_is_ignored_and_its_report_never_read() -> None:
    completion, _, files, sink = completions(job(role="arn:aws:iam::123456789012:role/someone-elses-job"))

    assert completion.on_status_change(JOB_ID, "Complete") is None
    assert (files.reads, sink.alerts) == ([], [])


def test_without_a_configured_job_role_no_job_is_taken_for_ours() -> None:
    completion, _, files, _ = completions(job())
    completion.settings = BatchSettings()

    assert completion.on_status_change(JOB_ID, "Complete") is None
    assert files.reads == []


def test_a_manual_summary_of_another_stacks_job_is_refused_with_a_reason() -> None:
    completion, _, files, _ = completions(job(role="arn:aws:iam::123456789012:role/other"))

    with pytest.raises(InvalidRequest, match="not started by this stack"):
        completion.summarize(JOB_ID)
    assert files.reads == []


# --- the summary ----------------------------------------------------------------------------------------------------


def test_the_summary_counts_every_outcome_and_lists_failed_and_unremediable_objects_with_keys_decoded() -> None:
    objects = report(
        (
            "succeeded",
            [
                row("a.txt", "remediated: copied in place"),
                row("b.txt", "compliant: already DSSE-KMS"),
                row("c d.txt", "unremediable: SSE-C: the customer key is needed"),
                row("gone.txt", "gone: deleted before the task ran"),
            ],
        ),
        ("failed", [row("e+f.txt", "failed: SlowDown", "failed", "TemporaryFailure")]),
    )
    completion, _, _, sink = completions(job(total=5, failed=1), objects)

    summary = completion.on_status_change(JOB_ID, "Complete")

    assert summary is not None
    assert dict(summary.counts) == {"remediated": 1, "compliant": 1, "unremediable": 1, "gone": 1, "failed": 1}
    assert [(e.key, e.reason) for e in summary.unremediable] == [("c d.txt", "SSE-C: the customer key is needed")]
    assert [(e.key, e.reason) for e in summary.failed_tasks] == [("e+f.txt", "SlowDown")]
    assert summary.report_location == f"s3://{REPORT_BUCKET}/{PREFIX}/"
    assert (summary.campaign, summary.bucket, summary.encryption_filter) == (
        "backfill-1",
        "example-protected-bucket",
        "NOTSSE",
    )
    assert summary.outcome is Outcome.FAILED
    assert len(sink.alerts) == 1


def test_at_most_fifty_failed_and_fifty_unremediable_examples_are_kept_but_all_are_counted() -> None:
    rows = [row(f"u{n}", "unremediable: archived") for n in range(80)]
    failed = [row(f"f{n}", "failed: InternalError", "failed", "PermanentFailure") for n in range(70)]
    completion, _, _, _ = completions(job(total=150, failed=70), report(("succeeded", rows), ("failed", failed)))

    summary = completion.summarize(JOB_ID)

    assert (len(summary.unremediable), len(summary.failed_tasks)) == (MAX_EXAMPLES, MAX_EXAMPLES)
    assert dict(summary.counts) == {"unremediable": 80, "failed": 70}
    assert "Unremediable (80, first 50 listed):" in summary.text()


def test_a_report_too_large_for_one_invocation_is_read_up_to_its_budget_and_says_so() -> None:
    rows = [row(f"k{n}", "compliant: ok") for n in range(30)]
    failed = [row("bad", "failed: InternalError", "failed", "PermanentFailure")]
    completion, _, _, _ = completions(job(total=31, failed=1), report(("succeeded", rows), ("failed", failed)))
    completion.max_succeeded_rows = 10

    summary = completion.summarize(JOB_ID)

    assert dict(summary.counts) == {"compliant": 10, "failed": 1}  # failed files are read whole, first
    assert summary.report_note is not None
    assert "first 11 rows" in summary.report_note


def test_a_job_whose_report_is_missing_is_still_summarised_from_describe_job() -> None:
    completion, _, _, sink = completions(
        job(status="Failed", total=1200, failed=700, failure_reasons=("TaskFailureThreshold: too many",))
    )

    summary = completion.on_status_change(JOB_ID, "Failed")

    assert summary is not None
    assert summary.outcome is Outcome.FAILED
    assert summary.report_note is not None
    assert "no completion report" in summary.report_note
    assert "Job error: TaskFailureThreshold: too many" in summary.text()
    assert len(sink.alerts) == 1


def test_a_report_that_cannot_be_read_for_another_reason_raises_for_a_retry() -> None:
    completion, _, files, sink = completions(job(), report())

    files.failure = AwsFailure(Failure.DENIED, "AccessDenied: no", "AccessDenied")
    with pytest.raises(AwsFailure) as raised:
        completion.on_status_change(JOB_ID, "Complete")
    assert raised.value.failure is Failure.DENIED
    assert sink.alerts == []  # sent once the report can be read, on the retry


def test_a_running_job_summary_reads_no_report() -> None:
    completion, _, files, _ = completions(job(status="Active"))

    summary = completion.summarize(JOB_ID)

    assert files.reads == []
    assert summary.report_note == "the job is still running: no completion report yet"


# --- the alert ------------------------------------------------------------------------------------------------------


def summary_of(**fields: Any) -> JobSummary:
    defaults: dict[str, Any] = {
        "job_id": JOB_ID,
        "job_arn": f"arn:aws:s3:{REGION}:{ACCOUNT_ID}:job/{JOB_ID}",
        "status": "Complete",
        "campaign": "backfill-1",
        "bucket": "example-protected-bucket",
        "encryption_filter": "SSES3",
        "total_tasks": 3,
        "succeeded_tasks": 3,
        "report_location": f"s3://{REPORT_BUCKET}/{PREFIX}/",
    }
    return JobSummary(**(defaults | fields))


@pytest.mark.parametrize(
    ("fields", "outcome", "severity"),
    [
        ({"counts": {"remediated": 2, "compliant": 1}}, "remediated", "low"),
        ({"counts": {"remediated": 2, "unremediable": 1}}, "unremediable", "high"),
        ({"counts": {"remediated": 2, "failed": 1}}, "failed", "high"),
        ({"status": "Failed"}, "failed", "high"),
        ({"status": "Cancelled", "counts": {"remediated": 3}}, "failed", "high"),
        ({"dry_run": True, "counts": {"would-remediate": 3}}, "would-remediate", "medium"),
    ],
)
def test_the_alert_outcome_follows_the_job_and_its_tasks(fields: dict[str, Any], outcome: str, severity: str) -> None:
    alert = summary_alert(summary_of(**fields), CONTEXT)

    assert (alert.body["outcome"], alert.body["severity"]) == (outcome, severity)
    assert alert.attributes == {
        "severity": severity,
        "outcome": outcome,
        "resourceType": "batch-job",
        "bucket": "example-protected-bucket",
    }


def test_the_alert_body_carries_the_documented_fields_and_its_email_is_the_summary_text() -> None:
    example = TaskExample("example-protected-bucket", "x y.txt", "unremediable", "SSE-C")
    summary = summary_of(counts={"remediated": 2, "unremediable": 1}, unremediable=(example,))

    alert = summary_alert(summary, CONTEXT)

    body = alert.body
    assert body["schema"] == SCHEMA
    assert body["time"] == PINNED.isoformat(timespec="seconds")  # the App's clock, like every other alert
    assert (body["resourceType"], body["resource"]) == ("batch-job", summary.job_arn)
    assert body["counts"] == {"remediated": 2, "unremediable": 1}
    assert body["unremediable"] == [
        {"bucket": "example-protected-bucket", "key": "x y.txt", "outcome": "unremediable", "reason": "SSE-C"}
    ]
    assert (body["jobId"], body["campaign"], body["encryptionFilter"]) == (JOB_ID, "backfill-1", "SSES3")
    assert body["reportLocation"] == summary.report_location
    assert body["totalTasks"] == 3
    assert summary.text() in alert.text_body
    assert "s3://example-protected-bucket/x y.txt: SSE-C" in alert.text_body
    assert alert.subject.isascii()
    assert len(alert.subject) < 100


def test_an_alert_with_many_long_keys_fits_in_an_sns_message() -> None:
    long = [TaskExample("b", "k" * 1024 + str(n), "failed", "r" * 1000) for n in range(50)]
    summary = summary_of(status="Failed", failed_tasks=tuple(long), unremediable=tuple(long), counts={"failed": 100})

    alert = summary_alert(summary, CONTEXT)

    message = json.dumps({"default": alert.json_body, "email": alert.text_body})
    assert len(message.encode()) < 256 * 1024
    assert alert.body["failedTasks"]  # trimmed, not emptied
    assert all(len(e["reason"]) <= 300 for e in alert.body["failedTasks"])


def test_a_lost_required_alert_is_named_on_the_summary() -> None:
    completion, _, _, sink = completions(job(status="Failed", total=0))

    def lost(alert: Alert) -> str:
        raise AwsFailure(Failure.TRANSIENT, "SNS is down")

    sink.publish = lost  # type: ignore[method-assign]
    summary = completion.on_status_change(JOB_ID, "Failed")

    assert summary is not None
    assert summary.alert_error is not None
    assert "SNS is down" in summary.alert_error
