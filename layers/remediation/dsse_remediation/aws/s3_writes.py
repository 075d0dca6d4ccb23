"""What every in-place write sends, shared by the single copy (s3_objects) and the multipart copy (s3_multipart)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..model import DSSE, DsseTarget, Encryption, ObjectState, Written

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

CHECKSUM_ALGORITHMS = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)
CHECKSUM_FIELDS = {f"Checksum{algorithm}": algorithm for algorithm in CHECKSUM_ALGORITHMS}


def written(response: Mapping[str, Any]) -> Written:
    encryption = Encryption(response.get("ServerSideEncryption") or "AES256", response.get("SSEKMSKeyId"))
    return Written(version_id=response.get("VersionId"), encryption=encryption)


def tagging_query(client: S3Client, owner: Mapping[str, Any], state: ObjectState) -> str:
    """The object's tags as the Tagging parameter of a write (URL query form)."""
    args: dict[str, Any] = {"Bucket": state.bucket, "Key": state.key}
    if state.version_id:
        args["VersionId"] = state.version_id
    tags = client.get_object_tagging(**args, **owner)["TagSet"]
    return urlencode([(t["Key"], t["Value"]) for t in tags])


def copy_source(state: ObjectState) -> CopySourceTypeDef:
    """The current object, pinned by CopySourceIfMatch rather than by version id.

    Pinning the version would let a concurrent write of the same bytes (same ETag) with other metadata or tags be
    overwritten by the older version's; copying the current object keeps the newer write's own metadata.
    """
    return {"Bucket": state.bucket, "Key": state.key}


def write_args(state: ObjectState, target: DsseTarget, grants: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """What every in-place write sets: DSSE under the key, and what S3 would otherwise not carry over."""
    args: dict[str, Any] = {
        "ServerSideEncryption": DSSE,
        "SSEKMSKeyId": target.key_arn,  # never BucketKeyEnabled: Bucket Keys are not supported with DSSE
        "StorageClass": state.storage_class,  # CopyObject defaults to STANDARD otherwise
        **grants,
    }
    if target.encryption_context:
        args["SSEKMSEncryptionContext"] = target.encryption_context
    if state.website_redirect:
        args["WebsiteRedirectLocation"] = state.website_redirect  # never copied by S3
    until = state.lock.get("ObjectLockRetainUntilDate")
    if state.lock.get("ObjectLockMode") and until and until > now:  # S3 refuses a past date
        args["ObjectLockMode"] = state.lock["ObjectLockMode"]
        args["ObjectLockRetainUntilDate"] = until
    if state.lock.get("ObjectLockLegalHoldStatus") == "ON":
        args["ObjectLockLegalHoldStatus"] = "ON"
    if state.lock.get("ObjectLockEventHold") == "ON":
        args["ObjectLockEventHold"] = "ON"
        for name in ("ObjectLockEventHoldDurationDays", "ObjectLockEventHoldDurationYears"):
            if name in state.lock:
                args[name] = state.lock[name]
    return args
