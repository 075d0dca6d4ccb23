"""The invocation's deadline (issue 15, defect 4): no copy is cut off by the Lambda timeout.

Both functions read the time left from their context (dsse_remediation/deadline.py): a copy that cannot finish in it is
not started, or stops between parts and aborts its upload, and asks for a retry (Batch Operations: TemporaryFailure;
SQS: a batch item failure); an object no invocation could copy is `unremediable` and names the command that can; an
SQS batch takes no new record once the time is up. Time is a test clock (tests/lambda_context.py) moved by botocore
hooks on the handler's own S3 client, "after" the calls it makes, so nothing sleeps.

Multipart copies run on small objects with a 5 MiB threshold and part size, one part at a time (parts in order). At
the assumed 25 MiB/s, an 11 MiB object copies in 3 parts in about 9 s (12 s with the calls before it); its parts
need about 2 s each with the completion; the safety margin is 10 s.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.helpers import (
    REGION,
    CallLog,
    Inbox,
    assert_remediated,
    invoke,
    load_event,
    put,
    snapshot,
    sqs_batch_of,
)
from tests.lambda_context import LambdaContext, load_function

MIB = 1024 * 1024
BIG = 11 * MIB  # three 5 MiB parts
JOB_ID = "e849b567-5232-44be-9a0c-40988f14e80c"
SAMPLE_KEY = "reports/2026/q3-summary.csv"  # what events/put-object-sse-s3.json names


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, dsse_key: str, inbox: Inbox, bucket: str) -> None:
    for name, value in {
        "DSSE_KMS_KEY": dsse_key,
        "ALERT_TOPIC_ARN": inbox.topic_arn,
        "ACCOUNT_ID": "123456789012",
        "MULTIPART_THRESHOLD_BYTES": str(5 * MIB),
        "MULTIPART_PART_SIZE_BYTES": str(5 * MIB),
        "COPY_CONCURRENCY": "1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def task_function(environment: None) -> ModuleType:
    return load_function("batch_task")


@pytest.fixture
def object_function(environment: None) -> ModuleType:
    return load_function("object_remediation")


def s3_client(function: ModuleType) -> Any:
    """The S3 client the function built at its cold start."""
    return function.app.object_store.client


def after(function: ModuleType, operation: str, action: Any) -> None:
    """Run `action()` after each of the function's `operation` calls (the time it took, on the test clock)."""
    s3_client(function).meta.events.register(f"after-call.s3.{operation}", lambda **_: action())


def record_calls(function: ModuleType) -> CallLog:
    calls = CallLog()
    s3_client(function).meta.events.register("before-parameter-build.s3", calls)
    return calls


def task(bucket: str, key: str) -> dict[str, Any]:
    """One task of a Batch Operations job (schema 2.0)."""
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "job": {"id": JOB_ID, "userArguments": {"campaign": "deadline-test"}},
        "tasks": [{"taskId": "t1", "s3Bucket": bucket, "s3Key": key, "s3VersionId": None}],
    }


def only_result(answer: dict[str, Any]) -> tuple[str, str]:
    [result] = answer["results"]
    return result["resultCode"], result["resultString"]


def write_event(key: str) -> dict[str, Any]:
    """CloudTrail's PutObject of `key` (SSE-S3), as EventBridge delivers it."""
    return load_event("put-object-sse-s3.json", **{SAMPLE_KEY: key})


def no_uploads_left(s3: Any, bucket: str) -> bool:
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


