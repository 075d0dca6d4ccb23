"""The objects a target names, read page by page while the work goes on.

ListObjectsV2 (or ListObjectVersions with --all-versions) through botocore's paginator: one page (up to 1,000 keys)
is held at a time, and the next page is read only when the worker pool takes past the last key of this one. A copy
in place rewrites only keys already listed, behind the listing's position, so streaming lists no key twice.

A listing stops after `--max-objects` objects (100,000 by default): one machine listing and copying millions of
keys is hours of work that a dropped connection loses, while S3 Batch Operations (`dsse-remediate backfill`) lists,
retries and reports at any size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import errors
from ..model import ObjectResult, Outcome
from .arguments import PROG, Target

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True, slots=True)
class Item:
    """One object (or one noncurrent version) to evaluate."""

    bucket: str
    key: str
    version_id: str | None = None  # set only for noncurrent versions


def list_items(
    client: S3Client, target: Target, recursive: bool, all_versions: bool, owner: str | None
) -> Iterator[Item]:
    """The objects a target names, page by page. Current versions carry no version id: they are what a fix copies."""
    extra: dict[str, Any] = {"ExpectedBucketOwner": owner} if owner else {}
    if all_versions:
        yield from _list_versions(client, target, recursive, extra)
    elif recursive:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=target.key, **extra):
            yield from (Item(target.bucket, entry["Key"]) for entry in page.get("Contents", []))
    else:
        yield Item(target.bucket, target.key)


def _list_versions(client: S3Client, target: Target, recursive: bool, extra: dict[str, Any]) -> Iterator[Item]:
    """Every version (delete markers have no encryption); for one object, only that key's versions."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=target.bucket, Prefix=target.key, **extra):
        for version in page.get("Versions", []):
            if recursive or version["Key"] == target.key:
                noncurrent = None if version.get("IsLatest") else version.get("VersionId")
                yield Item(target.bucket, version["Key"], noncurrent)


class Listing:
    """A listing that ends, rather than raises, when S3 refuses a page or when more than `limit` objects are listed:
    the objects listed before are still worked on, and `failed` is then a failed result for the target that says how
    far the listing got (and, past the limit, to use `backfill`)."""

    def __init__(self, items: Iterator[Item], target: Target, operation: str, limit: int | None = None) -> None:
        self._items = items
        self._target = target
        self._operation = operation
        self._limit = limit
        self.count = 0
        self.failed: ObjectResult | None = None

    @classmethod
    def of(
        cls,
        client: S3Client,
        target: Target,
        recursive: bool,
        all_versions: bool,
        owner: str | None,
        limit: int | None = None,
    ) -> Listing:
        operation = "ListObjectVersions" if all_versions else "ListObjectsV2"
        return cls(list_items(client, target, recursive, all_versions, owner), target, operation, limit)

    def __iter__(self) -> Iterator[Item]:
        try:
            for item in self._items:
                if self.count == self._limit:  # one more than the limit exists: stop before it
                    self._too_many()
                    return
                self.count += 1
                yield item
        except ClientError as exc:
            self._fail(errors.message(exc))
        except BotoCoreError as exc:
            self._fail(str(exc))

    def _fail(self, why: str) -> None:
        reason = f"{self._operation} failed after {self.count} object(s): {why}"
        target = self._target
        self.failed = ObjectResult(bucket=target.bucket, key=target.key, outcome=Outcome.FAILED, reason=reason)

    def _too_many(self) -> None:
        target = self._target
        reason = (
            f"more than {self.count:,} objects under {target}: the listing stopped there (--max-objects; those were "
            f"worked on). For buckets this large use `{PROG} backfill s3://{target.bucket}` (S3 Batch Operations)"
        )
        self.failed = ObjectResult(bucket=target.bucket, key=target.key, outcome=Outcome.FAILED, reason=reason)
