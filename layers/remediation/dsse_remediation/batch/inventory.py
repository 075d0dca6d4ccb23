"""An S3 Inventory report as the batch path reads it: its manifest.json, and which of its rows a job must visit.

Pure: the files are read by aws/s3_inventory.py. No column names an object's KMS key: a DSSE-KMS row may be under
another key, which only a HeadObject of the object tells.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..aws.batch_jobs import bucket_name
from ..exceptions import InvalidRequest
from ..scope import require_bucket_name

ARCHIVES = ("GLACIER", "DEEP_ARCHIVE")  # read only once restored: left out unless restored archives are remediated


@dataclass(frozen=True)
class Inventory:
    """An S3 Inventory report's manifest.json (CSV format): its source bucket, columns and data files.

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html ("Inventory manifest")
    """

    uri: str
    source_bucket: str
    files_bucket: str  # the destination bucket, where the data files are
    files: tuple[str, ...]  # keys of the .csv.gz data files
    columns: tuple[str, ...]  # fileSchema, in order
    created: datetime | None = None

    @classmethod
    def parse(cls, manifest: Any, uri: str, default_bucket: str) -> Inventory:
        if not isinstance(manifest, dict):
            raise InvalidRequest(f"{uri} is not an S3 Inventory manifest.json")
        file_format = str(manifest.get("fileFormat", ""))
        if file_format.upper() != "CSV":
            raise InvalidRequest(
                f"{uri} is a {file_format or 'non-CSV'} inventory: use an inventory whose output format is CSV"
            )
        columns = tuple(column.strip() for column in str(manifest.get("fileSchema", "")).split(","))
        for needed in ("Bucket", "Key"):
            if needed not in columns:
                raise InvalidRequest(f"{uri} lists no {needed} column (fileSchema: {manifest.get('fileSchema')!r})")
        if "EncryptionStatus" not in columns:
            raise InvalidRequest(
                f"{uri} has no EncryptionStatus column: add the 'Encryption' field (EncryptionStatus) to the "
                "inventory configuration, and use a report delivered after that"
            )
        source = str(manifest.get("sourceBucket") or "")
        if not source:
            raise InvalidRequest(f"{uri} names no sourceBucket: is it an S3 Inventory manifest.json?")
        listed = manifest.get("files") or ()
        if not isinstance(listed, list) or not all(isinstance(item, dict) for item in listed):
            raise InvalidRequest(f"{uri}: the inventory manifest's files is not a list of objects")
        files = tuple(str(item["key"]) for item in listed if isinstance(item.get("key"), str) and item["key"])
        destination = str(manifest.get("destinationBucket") or "")
        stamp = str(manifest.get("creationTimestamp") or "")
        # str.isdigit() is true of "²" and other scripts' digits, which int() refuses or reads: ASCII digits only.
        created = datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp.isascii() and stamp.isdigit() else None
        return cls(uri, source, bucket_name(destination) if destination else default_bucket, files, columns, created)

    def select(
        self, rows: Iterable[list[str]], archives: bool = False, dsse: bool = False
    ) -> Iterator[tuple[str, str]]:
        """(bucket, key) of the current objects a job must visit, keys as the inventory has them (URL-encoded, what
        a Batch Operations CSV manifest wants): those that are not DSSE-KMS, and with `dsse` the DSSE-KMS ones too,
        whatever their key (no column names it: the task function reads each one's, one HEAD each).

        S3 documents EncryptionStatus as SSE-S3, SSE-C, SSE-KMS or NOT-SSE and leaves the DSSE-KMS spelling out, so
        any value naming DSSE counts as DSSE. Left out as well: SSE-C objects (nothing can re-encrypt them without
        their key: a job would only report them, every day), GLACIER and DEEP_ARCHIVE objects when a StorageClass
        column says so (unless `archives`: restored archives are remediated), noncurrent versions (IsLatest false)
        and delete markers: the job's tasks remediate the current version of a key.
        """
        index = {column: n for n, column in enumerate(self.columns)}
        bucket, key, status = index["Bucket"], index["Key"], index["EncryptionStatus"]
        latest, marker, storage = index.get("IsLatest"), index.get("IsDeleteMarker"), index.get("StorageClass")
        for row in rows:
            if len(row) != len(self.columns):
                raise InvalidRequest(
                    f"{self.uri}: a data file row has {len(row)} values where fileSchema lists {len(self.columns)}"
                )
            encryption = row[status].strip().upper()
            if ("DSSE" in encryption and not dsse) or encryption == "SSE-C":
                continue
            if storage is not None and not archives and row[storage].strip() in ARCHIVES:
                continue
            if latest is not None and row[latest].strip().lower() != "true":
                continue
            if marker is not None and row[marker].strip().lower() == "true":
                continue
            yield row[bucket], row[key]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise InvalidRequest(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InvalidRequest(f"{uri!r} names no object: expected s3://bucket/path/manifest.json")
    require_bucket_name(bucket)
    return bucket, key
