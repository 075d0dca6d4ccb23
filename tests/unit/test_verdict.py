"""The verdict reads one HeadObject: DSSE under the configured key ARN is compliant, nothing else is."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.aws.s3_objects import state_from_head
from dsse_remediation.model import ObjectState
from dsse_remediation.verdict import Verdict, judge
from tests.helpers import PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY

KEY, OTHER = PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY


def state(**head: Any) -> ObjectState:
    return state_from_head("b", "k", {"ETag": '"e"', "ContentLength": 1} | head)


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
        ({"StorageClass": "GLACIER", "Restore": 'ongoing-request="false", expiry-date="x"'}, Verdict.UNREMEDIABLE),
        ({"StorageClass": "GLACIER_IR"}, Verdict.REMEDIABLE),
        ({"StorageClass": "INTELLIGENT_TIERING", "ArchiveStatus": "ARCHIVE_ACCESS"}, Verdict.UNREMEDIABLE),
        ({"StorageClass": "INTELLIGENT_TIERING"}, Verdict.REMEDIABLE),
    ],
)
def test_verdict(head: dict[str, Any], verdict: Verdict) -> None:
    assert judge(state(**head), KEY).verdict is verdict


RESTORED = 'ongoing-request="false", expiry-date="Fri, 21 Dec 2029 00:00:00 GMT"'


class TestArchivedObjects:
    """An archived object is never copied unless it is restored, and a restore is never ended silently."""

    def test_an_archived_object_says_nothing_will_happen_by_itself_without_the_opt_in(self) -> None:
        judgement = judge(state(StorageClass="GLACIER"), KEY)

        assert judgement.verdict is Verdict.UNREMEDIABLE
        assert "cannot copy it until it is restored" in judgement.reason
        assert "Nothing remediates it automatically" in judgement.reason
        assert "will be remediated" not in judgement.reason

    def test_with_the_opt_in_it_says_a_completed_restore_is_remediated_and_ends(self) -> None:
        judgement = judge(state(StorageClass="DEEP_ARCHIVE"), KEY, remediate_restored_archives=True)

        assert judgement.verdict is Verdict.UNREMEDIABLE
        assert "When a restore of it completes, it is remediated" in judgement.reason
        assert "ends that restore" in judgement.reason

    def test_a_restored_copy_is_left_alone_without_the_opt_in_with_its_expiry_and_what_to_do(self) -> None:
        judgement = judge(state(StorageClass="GLACIER", Restore=RESTORED), KEY)

        assert judgement.verdict is Verdict.UNREMEDIABLE
        assert "Fri, 21 Dec 2029 00:00:00 GMT" in judgement.reason
        assert "end this restore" in judgement.reason
        assert "REMEDIATE_RESTORED_ARCHIVES" in judgement.reason

    def test_a_restored_copy_is_remediable_with_the_opt_in(self) -> None:
        assert judge(state(StorageClass="GLACIER", Restore=RESTORED), KEY, True).verdict is Verdict.REMEDIABLE

    def test_a_restore_in_progress_is_still_archived(self) -> None:
        judgement = judge(state(StorageClass="GLACIER", Restore='ongoing-request="true"'), KEY, True)

        assert judgement.verdict is Verdict.UNREMEDIABLE


def test_missing_encryption_header_reads_as_the_sse_s3_default() -> None:
    assert state().encryption.algorithm == "AES256"
