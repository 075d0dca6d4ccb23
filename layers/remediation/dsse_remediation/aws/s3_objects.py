"""S3 adapter, object path: read an object's state and copy it onto itself under DSSE-KMS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..model import Clock, DsseTarget, Encryption, ObjectState, Written, utc_now
from . import errors
from .s3_multipart import multipart_copy_in_place
from .s3_writes import copy_source, write_args, written

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Content headers that MetadataDirective=COPY carries and that a multipart copy must set again.
CONTENT_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")
# Object Lock settings HeadObject reports (with s3:GetObjectRetention / s3:GetObjectLegalHold) and that
# CopyObject / CreateMultipartUpload accept for the new version.
_LOCK_FIELDS = (
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "ObjectLockLegalHoldStatus",
    "ObjectLockEventHold",
    "ObjectLockEventHoldDurationDays",
    "ObjectLockEventHoldDurationYears",
)
_GRANT_PARAMS = {
    "FULL_CONTROL": "GrantFullControl",
    "READ": "GrantRead",
    "READ_ACP": "GrantReadACP",
    "WRITE_ACP": "GrantWriteACP",
}
# How long a bucket's "ACLs enabled" fact is trusted. Object Ownership can be switched at any time: after a switch from
# BucketOwnerEnforced to ObjectWriter / BucketOwnerPreferred, a copy made on the stale fact would carry no grants and
# S3 would make the object private. One GetBucketOwnershipControls per bucket per minute bounds that window, and a
# write known to have set an ACL closes it for its object (`acls_enabled(..., seen_enabled=True)`: S3 refuses such a
# write while ACLs are disabled). The reverse switch is caught at once (the copy is refused with
# AccessControlListNotSupported and retried).
OWNERSHIP_TTL_SECONDS = 60.0


def owner_args(expected_owner: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """ExpectedBucketOwner / ExpectedSourceBucketOwner for every call: a bucket name that now belongs to another
    account is refused (403) instead of being read or written.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html"""
    if not expected_owner:
        return {}, {}
    return {"ExpectedBucketOwner": expected_owner}, {"ExpectedSourceBucketOwner": expected_owner}


class ObjectStore:
    """The S3 calls of the object path. A bucket's Object Ownership is cached for OWNERSHIP_TTL_SECONDS."""

    def __init__(
        self,
        client: S3Client,
        expected_owner: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Clock = utc_now,
    ) -> None:
        self._client = client
        self._now = now  # wall-clock time: Object Lock retain-until dates are compared with it
        self._owner, self._source_owner = owner_args(expected_owner)
        self._acls_enabled: dict[str, tuple[bool, float]] = {}  # bucket -> (ACLs enabled, when it was read)
        self._clock = clock
        self._lock = threading.Lock()
        # Set by an interactive caller (the CLI's Ctrl-C): multipart copies stop between parts and abort.
        self.stopping = threading.Event()

    @property
    def client(self) -> S3Client:
        return self._client

    @errors.translated
    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectState:
        """The verdict's one call. GET/HEAD must not carry encryption headers (S3 answers 400).

        No ChecksumMode here: with it, HeadObject needs kms:Decrypt on KMS-encrypted objects (the checksum is
        stored encrypted), so every compliance check could cost a KMS request.
        """
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        return state_from_head(bucket, key, self._client.head_object(**args, **self._owner))

    @errors.translated
    def acls_enabled(self, bucket: str, *, seen_enabled: bool = False) -> bool:
        """False under Object Ownership `BucketOwnerEnforced` (ACLs disabled; the default for new buckets).

        `seen_enabled`: the caller knows of a write that set an ACL in the bucket, which S3 accepts only while ACLs
        are enabled (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html):
        a cached "disabled" may predate a switch to ACLs enabled, and is read again.
        """
        now = self._clock()
        with self._lock:
            cached = self._acls_enabled.get(bucket)
        if cached is not None and now - cached[1] < OWNERSHIP_TTL_SECONDS and (cached[0] or not seen_enabled):
            return cached[0]
        try:
            controls = self._client.get_bucket_ownership_controls(Bucket=bucket, **self._owner)
            rules = controls["OwnershipControls"]["Rules"]
            enabled = not any(r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules)
        except ClientError as exc:
            if errors.code(exc) != "OwnershipControlsNotFoundError":
                raise
            enabled = True  # no ownership controls: a bucket from before April 2023, ACLs in force
        with self._lock:
            self._acls_enabled[bucket] = (enabled, now)
        return enabled

    def forget_ownership(self, bucket: str) -> None:
        """The bucket's Object Ownership changed under us: read it again on the next copy."""
        with self._lock:
            self._acls_enabled.pop(bucket, None)

    @errors.translated
    def grants(self, state: ObjectState) -> dict[str, str]:
        """The object's ACL as CopyObject Grant* parameters, so the copy is never private in between."""
        args: dict[str, Any] = {"Bucket": state.bucket, "Key": state.key}
        if state.version_id:
            args["VersionId"] = state.version_id
        acl = self._client.get_object_acl(**args, **self._owner)
        by_permission: dict[str, list[str]] = {}
        for grant in acl.get("Grants", []):
            param = _GRANT_PARAMS.get(grant.get("Permission", ""))
            grantee = _grantee(grant.get("Grantee", {}))
            if param and grantee:
                by_permission.setdefault(param, []).append(grantee)
        return {param: ", ".join(grantees) for param, grantees in by_permission.items()}

    @errors.translated
    def copy_in_place(self, state: ObjectState, target: DsseTarget, grants: Mapping[str, str]) -> Written:
        """One CopyObject onto itself."""
        response = self._client.copy_object(
            Bucket=state.bucket,
            Key=state.key,
            CopySource=copy_source(state),
            CopySourceIfMatch=state.etag,  # the bytes we judged, or 412
            IfMatch=state.etag,  # and nobody replaced the object while we copied, or 412/409
            MetadataDirective="COPY",
            TaggingDirective="COPY",
            AnnotationDirective="COPY",
            # The checksum algorithm is carried over when ChecksumAlgorithm is not sent.
            **write_args(state, target, grants, self._now()),
            **self._owner,
            **self._source_owner,
        )
        return written(response)

    @errors.translated
    def multipart_copy_in_place(
        self,
        state: ObjectState,
        target: DsseTarget,
        grants: Mapping[str, str],
        part_size: int,
        concurrency: int,
        checkpoint: Callable[[int, int, int], None] = lambda number, parts, size: None,
    ) -> Written:
        """Stopped between parts by `stopping` (the CLI's Ctrl-C) or by what `checkpoint` raises (a deadline)."""
        return multipart_copy_in_place(
            self._client,
            self._owner,
            self._source_owner,
            state,
            target,
            grants,
            part_size,
            concurrency,
            self.stopping,
            self._now(),
            checkpoint,
        )

    @errors.translated
    def delete_version(self, bucket: str, key: str, version_id: str) -> None:
        self._client.delete_object(Bucket=bucket, Key=key, VersionId=version_id, **self._owner)


