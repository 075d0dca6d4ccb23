"""The bucket and key-guard Lambda handlers end to end: every sample in events/ through `lambda_handler`."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.reporting import HandlerFailed
from tests.helpers import create_bucket, inject_error, invoke, key_ids, load_event
from tests.lambda_context import LambdaContext, load_function


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, dsse_key: str, inbox: Any, s3: Any, region: str) -> None:
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    monkeypatch.setenv("ALERT_TOPIC_ARN", inbox.topic_arn)
    monkeypatch.setenv("EXCLUDED_BUCKETS", "example-excluded-*")
    monkeypatch.setenv("ACCOUNT_ID", "123456789012")
    create_bucket(s3, "example-protected-bucket", region)
    create_bucket(s3, "example-excluded-bucket", region)


class TestBucketHandler:
    @pytest.fixture
    def function(self, environment: None) -> Any:
        return load_function("bucket_remediation")

    @pytest.mark.all_partitions
    @pytest.mark.parametrize(
        ("sample", "expected"),
        [
            ("create-bucket.json", "remediated"),
            ("put-bucket-encryption-sse-kms.json", "remediated"),
            ("put-bucket-encryption-two-rules.json", "remediated"),
            ("delete-bucket-encryption.json", "remediated"),
            ("create-bucket-out-of-scope.json", "out-of-scope"),
            ("manual-bucket.json", "remediated"),
            ("manual-bucket-dry-run.json", "would-remediate"),
        ],
    )
    def test_sample_reaches_its_outcome(
        self, function: Any, s3: Any, dsse_key: str, other_key: str, sample: str, expected: str
    ) -> None:
        answer = invoke(function, load_event(sample, **key_ids(dsse_key, other_key)))

        [result] = answer["results"]
        assert result["outcome"] == expected, result["reason"]
        rule = s3.get_bucket_encryption(Bucket=result["bucket"])["ServerSideEncryptionConfiguration"]["Rules"][0]
        dsse = rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms:dsse",
            "KMSMasterKeyID": dsse_key,
        }
        assert dsse is (expected == "remediated")

    def test_the_remediations_own_put_is_compliant(self, function: Any, s3: Any, dsse_key: str, other_key: str) -> None:
        invoke(function, load_event("manual-bucket.json"))

        answer = invoke(
            function, load_event("put-bucket-encryption-dsse-right-key.json", **key_ids(dsse_key, other_key))
        )

        assert [r["outcome"] for r in answer["results"]] == ["compliant"]

    def test_event_driven_failure_raises_for_a_retry(self, function: Any) -> None:
        inject_error(function.remediator.s3.client, "GetBucketEncryption", "InternalError", 500, times=99)

        with pytest.raises(HandlerFailed):
            function.lambda_handler(load_event("create-bucket.json"), LambdaContext())

    def test_kms_throttling_on_every_attempt_is_a_failure_to_retry_not_unremediable(
        self, function: Any, inbox: Any
    ) -> None:
        """DescribeKey throttled on all 6 attempts (botocore's standard mode): the key is not at fault."""
        inject_error(function.remediator.kms._client, "DescribeKey", "ThrottlingException", 400, times=6)

        answer = invoke(function, load_event("manual-bucket.json"))

        [result] = answer["results"]
        assert result["outcome"] == "failed"
        assert "ThrottlingException" in result["reason"]
        assert [m["body"]["outcome"] for m in inbox.messages()] == ["failed"]

    def test_kms_throttling_fails_the_event_driven_invocation(self, function: Any) -> None:
        inject_error(function.remediator.kms._client, "DescribeKey", "ThrottlingException", 400, times=6)

        with pytest.raises(HandlerFailed, match="ThrottlingException"):
            function.lambda_handler(load_event("create-bucket.json"), LambdaContext())

    def test_a_bucket_event_about_another_accounts_bucket_is_out_of_scope_quietly(
        self, function: Any, s3: Any, inbox: Any
    ) -> None:
        event = load_event("create-bucket.json")
        event["detail"]["resources"] = [
            {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::example-protected-bucket", "accountId": "444455556666"}
        ]

        answer = invoke(function, event)

        assert [r["outcome"] for r in answer["results"]] == ["out-of-scope"]
        assert inbox.messages() == []


class TestKeyGuardHandler:
    @pytest.fixture
    def function(self, environment: None) -> Any:
        return load_function("key_guard")

    @pytest.mark.all_partitions
    @pytest.mark.parametrize(
        ("sample", "expected"),
        [
            ("kms-disable-key.json", "would-remediate"),
            ("kms-schedule-key-deletion.json", "would-remediate"),
            ("kms-disable-key-rotation.json", "would-remediate"),
            ("kms-put-key-policy.json", "unremediable"),
            ("kms-delete-imported-key-material.json", "unremediable"),
            ("kms-delete-alias.json", "out-of-scope"),  # configured by ARN: aliases do not matter
            ("kms-disable-key-unrelated.json", "out-of-scope"),
        ],
    )
    def test_sample_reaches_its_outcome(
        self, function: Any, kms: Any, dsse_key: str, other_key: str, sample: str, expected: str
    ) -> None:
        answer = invoke(function, load_event(sample, **key_ids(dsse_key, other_key)))

        assert [r["outcome"] for r in answer["results"]] == [expected]

    @pytest.mark.all_partitions
    def test_manual_payload(self, function: Any, dsse_key: str, other_key: str) -> None:
        answer = invoke(function, load_event("manual-key.json", **key_ids(dsse_key, other_key)))

        [result] = answer["results"]
        assert (result["keyArn"], result["keyState"], result["rotationEnabled"]) == (dsse_key, "Enabled", False)

    def test_a_critical_alert_that_cannot_be_published_fails_the_invocation_for_a_retry(
        self, function: Any, dsse_key: str, other_key: str
    ) -> None:
        sns = function.guard.alerts.publisher._client_factory()
        inject_error(sns, "Publish", "KMSDisabled", 400, times=99)

        with pytest.raises(HandlerFailed, match="the alert could not be published"):
            function.lambda_handler(load_event("kms-disable-key.json", **key_ids(dsse_key, other_key)), LambdaContext())
