"""Posture through Athena: a report's grouped rows become the same figures the inventory survey gives, DSSE-KMS
rows are checked (all of them, or a sample with its Wilson interval), the SQL names the report's table and partition,
and the adapter polls, pages and fails as Athena documents (a scripted client; no AWS, no sleeping)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dsse_remediation.aws.athena import FIRST_POLL_SECONDS, MAX_POLL_SECONDS, AthenaQueries
from dsse_remediation.aws.s3_posture import HeadRead
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.model import DSSE, Encryption, Failure
from dsse_remediation.posture.athena_source import AthenaPosture, report_of, table_name
from dsse_remediation.posture.inventory import Manifest
from dsse_remediation.posture.sampling import wilson
from dsse_remediation.posture.states import State
from tests.athena_double import ScriptedQueries
from tests.clock import PINNED, PinnedClock
from tests.helpers import PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY

COLUMNS = (
    "Bucket",
    "Key",
    "VersionId",
    "IsLatest",
    "IsDeleteMarker",
    "Size",
    "EncryptionStatus",
    "ObjectLockRetainUntilDate",
)
REPORT_TIME = PINNED - timedelta(hours=8)
STAMP = REPORT_TIME.strftime("%Y-%m-%dT%H-%MZ")
DT = REPORT_TIME.strftime("%Y-%m-%d-%H-%M")
MANIFEST = Manifest(
    uri=f"s3://inventory-dest/reports/source-bucket/daily-all/{STAMP}/manifest.json",
    source_bucket="source-bucket",
    files_bucket="inventory-dest",
    file_format="CSV",
    columns=COLUMNS,
    files=(),
    created=None,
    folder_date=REPORT_TIME,
)
DDL = "CREATE EXTERNAL TABLE IF NOT EXISTS"
GROUPED = "GROUP BY"
SAMPLE = "ORDER BY rand()"
LARGEST = "ORDER BY CAST(size AS bigint) DESC"
LOCKED = "AS locked_until"


class Heads:
    """HeadObject answers by key: the key's DSSE key ARN (None: gone)."""

    def __init__(self, keys: Mapping[str, str | None]) -> None:
        self.keys = keys
        self.asked: list[tuple[str, str, str | None]] = []

    def __call__(self, bucket: str, key: str, version_id: str | None) -> HeadRead | None:
        self.asked.append((bucket, key, version_id))
        arn = self.keys[key]
        return None if arn is None else HeadRead(Encryption(DSSE, arn), None)


def posture(script: dict[str, Any], heads: Heads, sample: int = 1000) -> tuple[AthenaPosture, ScriptedQueries]:
    queries = ScriptedQueries(script)
    return AthenaPosture(queries, "dsse_posture", head=heads, sample=sample, clock=PinnedClock()), queries


def grouped(*rows: tuple[str, str, int, int]) -> list[list[str | None]]:
    return [["source-bucket", current, status, str(objects), str(size)] for current, status, objects, size in rows]


class TestWhereTheReportIs:
    def test_the_table_lies_over_the_configurations_hive_folder_and_the_query_names_the_reports_dt(self) -> None:
        report = report_of(MANIFEST)
        assert report.location == "s3://inventory-dest/reports/source-bucket/daily-all/hive/"
        assert report.config_id == "daily-all"
        assert report.dt == DT
        assert report.table.startswith("s3_inventory_source_bucket_daily_all_")

    def test_the_table_name_is_the_same_each_day_and_changes_with_the_schema(self) -> None:
        location = report_of(MANIFEST).location
        later = replace(MANIFEST, folder_date=REPORT_TIME + timedelta(days=1))
        assert table_name("source-bucket", "daily-all", later, location) == report_of(MANIFEST).table
        fewer = replace(MANIFEST, columns=COLUMNS[:-1])
        assert table_name("source-bucket", "daily-all", fewer, location) != report_of(MANIFEST).table

    def test_a_manifest_outside_s3s_layout_is_refused_before_any_query(self) -> None:
        moved = replace(MANIFEST, uri="s3://inventory-dest/copied/manifest.json")
        athena, queries = posture({}, Heads({}))
        with pytest.raises(InvalidRequest, match="not where S3 Inventory writes a manifest"):
            athena.bucket(moved, PLACEHOLDER_KEY)
        assert queries.sent == []

    def test_a_database_name_athena_would_need_quoted_is_refused(self) -> None:
        with pytest.raises(InvalidRequest):
            AthenaPosture(ScriptedQueries({}), "Posture-DB", head=Heads({}))


