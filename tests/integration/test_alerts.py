"""Alerts: one readable, filterable SNS message per object a human must know about; none for compliant objects."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.alerts import SCHEMA
from dsse_remediation.model import ObjectRequest, answer
from dsse_remediation.partitions import partition_of
from tests.helpers import WRITER, put


@pytest.mark.all_partitions
def test_remediated_alert_has_subject_schema_attribution_and_attributes(
    s3: Any, bucket: str, dsse_key: str, make_remediator: Any, inbox: Any, region: str
) -> None:
    put(s3, bucket, "reports/q3.csv")

    result = make_remediator().handle(ObjectRequest(bucket, ("reports/q3.csv",), trigger=WRITER))

    [alert] = inbox.messages()
    assert alert["subject"] == f"DSSE-KMS remediated: s3://{bucket}/reports/q3.csv"
    assert alert["attributes"] == {
        "severity": "low",
        "outcome": "remediated",
        "resourceType": "object",
        "bucket": bucket,
    }
    body = alert["body"]
    assert body["schema"] == SCHEMA
    assert (body["account"], body["region"]) == ("123456789012", region)
    assert dsse_key.startswith(f"arn:{partition_of(region)}:kms:{region}:123456789012:key/")  # moto: the partition's
    assert body["encryptionBefore"] == {"algorithm": "AES256", "kmsKeyId": None}
    assert body["encryptionAfter"] == {"algorithm": "aws:kms:dsse", "kmsKeyId": dsse_key}
    assert body["versionIdAfter"] == result.version_id_after
    assert body["trigger"] == answer(WRITER)
    assert body["action"] == "copy-in-place"


def test_alert_never_carries_user_metadata_values(s3: Any, bucket: str, make_remediator: Any, inbox: Any) -> None:
    put(s3, bucket, "secret.csv", Metadata={"api-token": "do-not-leak-4242"})

    make_remediator().handle(ObjectRequest(bucket, ("secret.csv",)))

    [alert] = inbox.messages()
    assert "do-not-leak-4242" not in str(alert)


def test_unremediable_alert_is_high_severity(s3: Any, bucket: str, make_remediator: Any, inbox: Any) -> None:
    put(s3, bucket, "cold.csv", StorageClass="GLACIER")

    make_remediator().handle(ObjectRequest(bucket, ("cold.csv",)))

    [alert] = inbox.messages()
    assert alert["subject"].startswith("DSSE-KMS unremediable: ")
    assert (alert["attributes"]["severity"], alert["attributes"]["outcome"]) == ("high", "unremediable")


def test_compliant_and_out_of_scope_publish_nothing(
    s3: Any, bucket: str, dsse_key: str, make_remediator: Any, inbox: Any
) -> None:
    from dsse_remediation.scope import Scope

    put(s3, bucket, "ok.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    make_remediator().handle(ObjectRequest(bucket, ("ok.csv",)))
    make_remediator(scope=Scope(include=("other-*",))).handle(ObjectRequest(bucket, ("ok.csv",)))

    assert inbox.messages() == []
