"""A backfill from an S3 Inventory report without AWS: which rows go into the job's manifest, where it is written,
and what is refused before anything is written. The report and the report bucket are the fakes of tests/fakes.py; the
same on moto (gzip data files, URL-encoded keys, a multipart manifest) is in tests/integration/test_backfill.py."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.batch.backfill import Backfill
from dsse_remediation.batch.inventory import Inventory
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.model import Failure
from dsse_remediation.scope import Scope
from tests.clock import PINNED, PinnedClock
from tests.fakes import FakeBatchJobs, FakeInventoryStore, FakeReportFiles, FakeStorageMetrics
from tests.helpers import Wiring

BUCKET = "example-protected-bucket"
REPORTS = "example-dsse-reports"
BATCH = {
    "task_function": "arn:aws:lambda:us-east-1:123456789012:function:dsse-remediation-batch-task:live",
    "job_role_arn": "arn:aws:iam::123456789012:role/dsse-remediation-batch-job",
    "report_bucket": REPORTS,
}
SCHEMA = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "StorageClass", "EncryptionStatus")


@pytest.fixture
def inventories() -> FakeInventoryStore:
    return FakeInventoryStore()


@pytest.fixture
def files() -> FakeReportFiles:
    return FakeReportFiles()


@pytest.fixture
def make_backfill(offline: Wiring, inventories: FakeInventoryStore, files: FakeReportFiles) -> Any:
    def make(**overrides: Any) -> Backfill:
        settings = offline.settings(**(BATCH | overrides))
        return Backfill(settings, FakeBatchJobs(), inventories, files, FakeStorageMetrics(), PinnedClock())  # type: ignore[arg-type]

    return make


def rows(*statuses: str, **extra: str) -> list[list[str]]:
    row = {
        "Bucket": BUCKET,
        "VersionId": "v1",
        "IsLatest": "true",
        "IsDeleteMarker": "false",
        "StorageClass": "STANDARD",
    }
    return [
        [(row | extra | {"Key": f"k{n}", "EncryptionStatus": status})[c] for c in SCHEMA]
        for n, status in enumerate(statuses)
    ]


def test_the_rows_selected_are_the_current_objects_that_are_not_dsse_and_not_sse_c() -> None:
    inventory = Inventory("s3://i/m.json", BUCKET, "i", ("d.csv.gz",), SCHEMA)
    listed = [
        *rows("NOT-SSE", "SSE-S3", "SSE-KMS", "DSSE-KMS", "dsse-kms", "SSE-C"),
        *[[*row[:3], "false", *row[4:]] for row in rows("SSE-S3")],  # a noncurrent version
        *[[*row[:4], "true", *row[5:]] for row in rows("")],  # a delete marker
        *rows("SSE-S3", StorageClass="GLACIER"),
    ]

    assert [key for _, key in inventory.select(listed)] == ["k0", "k1", "k2"]
    assert [key for _, key in inventory.select(listed, archives=True)] == ["k0", "k1", "k2", "k0"]


def test_with_dsse_the_dsse_rows_are_selected_too_whatever_their_key_but_never_sse_c() -> None:
    """No column names a DSSE-KMS object's key: the job's task reads it (BACKSTOP_INCLUDE_DSSE_OTHER_KEYS,
    backfill --from-inventory --include-dsse-other-keys)."""
    inventory = Inventory("s3://i/m.json", BUCKET, "i", ("d.csv.gz",), SCHEMA)

    selected = inventory.select(rows("SSE-S3", "DSSE-KMS", "dsse-kms", "SSE-C"), dsse=True)

    assert [key for _, key in selected] == ["k0", "k1", "k2"]


def test_a_row_that_does_not_match_the_schema_is_refused() -> None:
    inventory = Inventory("s3://i/m.json", BUCKET, "i", ("d.csv.gz",), SCHEMA)

    with pytest.raises(InvalidRequest, match="a data file row has 2 values where fileSchema lists 7"):
        list(inventory.select([[BUCKET, "k"]]))


def test_the_manifest_of_the_rows_to_fix_is_written_to_the_report_bucket_and_its_job_reads_it(
    make_backfill: Any, inventories: FakeInventoryStore, files: FakeReportFiles
) -> None:
    report = inventories.report(BUCKET, [("a.csv", "SSE-S3"), ("b.csv", "DSSE-KMS"), ("c.csv", "NOT-SSE")], PINNED)

    spec = make_backfill().from_inventory(report.manifest_uri, campaign="c1", dry_run=True)

    assert spec is not None
    assert spec.manifest is not None
    assert (spec.bucket, spec.encryption_filter, spec.dry_run, spec.manifest.objects) == (BUCKET, "INVENTORY", True, 2)
    assert spec.manifest.key == f"manifests/c1/inventory-{BUCKET}-{PINNED:%Y-%m-%d}.csv"
    assert files.objects[f"{REPORTS}/{spec.manifest.key}"] == [[BUCKET, "a.csv"], [BUCKET, "c.csv"]]


def test_with_include_dsse_other_keys_the_reports_dsse_rows_go_into_the_manifest_too(
    make_backfill: Any, inventories: FakeInventoryStore, files: FakeReportFiles
) -> None:
    report = inventories.report(BUCKET, [("a.csv", "SSE-S3"), ("b.csv", "DSSE-KMS"), ("c.bin", "SSE-C")], PINNED)

    spec = make_backfill().from_inventory(report.manifest_uri, campaign="c1", include_dsse_other_keys=True)

    assert spec is not None
    assert spec.manifest is not None
    assert files.objects[f"{REPORTS}/{spec.manifest.key}"] == [[BUCKET, "a.csv"], [BUCKET, "b.csv"]]
    assert spec.manifest.objects == 2  # the estimate prices each DSSE row's task and HEAD


def test_a_report_with_nothing_to_fix_writes_nothing_and_starts_no_job(
    make_backfill: Any, inventories: FakeInventoryStore, files: FakeReportFiles
) -> None:
    report = inventories.report(BUCKET, [("a.csv", "DSSE-KMS"), ("b.csv", "SSE-C")], PINNED)

    assert make_backfill().from_inventory(report.manifest_uri, campaign="c1") is None
    assert files.objects == {}


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (None, "does not exist"),
        (ValueError("Expecting value"), "is not JSON"),
        (["not", "an", "object"], "is not an S3 Inventory manifest.json"),
        ({"fileFormat": "ORC"}, "is a ORC inventory"),
        ({"fileFormat": "CSV", "fileSchema": "Bucket, Key", "sourceBucket": BUCKET}, "no EncryptionStatus column"),
    ],
)
def test_a_manifest_that_is_not_a_csv_inventory_with_encryption_status_is_refused_before_anything_is_written(
    make_backfill: Any, inventories: FakeInventoryStore, files: FakeReportFiles, manifest: Any, message: str
) -> None:
    if manifest is not None:
        inventories.manifests["example-inventories/m.json"] = manifest

    with pytest.raises(InvalidRequest, match=message):
        make_backfill().from_inventory("s3://example-inventories/m.json", campaign="c1")
    assert files.objects == {}


def test_a_report_of_a_bucket_outside_the_scope_is_refused_before_its_rows_are_read(
    make_backfill: Any, inventories: FakeInventoryStore, files: FakeReportFiles
) -> None:
    report = inventories.report(BUCKET, [("a.csv", "SSE-S3")], PINNED)
    inventories.data.clear()  # a row read would fail the test with a KeyError

    with pytest.raises(InvalidRequest, match="outside the protected buckets"):
        make_backfill(scope=Scope(exclude=("example-protected-*",))).from_inventory(report.manifest_uri, campaign="c1")
    assert files.objects == {}


def test_an_aws_error_reading_the_report_reaches_the_caller(
    make_backfill: Any, inventories: FakeInventoryStore
) -> None:
    report = inventories.report(BUCKET, [("a.csv", "SSE-S3")], PINNED)
    inventories.failure = AwsFailure(Failure.DENIED, "AccessDenied: no")

    with pytest.raises(AwsFailure) as raised:
        make_backfill().from_inventory(report.manifest_uri, campaign="c1")
    assert raised.value.failure is Failure.DENIED
