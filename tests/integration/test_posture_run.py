"""The scheduled posture (posture_run.py) on moto: each in-scope bucket measured from its newest S3 Inventory report,
the posture/v1 document and its HTML kept in the report bucket as a dated series and as posture/latest.json, the
summary forwarded to the security account (never published), a bucket without a usable inventory reported as not
measured, and a report too large for the time left handed to Athena (a fake AthenaSource) or reported as not
measured; then the batch jobs handler's {"posture": {}}: its answer, its metrics per bucket, and bad payloads.

The seeded buckets (sizes in bytes):
- posture-measured (versioned, inventoried): a.bin 10 SSE-S3 then 20 DSSE under the key (current); b.bin 30 DSSE under
  another key; c.bin 40 SSE-S3. Its report lists every version: current dsse-key 20, dsse-other-key 30, sse-s3 40;
  noncurrent sse-s3 10.
- posture-unmeasured: no inventory configuration.
The inventory destination and the report bucket are out of scope (EXCLUDED, and the report bucket always).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote_plus

import pytest

from dsse_remediation import posture_run
from dsse_remediation.alerts import Alert, Alerts, Context
from dsse_remediation.aws import clients
from dsse_remediation.config import Mode, PostureSettings
from dsse_remediation.deadline import Deadline
from dsse_remediation.posture.document import BucketPosture
from dsse_remediation.posture.inventory import Manifest
from dsse_remediation.posture.states import State
from dsse_remediation.posture.tally import BucketTally, Version
from dsse_remediation.posture_run import PostureRun, ScheduledPosture
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests.clock import PinnedClock
from tests.helpers import ACCOUNT_ID, REGION, Inbox, Wiring, invoke
from tests.integration.test_backstop import _inventory_optional_fields_as_a_list  # noqa: F401 (moto's OptionalFields)
from tests.lambda_context import LambdaContext, load_function

MEASURED = "posture-measured"
UNMEASURED = "posture-unmeasured"
DESTINATION = "posture-inventory-destination"
REPORT = "example-report-bucket"
SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus"
CREATED = datetime(2026, 11, 19, 1, tzinfo=UTC)  # when S3 began the report's listing (its creationTimestamp)
STAMP = f"{CREATED:%Y-%m-%dT%H-%MZ}"  # the report's folder
BIG = 10 * 1024**3  # a report of 10 GiB of data files: about 537 million rows, never read in one invocation


class Recorder:
    """An SNS publisher or an event forwarder that keeps what it is given."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def publish(self, alert: Alert) -> str:
        self.alerts.append(alert)
        return "sent"

    def forward(self, alert: Alert) -> str:
        self.alerts.append(alert)
        return "sent"


class FakeAthena:
    """The AthenaSource: answers every report it is given with one current dsse-key version of 1,000 bytes."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []
        self.deadlines: list[Deadline] = []

    def source(self, deadline: Deadline) -> FakeAthena:
        self.deadlines.append(deadline)
        return self

    def bucket(self, manifest: Manifest, key_arn: str) -> BucketPosture:
        self.asked.append((manifest.source_bucket, key_arn, manifest.uri))
        tally = BucketTally(datetime.now(UTC))
        tally.add(Version("athena.bin", None, 1000, True), State.DSSE_KEY)
        return BucketPosture(manifest.source_bucket, key_arn, "inventory", tally, manifest.date, manifest.uri)


def seconds_left(seconds: float) -> Deadline:
    return Deadline(capacity=seconds, left=lambda: seconds)


def report_rows(s3: Any) -> list[list[str]]:
    """The measured bucket's versions as S3 Inventory lists them (keys URL-encoded)."""
    status = {"a.bin": "SSE-S3", "b.bin": "DSSE-KMS", "c.bin": "SSE-S3"}
    found = []
    for version in s3.list_object_versions(Bucket=MEASURED)["Versions"]:
        key, latest = version["Key"], version["IsLatest"]
        encryption = "DSSE-KMS" if key == "a.bin" and latest else status[key]
        found.append(
            [
                MEASURED,
                quote_plus(key),
                version["VersionId"],
                str(latest).lower(),
                "false",
                str(version["Size"]),
                encryption,
            ]
        )
    return found


