"""S3 adapter, posture: a bucket's versions listed as a stream, one version's encryption read with HeadObject, a
bucket's existence, and an inventory data file's body.

ListObjectVersions gives no encryption (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html:
its ObjectVersion has no ServerSideEncryption), so each version is read with HeadObject, which must not carry
encryption headers (S3 answers 400 to SSE headers on GET/HEAD of an object not encrypted with SSE-C). An SSE-C
object answers HeadObject without its customer key with a bare 400 Bad Request
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html: the key must be given
to read the object or its metadata), which is read here as SSE-C, as the remediation reads it (remediation._head).
HeadObject returns ObjectLockRetainUntilDate only to a caller with s3:GetObjectRetention (API_HeadObject.html): without
it, locked versions are counted in the debt but not as locked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import AwsFailure
from ..model import Encryption, Failure
from ..posture.states import SSE_C_ALGORITHM
from ..posture.tally import Version
from . import errors
from .s3_objects import ObjectStore, owner_args

PAGE = 1000  # ListObjectVersions' largest page


@dataclass(frozen=True)
class HeadRead:
    encryption: Encryption
    lock_until: datetime | None


class PostureReader:
    """`objects`: the object path's ObjectStore (its HeadObject and expected-owner rules are the ones reused)."""

    def __init__(self, objects: ObjectStore, expected_owner: str | None = None) -> None:
        self._objects = objects
        self._client: Any = objects.client
        self._owner, _ = owner_args(expected_owner)

    @errors.translated
    def require_bucket(self, bucket: str) -> None:
        """HeadBucket: AwsFailure (GONE for 404 NoSuchBucket, DENIED for 403) when the bucket cannot be read."""
        self._client.head_bucket(Bucket=bucket, **self._owner)

    def versions(self, bucket: str) -> Iterator[Version]:
        """Every version of every key, delete markers left out, a page at a time. An unversioned bucket's objects
        are listed with VersionId "null" and IsLatest true: all current. A noncurrent "null" version (written before
        versioning was enabled) keeps that id: HeadObject reads it with VersionId=null."""
        pages = self._client.get_paginator("list_object_versions").paginate(
            Bucket=bucket, **self._owner, PaginationConfig={"PageSize": PAGE}
        )
        try:
            for page in pages:
                for item in page.get("Versions", []):
                    version = item.get("VersionId")
                    yield Version(
                        key=str(item["Key"]),
                        version_id=None if version is None else str(version),
                        size=int(item.get("Size", 0)),
                        current=bool(item.get("IsLatest", True)),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise errors.failure(exc) from exc

    def head(self, bucket: str, key: str, version_id: str | None) -> HeadRead | None:
        """The version's encryption and retain-until date; None when it is gone (deleted since it was listed)."""
        try:
            state = self._objects.head(bucket, key, version_id)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:
                return None
            if exc.failure is Failure.BAD_REQUEST:
                return HeadRead(Encryption(SSE_C_ALGORITHM), None)
            raise
        until = state.lock.get("ObjectLockRetainUntilDate")
        return HeadRead(state.encryption, until if isinstance(until, datetime) else None)

    @errors.translated
    def open(self, bucket: str, key: str) -> IO[bytes]:
        """A data file's body, streamed (AwsFailure GONE when it is missing)."""
        body: IO[bytes] = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        return body
