"""S3 adapter, the canary: its objects under `canary/` in its own bucket, and nothing else (template.yaml grants the
canary function these calls on that prefix only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..config import CANARY_PREFIX
from ..model import Encryption
from . import errors
from .s3_objects import owner_args

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class CanaryObject:
    """What one HeadObject says of a canary object: its encryption, and when its current version was written (S3's
    LastModified, to the second: the in-place copy's time once the event path remediated it)."""

    key: str
    encryption: Encryption
    last_modified: datetime


class CanaryObjects:
    """List, read, write and delete under `canary/` of the canary bucket; every call names this account as the
    expected bucket owner."""

    def __init__(self, client: S3Client, bucket: str, expected_owner: str | None = None) -> None:
        self._client = client
        self.bucket = bucket
        self._owner, _ = owner_args(expected_owner)

    @errors.translated
    def listed(self) -> list[str]:
        """Every key under the prefix, in key order (the canary's keys sort by their write time). The canary deletes
        each object it judged, so the listing holds the objects still waiting: one page, normally one key."""
        found: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=CANARY_PREFIX, **self._owner):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return found

    @errors.translated
    def head(self, key: str) -> CanaryObject:
        """HeadObject (no KMS call: S3 reads an object's metadata without decrypting it)."""
        head = self._client.head_object(Bucket=self.bucket, Key=_ours(key), **self._owner)
        # Since January 2023 S3 encrypts every object; a missing header means the SSE-S3 default.
        encryption = Encryption(head.get("ServerSideEncryption") or "AES256", head.get("SSEKMSKeyId"))
        modified = head["LastModified"]
        return CanaryObject(key, encryption, modified if modified.tzinfo else modified.replace(tzinfo=UTC))

    @errors.translated
    def write(self, key: str, body: bytes) -> Encryption:
        """A small PutObject with no encryption headers: the bucket's default (SSE-S3) encrypts it, which the event
        path must then turn into DSSE-KMS. Answers the encryption S3 reports for the write."""
        response: Any = self._client.put_object(
            Bucket=self.bucket, Key=_ours(key), Body=body, ContentType="text/plain; charset=utf-8", **self._owner
        )
        return Encryption(response.get("ServerSideEncryption") or "AES256", response.get("SSEKMSKeyId"))

    @errors.translated
    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=_ours(key), **self._owner)


def _ours(key: str) -> str:
    """The key, checked to be the canary's: a call outside its prefix is a bug, refused before it is sent."""
    if not key.startswith(CANARY_PREFIX):
        raise ValueError(f"{key!r} is not under the canary's prefix {CANARY_PREFIX!r}")
    return key
