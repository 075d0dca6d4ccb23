"""S3 adapter: read an object's state, copy it onto itself under DSSE-KMS, and the bucket facts that needs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from s3transfer.utils import ChunksizeAdjuster

from ..model import BucketEncryption, Encryption
from . import errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

DSSE = "aws:kms:dsse"
# Content headers that MetadataDirective=COPY carries and that a multipart copy must set again.
CONTENT_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")
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
_CHECKSUM_FIELDS = {f"Checksum{algorithm}": algorithm for algorithm in CHECKSUM_ALGORITHMS}
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


@dataclass(frozen=True)
class ObjectState:
    """What one HeadObject says about an object."""

    bucket: str
    key: str
    etag: str
    size: int
    version_id: str | None
    encryption: Encryption
    storage_class: str
    archive_status: str | None = None
    restore: str | None = None
    website_redirect: str | None = None
    content: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    tag_count: int = 0
    lock: Mapping[str, Any] = field(default_factory=dict)  # the ObjectLock* fields HeadObject returned

    @classmethod
    def from_head(cls, bucket: str, key: str, head: Mapping[str, Any]) -> ObjectState:
        # Since January 2023 S3 encrypts every object; a missing header means the SSE-S3 default.
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html
        # (SSE-C objects never get here: HeadObject without their key answers 400.)
        encryption = Encryption(head.get("ServerSideEncryption") or "AES256", head.get("SSEKMSKeyId"))
        return cls(
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

    @property
    def versioned(self) -> bool:
        return self.version_id not in (None, "null")

    @property
    def locked(self) -> bool:
        """Retention still running, a legal hold or an event hold: S3 refuses to delete this version."""
        until = self.lock.get("ObjectLockRetainUntilDate")
        retained = until is not None and until > datetime.now(UTC)
        held = "ON" in (self.lock.get("ObjectLockLegalHoldStatus"), self.lock.get("ObjectLockEventHold"))
        return retained or held


@dataclass(frozen=True)
class Written:
    """What S3 reported for the in-place write."""

    version_id: str | None
    encryption: Encryption

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> Written:
        return cls(
            version_id=response.get("VersionId"),
            encryption=Encryption(response.get("ServerSideEncryption") or "AES256", response.get("SSEKMSKeyId")),
        )


@dataclass(frozen=True)
class DsseTarget:
    key_arn: str
    encryption_context: str | None = None  # base64 JSON, as SSEKMSEncryptionContext wants it


class AnnotationsWouldBeLost(Exception):
    """A multipart copy does not carry object annotations; the object is left untouched."""


class CopyStopped(Exception):
    """`S3Gateway.stopping` was set during a multipart copy: the upload was aborted, the object left untouched."""


# How long a bucket's "ACLs enabled" fact is trusted. Object Ownership can be switched at any time: after a switch from
# BucketOwnerEnforced to ObjectWriter / BucketOwnerPreferred, a copy made on the stale fact would carry no grants and
# S3 would make the object private. One GetBucketOwnershipControls per bucket per minute bounds that window; the
# reverse switch is caught at once (the copy is refused with AccessControlListNotSupported and retried).
OWNERSHIP_TTL_SECONDS = 60.0


class S3Gateway:
    """All S3 calls of the object and bucket paths. A bucket's region is cached for the life of the container, its
    Object Ownership for OWNERSHIP_TTL_SECONDS."""

    def __init__(
        self, client: S3Client, expected_owner: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        # ExpectedBucketOwner on every call: a bucket name that now belongs to another account is refused (403)
        # instead of being read or written. https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
        self._owner: dict[str, Any] = {"ExpectedBucketOwner": expected_owner} if expected_owner else {}
        self._source_owner: dict[str, Any] = {"ExpectedSourceBucketOwner": expected_owner} if expected_owner else {}
        self._acls_enabled: dict[str, tuple[bool, float]] = {}  # bucket -> (ACLs enabled, when it was read)
        self._clock = clock
        self._regions: dict[str, str] = {}
        self._lock = threading.Lock()
        # Set by an interactive caller (the CLI's Ctrl-C): multipart copies stop between parts and abort.
        self.stopping = threading.Event()

    @property
    def client(self) -> S3Client:
        return self._client

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectState:
        """The verdict's one call. GET/HEAD must not carry encryption headers (S3 answers 400).

        No ChecksumMode here: with it, HeadObject needs kms:Decrypt on KMS-encrypted objects (the checksum is
        stored encrypted), so every compliance check could cost a KMS request.
        """
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        return ObjectState.from_head(bucket, key, self._client.head_object(**args, **self._owner))

    def acls_enabled(self, bucket: str) -> bool:
        """False under Object Ownership `BucketOwnerEnforced` (ACLs disabled; the default for new buckets)."""
        now = self._clock()
        with self._lock:
            cached = self._acls_enabled.get(bucket)
        if cached is not None and now - cached[1] < OWNERSHIP_TTL_SECONDS:
            return cached[0]
        try:
            rules = self._client.get_bucket_ownership_controls(Bucket=bucket, **self._owner)["OwnershipControls"][
                "Rules"
            ]
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

    def tagging(self, state: ObjectState) -> str | None:
        if not state.tag_count:
            return None
        args: dict[str, Any] = {"Bucket": state.bucket, "Key": state.key}
        if state.version_id:
            args["VersionId"] = state.version_id
        tags = self._client.get_object_tagging(**args, **self._owner)["TagSet"]
        return urlencode([(t["Key"], t["Value"]) for t in tags])

    def copy_in_place(self, state: ObjectState, target: DsseTarget, grants: Mapping[str, str]) -> Written:
        """One CopyObject onto itself."""
        response = self._client.copy_object(
            Bucket=state.bucket,
            Key=state.key,
            CopySource=_source(state),
            CopySourceIfMatch=state.etag,  # the bytes we judged, or 412
            IfMatch=state.etag,  # and nobody replaced the object while we copied, or 412/409
            MetadataDirective="COPY",
            TaggingDirective="COPY",
            AnnotationDirective="COPY",
            # The checksum algorithm is carried over when ChecksumAlgorithm is not sent.
            **_write_args(state, target, grants),
            **self._owner,
            **self._source_owner,
        )
        return Written.from_response(response)

    def multipart_copy_in_place(
        self,
        state: ObjectState,
        target: DsseTarget,
        grants: Mapping[str, str],
        part_size: int,
        concurrency: int,
    ) -> Written:
        """CreateMultipartUpload + parallel UploadPartCopy + CompleteMultipartUpload, aborted on any failure.

        Every content header, the user metadata, the tags and the checksum algorithm are set explicitly on
        CreateMultipartUpload (no directives on this path). Parts are pinned to the judged ETag and the completion
        is conditional on the destination still having it. Annotations are not carried by a multipart copy, so an
        annotated object is refused (AnnotationsWouldBeLost) before anything is written.
        """
        listed = self._client.list_object_annotations(
            Bucket=state.bucket, Key=state.key, MaxAnnotationResults=1, **self._owner
        )
        if listed.get("Annotations"):
            raise AnnotationsWouldBeLost(f"{state.key} has object annotations")
        checksums = self._client.head_object(
            Bucket=state.bucket, Key=state.key, IfMatch=state.etag, ChecksumMode="ENABLED", **self._owner
        )
        algorithm = next((alg for f, alg in _CHECKSUM_FIELDS.items() if checksums.get(f)), None)
        create_args: dict[str, Any] = {
            "Bucket": state.bucket,
            "Key": state.key,
            "Metadata": dict(state.metadata),
            **state.content,
            **_write_args(state, target, grants),
            **self._owner,
        }
        if algorithm:
            create_args["ChecksumAlgorithm"] = algorithm
            if checksums.get("ChecksumType"):
                create_args["ChecksumType"] = checksums["ChecksumType"]
        tagging = self.tagging(state)
        if tagging:
            create_args["Tagging"] = tagging
        upload_id = self._client.create_multipart_upload(**create_args)["UploadId"]
        try:
            part_size = ChunksizeAdjuster().adjust_chunksize(part_size, state.size)
            ranges = [(start, min(start + part_size, state.size) - 1) for start in range(0, state.size, part_size)]

            def copy_part(numbered: tuple[int, tuple[int, int]]) -> dict[str, Any]:
                number, (first, last) = numbered
                if self.stopping.is_set():
                    raise CopyStopped(f"stopped before part {number} of {len(ranges)}")
                result = self._client.upload_part_copy(
                    Bucket=state.bucket,
                    Key=state.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=_source(state),
                    CopySourceIfMatch=state.etag,
                    CopySourceRange=f"bytes={first}-{last}",
                    **self._owner,
                    **self._source_owner,
                )["CopyPartResult"]
                part: dict[str, Any] = {"PartNumber": number, "ETag": result["ETag"]}
                part.update({f: result[f] for f in _CHECKSUM_FIELDS if f in result})  # type: ignore[literal-required]
                return part

            with ThreadPoolExecutor(max_workers=min(concurrency, len(ranges)) or 1) as pool:
                parts = list(pool.map(copy_part, enumerate(ranges, start=1)))
            response = self._client.complete_multipart_upload(
                Bucket=state.bucket,
                Key=state.key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                IfMatch=state.etag,
                **self._owner,
            )
        except BaseException:  # includes KeyboardInterrupt: never leave a half-done upload behind
            self._client.abort_multipart_upload(Bucket=state.bucket, Key=state.key, UploadId=upload_id, **self._owner)
            raise
        return Written.from_response(response)

    def delete_version(self, bucket: str, key: str, version_id: str) -> None:
        self._client.delete_object(Bucket=bucket, Key=key, VersionId=version_id, **self._owner)

    # The bucket path.

    def bucket_encryption(self, bucket: str) -> BucketEncryption:
        """The bucket's default encryption rule; with none configured, the SSE-S3 base level S3 applies."""
        try:
            config = self._client.get_bucket_encryption(Bucket=bucket, **self._owner)
        except ClientError as exc:
            if errors.code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            return BucketEncryption("AES256")
        rules = config["ServerSideEncryptionConfiguration"].get("Rules") or [{}]
        rule: Mapping[str, Any] = rules[0]
        default: Mapping[str, Any] = rule.get("ApplyServerSideEncryptionByDefault") or {}
        blocked: Mapping[str, Any] | None = rule.get("BlockedEncryptionTypes")
        return BucketEncryption(
            algorithm=default.get("SSEAlgorithm") or "AES256",
            kms_key_id=default.get("KMSMasterKeyID"),
            bucket_key_enabled=bool(rule.get("BucketKeyEnabled")),
            blocked_encryption_types=tuple(blocked.get("EncryptionType") or ()) if blocked is not None else None,
        )

    def put_dsse_default(self, bucket: str, key_arn: str, blocked: tuple[str, ...] | None) -> BucketEncryption:
        """Default encryption DSSE-KMS under the key, Bucket Key off (unsupported with DSSE), blocked types kept."""
        rule: dict[str, Any] = {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": DSSE, "KMSMasterKeyID": key_arn},
            "BucketKeyEnabled": False,
        }
        if blocked is not None:
            rule["BlockedEncryptionTypes"] = {"EncryptionType": list(blocked)}
        config: Any = {"Rules": [rule]}
        self._client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=config, **self._owner)
        return BucketEncryption(DSSE, key_arn, False, blocked)

    def bucket_region(self, bucket: str) -> str:
        """GetBucketLocation (cached: a bucket never moves): no constraint means us-east-1, "EU" means eu-west-1."""
        if bucket not in self._regions:
            location = self._client.get_bucket_location(Bucket=bucket, **self._owner).get("LocationConstraint")
            region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
            self._regions[bucket] = region or "us-east-1"
        return self._regions[bucket]

    def bucket_policy(self, bucket: str) -> dict[str, Any] | None:
        try:
            policy = self._client.get_bucket_policy(Bucket=bucket, **self._owner)["Policy"]
        except ClientError as exc:
            if errors.code(exc) != "NoSuchBucketPolicy":
                raise
            return None
        parsed: dict[str, Any] = json.loads(policy)
        return parsed

    def put_bucket_policy(self, bucket: str, policy: Mapping[str, Any]) -> None:
        self._client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy), **self._owner)

    def list_page(self, bucket: str, continuation_token: str | None, limit: int = 1000) -> tuple[list[str], str | None]:
        """One ListObjectsV2 page of at most `limit` keys (S3's maximum is 1,000), and the token of the next page."""
        args: dict[str, Any] = {"Bucket": bucket, "MaxKeys": limit}
        if continuation_token:
            args["ContinuationToken"] = continuation_token
        page = self._client.list_objects_v2(**args, **self._owner)
        keys = [item["Key"] for item in page.get("Contents", [])]
        return keys, page.get("NextContinuationToken") if page.get("IsTruncated") else None


def _source(state: ObjectState) -> CopySourceTypeDef:
    """The current object, pinned by CopySourceIfMatch rather than by version id.

    Pinning the version would let a concurrent write of the same bytes (same ETag) with other metadata or tags be
    overwritten by the older version's; copying the current object keeps the newer write's own metadata.
    """
    return {"Bucket": state.bucket, "Key": state.key}


def _write_args(state: ObjectState, target: DsseTarget, grants: Mapping[str, str]) -> dict[str, Any]:
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
    if state.lock.get("ObjectLockMode") and until and until > datetime.now(UTC):
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


def _grantee(grantee: Mapping[str, Any]) -> str | None:
    if grantee.get("Type") == "CanonicalUser" and grantee.get("ID"):
        return f'id="{grantee["ID"]}"'
    if grantee.get("Type") == "Group" and grantee.get("URI"):
        return f'uri="{grantee["URI"]}"'
    return None  # e-mail grantees: GetObjectAcl reports them as canonical users
