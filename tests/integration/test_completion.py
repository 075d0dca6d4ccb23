"""Job completion on fake AWS: jobs created by the product on the s3control double, played by the local Batch
Operations stand-in (tests/batch_operations.py) with the real task function, then summarised from the completion
report the stand-in wrote, in one alert per job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dsse_remediation.aws.report_files import ReportFiles
from dsse_remediation.batch.completion import RUN_WINDOW, Completions
from dsse_remediation.batch.requests import JobSpec, ManifestFile, plan
from dsse_remediation.config import Mode
from dsse_remediation.model import Outcome
from dsse_remediation.wiring import App
from tests.batch_operations import BATCH_SETTINGS, JOB_ROLE_ARN, REPORT_BUCKET, BatchOperations
from tests.helpers import ACCOUNT_ID, Inbox, Wiring, put, snapshot
from tests.lambda_context import load_function
from tests.s3control_double import S3ControlDouble

SPECIAL_KEYS = ["reports/q3 summary.csv", "a+b=c.csv", "100% done.csv", "données/été ☀.csv"]
ARCHIVED = "archive/Q3 report+final 100%/Ünïcødé.txt"


@pytest.fixture
def double(s3: Any) -> S3ControlDouble:
    s3.create_bucket(Bucket=REPORT_BUCKET)
    return S3ControlDouble(ACCOUNT_ID, s3=s3)


@pytest.fixture
def make_app(wiring: Wiring, double: S3ControlDouble) -> Callable[..., App]:
    return lambda **overrides: App(wiring.settings(**(BATCH_SETTINGS | overrides)), double.factory(wiring.client))


@pytest.fixture
def task_function(monkeypatch: pytest.MonkeyPatch, dsse_key: str) -> Any:
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    monkeypatch.setenv("ACCOUNT_ID", ACCOUNT_ID)
    return load_function("batch_task")


@pytest.fixture
def stand_in(double: S3ControlDouble, s3: Any, task_function: Any) -> BatchOperations:
    return BatchOperations(double, s3, task_function.lambda_handler)


def test_a_backfill_of_preexisting_objects_ends_in_one_alert_for_its_jobs_counting_every_object(
    make_app: Callable[..., App], stand_in: BatchOperations, s3: Any, bucket: str, dsse_key: str, inbox: Inbox
) -> None:
    for key in SPECIAL_KEYS:
        put(s3, bucket, key)  # SSE-S3: the bucket's base level
    put(s3, bucket, "already.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    put(s3, bucket, ARCHIVED, StorageClass="GLACIER")
    app = make_app()
    jobs = [app.backfill.start(spec) for spec in plan(bucket, campaign="backfill-1")]

    runs = stand_in.run_pending()  # one after the other: the last one ends last
    summaries = [app.completions.on_status_change(run.job_id, run.status) for run in runs]

    assert len(jobs) == 3
    *earlier, last = summaries
    assert [s.alert_with for s in earlier if s] == [runs[-1].job_id] * 2  # they leave the alert to the last job
    assert last is not None
    assert set(last.job_ids) == set(jobs)
    assert last.encryption_filter == "NOTSSE, SSES3, SSEKMS"
    assert dict(last.counts) == {"remediated": len(SPECIAL_KEYS), "unremediable": 1}  # the compliant one: no job
    assert [e.key for e in last.unremediable] == [ARCHIVED]  # decoded, as the object is named
    assert last.outcome is Outcome.UNREMEDIABLE
    for key in SPECIAL_KEYS:
        assert snapshot(s3, bucket, key).encryption == "aws:kms:dsse"
    [alert] = inbox.messages()  # one for the run, none per job or per object
    assert alert["body"]["outcome"] == "unremediable"
    assert sorted(alert["body"]["jobIds"]) == sorted(jobs)
    assert alert["body"]["unremediable"][0]["key"] == ARCHIVED
    # The only job with tasks is the SSES3 one: the others wrote no report.
    assert alert["body"]["reportLocation"] == f"s3://{REPORT_BUCKET}/reports/backfill-1/job-{jobs[1]}/"
    assert alert["attributes"]["resourceType"] == "batch-job"


def test_a_job_ending_while_another_of_its_run_still_runs_alerts_nothing_yet(
    make_app: Callable[..., App], stand_in: BatchOperations, s3: Any, bucket: str, inbox: Inbox
) -> None:
    put(s3, bucket, "data.csv")
    app = make_app()
    notsse, sse_s3, _ = (app.backfill.start(spec) for spec in plan(bucket, campaign="backfill-2"))
    stand_in.run(notsse)

    summary = app.completions.on_status_change(notsse, "Complete")

    assert summary is not None
    assert set(summary.waiting_for) == {sse_s3, _}
    assert inbox.messages() == []


def test_an_older_run_of_the_same_campaign_is_not_part_of_a_new_one(
    make_app: Callable[..., App], stand_in: BatchOperations, double: S3ControlDouble, s3: Any, bucket: str, inbox: Inbox
) -> None:
    put(s3, bucket, "data.csv")
    app = make_app()
    old = app.backfill.start(plan(bucket, campaign="nightly")[1])
    stand_in.run(old)
    double._state[old]["created"] -= RUN_WINDOW + timedelta(minutes=1)  # CreationTime: it was created well before
    window = datetime.now(UTC) - timedelta(hours=1)
    new = app.backfill.start(plan(bucket, campaign="nightly", created_after=window)[1])
    stand_in.run(new)

    summary = app.completions.on_status_change(new, "Complete")

    assert summary is not None
    assert (summary.job_id, summary.job_ids, summary.alert_with) == (new, (), None)  # alone: the old job not counted
    [alert] = inbox.messages()
    assert alert["body"]["jobIds"] == [new]


def test_an_alert_only_deployment_runs_dry_jobs_whose_summary_says_what_would_change(
    make_app: Callable[..., App], stand_in: BatchOperations, s3: Any, bucket: str, inbox: Inbox
) -> None:
    put(s3, bucket, "data.csv")
    app = make_app(mode=Mode.ALERT_ONLY)
    job_id = app.backfill.start(plan(bucket, campaign="look-only")[1])  # SSES3

    stand_in.run(job_id)
    summary = app.completions.on_status_change(job_id, "Complete")

    assert summary is not None
    assert summary.dry_run
    assert dict(summary.counts) == {"would-remediate": 1}
    assert snapshot(s3, bucket, "data.csv").encryption == "AES256"
    [alert] = inbox.messages()
    assert (alert["body"]["outcome"], alert["body"]["dryRun"]) == ("would-remediate", True)


def test_a_job_of_another_role_is_neither_read_nor_alerted(
    make_app: Callable[..., App], stand_in: BatchOperations, s3: Any, bucket: str, inbox: Inbox, calls: Any
) -> None:
    put(s3, bucket, "data.csv")
    other = make_app(job_role_arn="arn:aws:iam::123456789012:role/someone-elses-batch-role")
    job_id = other.backfill.start(plan(bucket, campaign="theirs")[1])
    stand_in.run(job_id)
    calls.clear()

    assert make_app().completions.on_status_change(job_id, "Complete") is None
    assert "GetObject" not in calls.calls
    assert inbox.messages() == []


def csv_job(app: App, s3: Any, bucket: str, rows: int) -> str:
    """A job over a CSV manifest of `rows` keys (nothing is read per task by the fake functions below)."""
    body = "".join(f"{bucket},key-{n}\n" for n in range(rows)).encode()
    etag = s3.put_object(Bucket=REPORT_BUCKET, Key="manifests/t/list.csv", Body=body)["ETag"]
    manifest = ManifestFile(REPORT_BUCKET, "manifests/t/list.csv", etag.strip('"'), rows)
    return app.backfill.start(JobSpec(bucket, "INVENTORY", "csv-test", manifest=manifest))


def answering(code: Callable[[int], str], text: str = "compliant: already DSSE-KMS") -> Callable[..., Any]:
    """A task function that answers every task with `code(n)` for its n-th invocation."""
    seen = [0]

    def handler(event: dict[str, Any], _: Any) -> dict[str, Any]:
        seen[0] += 1
        [task] = event["tasks"]
        result = {"taskId": task["taskId"], "resultCode": code(seen[0]), "resultString": text}
        return {"invocationSchemaVersion": "2.0", "invocationId": event["invocationId"], "results": [result]}

    return handler


def test_the_stand_in_fails_a_job_once_more_than_half_of_at_least_1000_tasks_failed(
    make_app: Callable[..., App], double: S3ControlDouble, s3: Any, bucket: str, inbox: Inbox
) -> None:
    app = make_app()
    job_id = csv_job(app, s3, bucket, 1_100)

    run = BatchOperations(double, s3, answering(lambda _: "PermanentFailure", "failed: AccessDenied")).run(job_id)
    summary = app.completions.on_status_change(job_id, run.status)

    assert (run.status, len(run.tasks), run.manifest_size) == ("Failed", 1_000, 1_100)
    assert summary is not None
    assert summary.outcome is Outcome.FAILED
    assert dict(summary.counts) == {"failed": 1_000}
    assert len(summary.failed_tasks) == 50
    assert any("TaskFailureThresholdExceeded" in reason for reason in summary.failure_reasons)


def test_a_job_of_compliant_objects_does_not_fail(
    make_app: Callable[..., App], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    app = make_app()
    job_id = csv_job(app, s3, bucket, 1_001)

    run = BatchOperations(double, s3, answering(lambda _: "Succeeded")).run(job_id)

    assert (run.status, run.succeeded) == ("Complete", 1_001)
    assert app.batch_jobs.describe(job_id).status == "Complete"


def test_the_stand_in_redrives_temporary_failures_a_bounded_number_of_times(
    make_app: Callable[..., App], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    app = make_app()
    recovers = BatchOperations(double, s3, answering(lambda n: "TemporaryFailure" if n < 3 else "Succeeded"))
    never = BatchOperations(double, s3, answering(lambda _: "TemporaryFailure", "failed: SlowDown"), max_attempts=4)

    s3.create_bucket(Bucket="example-other-bucket")
    recovered = recovers.run(csv_job(app, s3, bucket, 1))
    gave_up = never.run(csv_job(app, s3, "example-other-bucket", 1))

    assert (recovered.status, recovered.succeeded, recovered.invocations) == ("Complete", 1, 3)
    assert (gave_up.failed, gave_up.invocations, gave_up.tasks[0].result_code) == (1, 4, "TemporaryFailure")


def test_a_completion_event_for_the_stand_ins_job_reads_the_report_it_wrote(
    make_app: Callable[..., App], stand_in: BatchOperations, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "x y.csv")
    app = make_app()
    job_id = app.backfill.start(plan(bucket, campaign="event")[1])
    run = stand_in.run(job_id)

    event = run.status_event()
    summary = Completions(app.settings.batch, app.batch_jobs, ReportFiles(s3), app.alerts).summarize(
        event["detail"]["serviceEventDetails"]["jobId"]
    )

    assert event["detail"]["serviceEventDetails"]["status"] == "Complete"
    assert summary.counts == {"remediated": 1}
    assert app.settings.batch.job_role_arn == JOB_ROLE_ARN