PARQUET_SCHEMA = (
    "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id "
    "(UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional binary "
    "encryption_status (UTF8); }"
)


def deliver(s3: Any, rows: list[list[str]], listed_size: int | None = None, file_format: str = "CSV") -> str:
    """The report as S3 delivers it: a gzipped CSV data file and manifest.json under <source>/<id>/<stamp>/."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    body = gzip.compress(text.getvalue().encode())
    data_key = f"{MEASURED}/all-versions/data/one.csv.gz"
    s3.put_object(Bucket=DESTINATION, Key=data_key, Body=body)
    manifest = {
        "sourceBucket": MEASURED,
        "destinationBucket": f"arn:aws:s3:::{DESTINATION}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(CREATED.timestamp() * 1000)),
        "fileFormat": file_format,
        "fileSchema": SCHEMA if file_format == "CSV" else PARQUET_SCHEMA,
        "files": [{"key": data_key, "size": listed_size or len(body), "MD5checksum": hashlib.md5(body).hexdigest()}],
    }
    key = f"{MEASURED}/all-versions/{STAMP}/manifest.json"
    s3.put_object(Bucket=DESTINATION, Key=key, Body=json.dumps(manifest).encode())
    return f"s3://{DESTINATION}/{key}"


@pytest.fixture
def estate(s3: Any, dsse_key: str, other_key: str) -> dict[str, str]:
    for name in (MEASURED, UNMEASURED, DESTINATION, REPORT):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=MEASURED, VersioningConfiguration={"Status": "Enabled"})
    dsse = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": dsse_key}
    s3.put_object(Bucket=MEASURED, Key="a.bin", Body=b"x" * 10)
    s3.put_object(Bucket=MEASURED, Key="a.bin", Body=b"x" * 20, **dsse)
    s3.put_object(
        Bucket=MEASURED, Key="b.bin", Body=b"x" * 30, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=other_key
    )
    s3.put_object(Bucket=MEASURED, Key="c.bin", Body=b"x" * 40)
    s3.put_object(Bucket=UNMEASURED, Key="d.bin", Body=b"x" * 50)
    s3.put_bucket_inventory_configuration(
        Bucket=MEASURED,
        Id="all-versions",
        InventoryConfiguration={
            "Id": "all-versions",
            "IsEnabled": True,
            "IncludedObjectVersions": "All",
            "OptionalFields": ["Size", "EncryptionStatus"],
            "Schedule": {"Frequency": "Daily"},
            "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{DESTINATION}", "Format": "CSV"}},
        },
    )
    return {"manifest": deliver(s3, report_rows(s3))}


@pytest.fixture
def make_posture(
    estate: dict[str, str], wiring: Wiring, clock: PinnedClock
) -> Callable[..., tuple[ScheduledPosture, Recorder, Recorder]]:
    """The scheduled posture on fake AWS, with recording publisher and forwarder: (posture, published, forwarded)."""

    def make(
        athena: FakeAthena | None = None, mode: Mode = Mode.REMEDIATE, **posture: Any
    ) -> tuple[ScheduledPosture, Recorder, Recorder]:
        settings = wiring.settings(
            scope=Scope(("*",), (DESTINATION,)), report_bucket=REPORT, forward_results=True, mode=mode
        )
        settings = replace(settings, posture=PostureSettings(**posture))
        app = App(settings, wiring.client, clock=clock)
        published, forwarded = Recorder(), Recorder()
        context = Context(mode="remediate", account=ACCOUNT_ID, region=REGION, clock=clock)
        app.__dict__["alerts"] = Alerts(published, context, None, forwarded)
        app.__dict__["posture_athena"] = athena.source if athena else None
        return app.posture, published, forwarded

    return make


def stored(s3: Any, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=REPORT, Key=key)["Body"].read()
    return body


def entry(run: PostureRun, bucket: str) -> dict[str, Any]:
    (found,) = [item for item in run.document["buckets"] if item["bucket"] == bucket]
    return found


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


class TestTheRun:
    def test_a_bucket_with_an_inventory_is_counted_from_its_report_to_the_object_and_the_byte(
        self, make_posture: Any, estate: dict[str, str]
    ) -> None:
        posture, _, _ = make_posture()

        run = posture.run(seconds_left(800))

        measured = entry(run, MEASURED)
        assert measured["error"] is None
        assert measured["source"]["kind"] == "inventory"
        assert measured["source"]["manifest"] == estate["manifest"]
        assert measured["source"]["inventoryDate"] == "2026-11-19T01:00:00Z"
        assert measured["current"]["bytes"] | {} == {
            "dsse-key": 20,
            "dsse-other-key": 30,
            "sse-kms": 0,
            "sse-s3": 40,
            "sse-c": 0,
            "not-encrypted": 0,
        }
        assert measured["noncurrent"]["bytes"]["sse-s3"] == 10
        assert measured["source"]["sample"]["checked"] == measured["source"]["sample"]["population"] == 2
        assert [(f.bucket, f.percent_bytes, f.bytes_not_dsse) for f in run.figures] == [
            (MEASURED, round(100 * 20 / 100, 4), 80)
        ]

    def test_the_document_and_its_html_are_kept_at_dated_keys_and_as_latest(
        self, make_posture: Any, s3: Any, clock: PinnedClock
    ) -> None:
        posture, _, _ = make_posture()

        run = posture.run(seconds_left(800), generated_by="arn:aws:lambda:us-east-1:123456789012:function:jobs")

        stamp = clock.now.strftime("%Y/%m/%d/posture-%H%M%SZ")
        assert (run.document_key, run.html_key) == (f"posture/{stamp}.json", f"posture/{stamp}.html")
        dated = json.loads(stored(s3, run.document_key))
        assert dated == run.document
        assert json.loads(stored(s3, "posture/latest.json")) == dated
        assert dated["schema"] == "dsse-remediation.posture/v1"
        assert dated["generatedAt"] == clock.now.isoformat().replace("+00:00", "Z")
        assert dated["generatedBy"].endswith(":function:jobs")
        html = s3.get_object(Bucket=REPORT, Key=run.html_key)
        assert html["ContentType"].startswith("text/html")
        page = Page()
        page.feed(html["Body"].read().decode())
        assert "svg" in page.tags
        assert MEASURED in " ".join(page.text)
        assert UNMEASURED in " ".join(page.text)

    def test_the_report_bucket_and_buckets_out_of_scope_are_not_measured_at_all(self, make_posture: Any) -> None:
        posture, _, _ = make_posture()

        run = posture.run(seconds_left(800))

        assert [item["bucket"] for item in run.document["buckets"]] == [MEASURED, UNMEASURED]

    def test_a_bucket_without_an_inventory_is_reported_unmeasured_with_how_to_measure_it(
        self, make_posture: Any
    ) -> None:
        posture, _, _ = make_posture()

        run = posture.run(seconds_left(800))

        unmeasured = entry(run, UNMEASURED)
        assert unmeasured["error"].startswith("not measured: s3://posture-unmeasured has no S3 Inventory configuration")
        assert "EncryptionStatus" in unmeasured["error"]
        assert f"dsse-remediate posture s3://{UNMEASURED}" in unmeasured["error"]
        assert unmeasured["compliant"] is False
        assert sum(unmeasured["current"]["objects"].values()) == 0  # nothing listed by the stack
        assert UNMEASURED not in [figure.bucket for figure in run.figures]
        assert run.answer()["buckets"][1] == {
            "bucket": UNMEASURED,
            "percentDsseUnderKey": None,
            "source": "inventory",
            "inventoryDate": None,
            "error": unmeasured["error"],
        }

    def test_an_inventory_without_encryption_status_is_not_usable(self, make_posture: Any, s3: Any) -> None:
        s3.put_bucket_inventory_configuration(
            Bucket=UNMEASURED,
            Id="current",
            InventoryConfiguration={
                "Id": "current",
                "IsEnabled": True,
                "IncludedObjectVersions": "All",
                "OptionalFields": ["Size"],
                "Schedule": {"Frequency": "Daily"},
                "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{DESTINATION}", "Format": "CSV"}},
            },
        )
        posture, _, _ = make_posture()

        run = posture.run(seconds_left(800))

        assert "has no usable S3 Inventory configuration" in entry(run, UNMEASURED)["error"]

    def test_an_alert_only_deployment_keeps_its_record_too_in_its_own_report_bucket(
        self, make_posture: Any, s3: Any
    ) -> None:
        """Alert-only changes no protected bucket; the report bucket is the stack's own record store (the backstop's
        record and manifests are written there in that mode too), and a measurement is what such a deployment is
        for."""
        posture, _, forwarded = make_posture(mode=Mode.ALERT_ONLY)

        run = posture.run(seconds_left(800))

        assert json.loads(stored(s3, "posture/latest.json")) == run.document
        versions = s3.list_object_versions(Bucket=MEASURED)["Versions"]
        assert sorted(v["Key"] for v in versions) == ["a.bin", "a.bin", "b.bin", "c.bin"]  # no version written
        assert len(forwarded.alerts) == 1

    def test_the_summary_is_forwarded_to_the_security_account_never_published(self, make_posture: Any) -> None:
        posture, published, forwarded = make_posture()

        run = posture.run(seconds_left(800))

        assert published.alerts == []
        [summary] = forwarded.alerts
        body = summary.body  # type: ignore[attr-defined]
        assert body["resourceType"] == "posture"
        assert body["severity"] == "info"
        assert body["report"] == run.location == f"s3://{REPORT}/{run.document_key}"
        assert body["posture"]["unmeasured"] == [UNMEASURED]
        assert run.alert_error is None


class TestTime:
    def test_a_report_too_large_for_the_time_left_is_handed_to_athena(
        self, make_posture: Any, s3: Any, dsse_key: str
    ) -> None:
        manifest = deliver(s3, report_rows(s3), listed_size=BIG)
        athena = FakeAthena()
        posture, _, _ = make_posture(athena)

        run = posture.run(seconds_left(800))

        assert athena.asked == [(MEASURED, dsse_key, manifest)]
        assert [deadline.remaining() for deadline in athena.deadlines] == [
            800
        ]  # the invocation's own        assert run.athena == (MEASURED,)
        assert entry(run, MEASURED)["current"]["bytes"]["dsse-key"] == 1000
        assert run.answer()["athena"] == [MEASURED]

    def test_without_athena_a_report_too_large_is_reported_unmeasured_with_the_command_that_reads_it(
        self, make_posture: Any, s3: Any
    ) -> None:
        manifest = deliver(s3, report_rows(s3), listed_size=BIG)
        posture, _, _ = make_posture()

        run = posture.run(seconds_left(800))

        error = entry(run, MEASURED)["error"]
        assert "too large for one invocation" in error
        assert f"--from-inventory {manifest}" in error
        assert run.figures == []

    def test_a_columnar_report_is_counted_by_athena_where_pyarrow_is_missing(
        self, make_posture: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(posture_run, "columnar_readable", lambda: False)
        manifest = deliver(s3, report_rows(s3), file_format="Parquet")
        athena = FakeAthena()
        posture, _, _ = make_posture(athena)

        run = posture.run(seconds_left(800))

        assert athena.asked[0][2] == manifest
        assert run.athena == (MEASURED,)

    def test_without_athena_a_columnar_report_says_why_it_was_not_measured(
        self, make_posture: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(posture_run, "columnar_readable", lambda: False)
        deliver(s3, report_rows(s3), file_format="Parquet")
        posture, _, _ = make_posture()

        run = posture.run(seconds_left(800))

        assert "is Parquet, which the stack reads with Athena only" in entry(run, MEASURED)["error"]

    def test_athena_is_not_started_when_too_little_time_is_left_for_its_query(self, make_posture: Any, s3: Any) -> None:
        deliver(s3, report_rows(s3), listed_size=BIG)
        athena = FakeAthena()
        posture, _, _ = make_posture(athena)

        run = posture.run(seconds_left(30))

        assert athena.asked == []
        assert "the next run measures it" in entry(run, MEASURED)["error"]

    def test_a_read_that_runs_over_its_estimate_is_stopped_and_its_figures_dropped(
        self, make_posture: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(posture_run, "ROWS_PER_CHECK", 1)
        posture, _, _ = make_posture()
        context = LambdaContext(timeout_seconds=800)
        opened = posture.data_files.open

        def slow_open(bucket: str, key: str) -> Any:
            context.clock.advance(797)  # the data file took all but 3 s: less than the run needs to finish
            return opened(bucket, key)

        posture.data_files = type("Slow", (), {"open": staticmethod(slow_open)})()

        run = posture.run(Deadline.of(context, margin=0))

        measured = entry(run, MEASURED)
        assert measured["error"].startswith("not measured: the invocation's time ran out after 1 rows")
        assert sum(measured["current"]["objects"].values()) == 0
        assert run.figures == []


# --- the handler --------------------------------------------------------------------------------------------------


@pytest.fixture
def function(
    estate: dict[str, str], monkeypatch: pytest.MonkeyPatch, dsse_key: str, inbox: Inbox, wiring: Wiring
) -> Any:
    for name, value in {
        "DSSE_KMS_KEY": dsse_key,
        "ALERT_TOPIC_ARN": inbox.topic_arn,
        "ACCOUNT_ID": ACCOUNT_ID,
        "EXCLUDED_BUCKETS": DESTINATION,
        "REPORT_BUCKET": REPORT,
        "POSTURE_SAMPLE_SIZE": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(clients, "client", wiring.client)
    return load_function("batch_jobs")


def metric_sets(out: str) -> list[dict[str, Any]]:
    found = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            found.append(json.loads(line))
    return found


class TestTheHandler:
    def test_posture_answers_the_documents_location_and_each_buckets_percent(
        self, function: Any, inbox: Inbox, s3: Any
    ) -> None:
        answer = invoke(function, {"posture": {}}, LambdaContext(timeout_seconds=900))["posture"]

        assert answer["document"].startswith(f"s3://{REPORT}/posture/")
        assert answer["latest"] == f"s3://{REPORT}/posture/latest.json"
        assert [(b["bucket"], b["percentDsseUnderKey"] is None) for b in answer["buckets"]] == [
            (MEASURED, False),
            (UNMEASURED, True),
        ]
        assert set(answer["buckets"][0]["percentDsseUnderKey"]) == {"objects", "bytes"}
        assert inbox.messages() == []  # a measurement: nothing on the team's topic
        key = answer["document"].removeprefix(f"s3://{REPORT}/")
        assert json.loads(s3.get_object(Bucket=REPORT, Key=key)["Body"].read())["buckets"][0]["bucket"] == MEASURED

    def test_posture_emits_its_two_metrics_per_measured_bucket_with_a_bucket_dimension(
        self, function: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()

        invoke(function, {"posture": {}}, LambdaContext(timeout_seconds=900))

        found = {}
        for metric_set in metric_sets(capsys.readouterr().out):
            (directive,) = metric_set["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]:
                if metric["Name"] in ("PercentDsseUnderKey", "BytesNotDsse"):
                    assert directive["Dimensions"] == [["Bucket", "service"]]
                    assert directive["Namespace"] == function.metrics.namespace  # the other metrics' namespace
                    found[(metric["Name"], metric_set["Bucket"])] = (metric["Unit"], metric_set[metric["Name"]])
        assert set(found) == {("PercentDsseUnderKey", MEASURED), ("BytesNotDsse", MEASURED)}
        assert found[("PercentDsseUnderKey", MEASURED)][0] == "Percent"
        assert found[("BytesNotDsse", MEASURED)][0] == "Bytes"

    @pytest.mark.parametrize(
        "event",
        [{"posture": {"dryRun": True}}, {"posture": []}, {"posture": None}, {"posture": {}, "now": True}],
        ids=["a field", "a list", "null", "another field beside it"],
    )
    def test_a_malformed_posture_request_is_refused_and_writes_nothing(
        self, function: Any, event: dict[str, Any], s3: Any
    ) -> None:
        answer = invoke(function, event)

        assert answer["results"] == []
        assert answer["error"]["type"] == "InvalidEvent"
        assert "posture" in answer["error"]["message"]
        assert s3.list_objects_v2(Bucket=REPORT).get("KeyCount") == 0


def test_a_run_is_dated_by_its_start_not_its_end(make_posture: Any, clock: PinnedClock) -> None:
    posture, _, _ = make_posture()
    start = clock.now
    posture.head = _advancing(posture.head, clock)

    run = posture.run(seconds_left(800))

    assert run.document["generatedAt"] == start.isoformat().replace("+00:00", "Z")


def _advancing(head: Any, clock: PinnedClock) -> Any:
    def read(bucket: str, key: str, version: str | None) -> Any:
        clock.advance(timedelta(seconds=1))
        return head(bucket, key, version)

    return read