def state_from_head(bucket: str, key: str, head: Mapping[str, Any]) -> ObjectState:
    # Since January 2023 S3 encrypts every object; a missing header means the SSE-S3 default.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html
    # (SSE-C objects never get here: HeadObject without their key answers 400.)
    encryption = Encryption(head.get("ServerSideEncryption") or "AES256", head.get("SSEKMSKeyId"))
    return ObjectState(
        bucket=bucket,
        key=key,
        etag=head["ETag"],
        size=int(head.get("ContentLength", 0)),
        version_id=head.get("VersionId"),
        encryption=encryption,
        storage_class=head.get("StorageClass") or "STANDARD",
        archive_status=head.get("ArchiveStatus"),
        restore=head.get("Restore"),
        website_redirect=head.get("WebsiteRedirectLocation"),
        content={name: head[name] for name in CONTENT_HEADERS if head.get(name) is not None},
        metadata=dict(head.get("Metadata") or {}),
        tag_count=int(head.get("TagCount") or 0),
        lock={name: head[name] for name in _LOCK_FIELDS if head.get(name) is not None},
    )


def _grantee(grantee: Mapping[str, Any]) -> str | None:
    if grantee.get("Type") == "CanonicalUser" and grantee.get("ID"):
        return f'id="{grantee["ID"]}"'
    if grantee.get("Type") == "Group" and grantee.get("URI"):
        return f'uri="{grantee["URI"]}"'
    return None  # e-mail grantees: GetObjectAcl reports them as canonical users
