"""`dsse-remediate posture` against moto, in both modes: a scan (ListObjectVersions + HeadObject per version) and an
S3 Inventory report (CSV, ORC, Parquet), counted to the object and the byte.

The seeded versioned bucket (sizes in bytes):
- a.bin: 10 SSE-S3, then 20 DSSE under the key (current)   -> noncurrent sse-s3 10; current dsse-key 20
- b.bin: 30 DSSE under another key                          -> current dsse-other-key 30
- c.bin: 40 SSE-KMS                                         -> current sse-kms 40
- d.bin: 50 SSE-C                                           -> current sse-c 50
- e.bin: 60 DSSE under the key, then a delete marker        -> noncurrent dsse-key 60; the marker is not counted
moto stores no SSE-C: `sse_c` makes its HeadObject answer the bare 400 S3 gives without the customer key
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html); and every object is
encrypted on S3 since 2023, so `not-encrypted` is made only in an inventory (NOT-SSE).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from moto.s3.responses import S3Response

from dsse_remediation.cli import posture as posture_command
from dsse_remediation.cli.commands import main
from tests.helpers import ACCOUNT_ID
from tests.integration.test_backstop import _inventory_optional_fields_as_a_list  # noqa: F401 (moto's OptionalFields)

BUCKET = "posture-versioned"
PLAIN = "posture-plain"
DESTINATION = "posture-inventory-reports"
STATES = ["dsse-key", "dsse-other-key", "sse-kms", "sse-s3", "sse-c", "not-encrypted"]
ODD_KEY = "odd name+plus/ü 100%.txt"


def counts(**given: int) -> dict[str, int]:
    return {state: given.get(state.replace("-", "_"), 0) for state in STATES}


@pytest.fixture
def sse_c(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """(bucket, key) of objects written with SSE-C: HeadObject without the customer key answers 400."""
    written: set[tuple[str, str]] = set()
    original = S3Response.head_object

    def head_object(self: S3Response, bucket_name: str, query: Any, key_name: str, headers: Any) -> Any:
        if (bucket_name, key_name) in written and "x-amz-server-side-encryption-customer-algorithm" not in headers:
            return 400, {}, ""
        return original(self, bucket_name, query, key_name, headers)

    monkeypatch.setattr(S3Response, "head_object", head_object)
    return written


@pytest.fixture
def seeded(s3: Any, dsse_key: str, other_key: str, sse_c: set[tuple[str, str]]) -> dict[str, Any]:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    dsse = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": dsse_key}
    s3.put_object(Bucket=BUCKET, Key="a.bin", Body=b"x" * 10)
    s3.put_object(Bucket=BUCKET, Key="a.bin", Body=b"x" * 20, **dsse)
    other = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": other_key}
    s3.put_object(Bucket=BUCKET, Key="b.bin", Body=b"x" * 30, **other)
    s3.put_object(Bucket=BUCKET, Key="c.bin", Body=b"x" * 40, ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
    s3.put_object(Bucket=BUCKET, Key="d.bin", Body=b"x" * 50, SSECustomerAlgorithm="AES256", SSECustomerKey=b"k" * 32)
    sse_c.add((BUCKET, "d.bin"))
    s3.put_object(Bucket=BUCKET, Key="e.bin", Body=b"x" * 60, **dsse)
    s3.delete_object(Bucket=BUCKET, Key="e.bin")
    s3.create_bucket(Bucket=PLAIN)
    s3.put_object(Bucket=PLAIN, Key="f.bin", Body=b"x" * 5, **dsse)
    listed = s3.list_object_versions(Bucket=BUCKET)
    return {"versions": listed["Versions"], "dsse_key": dsse_key}


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dsse_key: str, clock: Any
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    monkeypatch.setenv("ACCOUNT_ID", ACCOUNT_ID)
    for name in ("ALERT_TOPIC_ARN", "PROTECTED_BUCKETS", "EXCLUDED_BUCKETS", "REPORT_BUCKET"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), clock=clock)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def posture(run: Callable[..., tuple[int, str, str]], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run("posture", *argv, "--output", "json")
    assert out, err
    return code, json.loads(out)


class TestScan:
    def test_counts_every_version_by_state_to_the_object_and_the_byte(self, seeded: Any, run: Any) -> None:
        code, document = posture(run, f"s3://{BUCKET}", "--source", "scan")

        [bucket] = document["buckets"]
        assert bucket["current"] == {
            "objects": counts(dsse_key=1, dsse_other_key=1, sse_kms=1, sse_c=1),
            "bytes": counts(dsse_key=20, dsse_other_key=30, sse_kms=40, sse_c=50),
        }
        assert bucket["noncurrent"] == {
            "objects": counts(dsse_key=1, sse_s3=1),
            "bytes": counts(dsse_key=60, sse_s3=10),
        }
        assert bucket["percentDsseUnderKey"] == {"objects": round(100 * 2 / 6, 4), "bytes": round(100 * 80 / 210, 4)}
        assert bucket["source"] == {
            "kind": "scan",
            "inventoryDate": None,
            "manifest": None,
            "sample": None,
            "noncurrentListed": True,
        }
        assert code == 1
        assert document["exitCode"] == 1
        assert document["compliant"] is False

    def test_the_document_has_the_posture_schema(self, seeded: Any, run: Any, clock: Any) -> None:
        _, document = posture(run, f"s3://{BUCKET}", f"s3://{PLAIN}", "--source", "scan")

        assert document["schema"] == "dsse-remediation.posture/v1"
        assert document["generatedAt"] == clock().isoformat().replace("+00:00", "Z")
        assert document["generatedBy"].startswith("arn:aws:")
        assert document["account"] == ACCOUNT_ID
        assert (document["region"], document["partition"]) == ("us-east-1", "aws")
        assert document["key"] == seeded["dsse_key"]
        assert document["states"] == STATES
        assert [b["bucket"] for b in document["buckets"]] == [BUCKET, PLAIN]
        for key in ("current", "noncurrent", "percentDsseUnderKey"):
            assert key in document["total"]
        assert document["total"]["current"]["bytes"]["dsse-key"] == 25

    def test_largest_versions_left_and_the_noncurrent_debt(self, seeded: Any, run: Any) -> None:
        _, document = posture(run, f"s3://{BUCKET}", "--source", "scan")

        [bucket] = document["buckets"]
        assert [(e["key"], e["size"], e["state"], e["current"]) for e in bucket["largestNotDsse"]] == [
            ("d.bin", 50, "sse-c", True),
            ("c.bin", 40, "sse-kms", True),
            ("b.bin", 30, "dsse-other-key", True),
            ("a.bin", 10, "sse-s3", False),
        ]
        debt = bucket["noncurrentDebt"]
        assert (debt["objects"], debt["bytes"], debt["lockedObjects"], debt["lockedUntil"]) == (1, 10, 0, None)
        assert debt["lifecycleRule"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}

    def test_an_unversioned_bucket_all_dsse_under_the_key_is_compliant(self, seeded: Any, run: Any) -> None:
        code, document = posture(run, f"s3://{PLAIN}", "--source", "scan")

        [bucket] = document["buckets"]
        assert bucket["current"]["objects"] == counts(dsse_key=1)
        assert bucket["noncurrent"]["objects"] == counts()
        assert bucket["percentDsseUnderKey"] == {"objects": 100.0, "bytes": 100.0}
        assert bucket["noncurrentDebt"]["lifecycleRule"] is None
        assert code == 0

    def test_locked_noncurrent_versions_are_counted_with_their_latest_retain_until(
        self, s3: Any, dsse_key: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        s3.create_bucket(Bucket="posture-locked", ObjectLockEnabledForBucket=True)
        now = datetime.now(UTC).replace(microsecond=0)
        soon, later = now + timedelta(days=1), now + timedelta(days=30)
        for until in (soon, later):
            s3.put_object(
                Bucket="posture-locked",
                Key="ledger.csv",
                Body=b"x" * 10,
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=until,
                ChecksumAlgorithm="SHA256",
            )
        s3.put_object(Bucket="posture-locked", Key="ledger.csv", Body=b"x", ChecksumAlgorithm="SHA256")

        code = main(["posture", "s3://posture-locked", "--key", dsse_key, "--output", "json"], clock=lambda: now)

        debt = json.loads(capsys.readouterr().out)["buckets"][0]["noncurrentDebt"]
        assert (debt["objects"], debt["bytes"], debt["lockedObjects"]) == (2, 20, 2)
        assert debt["lockedUntil"] == later.isoformat().replace("+00:00", "Z")
        assert code == 1

    def test_an_empty_bucket_is_100_percent(self, s3: Any, run: Any) -> None:
        s3.create_bucket(Bucket="posture-empty")

        code, document = posture(run, "s3://posture-empty")

        assert document["buckets"][0]["percentDsseUnderKey"] == {"objects": 100.0, "bytes": 100.0}
        assert code == 0

    def test_all_takes_the_in_scope_buckets_as_coverage_does(self, seeded: Any, run: Any) -> None:
        _, document = posture(run, "--all", "--source", "scan", "--exclude", PLAIN)

        assert [b["bucket"] for b in document["buckets"]] == [BUCKET]

    def test_text_and_the_csv_report(self, seeded: Any, run: Any, tmp_path: Path) -> None:
        report = tmp_path / "posture.csv"

        code, out, _ = run("posture", f"s3://{BUCKET}", "--source", "scan", "--report", str(report))

        assert code == 1
        assert f"s3://{BUCKET}" in out
        assert "NOT compliant" in out
        assert "NoncurrentVersionExpiration" in out
        rows = list(csv.DictReader(report.open()))
        assert len(rows) == 6
        assert {r["state"]: (r["currentObjects"], r["noncurrentBytes"]) for r in rows}["sse-s3"] == ("0", "10")

    def test_an_unknown_bucket_is_a_usage_error_and_nothing_is_written(
        self, seeded: Any, run: Any, tmp_path: Path
    ) -> None:
        report = tmp_path / "posture.csv"

        code, out, err = run("posture", f"s3://{BUCKET}", "s3://posture-no-such-bucket", "--report", str(report))

        assert code == 2
        assert "s3://posture-no-such-bucket: no such bucket" in err
        assert out == ""
        assert not report.exists()


# --- inventory ---------------------------------------------------------------------------------------------------

CSV_SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus, ObjectLockRetainUntilDate"
FOLDER = f"{BUCKET}/all-versions/2026-01-02T01-00Z/"


def inventory_rows(seeded: dict[str, Any]) -> list[list[str]]:
    """The seeded bucket's versions as S3 Inventory lists them, plus a NOT-SSE and an odd key (not in the bucket:
    an inventory row needs no HeadObject unless DSSE-KMS) and the delete marker."""
    status = {"a.bin": "SSE-S3", "b.bin": "DSSE-KMS", "c.bin": "SSE-KMS", "d.bin": "SSE-C", "e.bin": "DSSE-KMS"}
    found = []
    for version in seeded["versions"]:
        key = version["Key"]
        encryption = "DSSE-KMS" if key == "a.bin" and version["IsLatest"] else status[key]
        latest = "true" if version["IsLatest"] else "false"
        found.append([BUCKET, key, version["VersionId"], latest, "false", str(version["Size"]), encryption, ""])
    found.append([BUCKET, ODD_KEY, "v-odd", "false", "false", "7", "NOT-SSE", "2200-01-01T00:00:00.000Z"])
    found.append([BUCKET, "e.bin", "marker", "true", "true", "", "", ""])
    return found


def gz_csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    for row in rows:
        writer.writerow([quote_plus(value, safe="") if n == 1 else value for n, value in enumerate(row)])
    return gzip.compress(text.getvalue().encode())


def deliver(
    s3: Any, files: dict[str, bytes], schema: str, file_format: str = "CSV", md5: dict[str, str] | None = None
) -> str:
    s3.create_bucket(Bucket=DESTINATION)
    listed = []
    for name, body in files.items():
        key = f"{BUCKET}/all-versions/data/{name}"
        s3.put_object(Bucket=DESTINATION, Key=key, Body=body)
        digest = (md5 or {}).get(name, hashlib.md5(body).hexdigest())
        listed.append({"key": key, "size": len(body), "MD5checksum": digest})
    manifest = {
        "sourceBucket": BUCKET,
        "destinationBucket": f"arn:aws:s3:::{DESTINATION}",
        "version": "2016-11-30",
        "creationTimestamp": "1767315600000",  # 2026-01-02T01:00:00Z
        "fileFormat": file_format,
        "fileSchema": schema,
        "files": listed,
    }
    s3.put_object(Bucket=DESTINATION, Key=FOLDER + "manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{DESTINATION}/{FOLDER}manifest.json"


def expected_inventory(bucket: dict[str, Any]) -> None:
    assert bucket["current"] == {
        "objects": counts(dsse_key=1, dsse_other_key=1, sse_kms=1, sse_c=1),
        "bytes": counts(dsse_key=20, dsse_other_key=30, sse_kms=40, sse_c=50),
    }
    assert bucket["noncurrent"] == {
        "objects": counts(dsse_key=1, sse_s3=1, not_encrypted=1),
        "bytes": counts(dsse_key=60, sse_s3=10, not_encrypted=7),
    }
    debt = bucket["noncurrentDebt"]
    assert (debt["objects"], debt["bytes"], debt["lockedObjects"]) == (2, 17, 1)
    assert debt["lockedUntil"] == "2200-01-01T00:00:00Z"


class TestInventory:
    def test_a_csv_report_counts_as_the_scan_does_with_its_date_and_odd_keys_decoded(
        self, seeded: Any, s3: Any, run: Any
    ) -> None:
        manifest = deliver(s3, {"one.csv.gz": gz_csv(inventory_rows(seeded))}, CSV_SCHEMA)

        code, document = posture(run, "--from-inventory", manifest)

        [bucket] = document["buckets"]
        expected_inventory(bucket)
        assert bucket["source"]["kind"] == "inventory"
        assert bucket["source"]["inventoryDate"] == "2026-01-02T01:00:00Z"
        assert bucket["source"]["manifest"] == manifest
        assert ODD_KEY in [e["key"] for e in bucket["largestNotDsse"]]
        assert code == 1

    def test_the_buckets_own_inventory_configuration_is_found(self, seeded: Any, s3: Any, run: Any) -> None:
        deliver(s3, {"one.csv.gz": gz_csv(inventory_rows(seeded))}, CSV_SCHEMA)
        s3.put_bucket_inventory_configuration(
            Bucket=BUCKET,
            Id="all-versions",
            InventoryConfiguration={
                "Id": "all-versions",
                "IsEnabled": True,
                "IncludedObjectVersions": "All",
                "OptionalFields": ["Size", "EncryptionStatus", "ObjectLockRetainUntilDate"],
                "Schedule": {"Frequency": "Daily"},
                "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{DESTINATION}", "Format": "CSV"}},
            },
        )

        _, out, err = run("posture", f"s3://{BUCKET}", "--output", "json")

        [bucket] = json.loads(out)["buckets"]
        assert err == ""
        assert bucket["source"]["kind"] == "inventory"
        expected_inventory(bucket)

    def test_a_data_file_whose_md5_differs_is_reported_corrupt(self, seeded: Any, s3: Any, run: Any) -> None:
        manifest = deliver(s3, {"one.csv.gz": gz_csv(inventory_rows(seeded))}, CSV_SCHEMA, md5={"one.csv.gz": "0" * 32})

        code, document = posture(run, "--from-inventory", manifest)

        [bucket] = document["buckets"]
        assert "is corrupt: its MD5 is" in bucket["error"]
        assert bucket["current"]["objects"] == counts()  # nothing half-reported
        assert code == 1

    def test_a_missing_data_file_is_reported(self, seeded: Any, s3: Any, run: Any) -> None:
        manifest = deliver(s3, {"one.csv.gz": gz_csv(inventory_rows(seeded))}, CSV_SCHEMA)
        s3.delete_object(Bucket=DESTINATION, Key=f"{BUCKET}/all-versions/data/one.csv.gz")

        code, document = posture(run, "--from-inventory", manifest)

        assert "is missing: the report is incomplete" in document["buckets"][0]["error"]
        assert code == 1

    def test_a_manifest_without_encryption_status_is_a_clear_error(self, seeded: Any, s3: Any, run: Any) -> None:
        manifest = deliver(s3, {"one.csv.gz": gz_csv([])}, "Bucket, Key, Size")

        code, out, err = run("posture", "--from-inventory", manifest, "--output", "json")

        assert "has no EncryptionStatus column" in err
        assert (code, out) == (2, "")

    @pytest.mark.parametrize("file_format", ["ORC", "Parquet"])
    def test_orc_and_parquet_reports_are_read(self, seeded: Any, s3: Any, run: Any, file_format: str) -> None:
        body, schema = columnar(inventory_rows(seeded), file_format)
        manifest = deliver(s3, {f"one.{file_format.lower()}": body}, schema, file_format)

        _, document = posture(run, "--from-inventory", manifest)

        assert document["buckets"][0]["error"] is None
        expected_inventory(document["buckets"][0])

    def test_a_sample_estimates_the_key_split_with_its_interval(self, seeded: Any, s3: Any, run: Any) -> None:
        manifest = deliver(s3, {"one.csv.gz": gz_csv(inventory_rows(seeded))}, CSV_SCHEMA)

        code, document = posture(run, "--from-inventory", manifest, "--sample", "3")

        sample = document["buckets"][0]["source"]["sample"]
        assert (sample["checked"], sample["population"], sample["confidence"]) == (3, 3, 0.95)
        assert sample["dsseKeyShare"] == sample["low"] == sample["high"] == round(2 / 3, 6)  # all read: exact
        assert code == 1

    def test_a_partial_sample_estimates_the_split_and_cannot_prove_compliance(
        self, seeded: Any, s3: Any, run: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(posture_command, "default_rng", lambda bucket: random.Random(18))
        manifest = deliver(s3, {"one.csv.gz": gz_csv(inventory_rows(seeded))}, CSV_SCHEMA)

        code, document = posture(run, "--from-inventory", manifest, "--sample", "2")

        [bucket] = document["buckets"]
        sample = bucket["source"]["sample"]
        assert (sample["checked"], sample["population"]) == (2, 3)
        assert sample["low"] <= sample["dsseKeyShare"] <= sample["high"]
        assert sample["high"] - sample["low"] > 0.5  # two draws say little, and the interval shows it
        dsse = ("dsse-key", "dsse-other-key")
        assert sum(bucket[part]["objects"][state] for part in ("current", "noncurrent") for state in dsse) == 3
        assert sum(bucket[part]["bytes"][state] for part in ("current", "noncurrent") for state in dsse) == 110
        assert bucket["current"]["objects"]["sse-kms"] == 1  # the other states are counted, not estimated
        assert code == 1


class TestEvidence:
    def test_html_is_one_offline_file_with_every_bucket(self, seeded: Any, run: Any, tmp_path: Path) -> None:
        page = tmp_path / "posture.html"

        code, _ = posture(run, f"s3://{BUCKET}", f"s3://{PLAIN}", "--source", "scan", "--html", str(page))

        html = page.read_text(encoding="utf-8")
        parser = HTMLParser()
        parser.feed(html)  # parses whole
        assert code == 1
        assert BUCKET in html
        assert PLAIN in html
        assert "<svg" in html
        assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in html

    def test_athena_sql_for_the_report_is_printed_and_nothing_is_read(self, seeded: Any, s3: Any, run: Any) -> None:
        manifest = deliver(s3, {"one.csv.gz": gz_csv(inventory_rows(seeded))}, CSV_SCHEMA)

        code, out, _ = run("posture", "--from-inventory", manifest, "--athena-sql")

        assert code == 0
        assert f"LOCATION 's3://{DESTINATION}/{BUCKET}/all-versions/hive/'" in out
        assert "CREATE EXTERNAL TABLE s3_inventory_posture_versioned" in out
        assert "WHERE dt = '2026-01-02-01-00'" in out


def columnar(rows: list[list[str]], file_format: str) -> tuple[bytes, str]:
    """The rows as S3 writes ORC / Parquet inventories: snake_case columns, typed values, keys not encoded."""
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.orc as orc
    import pyarrow.parquet as parquet

    def when(value: str) -> datetime | None:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    table = pa.table(
        {
            "bucket": [r[0] for r in rows],
            "key": [r[1] for r in rows],
            "version_id": [r[2] for r in rows],
            "is_latest": [r[3] == "true" for r in rows],
            "is_delete_marker": [r[4] == "true" for r in rows],
            "size": pa.array([int(r[5]) if r[5] else None for r in rows], pa.int64()),
            "encryption_status": [r[6] for r in rows],
            "object_lock_retain_until_date": pa.array([when(r[7]) for r in rows], pa.timestamp("ms", tz="UTC")),
        }
    )
    sink = io.BytesIO()
    if file_format == "ORC":
        orc.write_table(table, sink)
        schema = "struct<" + ",".join(f"{f.name}:string" for f in table.schema) + ">"
    else:
        parquet.write_table(table, sink)
        schema = "message s3.inventory { " + " ".join(f"optional binary {f.name};" for f in table.schema) + " }"
    return sink.getvalue(), schema
