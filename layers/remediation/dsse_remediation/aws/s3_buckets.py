"""S3 adapter, bucket path: default encryption, bucket policy, Region, and the sweep's listing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..model import DSSE, BucketEncryption
from . import errors
from .s3_objects import owner_args

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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
    def list_page(self, bucket: str, continuation_token: str | None, limit: int = 1000) -> tuple[list[str], str | None]:
        """One ListObjectsV2 page of at most `limit` keys (S3's maximum is 1,000), and the token of the next page."""
        args: dict[str, Any] = {"Bucket": bucket, "MaxKeys": limit}
        if continuation_token:
            args["ContinuationToken"] = continuation_token
        page = self._client.list_objects_v2(**args, **self._owner)
        keys = [item["Key"] for item in page.get("Contents", [])]
        return keys, page.get("NextContinuationToken") if page.get("IsTruncated") else None
