"""Starting S3 Batch Operations jobs on fake AWS: the task function's alias on moto's Lambda, object counts from moto's
CloudWatch, S3 Inventory reports on moto's S3, and the jobs themselves on the s3control double (moto has none)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from dsse_remediation.aws import report_files
from dsse_remediation.batch.requests import JobSpec, plan
from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests.helpers import ACCOUNT_ID, REGION, Wiring
from tests.s3control_double import ReportRow, S3ControlDouble

ROLE = "arn:aws:iam::123456789012:role/dsse-remediation-batch-job"
REPORTS = "dsse-remediation-reports"
INVENTORIES = "example-inventory-destination"
SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, EncryptionStatus"
CREATED = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


@pytest.fixture
def task_alias(aws: None) -> str:
    """The task function with a published version 1 and its `live` alias, on moto's Lambda."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="batch-task", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with __import__("zipfile").ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    lam = boto3.client("lambda", region_name=REGION)
    lam.create_function(
        FunctionName="dsse-remediation-batch-task",
        Runtime="python3.13",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )
    version = lam.publish_version(FunctionName="dsse-remediation-batch-task")["Version"]
    alias = lam.create_alias(FunctionName="dsse-remediation-batch-task", Name="live", FunctionVersion=version)
    return str(alias["AliasArn"])


@pytest.fixture
def reports(s3: Any) -> str:
    s3.create_bucket(Bucket=REPORTS)
    return REPORTS


@pytest.fixture
def double(s3: Any) -> S3ControlDouble:
    return S3ControlDouble(ACCOUNT_ID, s3=s3)


@pytest.fixture
def app(wiring: Wiring, double: S3ControlDouble, task_alias: str, reports: str, bucket: str) -> App:
    settings = wiring.settings(task_function=task_alias, job_role_arn=ROLE, report_bucket=reports)
    return App(settings, double.factory(wiring.client))