class TestFigures:
    def script(self) -> dict[str, Any]:
        return {
            GROUPED: grouped(
                ("true", "SSE-S3", 3, 300),
                ("true", "DSSE-KMS", 2, 250),
                ("false", "SSE-KMS", 2, 50),
                ("false", "NOT-SSE", 1, 7),
            ),
            SAMPLE: [["a%2Fkey+one", "v1", "200", "true"], ["b", "v2", "50", "true"]],
            LARGEST: [["big", "v9", "290", "true", "SSE-S3"], ["old", "v3", "40", "false", "SSE-KMS"]],
            LOCKED: [["1", "2027-01-01T00:00:00.000Z"]],
        }

    def test_grouped_rows_and_every_dsse_version_checked_give_exact_counts(self) -> None:
        heads = Heads({"a/key one": PLACEHOLDER_KEY, "b": PLACEHOLDER_OTHER_KEY})
        athena, queries = posture(self.script(), heads)
        answer = athena.bucket(MANIFEST, PLACEHOLDER_KEY).answer()
        assert answer["current"]["objects"] == {
            "dsse-key": 1,
            "dsse-other-key": 1,
            "sse-kms": 0,
            "sse-s3": 3,
            "sse-c": 0,
            "not-encrypted": 0,
        }
        assert answer["current"]["bytes"]["dsse-key"] == 200
        assert answer["current"]["bytes"]["dsse-other-key"] == 50
        assert answer["noncurrent"]["objects"]["sse-kms"] == 2
        assert answer["noncurrent"]["bytes"]["not-encrypted"] == 7
        assert answer["source"] == {
            "kind": "inventory",
            "inventoryDate": REPORT_TIME.isoformat().replace("+00:00", "Z"),
            "manifest": MANIFEST.uri,
            "sample": None,
            "noncurrentListed": True,
        }
        assert answer["compliant"] is False
        assert heads.asked == [("source-bucket", "a/key one", "v1"), ("source-bucket", "b", "v2")]
        assert all(database == "dsse_posture" for _, database in queries.sent)

    def test_the_noncurrent_debt_counts_non_dsse_versions_and_those_still_locked(self) -> None:
        athena, _ = posture(self.script(), Heads({"a/key one": PLACEHOLDER_KEY, "b": PLACEHOLDER_KEY}))
        debt = athena.bucket(MANIFEST, PLACEHOLDER_KEY).answer()["noncurrentDebt"]
        assert (debt["objects"], debt["bytes"], debt["lockedObjects"]) == (3, 57, 1)
        assert debt["lockedUntil"] == "2027-01-01T00:00:00Z"
        assert debt["lifecycleRule"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}

    def test_the_largest_versions_left_include_sampled_dsse_under_another_key(self) -> None:
        athena, _ = posture(self.script(), Heads({"a/key one": PLACEHOLDER_OTHER_KEY, "b": PLACEHOLDER_KEY}))
        largest = athena.bucket(MANIFEST, PLACEHOLDER_KEY).answer()["largestNotDsse"]
        assert [(entry["key"], entry["state"]) for entry in largest] == [
            ("big", "sse-s3"),
            ("a/key one", "dsse-other-key"),
            ("old", "sse-kms"),
        ]

    def test_the_sql_sends_the_ddl_once_per_table_and_queries_the_reports_partition(self) -> None:
        athena, queries = posture(self.script(), Heads({"a/key one": PLACEHOLDER_KEY, "b": PLACEHOLDER_KEY}))
        athena.bucket(MANIFEST, PLACEHOLDER_KEY)
        athena.bucket(MANIFEST, PLACEHOLDER_KEY)
        texts = [sql for sql, _ in queries.sent]
        ddl = [sql for sql in texts if sql.startswith(DDL)]
        assert len(ddl) == 1
        assert "LOCATION 's3://inventory-dest/reports/source-bucket/daily-all/hive/'" in ddl[0]
        assert "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'" in ddl[0]
        queried = [sql for sql in texts if not sql.startswith(DDL)]
        assert len(queried) == 8  # grouped, sample, locked, largest; twice
        assert all(f"WHERE dt = '{DT}'" in sql for sql in queried)
        locked = next(sql for sql in queried if LOCKED in sql)
        assert f"from_iso8601_timestamp('{PINNED.isoformat().replace('+00:00', 'Z')}')" in locked

    def test_a_report_without_dsse_or_debt_needs_only_the_grouped_and_largest_queries(self) -> None:
        athena, queries = posture({GROUPED: grouped(("true", "SSE-S3", 3, 300))}, Heads({}))
        athena.bucket(MANIFEST, PLACEHOLDER_KEY)
        sent = [sql for sql, _ in queries.sent]
        assert [marker for marker in (DDL, GROUPED, SAMPLE, LOCKED, LARGEST) if any(marker in s for s in sent)] == [
            DDL,
            GROUPED,
            LARGEST,
        ]

    def test_a_dsse_version_that_head_cannot_read_makes_the_bucket_an_error_not_a_silent_gap(self) -> None:
        def failing(bucket: str, key: str, version_id: str | None) -> HeadRead | None:
            raise AwsFailure(Failure.DENIED, "AccessDenied: no", "AccessDenied")

        athena = AthenaPosture(ScriptedQueries(self.script()), "dsse_posture", head=failing, clock=PinnedClock())
        found = athena.bucket(MANIFEST, PLACEHOLDER_KEY)
        assert found.error is not None
        assert "2 DSSE-KMS version(s) could not be read" in found.error
        assert found.compliant is False

    def test_a_failed_query_reaches_the_caller_as_its_athena_error(self) -> None:
        failure = AwsFailure(Failure.OTHER, "Athena query q1 FAILED: HIVE_BAD_DATA: bad row", "QueryFailed")
        athena, _ = posture({GROUPED: failure}, Heads({}))
        with pytest.raises(AwsFailure, match="HIVE_BAD_DATA"):
            athena.bucket(MANIFEST, PLACEHOLDER_KEY)


