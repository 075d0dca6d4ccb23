"""The batch jobs Lambda handler end to end: job status changes → one summary alert per job of this stack, the
backstop (scheduled and dry run), a manual summary, and an error answer for every other JSON value. Jobs are created
on the s3control double and played by the Batch Operations stand-in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from dsse_remediation.aws import clients
from dsse_remediation.batch.backstop import Action, BackstopRun, BucketRun, StaleInventory
from dsse_remediation.batch.requests import plan
from dsse_remediation.reporting import HandlerFailed
from tests.batch_operations import JOB_ROLE_ARN, REPORT_BUCKET, TASK_FUNCTION_VERSION, BatchOperations, JobRun
from tests.helpers import ACCOUNT_ID, REGION, CallLog, Inbox, Wiring, inject_error, invoke, load_event, put
from tests.lambda_context import LambdaContext, load_function
from tests.s3control_double import S3ControlDouble


@pytest.fixture
def double(s3: Any, bucket: str) -> S3ControlDouble:
    s3.create_bucket(Bucket=REPORT_BUCKET)
    return S3ControlDouble(ACCOUNT_ID, s3=s3)


@pytest.fixture
def function(
    monkeypatch: pytest.MonkeyPatch, dsse_key: str, inbox: Inbox, wiring: Wiring, double: S3ControlDouble
) -> Any:
    for name, value in {
        "DSSE_KMS_KEY": dsse_key,
        "ALERT_TOPIC_ARN": inbox.topic_arn,
        "ACCOUNT_ID": ACCOUNT_ID,
        "EXCLUDED_BUCKETS": "example-excluded-*",
        "BATCH_TASK_FUNCTION": TASK_FUNCTION_VERSION,
        "BATCH_JOB_ROLE_ARN": JOB_ROLE_ARN,
        "REPORT_BUCKET": REPORT_BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(clients, "client", double.factory(wiring.client))
    return load_function("batch_jobs")


@pytest.fixture
def finished_job(function: Any, double: S3ControlDouble, s3: Any, bucket: str) -> JobRun:
    """An SSE-S3 job of this stack over one object, run to completion by the stand-in with the real task function."""
    put(s3, bucket, "q3 summary.csv")
    job_id = function.app.backfill.start(plan(bucket, campaign="handler-test")[1])
    return BatchOperations(double, s3, load_function("batch_task").lambda_handler).run(job_id)


def status_event(job_id: str, status: str = "Complete") -> dict[str, Any]:
    event: dict[str, Any] = load_event("batch-job-status-complete.json")
    event["detail"]["serviceEventDetails"] |= {"jobId": job_id, "status": status}
    return event


def test_a_completed_job_of_this_stack_is_summarised_in_one_alert(
    function: Any, finished_job: Any, inbox: Inbox
) -> None:
    answer = invoke(function, finished_job.status_event())

    [summary] = answer["results"]
    assert (summary["outcome"], summary["counts"]) == ("remediated", {"remediated": 1})
    assert summary["reportLocation"].startswith(f"s3://{REPORT_BUCKET}/reports/handler-test/job-")
    [alert] = inbox.messages()
    assert alert["body"]["jobId"] == finished_job.job_id
    assert alert["body"]["trigger"]["eventName"] == "JobStatusChanged"


def test_a_status_that_is_not_final_is_ignored_without_asking_s3(
    function: Any, double: S3ControlDouble, inbox: Inbox
) -> None:
    answer = invoke(function, load_event("batch-job-status-active.json"))

    assert answer["results"] == []
    assert "not final" in answer["ignored"]
    assert double.calls == []
    assert inbox.messages() == []


def test_a_job_of_another_role_is_ignored_without_reading_its_report(
    function: Any, finished_job: Any, double: S3ControlDouble, inbox: Inbox, calls: CallLog
) -> None:
    double.jobs[finished_job.job_id]["RoleArn"] = "arn:aws:iam::123456789012:role/someone-else"
    calls.clear()

    answer = invoke(function, finished_job.status_event())

    assert answer["results"] == []
    assert "GetObject" not in calls.calls
    assert inbox.messages() == []


def test_a_lost_alert_of_a_failed_job_raises_so_the_event_is_retried(
    function: Any, finished_job: JobRun, double: S3ControlDouble
) -> None:
    inject_error(function.app.client("sns", "us-east-1"), "Publish", "InternalError", 500, times=99)
    double.progress(finished_job.job_id, "Failed", succeeded=0, failed=1, total=1)

    with pytest.raises(HandlerFailed, match="could not be published"):
        function.lambda_handler(status_event(finished_job.job_id, "Failed"), LambdaContext())


def test_a_lost_low_severity_notice_of_a_clean_job_does_not_raise(function: Any, finished_job: JobRun) -> None:
    inject_error(function.app.client("sns", "us-east-1"), "Publish", "InternalError", 500, times=99)

    answer = invoke(function, finished_job.status_event())

    assert answer["results"][0]["outcome"] == "remediated"


def test_a_report_that_cannot_be_read_raises_so_the_event_is_retried(
    function: Any, finished_job: JobRun, inbox: Inbox
) -> None:
    inject_error(function.app.client("s3"), "GetObject", "AccessDenied", 403, times=99)

    with pytest.raises(HandlerFailed, match="AccessDenied"):
        function.lambda_handler(finished_job.status_event(), LambdaContext())
    assert inbox.messages() == []


def test_the_scheduled_backstop_starts_jobs_only_where_there_are_non_compliant_writes(
    function: Any, double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "new.csv")

    answer = invoke(function, load_event("backstop-scheduled.json"))

    started = [b for b in answer["backstop"]["buckets"] if b["action"] == "started"]
    assert [b["bucket"] for b in started] == [bucket]
    assert len(double.jobs) == 1  # the SSE-S3 write's type
    assert answer["backstop"]["staleInventories"] == []


def test_a_backstop_run_whose_stale_inventory_alert_was_lost_raises_so_the_schedule_retries(
    function: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = StaleInventory("example-protected-bucket", "daily", "Daily", "s3://inv/x/", datetime.now(UTC))
    lost = BackstopRun(
        datetime.now(UTC),
        "backstop-x",
        dry_run=False,
        buckets=(BucketRun("example-protected-bucket", Action.STARTED, "stale", stale_inventory=stale),),
        alert_error="the alert could not be published: InternalError",
    )
    monkeypatch.setattr(function.app.backstop, "run", lambda dry_run: lost)

    with pytest.raises(HandlerFailed, match="1 stale S3 Inventory"):
        invoke(function, load_event("backstop-scheduled.json"))


def test_a_backstop_dry_run_says_what_it_would_start_and_starts_nothing(
    function: Any, double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "new.csv")

    answer = invoke(function, load_event("backstop-dry-run.json"))

    [would] = [b for b in answer["backstop"]["buckets"] if b["bucket"] == bucket]
    assert (would["action"], would["encryptionFilters"]) == ("would-start", ["SSES3"])
    assert answer["backstop"]["dryRun"] is True
    assert double.jobs == {}
    assert s3.list_objects_v2(Bucket=REPORT_BUCKET).get("KeyCount") == 0


def test_a_manual_summary_answers_without_alerting_unless_asked(function: Any, finished_job: Any, inbox: Inbox) -> None:
    quiet = invoke(function, {"job": finished_job.job_id})
    assert quiet["results"][0]["counts"] == {"remediated": 1}
    assert inbox.messages() == []

    invoke(function, {"job": finished_job.job_id, "alert": True})
    assert len(inbox.messages()) == 1


def test_a_manual_summary_of_an_unknown_job_answers_what_aws_said(function: Any) -> None:
    answer = invoke(function, {"job": "00000000-0000-0000-0000-000000000000"})

    assert answer["results"] == []
    assert answer["error"]["type"] == "AwsFailure"
    assert "NotFoundException" in answer["error"]["message"]


@pytest.mark.parametrize(
    "event",
    [None, [], "x", 1, True, {}, {"backstop": []}, {"backstop": {"dryRun": 1}}, {"job": 1}, {"job": "x/y/z"}],
)
def test_any_other_json_value_is_answered_with_an_error_and_changes_nothing(
    function: Any, event: Any, double: S3ControlDouble, calls: CallLog
) -> None:
    answer = invoke(function, event)

    assert answer["results"] == []
    assert answer["error"]["type"] == "InvalidEvent"
    assert answer["error"]["message"]
    assert (double.calls, calls.calls) == ([], [])


def test_a_stopped_trail_leaves_the_buckets_uncovered_and_its_event_is_one_critical_alert(
    function: Any, s3: Any, bucket: str, inbox: Inbox
) -> None:
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    cloudtrail.create_trail(Name="data-events", S3BucketName=REPORT_BUCKET)
    cloudtrail.put_event_selectors(
        TrailName="data-events",
        AdvancedEventSelectors=[
            {
                "Name": "writes",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                ],
            }
        ],
    )
    cloudtrail.start_logging(Name="data-events")
    assert invoke(function, {"coverage": {}})["coverage"]["uncoveredBuckets"] == []
    assert inbox.messages() == []  # covered: the metric only

    cloudtrail.stop_logging(Name="data-events")
    answer = invoke(function, load_event("cloudtrail-stop-logging.json"))["coverage"]

    assert bucket in answer["uncoveredBuckets"]
    assert REPORT_BUCKET not in answer["uncoveredBuckets"]
    assert answer["severity"] == "critical"
    [alert] = inbox.messages()
    assert alert["body"]["severity"] == "critical"
    assert alert["body"]["resourceType"] == "coverage"
    assert bucket in [one["bucket"] for one in alert["body"]["uncoveredBuckets"]]
    assert alert["body"]["trigger"]["eventName"] == "StopLogging"
