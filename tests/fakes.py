"""In-memory stand-ins for the batch path's adapters (aws/s3_buckets.py, aws/s3_inventory.py, aws/report_files.py,
aws/cloudwatch.py, aws/batch_jobs.py), as the cookbook's tests swap its dal: each answers as its adapter does (the
same types, AwsFailure with the Failure the adapter would classify) and records what it was asked. The domain built on
them (Backstop, Backfill, Completions) is the real one, so its decisions are tested without fake AWS; the adapters
themselves are tested on moto (tests/integration)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dsse_remediation.aws.batch_jobs import JobStatus
from dsse_remediation.aws.s3_inventory import InventoryConfiguration, InventoryReport
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.gate.safety import ReaderVerdict
from dsse_remediation.model import Encryption, Failure

GONE = AwsFailure(Failure.GONE, "NoSuchKey: The specified key does not exist.", "NoSuchKey")


@dataclass
class FakeBucketStore:
    """BucketStore's backstop part: the account's buckets, their keys (with LastModified), HeadObject's answers."""

    buckets: dict[str, str | None] = field(default_factory=dict)  # name -> Region
    objects: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)
    heads: dict[tuple[str, str], Encryption | None] = field(default_factory=dict)  # absent: SSE-S3
    listed: list[str] = field(default_factory=list)
    headed: list[str] = field(default_factory=list)

    def add(self, bucket: str, *keys: tuple[str, datetime, Encryption | None], region: str | None = None) -> None:
        self.buckets[bucket] = region
        for key, written, encryption in keys:
            self.objects.setdefault(bucket, []).append((key, written))
            self.heads[(bucket, key)] = encryption

    def owned_buckets(self, region: str | None = None) -> list[tuple[str, str | None]]:
        return sorted((name, where) for name, where in self.buckets.items() if region is None or where == region)

    def written_since(self, bucket: str, since: datetime, limit: int, most: int) -> tuple[list[str], int]:
        self.listed.append(bucket)
        listed = self.objects.get(bucket, [])[:limit]
        return [key for key, written in listed if written > since][:most], len(listed)

    def object_encryption(self, bucket: str, key: str) -> Encryption | None:
        self.headed.append(f"{bucket}/{key}")
        return self.heads.get((bucket, key), Encryption("AES256"))


def inventory_configuration(bucket: str, **changes: Any) -> InventoryConfiguration:
    """A usable configuration (enabled, CSV, EncryptionStatus, whole bucket, Daily) delivered to inventories/inv/."""
    fields: dict[str, Any] = {
        "bucket": bucket,
        "id": "daily",
        "enabled": True,
        "format": "CSV",
        "fields": ("Size", "EncryptionStatus"),
        "filtered": False,
        "frequency": "Daily",
        "destination": "example-inventories",
        "prefix": "inv",
    }
    return InventoryConfiguration(**(fields | changes))


@dataclass
class FakeInventoryStore:
    """InventoryStore: configurations per bucket, each configuration's newest report, manifests and data files."""

    configurations_of: dict[str, list[InventoryConfiguration]] = field(default_factory=dict)
    reports: dict[tuple[str, str], InventoryReport] = field(default_factory=dict)  # (bucket, id) -> newest
    manifests: dict[str, Any] = field(default_factory=dict)  # "bucket/key" -> manifest.json, parsed
    data: dict[str, list[list[str]]] = field(default_factory=dict)  # "bucket/key" -> rows
    failure: AwsFailure | None = None  # every call raises it

    def report(
        self,
        bucket: str,
        rows: Sequence[tuple[str, str]],
        delivered: datetime,
        configuration: InventoryConfiguration | None = None,
    ) -> InventoryReport:
        """A report of `bucket` (its configuration added when new) listing (key, EncryptionStatus) rows."""
        config = configuration or inventory_configuration(bucket)
        known = self.configurations_of.setdefault(bucket, [])
        if config not in known:
            known.append(config)
        folder = f"{config.folder}{delivered:%Y-%m-%dT%H-%MZ}"
        data_key = f"{folder}/data/part-0.csv.gz"
        self.data[f"{config.destination}/{data_key}"] = [[bucket, key, "10", status] for key, status in rows]
        self.manifests[f"{config.destination}/{folder}/manifest.json"] = {
            "sourceBucket": bucket,
            "destinationBucket": f"arn:aws:s3:::{config.destination}",
            "creationTimestamp": str(int(delivered.timestamp() * 1000)),
            "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, Size, EncryptionStatus",
            "files": [{"key": data_key, "size": 1, "MD5checksum": "x"}],
        }
        report = InventoryReport(config, f"s3://{config.destination}/{folder}/manifest.json", delivered)
        self.reports[(bucket, config.id)] = report
        return report

    def configurations(self, bucket: str) -> list[InventoryConfiguration]:
        self._fail()
        return list(self.configurations_of.get(bucket, []))

    def newest_report(self, configuration: InventoryConfiguration) -> InventoryReport | None:
        self._fail()
        return self.reports.get((configuration.bucket, configuration.id))

    def manifest(self, bucket: str, key: str) -> Any:
        self._fail()
        if f"{bucket}/{key}" not in self.manifests:
            raise GONE
        found = self.manifests[f"{bucket}/{key}"]
        if isinstance(found, Exception):  # ValueError: not JSON
            raise found
        return found

    def rows(self, bucket: str, key: str) -> Iterator[list[str]]:
        self._fail()
        yield from self.data[f"{bucket}/{key}"]

    def _fail(self) -> None:
        if self.failure is not None:
            raise self.failure


