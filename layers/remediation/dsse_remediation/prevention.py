"""The opt-in prevention policy: bucket policy statements that refuse writes asking for other encryption.

Written so that what must keep working does: uploads that send no encryption header (the bucket's DSSE default
applies), multipart UploadPart requests (they carry no encryption header but are authorized as s3:PutObject), and
the remediation's own copies (they ask for aws:kms:dsse under the key). Each statement denies only when its header
is present (`Null: false`) and differs, because `StringNotEquals` alone also matches requests without the header.
A DSSE request without a key-id header is denied too: S3 would use the AWS managed key `aws/s3` for it. Clients
must name the key by its ARN (the condition compares the header as sent).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingDSSEncryption.html
"""

from __future__ import annotations

import copy
from typing import Any

from .partitions import AWS, partition_of_arn, s3_object_arn

SID_ALGORITHM = "DsseRemediationDenyOtherEncryption"
SID_KEY = "DsseRemediationDenyOtherKmsKey"
OUR_SIDS = frozenset({SID_ALGORITHM, SID_KEY})
SSE_HEADER = "s3:x-amz-server-side-encryption"
KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"


def statements(bucket: str, key_arn: str) -> list[dict[str, Any]]:
    objects = s3_object_arn(partition_of_arn(key_arn) or AWS, bucket, "*")  # the key's partition is the bucket's

    def deny(sid: str, condition: dict[str, Any]) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": condition,
        }

    return [
        # An encryption header other than DSSE.
        deny(SID_ALGORITHM, {"StringNotEquals": {SSE_HEADER: "aws:kms:dsse"}, "Null": {SSE_HEADER: "false"}}),
        # An encryption header with another key id, or with none (S3 would pick the aws/s3 managed key).
        deny(SID_KEY, {"StringNotEqualsIfExists": {KEY_HEADER: key_arn}, "Null": {SSE_HEADER: "false"}}),
    ]


def merged(existing: dict[str, Any] | None, bucket: str, key_arn: str) -> tuple[dict[str, Any], str | None]:
    """The bucket policy with our statements in place, and what changed: "added", "updated" or None.

    Every statement that is not ours is kept as it is, in its place; ours are replaced, never duplicated.
    """
    policy: dict[str, Any] = copy.deepcopy(existing) if existing else {"Version": "2012-10-17", "Statement": []}
    found = policy.get("Statement", [])
    current: list[dict[str, Any]] = [found] if isinstance(found, dict) else list(found)
    ours_before = [s for s in current if s.get("Sid") in OUR_SIDS]
    wanted = statements(bucket, key_arn)
    if ours_before == wanted:
        return policy, None
    policy["Statement"] = [s for s in current if s.get("Sid") not in OUR_SIDS] + wanted
    return policy, ("updated" if ours_before else "added")


def blocking_sse_c(blocked: tuple[str, ...] | None) -> tuple[str, ...]:
    """BlockedEncryptionTypes with SSE-C in it, everything already there kept (NONE means nothing is blocked).

    https://docs.aws.amazon.com/AmazonS3/latest/API/API_BlockedEncryptionTypes.html
    """
    kept = tuple(t for t in (blocked or ()) if t != "NONE")
    return kept if "SSE-C" in kept else (*kept, "SSE-C")
