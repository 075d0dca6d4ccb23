"""The compliance verdict for one object, from its HeadObject state alone (no AWS calls)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .aws.s3 import DSSE, ObjectState

# Objects in these classes must be restored before S3 can read them for a copy (InvalidObjectState).
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


class Verdict(StrEnum):
    COMPLIANT = "compliant"
    REMEDIABLE = "remediable"
    UNREMEDIABLE = "unremediable"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


def judge(state: ObjectState, key_arn: str) -> Judgement:
    encryption = state.encryption
    if encryption.algorithm == DSSE and encryption.kms_key_id == key_arn:
        return Judgement(Verdict.COMPLIANT, f"DSSE-KMS under the configured key {key_arn}")
    if state.storage_class in ARCHIVE_CLASSES and 'ongoing-request="false"' not in (state.restore or ""):
        return Judgement(
            Verdict.UNREMEDIABLE,
            f"archived in {state.storage_class}: restore it (RestoreObject) and it will be remediated "
            "from the restored copy",
        )
    if state.storage_class == "INTELLIGENT_TIERING" and state.archive_status:
        return Judgement(
            Verdict.UNREMEDIABLE,
            f"in the Intelligent-Tiering {state.archive_status} tier: restore it (RestoreObject) first",
        )
    return Judgement(Verdict.REMEDIABLE, f"encrypted with {encryption}, expected DSSE-KMS under {key_arn}")
