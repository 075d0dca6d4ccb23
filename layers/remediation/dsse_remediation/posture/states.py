"""The six encryption states a version can be in, from HeadObject's answer or an inventory's EncryptionStatus.

"DSSE under the key" is decided exactly as the remediation's verdict decides it (verdict.judge): the algorithm is
`aws:kms:dsse` and HeadObject's `SSEKMSKeyId` equals the configured key's ARN. S3 reports `SSEKMSKeyId` as a key ARN
("x-amz-server-side-encryption-aws-kms-key-id ... the ID of the KMS key", given as its ARN;
https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html), so the configured reference (an alias, an alias
ARN or a key id) is resolved to its key ARN once (aws/kms.KeyRing) and ARNs are compared: an object written with
`alias/x` is reported under the key ARN the alias named at write time.
"""

from __future__ import annotations

from enum import StrEnum

from ..model import DSSE, Encryption


class State(StrEnum):
    DSSE_KEY = "dsse-key"  # DSSE-KMS under the configured key
    DSSE_OTHER_KEY = "dsse-other-key"
    SSE_KMS = "sse-kms"
    SSE_S3 = "sse-s3"
    SSE_C = "sse-c"
    NOT_ENCRYPTED = "not-encrypted"


STATES = tuple(State)  # the document's order
SSE_C_ALGORITHM = "SSE-C"  # what the adapter reports for HeadObject's bare 400 on an SSE-C object


def of_encryption(encryption: Encryption, key_arn: str) -> State:
    """A HeadObject answer's state. A missing ServerSideEncryption header is SSE-S3 (every object is encrypted since
    January 2023; aws/s3_objects.state_from_head already reads it so); `none` only for an explicit absence."""
    algorithm = encryption.algorithm
    if algorithm == DSSE:
        return State.DSSE_KEY if encryption.kms_key_id == key_arn else State.DSSE_OTHER_KEY
    if algorithm == "aws:kms":
        return State.SSE_KMS
    if algorithm == SSE_C_ALGORITHM:
        return State.SSE_C
    if algorithm == "AES256":
        return State.SSE_S3
    return State.NOT_ENCRYPTED


def of_inventory(status: str) -> State | None:
    """An inventory EncryptionStatus: SSE-S3, SSE-C, SSE-KMS, NOT-SSE, and DSSE-KMS (S3 User Guide, "Amazon S3
    Inventory", the Encryption field). A DSSE-KMS row names no key: None, to be read with HeadObject (or sampled)."""
    value = status.strip().upper()
    if "DSSE" in value:
        return None
    known = {"SSE-S3": State.SSE_S3, "SSE-C": State.SSE_C, "SSE-KMS": State.SSE_KMS, "NOT-SSE": State.NOT_ENCRYPTED}
    if value not in known:
        raise ValueError(
            f"unknown EncryptionStatus {status!r} (S3 documents SSE-S3, SSE-C, SSE-KMS, DSSE-KMS, NOT-SSE)"
        )
    return known[value]
