"""Posture through Athena on fake AWS: the adapter's StartQueryExecution, GetQueryExecution and GetQueryResults
against moto's Athena model (results seeded, as moto executes no SQL; reached through tests/athena_double.MotoAthena,
as moto's HTTP routes do not serve this botocore's Athena protocol), DSSE-KMS versions read with the real HeadObject
path on moto's S3, and what moto lacks (FAILED queries, paged results) from tests/athena_double.AthenaDouble."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dsse_remediation.aws.athena import AthenaQueries
from dsse_remediation.aws.s3_objects import ObjectStore
from dsse_remediation.aws.s3_posture import PostureReader
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.model import utc_now
from dsse_remediation.posture.athena_source import AthenaPosture, report_of
from dsse_remediation.posture.inventory import Manifest
from tests.athena_double import AthenaDouble, MotoAthena, ddl_result, result, seed
from tests.helpers import ACCOUNT_ID

GROUPED_COLUMNS = ["bucket", "is_current", "encryption_status", "objects", "bytes"]
VERSION_COLUMNS = ["key", "version_id", "size", "is_current"]
COLUMNS = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "EncryptionStatus")


@pytest.fixture
def athena(aws: None, region: str) -> Any:
    return MotoAthena(ACCOUNT_ID, region)


def manifest(bucket: str) -> Manifest:
    when = (utc_now() - timedelta(hours=6)).replace(second=0, microsecond=0)
    return Manifest(
        uri=f"s3://inventory-dest/inv/{bucket}/all-versions/{when.strftime('%Y-%m-%dT%H-%MZ')}/manifest.json",
        source_bucket=bucket,
        files_bucket="inventory-dest",
        file_format="CSV",
        columns=COLUMNS,
        files=(),
        created=None,
        folder_date=when,
    )


def seeded_report(s3: Any, bucket: str, dsse_key: str, other_key: str, region: str) -> None:
    """Two DSSE-KMS objects on S3 (one under the key, one not) and what Athena would answer for the report."""
    for key, arn in (("under key", dsse_key), ("other/key", other_key)):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 10, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=arn)
    seed(
        ACCOUNT_ID,
        region,
        ddl_result(),
        result(GROUPED_COLUMNS, [[bucket, "true", "SSE-S3", "4", "4000"], [bucket, "true", "DSSE-KMS", "2", "20"]]),
        result(VERSION_COLUMNS, [["under+key", None, "10", "true"], ["other%2Fkey", None, "10", "true"]]),
        result([*VERSION_COLUMNS, "encryption_status"], [["big", None, "3000", "true", "SSE-S3"]]),
    )


def test_posture_through_moto_athena_counts_the_report_and_checks_dsse_keys_on_s3(
    athena: Any, s3: Any, bucket: str, dsse_key: str, other_key: str, region: str
) -> None:
    seeded_report(s3, bucket, dsse_key, other_key, region)
    double = AthenaDouble(athena, page_size=2)  # moto never pages: the double does, two rows a page
    slept: list[float] = []
    queries = AthenaQueries(double, "primary", output_location="s3://athena-results/", sleep=slept.append)
    reader = PostureReader(ObjectStore(s3), None)
    report = manifest(bucket)
    found = AthenaPosture(queries, "dsse_posture", head=reader.head, sample=5).bucket(report, dsse_key)

    answer = found.answer()
    assert answer["current"]["objects"]["sse-s3"] == 4
    assert answer["current"]["objects"]["dsse-key"] == 1
    assert answer["current"]["objects"]["dsse-other-key"] == 1
    assert answer["current"]["bytes"]["dsse-key"] == 10
    assert answer["largestNotDsse"][0]["key"] == "big"
    assert found.estimate is None
    assert found.error is None
    assert slept == []  # moto's executions have SUCCEEDED at the first GetQueryExecution (its default state manager)
    assert double.pages_served > 3  # the grouped result (header + 2 rows) came in two pages

    sent = double.started
    assert len(sent) == 4
    assert sent[0].startswith("CREATE EXTERNAL TABLE IF NOT EXISTS " + report_of(report).table)
    assert f"LOCATION 's3://inventory-dest/inv/{bucket}/all-versions/hive/'" in sent[0]
    assert f"WHERE dt = '{report_of(report).dt}'" in sent[1]
    executions = athena.executions()
    assert [execution.status for execution in executions] == ["SUCCEEDED"] * 4
    assert all(execution.context == {"Database": "dsse_posture"} for execution in executions)


def test_a_query_athena_fails_is_reported_with_its_reason(athena: Any, region: str, bucket: str) -> None:
    seed(ACCOUNT_ID, region, ddl_result())
    double = AthenaDouble(athena)
    double.fail_when("GROUP BY", "COLUMN_NOT_FOUND: line 3:3: Column 'encryption_status' cannot be resolved")
    queries = AthenaQueries(double, "primary", sleep=lambda seconds: None)
    athena_posture = AthenaPosture(queries, "dsse_posture", head=lambda *args: None)
    with pytest.raises(AwsFailure, match="Column 'encryption_status' cannot be resolved"):
        athena_posture.bucket(manifest(bucket), "unused")
    assert [execution.state for execution in queries.executions] == ["SUCCEEDED", "FAILED"]
