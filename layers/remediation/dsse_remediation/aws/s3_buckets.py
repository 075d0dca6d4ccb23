"""S3 adapter, bucket path: default encryption, bucket policy, Region, the sweep's listing, and what the backstop
looks at before it starts a job (the account's buckets, a bucket's recent writes, their encryption)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..model import DSSE, BucketEncryption, Encryption, Failure
from . import errors
from .s3_objects import owner_args

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PAGE = 1000  # ListObjectsV2 and ListBuckets answer at most 1,000 entries a page


class BucketStore:
    """The S3 calls of the bucket path and of a sweep. A bucket's Region is cached: a bucket never moves."""

    def __init__(self, client: S3Client, expected_owner: str | None = None) -> None:
        self._client = client
        self._owner, _ = owner_args(expected_owner)
        self._regions: dict[str, str] = {}

    @property
    def client(self) -> S3Client:
        return self._client

    @errors.translated
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

    @errors.translated
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

    @errors.translated
    def bucket_region(self, bucket: str) -> str:
        """GetBucketLocation (cached: a bucket never moves): no constraint means us-east-1, "EU" means eu-west-1."""
        if bucket not in self._regions:
            location = self._client.get_bucket_location(Bucket=bucket, **self._owner).get("LocationConstraint")
            region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
            self._regions[bucket] = region or "us-east-1"
        return self._regions[bucket]

    @errors.translated
    def bucket_policy(self, bucket: str) -> dict[str, Any] | None:
        try:
            policy = self._client.get_bucket_policy(Bucket=bucket, **self._owner)["Policy"]
        except ClientError as exc:
            if errors.code(exc) != "NoSuchBucketPolicy":
                raise
            return None
        parsed: dict[str, Any] = json.loads(policy)
        return parsed

    @errors.translated
    def put_bucket_policy(self, bucket: str, policy: Mapping[str, Any]) -> None:
        self._client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy), **self._owner)

    @errors.translated
    def list_page(self, bucket: str, continuation_token: str | None, limit: int = PAGE) -> tuple[list[str], str | None]:
        """One ListObjectsV2 page of at most `limit` keys (S3's maximum is 1,000), and the token of the next page."""
        contents, token = self._page(bucket, continuation_token, limit)
        return [item["Key"] for item in contents], token

    @errors.translated
    def owned_buckets(self, region: str | None = None) -> list[tuple[str, str | None]]:
        """(name, Region or None) of every general purpose bucket this account owns (ListBuckets), by name; only
        those in `region` when one is given.

        ListBuckets answers each bucket's BucketRegion only to a request with a parameter: MaxBuckets is sent.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html"""
        found = []
        where: dict[str, Any] = {"BucketRegion": region} if region else {}
        for page in self._client.get_paginator("list_buckets").paginate(**where, PaginationConfig={"PageSize": PAGE}):
            found += [(b["Name"], b.get("BucketRegion")) for b in page.get("Buckets", [])]
        return sorted(found)

    @errors.translated
    def written_since(self, bucket: str, since: datetime, limit: int, most: int) -> tuple[list[str], int]:
        """(up to `most` keys written after `since`; how many keys were listed), listing at most `limit` keys."""
        listed, written = 0, list[str]()
        for obj in self._objects(bucket, limit):
            listed += 1
            if obj["LastModified"] > since and len(written) < most:
                written.append(str(obj["Key"]))
        return written, listed

    def object_encryption(self, bucket: str, key: str) -> Encryption | None:
        """The current object's encryption as HeadObject states it (`none` without the header); SSE-C for HeadObject's
        bare 400 (an SSE-C object read without its key); None when it was deleted since it was listed."""
        try:
            head = self._client.head_object(Bucket=bucket, Key=key, **self._owner)
        except ClientError as exc:
            found = errors.classify(exc)
            if found is Failure.GONE:
                return None
            if found is Failure.BAD_REQUEST:
                return Encryption("SSE-C")
            raise errors.failure(exc) from exc
        except BotoCoreError as exc:
            raise errors.failure(exc) from exc
        return Encryption(head.get("ServerSideEncryption") or "none", head.get("SSEKMSKeyId"))

    def _objects(self, bucket: str, limit: int) -> Iterator[Mapping[str, Any]]:
        token: str | None = None
        remaining = limit
        while remaining > 0:
            contents, token = self._page(bucket, token, min(PAGE, remaining))
            yield from contents
            remaining -= len(contents)
            if token is None:
                return

    def _page(self, bucket: str, token: str | None, limit: int) -> tuple[list[Mapping[str, Any]], str | None]:
        args: dict[str, Any] = {"Bucket": bucket, "MaxKeys": limit}
        if token:
            args["ContinuationToken"] = token
        page: Any = self._client.list_objects_v2(**args, **self._owner)
        contents: list[Mapping[str, Any]] = page.get("Contents", [])
        return contents, page.get("NextContinuationToken") if page.get("IsTruncated") else None