class TestSampling:
    def test_more_dsse_versions_than_the_sample_are_split_by_the_samples_shares_with_a_wilson_interval(self) -> None:
        keys = {f"k{n}": PLACEHOLDER_KEY if n < 7 else PLACEHOLDER_OTHER_KEY for n in range(10)}
        script = {
            GROUPED: grouped(("true", "DSSE-KMS", 1000, 1_000_000)),
            SAMPLE: [[key, f"v{n}", "100", "true"] for n, key in enumerate(keys)],
        }
        athena, queries = posture(script, Heads(keys), sample=10)
        found = athena.bucket(MANIFEST, PLACEHOLDER_KEY)
        assert found.estimate is not None
        assert (found.estimate.checked, found.estimate.population, found.estimate.under_key) == (10, 1000, 7)
        assert found.estimate.interval() == wilson(7, 10)
        assert found.tally.current.objects[State.DSSE_KEY] == 700
        assert found.tally.current.objects[State.DSSE_OTHER_KEY] == 300
        assert found.tally.current.bytes[State.DSSE_KEY] == 700_000
        assert found.compliant is False  # an estimate is never proof
        sample_sql = next(sql for sql, _ in queries.sent if SAMPLE in sql)
        assert "LIMIT 10;" in sample_sql
        assert "strpos(upper(encryption_status), 'DSSE') > 0" in sample_sql

    def test_a_sample_as_large_as_the_population_reads_every_dsse_version_exactly(self) -> None:
        script = {
            GROUPED: grouped(("true", "DSSE-KMS", 2, 20), ("false", "DSSE-KMS", 1, 5)),
            SAMPLE: [["a", "v1", "10", "true"], ["b", "v2", "10", "true"], ["c", "v0", "5", "false"]],
        }
        athena, _ = posture(script, Heads({"a": PLACEHOLDER_KEY, "b": PLACEHOLDER_KEY, "c": PLACEHOLDER_KEY}), 3)
        found = athena.bucket(MANIFEST, PLACEHOLDER_KEY)
        assert found.estimate is None
        assert found.compliant is True
        assert found.tally.noncurrent.objects[State.DSSE_KEY] == 1

    def test_a_sample_size_below_one_is_refused(self) -> None:
        with pytest.raises(InvalidRequest, match="positive integer"):
            AthenaPosture(ScriptedQueries({}), "dsse_posture", head=Heads({}), sample=0)


class ScriptedClient:
    """An Athena client whose GetQueryExecution walks through `states`, and whose results come in `pages`."""

    def __init__(self, states: list[dict[str, Any]], pages: list[dict[str, Any]]) -> None:
        self.states = states
        self.pages = pages
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def start_query_execution(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("start", request))
        return {"QueryExecutionId": "q1"}

    def get_query_execution(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("get", request))
        status = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"QueryExecution": {"Status": status, "Statistics": {"DataScannedInBytes": 12_000_000}}}

    def get_query_results(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("results", request))
        return self.pages.pop(0)

    def stop_query_execution(self, **request: Any) -> dict[str, Any]:
        self.requests.append(("stop", request))
        return {}