@dataclass
class FakeReportFiles:
    """ReportFiles: JSON and CSV objects of the report bucket by "bucket/key"; `reads` records every read."""

    objects: dict[str, Any] = field(default_factory=dict)  # JSON values, or lists of CSV rows
    reads: list[str] = field(default_factory=list)
    failure: AwsFailure | None = None  # every read raises it

    def read_json(self, bucket: str, key: str) -> Any:
        return self._read(bucket, key)

    def write_json(self, bucket: str, key: str, value: Any) -> None:
        self.objects[f"{bucket}/{key}"] = value

    def rows(self, bucket: str, key: str) -> Iterator[list[str]]:
        yield from self._read(bucket, key)

    def write_csv(self, bucket: str, key: str, rows: Iterable[Sequence[str]]) -> tuple[str, int] | None:
        written = [list(row) for row in rows]
        if not written:
            return None
        self.objects[f"{bucket}/{key}"] = written
        return f"etag-{len(self.objects)}", len(written)

    def _read(self, bucket: str, key: str) -> Any:
        self.reads.append(key)
        if self.failure is not None:
            raise self.failure
        if f"{bucket}/{key}" not in self.objects:
            raise GONE
        return self.objects[f"{bucket}/{key}"]


@dataclass
class FakeStorageMetrics:
    """StorageMetrics: each bucket's latest NumberOfObjects and its day; a bucket not given has no datapoint."""

    counts: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    failure: AwsFailure | None = None
    asked: list[tuple[str, timedelta]] = field(default_factory=list)  # bucket, the window asked for

    def object_count(self, bucket: str, start: datetime, end: datetime) -> tuple[int, datetime] | None:
        self.asked.append((bucket, end - start))
        if self.failure is not None:
            raise self.failure
        return self.counts.get(bucket)


@dataclass
class FakeBatchJobs:
    """BatchJobs: CreateJob keeps each request (the same ClientRequestToken answers the same job), an alias resolves
    to version 7; DescribeJob and ListJobs answer from `statuses`."""

    created: dict[str, dict[str, Any]] = field(default_factory=dict)  # job id -> CreateJob request
    statuses: dict[str, JobStatus] = field(default_factory=dict)
    refuse: AwsFailure | None = None  # CreateJob raises it

    def pinned_version(self, function_arn: str) -> str:
        return function_arn.rsplit(":", 1)[0] + ":7"

    def create(self, request: dict[str, Any]) -> str:
        if self.refuse is not None:
            raise self.refuse
        for job_id, made in self.created.items():
            if made["ClientRequestToken"] == request["ClientRequestToken"]:
                return job_id
        job_id = f"job-{len(self.created) + 1:05d}"
        self.created[job_id] = request
        return job_id

    def describe(self, job_id: str) -> JobStatus:
        return self.statuses[job_id]

    def ids_described(self, prefix: str) -> list[str]:
        return [job_id for job_id, job in self.statuses.items() if job.description.startswith(prefix)]


class FixedGate:
    """The reader-safety gate as a test sets it: each bucket's verdict given (else safe), and what was asked."""

    def __init__(self, verdicts: Mapping[str, ReaderVerdict] | None = None) -> None:
        self.verdicts = dict(verdicts or {})
        self.asked: list[str] = []
        self.forgotten: list[str] = []

    def verdict(self, bucket: str, key_arn: str) -> ReaderVerdict:
        self.asked.append(bucket)
        return self.verdicts.get(bucket, ReaderVerdict(bucket))

    def object_verdict(self, bucket: str, key_arn: str, grants: Mapping[str, str]) -> ReaderVerdict:
        return self.verdict(bucket, key_arn)

    def forget(self, bucket: str) -> None:
        self.forgotten.append(bucket)
