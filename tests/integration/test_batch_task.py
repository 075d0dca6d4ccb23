"""The S3 Batch Operations task function end to end: real schema 2.0 invocations, every outcome's result code, no
per-object alert, the job's 50% failure rule, and every JSON value answered.

Payload shape: https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html (schema 2.0:
job.userArguments, tasks[].s3Bucket, URL-encoded s3Key).
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import pytest

from tests.helpers import assert_remediated, inject_error, invoke, load_event, put, snapshot
from tests.lambda_context import load_function

JOB_ID = "e849b567-5232-44be-9a0c-40988f14e80c"


def invocation(bucket: str, key: str, encode: Any = quote_plus, **arguments: str) -> dict[str, Any]:
    """One task as Batch Operations sends it (schema 2.0)."""
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "job": {"id": JOB_ID, "userArguments": {"campaign": "backfill-test", **arguments}},
        "tasks": [{"taskId": "dGFza2lkZ29lc2hlcmUK", "s3Bucket": bucket, "s3Key": encode(key), "s3VersionId": None}],
    }


def only_result(answer: dict[str, Any]) -> tuple[str, str]:
    [result] = answer["results"]
    assert result["taskId"] == "dGFza2lkZ29lc2hlcmUK"
    return result["resultCode"], result["resultString"]


@pytest.fixture
def function(monkeypatch: pytest.MonkeyPatch, dsse_key: str, inbox: Any, bucket: str) -> Any:
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    monkeypatch.setenv("ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("EXCLUDED_BUCKETS", "example-excluded-*")
    return load_function("batch_task")


@pytest.mark.parametrize(
    "key",
    ["reports/2026/q3 summary.csv", "a+b=c.csv", "100% done.csv", "données/été ☀.csv", "odd/%2B/literal.csv"],
)
@pytest.mark.parametrize(
    "encode", [quote_plus, quote, lambda key: key], ids=["plus-for-space", "percent-20", "not-encoded"]
)
def test_a_task_remediates_its_object_whatever_its_key_keeping_everything(
    function: Any, s3: Any, bucket: str, dsse_key: str, key: str, encode: Any
) -> None:
    put(s3, bucket, key)
    before = snapshot(s3, bucket, key)

    code, text = only_result(invoke(function, invocation(bucket, key, encode)))

    assert code == "Succeeded"
    assert text.startswith("remediated: copied in place from AES256 to DSSE-KMS")
    assert_remediated(before, snapshot(s3, bucket, key), dsse_key)


def test_the_answer_echoes_the_invocation_as_batch_operations_requires(function: Any, s3: Any, bucket: str) -> None:
    put(s3, bucket, "k.csv")
    event = invocation(bucket, "k.csv")

    answer = invoke(function, event)

    assert answer["invocationSchemaVersion"] == "2.0"
    assert answer["invocationId"] == event["invocationId"]
    assert answer["treatMissingKeysAs"] == "PermanentFailure"


def test_the_sample_event_is_a_valid_invocation(function: Any, s3: Any, bucket: str) -> None:
    event = load_event("batch-task.json")
    for task in event["tasks"]:
        task["s3Bucket"] = bucket
        put(s3, bucket, unquote_plus(task["s3Key"]))

    answer = invoke(function, event)

    assert {r["resultCode"] for r in answer["results"]} == {"Succeeded"}


def test_schema_1_0_tasks_name_the_bucket_by_arn_and_are_read_too(function: Any, s3: Any, bucket: str) -> None:
    put(s3, bucket, "k.csv")
    event = invocation(bucket, "k.csv")
    event["invocationSchemaVersion"] = "1.0"
    del event["job"]["userArguments"]
    task = event["tasks"][0]
    task["s3BucketArn"] = f"arn:aws:s3:::{task.pop('s3Bucket')}"

    assert only_result(invoke(function, event))[0] == "Succeeded"
    assert s3.head_object(Bucket=bucket, Key="k.csv")["ServerSideEncryption"] == "aws:kms:dsse"


class TestExpectedOutcomesSucceedSoAJobOfThemNeverFails:
    """A job fails once more than 50% of its tasks fail after 1,000 tasks: expected outcomes are Succeeded."""

    def test_a_compliant_object_succeeds_naming_its_outcome(
        self, function: Any, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        put(s3, bucket, "k.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)

        code, text = only_result(invoke(function, invocation(bucket, "k.csv")))

        assert (code, text.split(":")[0]) == ("Succeeded", "compliant")

    def test_a_dry_run_job_writes_nothing_and_says_what_it_would_do(self, function: Any, s3: Any, bucket: str) -> None:
        put(s3, bucket, "k.csv")
        before = s3.head_object(Bucket=bucket, Key="k.csv")

        code, text = only_result(invoke(function, invocation(bucket, "k.csv", dryRun="true")))

        assert (code, text.split(":")[0]) == ("Succeeded", "would-remediate")
        assert s3.head_object(Bucket=bucket, Key="k.csv")["ETag"] == before["ETag"]

    def test_alert_only_mode_writes_nothing(
        self, monkeypatch: pytest.MonkeyPatch, dsse_key: str, s3: Any, bucket: str
    ) -> None:
        monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
        monkeypatch.setenv("ACCOUNT_ID", "123456789012")  # as the template sets it for every function
        monkeypatch.setenv("MODE", "alert-only")
        put(s3, bucket, "k.csv")

        code, text = only_result(invoke(load_function("batch_task"), invocation(bucket, "k.csv")))

        assert (code, text.split(":")[0]) == ("Succeeded", "would-remediate")
        assert s3.head_object(Bucket=bucket, Key="k.csv")["ServerSideEncryption"] == "AES256"

    def test_a_deleted_object_is_gone_not_a_failure(self, function: Any, bucket: str) -> None:
        code, text = only_result(invoke(function, invocation(bucket, "deleted-since-the-manifest.csv")))

        assert (code, text.split(":")[0]) == ("Succeeded", "gone")

    def test_a_bucket_outside_the_scope_is_out_of_scope(self, function: Any, s3: Any) -> None:
        s3.create_bucket(Bucket="example-excluded-logs")
        put(s3, "example-excluded-logs", "k.csv")

        code, text = only_result(invoke(function, invocation("example-excluded-logs", "k.csv")))

        assert (code, text.split(":")[0]) == ("Succeeded", "out-of-scope")
        assert s3.head_object(Bucket="example-excluded-logs", Key="k.csv")["ServerSideEncryption"] == "AES256"

    def test_an_archived_object_is_unremediable_but_succeeds(self, function: Any, s3: Any, bucket: str) -> None:
        put(s3, bucket, "cold.csv", StorageClass="GLACIER")

        code, text = only_result(invoke(function, invocation(bucket, "cold.csv")))

        assert (code, text.split(":")[0]) == ("Succeeded", "unremediable")

    def test_an_sse_c_object_is_unremediable_but_succeeds(self, function: Any, s3: Any, bucket: str) -> None:
        key = b"k" * 32
        s3.put_object(
            Bucket=bucket, Key="customer-key.bin", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key
        )
        # moto describes SSE-C objects without their key; S3 answers HeadObject with a bare 400 (no code).
        inject_error(function.app.object_store.client, "HeadObject", "400", 400)

        code, text = only_result(invoke(function, invocation(bucket, "customer-key.bin")))

        assert (code, text.split(":")[0]) == ("Succeeded", "unremediable")
        assert "SSE-C" in text

    def test_a_job_of_1001_compliant_objects_has_no_failed_task(
        self, function: Any, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        """The 50% rule counts failed tasks once 1,000 have run: a compliant bucket must give none."""
        for i in range(1001):
            s3.put_object(
                Bucket=bucket, Key=f"k{i}", Body=b"x", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key
            )

        codes = Counter(only_result(invoke(function, invocation(bucket, f"k{i}")))[0] for i in range(1001))

        assert codes == {"Succeeded": 1001}


class TestFailuresAskForTheRightRetry:
    @pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500), ("RequestTimeout", 400)])
    def test_throttling_and_service_faults_are_temporary_failures_redriven_by_the_job(
        self, function: Any, s3: Any, bucket: str, code: str, status: int
    ) -> None:
        put(s3, bucket, "k.csv")
        before = snapshot(s3, bucket, "k.csv")
        inject_error(function.app.object_store.client, "CopyObject", code, status, times=99)

        result_code, text = only_result(invoke(function, invocation(bucket, "k.csv")))

        assert (result_code, text.split(":")[0]) == ("TemporaryFailure", "failed")
        assert snapshot(s3, bucket, "k.csv") == before

    def test_access_denied_is_a_permanent_failure_so_a_misconfigured_job_stops_early(
        self, function: Any, s3: Any, bucket: str
    ) -> None:
        put(s3, bucket, "k.csv")
        inject_error(function.app.object_store.client, "CopyObject", "AccessDenied", 403)

        code, text = only_result(invoke(function, invocation(bucket, "k.csv")))

        assert (code, text.split(":")[0]) == ("PermanentFailure", "unremediable")

    @pytest.mark.parametrize(
        ("code", "status"), [("KMS.AccessDeniedException", 400), ("KMS.DisabledException", 400), ("AccessDenied", 403)]
    )
    def test_a_source_key_the_role_cannot_use_is_one_objects_condition_so_the_job_goes_on(
        self, function: Any, s3: Any, bucket: str, other_key: str, dsse_key: str, code: str, status: int
    ) -> None:
        """S3 decrypts an SSE-KMS source with its own key to copy it. A bucket where most SSE-KMS objects are under
        keys the role may not use must not fail its job at the 50% rule: the decryptable ones after the cut-off
        would never be processed. The copy is refused as S3 relays it (moto checks no IAM on KMS keys)."""
        put(s3, bucket, "legacy.csv", ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
        put(s3, bucket, "fine.csv", ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
        before = snapshot(s3, bucket, "legacy.csv")
        inject_error(function.app.object_store.client, "CopyObject", code, status)

        refused = only_result(invoke(function, invocation(bucket, "legacy.csv")))
        fixed = only_result(invoke(function, invocation(bucket, "fine.csv")))

        assert (refused[0], refused[1].split(":")[0]) == ("Succeeded", "unremediable")
        assert other_key in refused[1]
        assert "kms:Decrypt" in refused[1]
        assert snapshot(s3, bucket, "legacy.csv") == before
        assert (fixed[0], fixed[1].split(":")[0]) == ("Succeeded", "remediated")
        after = s3.head_object(Bucket=bucket, Key="fine.csv")
        assert (after["ServerSideEncryption"], after["SSEKMSKeyId"]) == ("aws:kms:dsse", dsse_key)

    def test_an_unusable_key_is_a_permanent_failure(
        self, function: Any, kms: Any, s3: Any, bucket: str, dsse_key: str
    ) -> None:
        put(s3, bucket, "k.csv")
        kms.disable_key(KeyId=dsse_key)

        code, text = only_result(invoke(function, invocation(bucket, "k.csv")))

        assert (code, text.split(":")[0]) == ("PermanentFailure", "unremediable")
        assert s3.head_object(Bucket=bucket, Key="k.csv")["ServerSideEncryption"] == "AES256"


def test_no_per_object_alert_is_published_for_batch_work_whatever_the_outcome(
    function: Any, s3: Any, bucket: str, inbox: Any
) -> None:
    put(s3, bucket, "fixed.csv")
    put(s3, bucket, "cold.csv", StorageClass="GLACIER")

    for key in ("fixed.csv", "cold.csv"):
        invoke(function, invocation(bucket, key))

    assert inbox.messages() == []


class TestBadInputChangesNothing:
    @pytest.mark.parametrize("event", [None, [], "x", 1, True, {}, {"tasks": []}, {"bucket": "b", "key": "k"}])
    def test_anything_but_an_invocation_gets_a_clear_error(self, function: Any, event: Any) -> None:
        answer = invoke(function, event)

        assert answer["results"] == []
        assert "Batch Operations invocation" in answer["error"]["message"]

    @pytest.mark.parametrize(
        ("arguments", "why"),
        [
            ({"dryrun": "true"}, "unknown job.userArguments ['dryrun']"),
            ({"dryRun": "yes"}, "dryRun must be 'true' or 'false'"),
        ],
    )
    def test_bad_user_arguments_fail_every_task_before_any_call(
        self, function: Any, s3: Any, bucket: str, arguments: dict[str, str], why: str
    ) -> None:
        put(s3, bucket, "k.csv")

        code, text = only_result(invoke(function, invocation(bucket, "k.csv", **arguments)))

        assert code == "PermanentFailure"
        assert why in text
        assert s3.head_object(Bucket=bucket, Key="k.csv")["ServerSideEncryption"] == "AES256"

    @pytest.mark.parametrize(
        "task",
        [
            {"taskId": "t1", "s3Bucket": 7, "s3Key": "k"},
            {"taskId": "t1", "s3Bucket": "b"},
            {"taskId": "t1", "s3Bucket": "b", "s3Key": "k", "s3VersionId": 3},
            {"taskId": "t1", "s3Bucket": "not a bucket!", "s3Key": "k"},
            {"taskId": "t1", "s3Bucket": "b", "s3Key": "%ED%A0%80"},  # decodes to a lone surrogate
        ],
    )
    def test_a_task_that_cannot_be_read_is_a_permanent_failure_with_its_reason(self, function: Any, task: Any) -> None:
        event = invocation("b", "k")
        event["tasks"] = [task]

        [result] = invoke(function, event)["results"]

        assert (result["taskId"], result["resultCode"]) == ("t1", "PermanentFailure")
        assert result["resultString"].startswith("invalid task: ")
