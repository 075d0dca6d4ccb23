"""The Lambda handler end to end: every sample in events/ through `lambda_handler` on fake AWS."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from dsse_remediation.reporting import HandlerFailed
from tests.helpers import (
    PLACEHOLDER_KEY,
    PLACEHOLDER_OTHER_KEY,
    create_bucket,
    inject_error,
    invoke,
    load_event,
    put,
    snapshot,
    sqs_batch_of,
)
from tests.lambda_context import LambdaContext, load_function


def load_handler() -> ModuleType:
    return load_function("object_remediation")


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, bucket: str, dsse_key: str, inbox: Any, s3: Any, region: str) -> Any:
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    monkeypatch.setenv("ALERT_TOPIC_ARN", inbox.topic_arn)
    monkeypatch.setenv("EXCLUDED_BUCKETS", "example-excluded-*")
    monkeypatch.setenv("ACCOUNT_ID", "123456789012")
    create_bucket(s3, "example-excluded-bucket", region)
    return load_handler()


def event(name: str, dsse_key: str, other_key: str) -> Any:
    return load_event(name, **{PLACEHOLDER_KEY: dsse_key, PLACEHOLDER_OTHER_KEY: other_key})


@pytest.mark.all_partitions
@pytest.mark.parametrize(
    ("sample", "key", "expected"),
    [
        ("put-object-sse-s3.json", "reports/2026/q3-summary.csv", "remediated"),
        ("put-object-sse-kms-other-key.json", "exports/customers.parquet", "remediated"),
        ("put-object-dsse-other-key.json", "reports/2026/q4-plan.csv", "remediated"),
        ("complete-multipart-upload-sse-s3.json", "backups/db-2026-11-20.tar.gz", "remediated"),
        ("put-object-key-with-special-characters.json", "inbox/Q3 report+final 100%/Ünïcødé 文件.txt", "remediated"),
        ("object-created-sse-s3.json", "inbox/Q3 report+final 100%.txt", "remediated"),
        ("manual-object.json", "reports/2026/q3-summary.csv", "remediated"),
        ("manual-object-dry-run.json", "reports/2026/q3-summary.csv", "would-remediate"),
    ],
)
def test_sample_event_reaches_its_outcome(
    handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str, sample: str, key: str, expected: str
) -> None:
    initial = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": other_key} if "dsse-other" in sample else {}
    put(s3, bucket, key, **initial)
    before = snapshot(s3, bucket, key)

    answer = invoke(handler, event(sample, dsse_key, other_key))

    [result] = answer["results"]
    assert (result["bucket"], result["key"], result["outcome"]) == (bucket, key, expected), result["reason"]
    after = snapshot(s3, bucket, key)
    assert after.kept() == before.kept()
    if expected == "remediated":
        assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", dsse_key)
    else:
        assert after == before


@pytest.mark.parametrize("sample", ["put-object-dsse-right-key.json", "copy-object-dsse-right-key.json"])
def test_compliant_write_and_the_remediations_own_copy_are_no_ops(
    handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str, inbox: Any, sample: str
) -> None:
    key = event(sample, dsse_key, other_key)["detail"]["requestParameters"]["key"]
    put(s3, bucket, key, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    before = snapshot(s3, bucket, key)

    answer = invoke(handler, event(sample, dsse_key, other_key))

    assert [r["outcome"] for r in answer["results"]] == ["compliant"]
    assert snapshot(s3, bucket, key) == before
    assert inbox.messages() == []


def test_a_grant_written_soon_after_the_bucket_allowed_acls_again_rides_on_the_copy(
    handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str
) -> None:
    """The container keeps a bucket's Object Ownership for up to a minute; a PutObject whose CloudTrail event logged an
    x-amz-grant-* header proves ACLs enabled, so the grant is carried even within that minute."""
    key = "reports/2026/q3-summary.csv"
    put(s3, bucket, key)
    [first] = invoke(handler, event("put-object-sse-s3.json", dsse_key, other_key))["results"]
    assert first["outcome"] == "remediated"  # and the container now holds "ACLs disabled" for the bucket
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    everyone = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    put(s3, bucket, key, GrantRead=everyone)
    before = snapshot(s3, bucket, key)
    granted = event("put-object-sse-s3.json", dsse_key, other_key)
    granted["detail"]["requestParameters"]["x-amz-grant-read"] = everyone

    [result] = invoke(handler, granted)["results"]

    after = snapshot(s3, bucket, key)
    assert result["outcome"] == "remediated", result["reason"]
    assert after.kept() == before.kept()
    assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", dsse_key)
    assert after.grants == before.grants == (("READ", "http://acs.amazonaws.com/groups/global/AllUsers"),)


def test_out_of_scope_bucket_is_refused(handler: Any, s3: Any, dsse_key: str, other_key: str) -> None:
    put(s3, "example-excluded-bucket", "tmp/scratch.txt")
    before = snapshot(s3, "example-excluded-bucket", "tmp/scratch.txt")

    answer = invoke(handler, event("put-object-out-of-scope-bucket.json", dsse_key, other_key))

    assert [r["outcome"] for r in answer["results"]] == ["out-of-scope"]
    assert snapshot(s3, "example-excluded-bucket", "tmp/scratch.txt") == before


def test_versioned_write_remediates_the_current_version(handler: Any, s3: Any, dsse_key: str, other_key: str) -> None:
    s3.create_bucket(Bucket="example-versioned-bucket")
    s3.put_bucket_versioning(Bucket="example-versioned-bucket", VersioningConfiguration={"Status": "Enabled"})
    put(s3, "example-versioned-bucket", "ledger/2026-11.json")
    before = snapshot(s3, "example-versioned-bucket", "ledger/2026-11.json")

    answer = invoke(handler, event("put-object-versioned-sse-s3.json", dsse_key, other_key))

    [result] = answer["results"]
    after = snapshot(s3, "example-versioned-bucket", "ledger/2026-11.json")
    assert result["outcome"] == "remediated"
    assert result["versionId"] == before.version_id
    assert after.kept() == before.kept()
    assert (after.encryption, after.kms_key_id, after.version_id) == (
        "aws:kms:dsse",
        dsse_key,
        result["versionIdAfter"],
    )
    assert len(s3.list_object_versions(Bucket="example-versioned-bucket")["Versions"]) == 2


def test_sqs_batch_reports_only_failed_records(
    handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str
) -> None:
    put(s3, bucket, "reports/2026/q3-summary.csv")
    put(s3, bucket, "exports/customers.parquet", ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
    batch = event("sqs-batch-object-events.json", dsse_key, other_key)
    batch["Records"].append(batch["Records"][0] | {"messageId": "not-json", "body": "{not json"})

    answer = invoke(handler, batch)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "not-json"}]}
    for key in ("reports/2026/q3-summary.csv", "exports/customers.parquet"):
        assert snapshot(s3, bucket, key).kms_key_id == dsse_key


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("manual-object-malformed.json", "bare bucket name"),
        ({"bucket": "example-protected-bucket"}, "missing field 'key'"),
        ({"bucket": "example-protected-bucket", "key": "a", "dryrun": True}, "unknown field(s) ['dryrun']"),
        ({"bucket": "example-protected-bucket", "key": "a", "dryRun": "yes"}, "'dryRun' must be a bool"),
        ({"bucket": "no spaces", "key": "a"}, "not a valid S3 bucket name"),
        ({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}, "unsupported EventBridge event"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_malformed_payload_gets_a_clear_error_and_changes_nothing(
    handler: Any, s3: Any, bucket: str, payload: Any, message: str
) -> None:
    put(s3, bucket, "reports/2026/q3-summary.csv")
    before = snapshot(s3, bucket, "reports/2026/q3-summary.csv")
    if isinstance(payload, str):
        payload = load_event(payload)

    answer = invoke(handler, payload)

    assert answer["results"] == []
    assert message in answer["error"]["message"]
    assert snapshot(s3, bucket, "reports/2026/q3-summary.csv") == before


def test_logs_never_carry_user_metadata_values(
    handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    put(s3, bucket, "reports/2026/q3-summary.csv", Metadata={"api-token": "do-not-leak-4242"})

    with caplog.at_level("DEBUG", logger="dsse-remediation"), caplog.at_level("DEBUG", logger="dsse_remediation"):
        answer = invoke(handler, event("put-object-sse-s3.json", dsse_key, other_key))

    ours = ("dsse-remediation", "dsse_remediation")
    logged = [vars(r) for r in caplog.records if r.name.startswith(ours)]  # every field a JSON formatter writes
    assert answer["results"][0]["outcome"] == "remediated"
    assert any(fields.get("outcome") == "remediated" for fields in logged)
    assert "do-not-leak-4242" not in str(logged)


def test_event_driven_failure_raises_so_lambda_retries_it(
    handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str
) -> None:
    put(s3, bucket, "reports/2026/q3-summary.csv")
    inject_error(handler.remediator.s3.client, "CopyObject", "InternalError", 500, times=99)

    with pytest.raises(HandlerFailed, match="1 resource\\(s\\) failed, to be retried"):
        handler.lambda_handler(event("put-object-sse-s3.json", dsse_key, other_key), LambdaContext())


def test_manual_failure_is_answered_not_raised(handler: Any, s3: Any, bucket: str) -> None:
    put(s3, bucket, "reports/2026/q3-summary.csv")
    inject_error(handler.remediator.s3.client, "CopyObject", "InternalError", 500, times=99)

    answer = invoke(handler, load_event("manual-object.json"))

    assert [r["outcome"] for r in answer["results"]] == ["failed"]


class TestAlertsThatMustReachAHuman:
    """An unremediable object's alert that cannot be published fails the event-driven invocation, so the delivery is
    retried (and ends in the DLQ, alarmed); a lost "remediated" notice does not undo a fix."""

    @staticmethod
    def break_sns(handler: Any) -> None:
        sns = handler.remediator.alerts.publisher._client_factory()
        inject_error(sns, "Publish", "KMSDisabled", 400, times=99, message="injected: the topic's key is disabled")

    def test_unremediable_object_with_a_lost_alert_fails_the_sqs_record(
        self, handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str
    ) -> None:
        put(s3, bucket, "reports/2026/q3-summary.csv", StorageClass="GLACIER")
        put(s3, bucket, "exports/customers.parquet")
        self.break_sns(handler)
        archived = json.dumps(event("put-object-sse-s3.json", dsse_key, other_key))
        fixable = json.dumps(event("put-object-sse-kms-other-key.json", dsse_key, other_key))

        answer = invoke(handler, sqs_batch_of([archived, fixable]))

        assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
        assert snapshot(s3, bucket, "exports/customers.parquet").kms_key_id == dsse_key

    def test_manual_call_gets_its_answer_with_the_alert_error(self, handler: Any, s3: Any, bucket: str) -> None:
        put(s3, bucket, "reports/2026/q3-summary.csv", StorageClass="GLACIER")
        self.break_sns(handler)

        answer = invoke(handler, load_event("manual-object.json"))

        [result] = answer["results"]
        assert result["outcome"] == "unremediable"
        assert "the alert could not be published" in result["alertError"]

    def test_a_lost_remediated_notice_does_not_fail_the_fix(
        self, handler: Any, s3: Any, bucket: str, dsse_key: str, other_key: str
    ) -> None:
        put(s3, bucket, "reports/2026/q3-summary.csv")
        self.break_sns(handler)

        answer = invoke(handler, event("put-object-sse-s3.json", dsse_key, other_key))

        [result] = answer["results"]
        assert (result["outcome"], result["alertError"]) == ("remediated", None)
        assert snapshot(s3, bucket, "reports/2026/q3-summary.csv").kms_key_id == dsse_key


class TestSweepMessages:
    """The object function runs a bucket sweep's steps and tasks from its own queue."""

    @pytest.fixture
    def sweeping(self, monkeypatch: pytest.MonkeyPatch, bucket: str, dsse_key: str, inbox: Any, s3: Any) -> Any:
        import boto3

        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="object-events")["QueueUrl"]
        for name, value in {
            "DSSE_KMS_KEY": dsse_key,
            "ALERT_TOPIC_ARN": inbox.topic_arn,
            "ACCOUNT_ID": "123456789012",
            "SWEEP_AFTER_BUCKET_RESET": "true",
            "OBJECT_QUEUE_URL": url,
        }.items():
            monkeypatch.setenv(name, value)
        return load_handler(), sqs, url

    def test_a_step_queues_its_page_and_a_task_is_remediated_without_a_low_alert(
        self, sweeping: Any, s3: Any, bucket: str, dsse_key: str, inbox: Any
    ) -> None:
        # GIVEN two objects written before the deployment, and the sweep's first step
        handler, sqs, url = sweeping
        for key in ("a.csv", "b.csv"):
            put(s3, bucket, key)
        before = snapshot(s3, bucket, "a.csv")
        step = {"sweep": {"id": "s1", "bucket": bucket, "continuationToken": None, "queued": 0}}

        # WHEN the step runs, THEN it queues one task per object
        answer = invoke(handler, step)

        assert answer["sweep"] == [{"id": "s1", "bucket": bucket, "listed": 2, "queued": 2, "status": "listed"}]
        tasks = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
        assert sorted(t["sweep"]["key"] for t in tasks) == ["a.csv", "b.csv"]

        # WHEN the tasks arrive as an SQS batch, THEN each object is remediated, with no "remediated" alert per object
        answer = invoke(handler, sqs_batch_of([json.dumps(t) for t in tasks]))

        assert answer == {"batchItemFailures": []}
        after = snapshot(s3, bucket, "a.csv")
        assert after.kept() == before.kept()
        assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", dsse_key)
        assert inbox.messages() == []

    def test_a_step_for_a_bucket_outside_the_scope_lists_nothing(
        self, sweeping: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("EXCLUDED_BUCKETS", "example-excluded-*")
        handler = load_handler()

        answer = invoke(handler, {"sweep": {"id": "s1", "bucket": "example-excluded-bucket", "queued": 0}})

        assert answer["sweep"][0]["status"] == "out-of-scope"
