"""Alerts built from results, without AWS: subjects a human can scan, attributes a subscription can filter on, a body
of one schema, and a required alert that cannot be published reported back. tests/integration/test_alerts.py checks
that the paths publish them."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.alerts import SCHEMA, Alert, Alerts, Context, alert_for, subject
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.model import (
    Action,
    BucketEncryption,
    BucketResult,
    Encryption,
    Failure,
    KeyResult,
    ObjectResult,
    Outcome,
    Trigger,
    answer,
)
from tests.clock import PinnedClock
from tests.helpers import PLACEHOLDER_KEY, PLACEHOLDER_KEY_ID, WRITER

CONTEXT = Context(mode="remediate", account="123456789012", region="us-east-1", clock=PinnedClock())


def object_result(outcome: Outcome = Outcome.REMEDIATED, **fields: Any) -> ObjectResult:
    return ObjectResult(
        **{
            "bucket": "example-protected-bucket",
            "key": "reports/q3.csv",
            "version_id": "v1",
            "outcome": outcome,
            "reason": "copied in place under the key",
            "version_id_after": "v2",
            "before": Encryption("AES256"),
            "after": Encryption("aws:kms:dsse", PLACEHOLDER_KEY),
            "action": Action.COPY,
            "expected_key_arn": PLACEHOLDER_KEY,
            "trigger": WRITER,
        }
        | fields
    )


def test_subject_is_ascii_and_within_the_sns_limit() -> None:
    text = subject("DSSE-KMS remediated", "s3://bucket/" + "Ünïcødé 文件/" * 20 + "\nline")

    assert text.isascii()
    assert "\n" not in text
    assert len(text) < 100
    assert text.startswith("DSSE-KMS remediated: s3://bucket/%C3%9Cn")


@pytest.mark.parametrize(
    ("outcome", "title", "severity", "required"),
    [
        (Outcome.REMEDIATED, "DSSE-KMS remediated", "low", False),
        (Outcome.WOULD_REMEDIATE, "DSSE-KMS not compliant (not changed)", "medium", True),
        (Outcome.UNREMEDIABLE, "DSSE-KMS unremediable", "high", True),
        (Outcome.FAILED, "DSSE-KMS remediation failed", "high", True),
    ],
)
def test_object_alert_subject_severity_and_filter_attributes(
    outcome: Outcome, title: str, severity: str, required: bool
) -> None:
    alert = alert_for(object_result(outcome), CONTEXT)

    assert alert.subject == f"{title}: s3://example-protected-bucket/reports/q3.csv"
    assert alert.attributes == {
        "severity": severity,
        "outcome": outcome.value,
        "resourceType": "object",
        "bucket": "example-protected-bucket",
    }
    assert alert.required is required


def test_object_alert_body_is_the_schema_with_the_result_and_who_wrote_it() -> None:
    body = alert_for(object_result(), CONTEXT).body

    assert set(body) == {
        "schema",
        "time",
        "severity",
        "outcome",
        "resourceType",
        "resource",
        "mode",
        "dryRun",
        "account",
        "region",
        "reason",
        "bucket",
        "key",
        "versionIdBefore",
        "versionIdAfter",
        "encryptionBefore",
        "encryptionAfter",
        "action",
        "purgedVersionId",
        "expectedKmsKeyId",
        "latencySeconds",
        "readerImpact",
        "trigger",
    }
    assert body["time"] == "2026-11-20T09:15:02+00:00"  # the context's clock (the App's), never the machine's zone
    assert (body["schema"], body["resource"], body["mode"]) == (
        SCHEMA,
        "s3://example-protected-bucket/reports/q3.csv",
        "remediate",
    )
    assert (body["account"], body["region"]) == ("123456789012", "us-east-1")
    assert (body["versionIdBefore"], body["versionIdAfter"]) == ("v1", "v2")
    assert body["encryptionBefore"] == {"algorithm": "AES256", "kmsKeyId": None}
    assert body["encryptionAfter"] == {"algorithm": "aws:kms:dsse", "kmsKeyId": PLACEHOLDER_KEY}
    assert body["action"] == "copy-in-place"
    assert body["trigger"] == answer(WRITER)


def test_bucket_alert_carries_the_default_before_and_after_and_the_prevention_change() -> None:
    result = BucketResult(
        bucket="example-protected-bucket",
        outcome=Outcome.REMEDIATED,
        reason="reset",
        before=BucketEncryption("aws:kms", "arn:aws:kms:us-east-1:123456789012:key/other", bucket_key_enabled=True),
        after=BucketEncryption("aws:kms:dsse", PLACEHOLDER_KEY, blocked_encryption_types=("SSE-C",)),
        policy_change="added",
    )

    alert = alert_for(result, CONTEXT)

    assert alert.subject == "DSSE-KMS bucket default reset: s3://example-protected-bucket"
    assert alert.attributes == {
        "severity": "low",
        "outcome": "remediated",
        "resourceType": "bucket",
        "bucket": "example-protected-bucket",
    }
    assert alert.body["encryptionBefore"] == {
        "algorithm": "aws:kms",
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/other",
        "bucketKeyEnabled": True,
        "blockedEncryptionTypes": None,
    }
    assert alert.body["encryptionAfter"]["blockedEncryptionTypes"] == ["SSE-C"]
    assert alert.body["preventionPolicy"] == "added"


@pytest.mark.parametrize("outcome", [Outcome.REMEDIATED, Outcome.WOULD_REMEDIATE, Outcome.UNREMEDIABLE])
def test_every_key_alert_is_critical_whatever_its_outcome_and_its_subject_fits(outcome: Outcome) -> None:
    result = KeyResult(key_arn=PLACEHOLDER_KEY, outcome=outcome, reason="r", event_name="DisableKey")

    alert = alert_for(result, CONTEXT)

    assert alert.subject == f"DSSE-KMS key DisableKey: key/{PLACEHOLDER_KEY_ID}"
    assert alert.attributes == {
        "severity": "critical",
        "outcome": outcome.value,
        "resourceType": "kms-key",
        "keyArn": PLACEHOLDER_KEY,
    }
    assert alert.required


def test_the_text_body_puts_what_happened_and_who_did_it_first() -> None:
    text = alert_for(object_result(), CONTEXT).text_body

    lines = text.splitlines()
    assert lines[0] == "DSSE-KMS remediated: s3://example-protected-bucket/reports/q3.csv"
    assert "Outcome:     remediated (severity low)" in lines
    assert f"After:       aws:kms:dsse ({PLACEHOLDER_KEY})" in lines
    assert (
        "Done by:     arn:aws:sts::123456789012:assumed-role/data-pipeline/ingest-job from 198.51.100.23"
        " at 2026-11-20T09:15:02Z (PutObject)" in lines
    )
    assert "Machine-readable body:" in lines


def test_a_manual_request_has_no_done_by_line() -> None:
    text = alert_for(object_result(trigger=Trigger("manual")), CONTEXT).text_body

    assert "Done by:" not in text


class Refusing:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def publish(self, alert: Alert) -> str:
        self.sent.append(alert)
        raise AwsFailure(Failure.KEY_UNUSABLE, "KMSDisabled: the topic's key is disabled", "KMSDisabled")


def test_a_required_alert_that_cannot_be_published_is_counted_and_reported() -> None:
    publisher, errors = Refusing(), []

    found = Alerts(publisher, CONTEXT, errors.append).send(object_result(Outcome.UNREMEDIABLE))

    assert len(publisher.sent) == len(errors) == 1
    assert found == "the alert could not be published: KMSDisabled: the topic's key is disabled"


def test_a_lost_remediated_notice_is_counted_but_does_not_fail_the_fix() -> None:
    publisher, errors = Refusing(), []

    found = Alerts(publisher, CONTEXT, errors.append).send(object_result(Outcome.REMEDIATED))

    assert len(publisher.sent) == len(errors) == 1
    assert found is None


def test_without_a_topic_nothing_is_published_and_nothing_reported() -> None:
    assert Alerts(None, CONTEXT).send(object_result(Outcome.FAILED)) is None


# --- forwarding to the security account (FORWARD_RESULTS) ------------------------------------------------------------


class Delivering:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def publish(self, alert: Alert) -> str:
        self.sent.append(alert)
        return "m1"

    def forward(self, alert: Alert) -> str:
        self.sent.append(alert)
        return "e1"


class RefusingForward:
    def forward(self, alert: Alert) -> str:
        raise AwsFailure(Failure.DENIED, "AccessDeniedException: not on that bus", "AccessDeniedException")


def test_every_published_alert_is_forwarded_as_the_same_alert() -> None:
    topic, bus = Delivering(), Delivering()

    assert Alerts(topic, CONTEXT, forwarder=bus).send(object_result(Outcome.UNREMEDIABLE)) is None

    assert bus.sent == topic.sent
    assert len(bus.sent) == 1


def test_alerts_are_forwarded_even_without_a_topic() -> None:
    bus = Delivering()

    Alerts(None, CONTEXT, forwarder=bus).send(object_result(Outcome.FAILED))

    assert [a.body["outcome"] for a in bus.sent] == ["failed"]


def test_a_required_alert_that_cannot_be_forwarded_is_reported_like_an_unpublished_one() -> None:
    from dsse_remediation.alerts import ForwardFailed

    topic, errors = Delivering(), []

    found = Alerts(topic, CONTEXT, errors.append, RefusingForward()).send(object_result(Outcome.UNREMEDIABLE))

    assert len(topic.sent) == 1  # the topic got it
    assert found == ("the alert could not be forwarded to the security account: AccessDeniedException: not on that bus")
    [error] = errors
    assert isinstance(error, ForwardFailed)
    assert (error.failure, error.code, error.metric) == (Failure.DENIED, "AccessDeniedException", "AlertForwardFailed")


def test_a_lost_forward_of_a_remediated_notice_is_only_counted() -> None:
    errors: list[Exception] = []

    assert Alerts(Delivering(), CONTEXT, errors.append, RefusingForward()).send(object_result()) is None
    assert len(errors) == 1


def test_both_losses_of_a_required_alert_are_reported_together() -> None:
    errors: list[Exception] = []

    found = Alerts(Refusing(), CONTEXT, errors.append, RefusingForward()).send(object_result(Outcome.FAILED))

    assert found is not None
    assert found.startswith("the alert could not be published: ")
    assert "; the alert could not be forwarded to the security account: " in found
    assert len(errors) == 2