class TestBatchTask:
    def test_a_copy_the_time_left_cannot_finish_is_not_started_and_is_a_temporary_failure(
        self, task_function: ModuleType, s3: Any, bucket: str
    ) -> None:
        # GIVEN a 300-s invocation whose HeadObject leaves it 5 s (less than the 9 s the copy needs)
        put(s3, bucket, "big.bin", Body=b"x" * BIG)
        before = snapshot(s3, bucket, "big.bin")
        context = LambdaContext(timeout_seconds=300)
        after(task_function, "HeadObject", lambda: context.clock.advance(285))
        calls = record_calls(task_function)

        code, text = only_result(invoke(task_function, task(bucket, "big.bin"), context))

        assert code == "TemporaryFailure"
        assert text.startswith("failed: not started: a multipart copy of 11.0 MiB in 3 part(s)")
        assert "CreateMultipartUpload" not in calls.calls
        assert no_uploads_left(s3, bucket)
        assert snapshot(s3, bucket, "big.bin") == before

    def test_a_copy_whose_time_runs_out_between_parts_aborts_its_upload_and_is_a_temporary_failure(
        self, task_function: ModuleType, s3: Any, bucket: str
    ) -> None:
        put(s3, bucket, "big.bin", Body=b"x" * BIG)
        before = snapshot(s3, bucket, "big.bin")
        context = LambdaContext(timeout_seconds=300)
        after(task_function, "UploadPartCopy", lambda: context.clock.advance(145))  # slower than assumed
        calls = record_calls(task_function)

        code, text = only_result(invoke(task_function, task(bucket, "big.bin"), context))

        assert code == "TemporaryFailure"
        assert "part 3 of 3 and the completion would take about 2 s and 0 s are left" in text
        assert "the multipart upload was aborted" in text
        assert (calls.counts["UploadPartCopy"], calls.counts["AbortMultipartUpload"]) == (2, 1)
        assert no_uploads_left(s3, bucket)
        assert snapshot(s3, bucket, "big.bin") == before

    def test_an_object_no_invocation_can_copy_is_unremediable_and_names_the_command_that_can(
        self, task_function: ModuleType, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        # GIVEN a function whose timeout (20 s, 10 s of work) is shorter than the 12 s the copy needs
        put(s3, bucket, "exports/big file.bin", Body=b"x" * BIG)
        before = snapshot(s3, bucket, "exports/big file.bin")

        code, text = only_result(
            invoke(task_function, task(bucket, "exports/big+file.bin"), LambdaContext(timeout_seconds=20))
        )

        assert code == "Succeeded"  # expected: a retry cannot help, and it must not count towards the 50% rule
        assert text.startswith("unremediable: too large to copy within one invocation")
        assert text.endswith(f"dsse-remediate fix --key {dsse_key} 's3://{bucket}/exports/big file.bin'")
        assert no_uploads_left(s3, bucket)
        assert snapshot(s3, bucket, "exports/big file.bin") == before

    def test_a_multipart_copy_that_finishes_in_time_keeps_everything(
        self, task_function: ModuleType, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        put(s3, bucket, "big.bin", Body=bytes(range(256)) * (BIG // 256))
        before = snapshot(s3, bucket, "big.bin")
        context = LambdaContext(timeout_seconds=300)
        after(task_function, "UploadPartCopy", lambda: context.clock.advance(60))

        code, text = only_result(invoke(task_function, task(bucket, "big.bin"), context))

        assert (code, text.split(":")[0]) == ("Succeeded", "remediated")
        assert_remediated(before, snapshot(s3, bucket, "big.bin"), dsse_key)
        assert no_uploads_left(s3, bucket)


class TestObjectEvents:
    def test_a_copy_cut_short_fails_its_record_for_redelivery_and_leaves_no_upload(
        self, object_function: ModuleType, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        put(s3, bucket, "small.csv")
        put(s3, bucket, "big.bin", Body=b"x" * BIG)
        before = snapshot(s3, bucket, "big.bin")
        context = LambdaContext(timeout_seconds=300)
        after(object_function, "UploadPartCopy", lambda: context.clock.advance(290))
        batch = sqs_batch_of(json.dumps(write_event(key)) for key in ("small.csv", "big.bin"))

        answer = invoke(object_function, batch, context)

        assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert no_uploads_left(s3, bucket)
        assert snapshot(s3, bucket, "big.bin") == before
        assert snapshot(s3, bucket, "small.csv").kms_key_id == dsse_key

    def test_with_one_record_per_batch_the_cut_short_record_returns_to_the_queue(
        self, object_function: ModuleType, s3: Any, bucket: str
    ) -> None:
        """The template's BatchSize is 1: Powertools raises when every record of a batch failed."""
        put(s3, bucket, "big.bin", Body=b"x" * BIG)
        before = snapshot(s3, bucket, "big.bin")
        context = LambdaContext(timeout_seconds=300)
        after(object_function, "UploadPartCopy", lambda: context.clock.advance(290))

        with pytest.raises(BatchProcessingError):
            object_function.lambda_handler(sqs_batch_of([json.dumps(write_event("big.bin"))]), context)

        assert no_uploads_left(s3, bucket)
        assert snapshot(s3, bucket, "big.bin") == before

    def test_records_after_the_deadline_are_not_started_but_redelivered_and_none_is_done_twice(
        self, object_function: ModuleType, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        # GIVEN three writes in one batch, and a first copy that uses up the invocation's time
        keys = ("a.csv", "b.csv", "c.csv")
        for key in keys:
            put(s3, bucket, key)
        before = {key: snapshot(s3, bucket, key) for key in keys}
        context = LambdaContext(timeout_seconds=300)
        after(object_function, "CopyObject", lambda: context.clock.advance(295))
        calls = record_calls(object_function)
        batch = sqs_batch_of(json.dumps(write_event(key)) for key in keys)

        answer = invoke(object_function, batch, context)

        # THEN the records not started are failures, untouched; the one done is not
        assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
        assert calls.without_gate == ["HeadObject", "GetBucketOwnershipControls", "CopyObject"]
        assert snapshot(s3, bucket, "a.csv").kms_key_id == dsse_key
        assert [snapshot(s3, bucket, key) for key in keys[1:]] == [before[key] for key in keys[1:]]
        # AND when SQS redelivers them, each is remediated once
        calls.clear()
        redelivered = {"Records": [r for r in batch["Records"] if r["messageId"] in ("m1", "m2")]}

        assert invoke(object_function, redelivered, LambdaContext(timeout_seconds=300)) == {"batchItemFailures": []}
        assert calls.counts["CopyObject"] == 2
        for key in keys:
            assert_remediated(before[key], snapshot(s3, bucket, key), dsse_key)

    def test_a_sweep_step_after_the_deadline_is_not_started_either(
        self, monkeypatch: pytest.MonkeyPatch, environment: None, s3: Any, bucket: str
    ) -> None:
        monkeypatch.setenv("SWEEP_AFTER_BUCKET_RESET", "true")
        queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="objects")["QueueUrl"]
        monkeypatch.setenv("OBJECT_QUEUE_URL", queue)
        function = load_function("object_remediation")
        put(s3, bucket, "a.csv")
        context = LambdaContext(timeout_seconds=300)
        after(function, "CopyObject", lambda: context.clock.advance(295))
        calls = record_calls(function)
        step = {"sweep": {"id": "s1", "bucket": bucket, "continuationToken": None, "queued": 0}}

        answer = invoke(function, sqs_batch_of([json.dumps(write_event("a.csv")), json.dumps(step)]), context)

        assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        assert "ListObjectsV2" not in calls.calls

    def test_an_object_no_invocation_can_copy_is_unremediable_and_the_alert_names_the_command(
        self, object_function: ModuleType, s3: Any, bucket: str, dsse_key: str, inbox: Inbox
    ) -> None:
        put(s3, bucket, "big.bin", Body=b"x" * BIG)
        before = snapshot(s3, bucket, "big.bin")

        answer = invoke(object_function, write_event("big.bin"), LambdaContext(timeout_seconds=20))

        [result] = answer["results"]
        command = f"dsse-remediate fix --key {dsse_key} s3://{bucket}/big.bin"
        assert (result["outcome"], result["reason"].endswith(command)) == ("unremediable", True)
        [alert] = inbox.messages()
        assert command in json.dumps(alert["body"])
        assert no_uploads_left(s3, bucket)
        assert snapshot(s3, bucket, "big.bin") == before

    def test_a_copy_that_finishes_in_time_is_unaffected(
        self, object_function: ModuleType, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        put(s3, bucket, "big.bin", Body=bytes(range(256)) * (BIG // 256))
        before = snapshot(s3, bucket, "big.bin")
        context = LambdaContext(timeout_seconds=300)
        after(object_function, "UploadPartCopy", lambda: context.clock.advance(60))

        answer = invoke(object_function, sqs_batch_of([json.dumps(write_event("big.bin"))]), context)

        assert answer == {"batchItemFailures": []}
        assert_remediated(before, snapshot(s3, bucket, "big.bin"), dsse_key)
