"""How a set of jobs is priced before any is created: each bucket's object count (a written manifest's rows, else
CloudWatch's daily NumberOfObjects, from the fake of tests/fakes.py), and what is said when it cannot be known."""

from __future__ import annotations

from datetime import timedelta

from dsse_remediation.batch.estimate import METRIC_LOOKBACK, estimate
from dsse_remediation.batch.requests import JobSpec, ManifestFile, plan
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.model import Failure
from tests.clock import PINNED
from tests.fakes import FakeStorageMetrics

MANIFEST = ManifestFile("example-dsse-reports", "manifests/c1/inventory-b-2026-11-20.csv", "etag", 120)


def writes(spec: JobSpec) -> bool:
    return not spec.dry_run


def test_a_buckets_jobs_are_priced_from_its_latest_daily_object_count() -> None:
    metrics = FakeStorageMetrics({"example-big-bucket": (2_000_000, PINNED - timedelta(days=1))})

    found = estimate(plan("example-big-bucket", campaign="c1"), metrics, PINNED, writes)  # type: ignore[arg-type]

    [bucket] = found.buckets
    assert (bucket.objects, bucket.encryption_filters, found.jobs) == (2_000_000, ("NOTSSE", "SSES3", "SSEKMS"), 3)
    assert (
        bucket.source
        == f"CloudWatch NumberOfObjects of {PINNED - timedelta(days=1):%Y-%m-%d}, every version and storage class"
    )
    assert metrics.asked == [("example-big-bucket", METRIC_LOOKBACK)]  # one question per bucket, not per job


def test_a_bucket_without_a_datapoint_has_an_unknown_count_and_says_where_it_looked() -> None:
    found = estimate(plan("example-new-bucket", campaign="c1"), FakeStorageMetrics(), PINNED, writes, "eu-west-1")  # type: ignore[arg-type]

    assert found.unknown == ("example-new-bucket",)
    assert "no AWS/S3 NumberOfObjects datapoint in eu-west-1 in the last 3 days" in found.buckets[0].source


def test_cloudwatch_refusing_leaves_the_count_unknown_and_the_estimate_still_made() -> None:
    metrics = FakeStorageMetrics(failure=AwsFailure(Failure.DENIED, "AccessDenied: cloudwatch:GetMetricStatistics"))

    found = estimate(plan("example-bucket", campaign="c1"), metrics, PINNED, writes)  # type: ignore[arg-type]

    assert found.buckets[0].objects is None
    assert "CloudWatch did not answer (AccessDenied" in found.buckets[0].source
    assert found.job_fees == 0.75


def test_an_inventory_job_is_priced_from_its_manifests_rows_without_asking_cloudwatch() -> None:
    metrics = FakeStorageMetrics()
    spec = JobSpec("example-bucket", "INVENTORY", "c1", manifest=MANIFEST)

    found = estimate([spec], metrics, PINNED, writes)  # type: ignore[arg-type]

    assert (found.objects, found.buckets[0].source) == (120, "120 rows in the inventory manifest")
    assert metrics.asked == []


def test_dry_runs_are_priced_as_reads_only() -> None:
    metrics = FakeStorageMetrics({"example-bucket": (1_000, PINNED)})

    found = estimate(plan("example-bucket", campaign="c1", dry_run=True), metrics, PINNED, writes)  # type: ignore[arg-type]

    assert (found.buckets[0].writes, found.written_objects, found.copy_ceiling, found.kms_ceiling) == (False, 0, 0, 0)