def inventory(s3: Any, rows: list[list[str]], *, schema: str = SCHEMA, files: int = 2) -> str:
    """An S3 Inventory report (CSV, gzip data files, manifest.json) of `rows` for the protected bucket; its URI."""
    s3.create_bucket(Bucket=INVENTORIES)
    prefix = "example-protected-bucket/daily/2026-11-20T01-00Z"
    data = []
    for n in range(files):
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows[n::files])
        key = f"example-protected-bucket/daily/data/part-{n}.csv.gz"
        s3.put_object(Bucket=INVENTORIES, Key=key, Body=gzip.compress(text.getvalue().encode()))
        data.append({"key": key, "size": 1, "MD5checksum": "0"})
    manifest = {
        "sourceBucket": "example-protected-bucket",
        "destinationBucket": f"arn:aws:s3:::{INVENTORIES}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(CREATED.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": schema,
        "files": data,
    }
    s3.put_object(Bucket=INVENTORIES, Key=f"{prefix}/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{INVENTORIES}/{prefix}/manifest.json"


def row(key: str, encryption: str, *, latest: str = "true", marker: str = "false") -> list[str]:
    return ["example-protected-bucket", key, "v1", latest, marker, "10", "2026-11-01T00:00:00.000Z", encryption]


def test_a_backfill_creates_pinned_jobs_that_describe_reads_back(app: App, double: S3ControlDouble, s3: Any) -> None:
    ids = [app.backfill.start(spec) for spec in plan("example-protected-bucket", campaign="backfill-20261120")]
    manifest_key = double.finish(
        ids[0], report=[ReportRow("a%20b.txt", result="remediated: copied in place under the DSSE key")]
    )
    job = app.batch_jobs.describe(ids[0])

    functions = {double.jobs[i]["Operation"]["LambdaInvoke"]["FunctionArn"] for i in ids}
    assert functions == {"arn:aws:lambda:us-east-1:123456789012:function:dsse-remediation-batch-task:1"}
    assert (job.status, job.succeeded, job.failed, job.done) == ("Complete", 1, 0, True)
    assert manifest_key == f"reports/backfill-20261120/job-{ids[0]}/manifest.json"
    report = json.loads(s3.get_object(Bucket=REPORTS, Key=manifest_key)["Body"].read())
    rows = s3.get_object(Bucket=REPORTS, Key=report["Results"][0]["Key"])["Body"].read().decode()
    assert rows == (
        "example-protected-bucket,a%20b.txt,,succeeded,,200,remediated: copied in place under the DSSE key\n"
    )


def test_an_inventory_keeps_the_current_objects_that_are_not_dsse_with_their_keys_url_encoded(
    app: App, double: S3ControlDouble, s3: Any
) -> None:
    uri = inventory(
        s3,
        [
            row("plain%20space.txt", "NOT-SSE"),
            row("plus%2Bsign+and+space.csv", "SSE-S3"),
            row("100%25%20done.txt", "SSE-KMS"),
            row("caf%C3%A9/%E2%82%AC-report.pdf", "SSE-S3"),
            row("already-compliant.txt", "DSSE-KMS"),
            row("also-dsse.txt", "dsse-kms"),
            row("older-version.txt", "SSE-S3", latest="false"),
            row("deleted.txt", "", marker="true"),
            row("customer-key.bin", "SSE-C"),
        ],
    )

    spec = app.backfill.from_inventory(uri, campaign="inventory-20261120")

    assert spec is not None
    assert spec.manifest is not None
    assert (spec.bucket, spec.encryption_filter, spec.manifest.bucket) == (
        "example-protected-bucket",
        "INVENTORY",
        REPORTS,
    )
    assert spec.manifest.key == "manifests/inventory-20261120/inventory-example-protected-bucket-2026-11-20.csv"
    written = s3.get_object(Bucket=REPORTS, Key=spec.manifest.key)
    lines = sorted(written["Body"].read().decode().splitlines())
    assert lines == sorted(
        f"example-protected-bucket,{key}"
        for key in (
            "plain%20space.txt",
            "plus%2Bsign+and+space.csv",
            "100%25%20done.txt",
            "caf%C3%A9/%E2%82%AC-report.pdf",
        )  # not the SSE-C one: nothing can re-encrypt it, a job would only report it, every day
    )
    assert spec.manifest.objects == 4
    job_id = app.backfill.start(spec)
    assert double.jobs[job_id]["Manifest"]["Location"] == {
        "ObjectArn": f"arn:aws:s3:::{REPORTS}/{spec.manifest.key}",
        "ETag": written["ETag"].strip('"'),
    }


def test_archived_objects_of_an_inventory_are_left_out_unless_restored_archives_are_remediated(
    wiring: Wiring, double: S3ControlDouble, task_alias: str, reports: str, s3: Any, bucket: str
) -> None:
    schema = f"{SCHEMA}, StorageClass"
    rows = [[*row("cold.tar", "SSE-S3"), "GLACIER"], [*row("warm.csv", "SSE-S3"), "STANDARD"]]
    uri = inventory(s3, rows, schema=schema, files=1)

    def selected(archives: bool) -> list[str]:
        settings = wiring.settings(
            task_function=task_alias,
            job_role_arn=ROLE,
            report_bucket=reports,
            remediate_restored_archives=archives,
        )
        spec = App(settings, double.factory(wiring.client)).backfill.from_inventory(uri, campaign=f"a{archives:d}-c")
        assert spec is not None
        assert spec.manifest is not None
        body = s3.get_object(Bucket=REPORTS, Key=spec.manifest.key)["Body"].read().decode()
        return sorted(line.split(",")[1] for line in body.splitlines())

    assert selected(archives=False) == ["warm.csv"]
    assert selected(archives=True) == ["cold.tar", "warm.csv"]


def test_an_inventory_manifest_whose_files_are_not_objects_is_refused(app: App, s3: Any) -> None:
    uri = inventory(s3, [row("a.txt", "SSE-S3")])
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest | {"files": ["part-0.csv.gz"]}).encode())

    with pytest.raises(InvalidRequest, match="files is not a list of objects"):
        app.backfill.from_inventory(uri, campaign="c1")


def test_an_inventory_with_nothing_left_to_fix_starts_no_job_and_writes_nothing(
    app: App, double: S3ControlDouble, s3: Any
) -> None:
    uri = inventory(s3, [row("a.txt", "DSSE-KMS"), row("b.txt", "SSE-S3", latest="false")])

    assert app.backfill.from_inventory(uri, campaign="c1") is None
    assert s3.list_objects_v2(Bucket=REPORTS).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=REPORTS).get("Uploads", []) == []
    assert double.calls == ["GetPublicAccessBlock"]  # the reader-safety gate's read of the account; no job


def test_an_inventory_without_the_encryption_field_is_refused_saying_which_field_to_add(app: App, s3: Any) -> None:
    uri = inventory(s3, [["example-protected-bucket", "a.txt"]], schema="Bucket, Key")

    with pytest.raises(InvalidRequest, match=r"no EncryptionStatus column: add the 'Encryption' field"):
        app.backfill.from_inventory(uri, campaign="c1")


