"""The verdict reads one HeadObject: DSSE under the configured key ARN is compliant, nothing else is."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.aws.s3 import ObjectState
from dsse_remediation.verdict import Verdict, judge

KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
OTHER = "arn:aws:kms:us-east-1:123456789012:key/2222bbbb-22bb-22bb-22bb-222222222222"


def state(**head: Any) -> ObjectState:
    return ObjectState.from_head("b", "k", {"ETag": '"e"', "ContentLength": 1} | head)


@pytest.mark.parametrize(
    ("head", "verdict"),
    [
        ({"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": KEY}, Verdict.COMPLIANT),
        ({"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": OTHER}, Verdict.REMEDIABLE),
        ({"ServerSideEncryption": "aws:kms:dsse"}, Verdict.REMEDIABLE),
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY}, Verdict.REMEDIABLE),
        ({"ServerSideEncryption": "AES256"}, Verdict.REMEDIABLE),
        ({}, Verdict.REMEDIABLE),
        ({"StorageClass": "GLACIER"}, Verdict.UNREMEDIABLE),
        ({"StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="true"'}, Verdict.UNREMEDIABLE),
        ({"StorageClass": "GLACIER", "Restore": 'ongoing-request="false", expiry-date="x"'}, Verdict.REMEDIABLE),
        ({"StorageClass": "GLACIER_IR"}, Verdict.REMEDIABLE),
        ({"StorageClass": "INTELLIGENT_TIERING", "ArchiveStatus": "ARCHIVE_ACCESS"}, Verdict.UNREMEDIABLE),
        ({"StorageClass": "INTELLIGENT_TIERING"}, Verdict.REMEDIABLE),
    ],
)
def test_verdict(head: dict[str, Any], verdict: Verdict) -> None:
    assert judge(state(**head), KEY).verdict is verdict


def test_missing_encryption_header_reads_as_the_sse_s3_default() -> None:
    assert state().encryption.algorithm == "AES256"
