"""The Lambda handler end to end: every sample in events/ through `lambda_handler` on fake AWS."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from dsse_remediation.reporting import HandlerFailed
from tests.conftest import PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY, load_event, snapshot
from tests.integration.test_copy_in_place import put
from tests.lambda_context import LambdaContext, load_function


def load_handler() -> ModuleType:
    return load_function("object_remediation")


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, bucket: str, dsse_key: str, inbox: Any, s3: Any) -> Any:
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    monkeypatch.setenv("ALERT_TOPIC_ARN", inbox.topic_arn)
    monkeypatch.setenv("EXCLUDED_BUCKETS", "example-excluded-*")
    monkeypatch.setenv("ACCOUNT_ID", "123456789012")
    s3.create_bucket(Bucket="example-excluded-bucket")
    return load_handler()


def invoke(handler: Any, event: Any) -> Any:
    return json.loads(json.dumps(handler.lambda_handler(event, LambdaContext())))


def event(name: str, dsse_key: str, other_key: str) -> Any:
    return load_event(name, **{PLACEHOLDER_KEY: dsse_key, PLACEHOLDER_OTHER_KEY: other_key})


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


def test_failed_call_is_ignored(handler: Any, dsse_key: str, other_key: str) -> None:
    answer = invoke(handler, event("put-object-failed-access-denied.json", dsse_key, other_key))

    assert answer["results"] == []
    assert "AccessDenied" in answer["ignored"]


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


def test_bad_configuration_fails_at_cold_start_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from dsse_remediation.exceptions import ConfigError

    monkeypatch.setenv("DSSE_KMS_KEY", "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111")
    monkeypatch.setenv("MODE", "fix-everything")

    with pytest.raises(ConfigError, match="MODE='fix-everything' is not one of: remediate, alert-only"):
        load_handler()


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
    from tests.conftest import inject_error

    put(s3, bucket, "reports/2026/q3-summary.csv")
    inject_error(handler.remediator.s3.client, "CopyObject", "InternalError", 500, times=99)

    with pytest.raises(HandlerFailed, match="1 resource\\(s\\) failed, to be retried"):
        handler.lambda_handler(event("put-object-sse-s3.json", dsse_key, other_key), LambdaContext())


def test_manual_failure_is_answered_not_raised(handler: Any, s3: Any, bucket: str) -> None:
    from tests.conftest import inject_error

    put(s3, bucket, "reports/2026/q3-summary.csv")
    inject_error(handler.remediator.s3.client, "CopyObject", "InternalError", 500, times=99)

    answer = invoke(handler, load_event("manual-object.json"))

    assert [r["outcome"] for r in answer["results"]] == ["failed"]