def test_an_inventory_of_a_bucket_outside_the_scope_is_refused_and_nothing_is_written(
    wiring: Wiring, double: S3ControlDouble, task_alias: str, reports: str, bucket: str, s3: Any
) -> None:
    settings = wiring.settings(
        task_function=task_alias,
        job_role_arn=ROLE,
        report_bucket=reports,
        scope=Scope(exclude=("example-protected-*",)),
    )
    uri = inventory(s3, [row("a.txt", "SSE-S3")])

    with pytest.raises(InvalidRequest, match="outside the protected buckets"):
        App(settings, double.factory(wiring.client)).backfill.from_inventory(uri, campaign="c1")
    assert s3.list_objects_v2(Bucket=REPORTS).get("KeyCount") == 0


def test_a_large_inventory_is_streamed_into_a_multipart_manifest(
    app: App, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_files, "UPLOAD_PART_BYTES", 5 * 1024 * 1024)  # S3's smallest part
    long = "x" * 40
    rows = [row(f"{long}/{n:07d}%20object.bin", "SSE-S3") for n in range(120_000)]  # ~8 MB of manifest

    spec = app.backfill.from_inventory(inventory(s3, rows), campaign="c1")

    assert spec is not None
    assert spec.manifest is not None
    assert spec.manifest.objects == 120_000
    assert spec.manifest.etag.endswith("-2")  # two parts: the manifest was never held whole
    body = s3.get_object(Bucket=REPORTS, Key=spec.manifest.key)["Body"].read().decode()
    assert body.count("\n") == 120_000


def test_the_estimate_reads_each_buckets_latest_object_count_from_cloudwatch(app: App, s3: Any) -> None:
    """moto's CloudWatch reports AWS/S3 NumberOfObjects of its own buckets; a bucket it does not hold (another
    Region's, say) gets the datapoints the test puts, and one with neither has no count."""
    for n in range(3):
        s3.put_object(Bucket="example-protected-bucket", Key=f"old-{n}.txt", Body=b"x")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    now = datetime.now(UTC)
    for days, count in ((2, 1_500_000), (1, 2_000_000)):
        cloudwatch.put_metric_data(
            Namespace="AWS/S3",
            MetricData=[
                {
                    "MetricName": "NumberOfObjects",
                    "Dimensions": [
                        {"Name": "BucketName", "Value": "example-archive-bucket"},
                        {"Name": "StorageType", "Value": "AllStorageTypes"},
                    ],
                    "Timestamp": now - timedelta(days=days),
                    "Value": count,
                }
            ],
        )
    buckets = ("example-protected-bucket", "example-archive-bucket", "example-unknown-bucket")

    estimate = app.backfill.estimate([spec for name in buckets for spec in plan(name, campaign="c1")])

    assert [bucket.objects for bucket in estimate.buckets] == [3, 2_000_000, None]  # the latest datapoint
    assert estimate.jobs == 9
    assert estimate.unknown == ("example-unknown-bucket",)
    assert estimate.batch_fees == pytest.approx(9 * 0.25 + 2.000003)
    text = str(estimate)
    assert "s3://example-archive-bucket: 3 jobs (NOTSSE, SSES3, SSEKMS), at most 2,000,000 objects" in text
    assert "s3://example-unknown-bucket: 3 jobs (NOTSSE, SSES3, SSEKMS), object count unknown" in text


def test_an_inventory_job_is_priced_from_its_rows_without_cloudwatch(app: App, s3: Any) -> None:
    spec = app.backfill.from_inventory(inventory(s3, [row("a.txt", "SSE-S3"), row("b.txt", "NOT-SSE")]), campaign="c1")
    assert spec is not None

    estimate = app.backfill.estimate([spec])

    assert (estimate.jobs, estimate.objects, estimate.unknown) == (1, 2, ())
    assert "2 rows in the inventory manifest" in str(estimate)


def test_a_job_spec_from_the_inventory_keeps_the_dry_run(app: App, double: S3ControlDouble, s3: Any) -> None:
    spec = app.backfill.from_inventory(inventory(s3, [row("a.txt", "SSE-S3")]), campaign="c1", dry_run=True)
    assert isinstance(spec, JobSpec)

    job_id = app.backfill.start(spec)

    assert double.jobs[job_id]["Operation"]["LambdaInvoke"]["UserArguments"] == {"dryRun": "true", "campaign": "c1"}