def page(rows: list[list[str | None]], token: str | None = None, labels: list[str] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "ResultSet": {
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in rows],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": name, "Label": name} for name in labels or ["a", "b"]]},
        }
    }
    if token:
        found["NextToken"] = token
    return found


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class TestAdapter:
    def test_a_query_is_polled_with_a_growing_bounded_wait_then_its_pages_read_without_the_header(self) -> None:
        states = [{"State": "QUEUED"}] + [{"State": "RUNNING"}] * 6 + [{"State": "SUCCEEDED"}]
        pages = [page([["a", "b"], ["1", None]], token="t2"), page([["2", "x"]])]
        client, time = ScriptedClient(states, pages), FakeTime()
        queries = AthenaQueries(client, "posture", sleep=time.sleep, clock=lambda: time.now, timeout=900)
        assert list(queries.run("SELECT 1", "dsse_posture")) == [["1", None], ["2", "x"]]
        assert time.slept == [FIRST_POLL_SECONDS, 1.0, 2.0, 4.0, MAX_POLL_SECONDS, MAX_POLL_SECONDS, MAX_POLL_SECONDS]
        start = client.requests[0][1]
        assert start == {
            "QueryString": "SELECT 1",
            "QueryExecutionContext": {"Database": "dsse_posture"},
            "WorkGroup": "posture",
        }
        results = [request for name, request in client.requests if name == "results"]
        assert results == [
            {"QueryExecutionId": "q1", "MaxResults": 1000},
            {"QueryExecutionId": "q1", "MaxResults": 1000, "NextToken": "t2"},
        ]
        assert queries.executions[0].scanned_bytes == 12_000_000

    def test_a_failed_query_raises_with_athenas_reason_and_reads_no_rows(self) -> None:
        failed = {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: line 1:15", "AthenaError": {}}
        client = ScriptedClient([failed], [])
        queries = AthenaQueries(client, "posture", sleep=FakeTime().sleep)
        with pytest.raises(AwsFailure, match="TABLE_NOT_FOUND: line 1:15") as raised:
            queries.run("SELECT 1", "dsse_posture")
        assert raised.value.failure is Failure.OTHER
        assert not [name for name, _ in client.requests if name == "results"]

    def test_a_failure_athena_calls_retryable_is_transient_and_a_cancelled_one_is_reported(self) -> None:
        retryable = {"State": "FAILED", "StateChangeReason": "throttled", "AthenaError": {"Retryable": True}}
        with pytest.raises(AwsFailure) as raised:
            AthenaQueries(ScriptedClient([retryable], []), "wg", sleep=FakeTime().sleep).execute("SELECT 1", "d")
        assert raised.value.failure is Failure.TRANSIENT
        with pytest.raises(AwsFailure, match="CANCELLED"):
            AthenaQueries(ScriptedClient([{"State": "CANCELLED"}], []), "wg", sleep=FakeTime().sleep).execute(
                "SELECT 1", "d"
            )

    def test_a_query_still_running_at_its_deadline_is_stopped_and_reported_out_of_time(self) -> None:
        client, time = ScriptedClient([{"State": "RUNNING"}], []), FakeTime()
        queries = AthenaQueries(client, "posture", sleep=time.sleep, clock=lambda: time.now)
        with pytest.raises(AwsFailure, match="stopped") as raised:
            queries.execute("SELECT 1", "dsse_posture", timeout=10)
        assert raised.value.failure is Failure.OUT_OF_TIME
        assert sum(time.slept) <= 10
        assert client.requests[-1] == ("stop", {"QueryExecutionId": "q1"})

    def test_an_aws_error_on_start_is_translated(self) -> None:
        class Denied(ScriptedClient):
            def start_query_execution(self, **request: Any) -> dict[str, Any]:
                error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
                raise ClientError(error, "StartQueryExecution")  # type: ignore[arg-type]

        with pytest.raises(AwsFailure) as raised:
            AthenaQueries(Denied([], []), "posture").execute("SELECT 1", "dsse_posture")
        assert raised.value.failure is Failure.DENIED

    def test_an_output_location_is_sent_only_when_given(self) -> None:
        client = ScriptedClient([{"State": "SUCCEEDED"}], [])
        AthenaQueries(client, "wg", output_location="s3://results/athena/").execute("SELECT 1", "d")
        assert client.requests[0][1]["ResultConfiguration"] == {"OutputLocation": "s3://results/athena/"}


def test_the_report_date_is_utc_whatever_the_folder_dates_zone() -> None:
    shifted = replace(MANIFEST, folder_date=REPORT_TIME.astimezone(UTC))
    assert report_of(shifted).dt == DT
    assert isinstance(REPORT_TIME, datetime)
