"""S3 adapter, S3 Inventory: a bucket's inventory configurations, the newest report each has delivered, a report's
manifest.json, and its gzip-compressed CSV data files, streamed.

S3 Inventory delivers each report under <prefix>/<source bucket>/<configuration id>/<YYYY-MM-DDTHH-MMZ>/manifest.json
in the destination bucket, which may be another account's.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import InvalidRequest
from ..model import Failure
from . import errors
from .batch_jobs import bucket_name
from .s3_objects import owner_args

_REPORT_FOLDER = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)/\Z", re.ASCII)  # ASCII digits, the prefix's end
_REPORT_TRIES = 3  # newest report folders tried for a manifest.json (the newest may still be being written)


@dataclass(frozen=True)
class InventoryConfiguration:
    """One S3 Inventory configuration of a bucket (ListBucketInventoryConfigurations)."""

    bucket: str  # the source bucket
    id: str
    enabled: bool
    format: str  # CSV | ORC | Parquet
    fields: tuple[str, ...]  # OptionalFields, e.g. Size, EncryptionStatus
    filtered: bool  # a Filter (a prefix): the reports list part of the bucket only
    frequency: str  # Daily | Weekly
    destination: str  # the destination bucket's name
    prefix: str  # the destination prefix, "" for none
    versions: str = "All"  # IncludedObjectVersions: All | Current

    @property
    def folder(self) -> str:
        """Where its reports are delivered in the destination bucket: `[<prefix>/]<bucket>/<id>/`."""
        return f"{self.prefix}/{self.bucket}/{self.id}/" if self.prefix else f"{self.bucket}/{self.id}/"

    @property
    def location(self) -> str:
        return f"s3://{self.destination}/{self.folder}"


@dataclass(frozen=True)
class InventoryReport:
    configuration: InventoryConfiguration
    manifest_uri: str
    delivered: datetime  # the report folder's time: when its listing began


class InventoryStore:
    """The S3 Inventory calls of the batch path. Only the source bucket is ours: the destination may belong to
    another account, so its calls carry no ExpectedBucketOwner."""

    def __init__(self, client: Any, expected_owner: str | None = None) -> None:
        self._client = client
        self._owner, _ = owner_args(expected_owner)

    @errors.translated
    def configurations(self, bucket: str) -> list[InventoryConfiguration]:
        found = []
        token: dict[str, str] = {}
        while True:
            page = self._client.list_bucket_inventory_configurations(Bucket=bucket, **token, **self._owner)
            found += [_configuration(bucket, config) for config in page.get("InventoryConfigurationList", [])]
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return found
            token = {"ContinuationToken": page["NextContinuationToken"]}

    @errors.translated
    def newest_report(self, configuration: InventoryConfiguration) -> InventoryReport | None:
        """The newest report folder that holds a manifest.json; None when none has been delivered."""
        stamps = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=configuration.destination, Prefix=configuration.folder, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                match = _REPORT_FOLDER.search(common["Prefix"])
                if match:
                    stamps.append(match[1])
        for stamp in sorted(stamps, reverse=True)[:_REPORT_TRIES]:
            key = f"{configuration.folder}{stamp}/manifest.json"
            if self._exists(configuration.destination, key):
                delivered = datetime.strptime(stamp, "%Y-%m-%dT%H-%MZ").replace(tzinfo=UTC)
                return InventoryReport(configuration, f"s3://{configuration.destination}/{key}", delivered)
        return None

    @errors.translated
    def manifest(self, bucket: str, key: str) -> Any:
        """A report's manifest.json, parsed; AwsFailure (GONE when there is none), ValueError when it is not JSON."""
        return json.loads(self._client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def rows(self, bucket: str, key: str) -> Iterator[list[str]]:
        """A data file's CSV rows, gzip-decompressed a block at a time (an inventory may list billions of objects);
        InvalidRequest when it is not a gzip-compressed CSV file."""
        try:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                with gzip.GzipFile(fileobj=body) as unzipped:
                    yield from csv.reader(io.TextIOWrapper(unzipped, encoding="utf-8", newline=""))
            except (gzip.BadGzipFile, EOFError, zlib.error, csv.Error, UnicodeDecodeError) as exc:
                raise InvalidRequest(f"s3://{bucket}/{key} is not a gzip-compressed CSV data file: {exc}") from exc
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise errors.failure(exc) from exc

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if errors.classify(exc) is Failure.GONE:
                return False
            raise
        return True


def _configuration(bucket: str, config: Mapping[str, Any]) -> InventoryConfiguration:
    destination = config.get("Destination", {}).get("S3BucketDestination", {})
    return InventoryConfiguration(
        bucket=bucket,
        id=str(config.get("Id", "")),
        enabled=bool(config.get("IsEnabled")),
        format=str(destination.get("Format", "")),
        fields=tuple(config.get("OptionalFields") or ()),
        filtered=bool(config.get("Filter")),
        frequency=str((config.get("Schedule") or {}).get("Frequency", "")),
        destination=bucket_name(str(destination.get("Bucket", ""))),
        prefix=str(destination.get("Prefix") or "").strip("/"),
        versions=str(config.get("IncludedObjectVersions") or "All"),
    )
