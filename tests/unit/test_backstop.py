"""The backstop's decisions without AWS: per bucket, whether a job starts, which, from what (S3 Inventory or a window
since the last run), and what is recorded. The adapters are the in-memory fakes of tests/fakes.py; the same runs on
fake AWS are in tests/integration/test_backstop.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from dsse_remediation.alerts import Alert, Alerts, Context
from dsse_remediation.batch.backfill import Backfill
from dsse_remediation.batch.backstop import LAST_RUN_KEY, Action, Backstop, BackstopRun
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.gate.safety import Finding, ReaderVerdict
from dsse_remediation.model import DSSE, Encryption, Failure
from dsse_remediation.scope import Scope
from tests.clock import PinnedClock
from tests.fakes import (
    FakeBatchJobs,
    FakeBucketStore,
    FakeInventoryStore,
    FakeReportFiles,
    FakeStorageMetrics,
    FixedGate,
    inventory_configuration,
)
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY, REGION, Wiring

ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:dsse-remediation-batch-task:live"
ROLE = "arn:aws:iam::123456789012:role/dsse-remediation-batch-job"
REPORTS = "example-dsse-reports"
BUCKET = "example-protected-bucket"
BATCH = {"task_function": ALIAS, "job_role_arn": ROLE, "report_bucket": REPORTS}
SSE_S3 = Encryption("AES256")
UNDER_THE_KEY = Encryption(DSSE, PLACEHOLDER_KEY)


@dataclass
class Published:
    """The alert topic: every alert published, or the error SNS answers with."""

    alerts: list[Alert] = field(default_factory=list)
    failure: AwsFailure | None = None

    def publish(self, alert: Alert) -> str:
        if self.failure is not None:
            raise self.failure
        self.alerts.append(alert)
        return "m-1"


@dataclass
class World:
    """A backstop on fakes: the account's buckets, their inventories, the report bucket, Batch Operations, the
    alert topic."""

    offline: Wiring
    clock: PinnedClock = field(default_factory=PinnedClock)
    buckets: FakeBucketStore = field(default_factory=FakeBucketStore)
    inventories: FakeInventoryStore = field(default_factory=FakeInventoryStore)
    files: FakeReportFiles = field(default_factory=FakeReportFiles)
    jobs: FakeBatchJobs = field(default_factory=FakeBatchJobs)
    published: Published = field(default_factory=Published)
    gate: FixedGate = field(default_factory=FixedGate)

    def backstop(self, **overrides: Any) -> Backstop:
        settings = self.offline.settings(**(BATCH | {"scope": Scope.parse("*", "example-excluded-*")} | overrides))
        alerts = Alerts(self.published, Context("remediate", ACCOUNT_ID, REGION, clock=self.clock))
        backfill = Backfill(
            settings,
            self.jobs,  # type: ignore[arg-type]
            self.inventories,  # type: ignore[arg-type]
            self.files,  # type: ignore[arg-type]
            FakeStorageMetrics(),  # type: ignore[arg-type]
            self.clock,
            lambda bucket: self.gate.verdict(bucket, "the key"),
        )
        return Backstop(settings, backfill, self.buckets, self.inventories, self.files, alerts, self.clock)  # type: ignore[arg-type]

    def run(self, dry_run: bool = False, **overrides: Any) -> BackstopRun:
        return self.backstop(**overrides).run(dry_run=dry_run)

    def ago(self, **delta: float) -> datetime:
        return self.clock.now - timedelta(**delta)

    def record(self, **runs: datetime) -> None:
        records = {bucket.replace("_", "-"): moment.isoformat() for bucket, moment in runs.items()}
        self.files.objects[f"{REPORTS}/{LAST_RUN_KEY}"] = records

    @property
    def last_runs(self) -> dict[str, str]:
        return dict(self.files.objects.get(f"{REPORTS}/{LAST_RUN_KEY}", {}))

    @property
    def filters(self) -> list[str]:
        """The encryption filter of each job created, in order (INVENTORY for a job over a written manifest)."""
        return [request["Description"].rsplit(" ", 1)[1] for request in self.jobs.created.values()]


@pytest.fixture
def world(offline: Wiring) -> World:
    return World(offline)


def only(run: BackstopRun, bucket: str = BUCKET) -> Any:
    [found] = [b for b in run.buckets if b.bucket == bucket]
    return found


# --- the reader-safety gate -----------------------------------------------------------------------------------------


def test_a_bucket_the_reader_safety_gate_holds_gets_no_job_no_read_and_no_record(world: World) -> None:
    world.buckets.add(BUCKET, ("new.csv", world.ago(minutes=5), SSE_S3))
    website = Finding("website-endpoint", "the bucket hosts a static website", "serve it through CloudFront", "")
    world.gate.verdicts[BUCKET] = ReaderVerdict(BUCKET, reasons=(website,))

    run = world.run()

    assert only(run).action is Action.HELD
    assert "the bucket hosts a static website" in only(run).reason
    assert world.jobs.created == {}
    assert world.buckets.listed == []  # held before any listing
    assert BUCKET not in world.last_runs  # looked at again on the next run


# --- the window -----------------------------------------------------------------------------------------------------


def test_a_bucket_without_writes_since_its_last_run_starts_no_job_and_is_recorded(world: World) -> None:
    world.buckets.add(BUCKET, ("old.csv", world.ago(days=3), SSE_S3))
    world.record(example_protected_bucket=world.ago(days=1))

    run = world.run()

    assert (only(run).action, only(run).source) == (Action.SKIPPED, "window")
    assert only(run).reason.startswith("no write since")
    assert world.jobs.created == {}
    assert world.buckets.headed == []
    assert world.last_runs[BUCKET] == world.clock.now.isoformat(timespec="seconds")


def test_without_a_record_the_window_opens_the_lookback_before_the_hour(world: World) -> None:
    world.buckets.add(BUCKET, ("new.csv", world.ago(minutes=5), SSE_S3))

    run = world.run(backstop_lookback_hours=25)

    expected = (world.clock.now - timedelta(hours=25)).replace(minute=0, second=0, microsecond=0)
    assert only(run).created_after == expected
    [request] = world.jobs.created.values()
    assert request["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"]["CreatedAfter"] == expected


def test_recent_writes_start_a_job_only_for_the_encryption_types_found_not_compliant(world: World) -> None:
    world.buckets.add(
        BUCKET,
        ("s3.csv", world.ago(hours=1), SSE_S3),
        ("kms.csv", world.ago(hours=1), Encryption("aws:kms", PLACEHOLDER_OTHER_KEY)),
        ("plain.csv", world.ago(hours=1), Encryption("none")),
        ("fixed.csv", world.ago(hours=1), UNDER_THE_KEY),
        ("dsse-other.csv", world.ago(hours=1), Encryption(DSSE, PLACEHOLDER_OTHER_KEY)),
    )

    run = world.run()

    assert only(run).action is Action.STARTED
    assert only(run).encryption_filters == ("NOTSSE", "SSES3", "SSEKMS", "DSSEKMS")
    assert world.filters == ["NOTSSE", "SSES3", "SSEKMS", "DSSEKMS"]


def test_writes_the_event_path_already_fixed_start_no_job(world: World) -> None:
    world.buckets.add(BUCKET, *((f"new-{n}.csv", world.ago(hours=1), UNDER_THE_KEY) for n in range(3)))

    run = world.run()

    assert only(run).action is Action.SKIPPED
    assert "3 object(s) written since" in only(run).reason
    assert world.jobs.created == {}
    assert BUCKET in world.last_runs


def test_deleted_and_sse_c_objects_need_no_job(world: World) -> None:
    world.buckets.add(
        BUCKET, ("gone.csv", world.ago(hours=1), None), ("c.bin", world.ago(hours=1), Encryption("SSE-C"))
    )

    assert only(world.run()).action is Action.SKIPPED
    assert world.jobs.created == {}


def test_dsse_objects_cannot_be_judged_against_a_key_configured_by_alias_and_are_let_be(world: World) -> None:
    world.buckets.add(BUCKET, ("dsse.csv", world.ago(hours=1), Encryption(DSSE, PLACEHOLDER_OTHER_KEY)))

    assert only(world.run(key="alias/dsse")).action is Action.SKIPPED


def test_a_listing_that_reaches_its_limit_starts_every_types_job_and_says_to_configure_inventory(world: World) -> None:
    world.buckets.add(BUCKET, *((f"old-{n}.csv", world.ago(days=9), UNDER_THE_KEY) for n in range(3)))
    world.record(example_protected_bucket=world.ago(days=1))

    run = world.run(backstop_listing_limit=2)

    assert only(run).action is Action.STARTED
    assert "configure S3 Inventory" in only(run).reason
    assert world.filters == ["NOTSSE", "SSES3", "SSEKMS"]
    assert world.buckets.headed == []


def test_more_recent_writes_than_can_be_read_one_by_one_start_every_types_job_unread(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dsse_remediation.batch.backstop.HEAD_LIMIT", 2)
    world.buckets.add(BUCKET, *((f"new-{n}.csv", world.ago(hours=1), UNDER_THE_KEY) for n in range(3)))

    run = world.run(backstop_include_dsse_other_keys=True)

    assert "more than 2 objects written since" in only(run).reason
    assert world.filters == ["NOTSSE", "SSES3", "SSEKMS", "DSSEKMS"]
    assert world.buckets.headed == []


# --- which buckets are looked at ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "region", "reason"),
    [
        (REPORTS, REGION, "the report bucket"),
        ("example-excluded-logs", REGION, "outside the protected buckets"),
        ("fast-data--use1-az4--x-s3", REGION, "a directory bucket"),
        ("example-eu-bucket", "eu-west-1", "in eu-west-1: a Batch Operations job runs in its bucket's Region"),
    ],
)
def test_buckets_that_are_not_ours_to_run_jobs_on_are_skipped_without_a_call(
    world: World, bucket: str, region: str, reason: str
) -> None:
    world.buckets.add(bucket, ("new.csv", world.ago(minutes=5), SSE_S3), region=region)

    run = world.run()

    assert only(run, bucket).action is Action.SKIPPED
    assert reason in only(run, bucket).reason
    assert world.buckets.listed == []
    assert world.inventories.configurations_of == {}


# --- the record, and a dry run --------------------------------------------------------------------------------------


def test_a_bucket_whose_jobs_could_not_be_created_is_not_recorded_and_the_others_are(world: World) -> None:
    world.buckets.add(BUCKET, ("new.csv", world.ago(hours=1), SSE_S3))
    world.buckets.add("example-idle-bucket")
    world.jobs.refuse = AwsFailure(Failure.TRANSIENT, "InternalError: try again")

    run = world.run()

    assert only(run).action is Action.FAILED
    assert run.failed == (only(run),)
    assert list(world.last_runs) == ["example-idle-bucket"]


def test_a_dry_run_says_what_would_start_and_creates_and_records_nothing(world: World) -> None:
    world.buckets.add(BUCKET, ("new.csv", world.ago(hours=1), SSE_S3))
    world.inventories.report("example-inventoried-bucket", [("a.csv", "SSE-S3")], world.ago(hours=3))
    world.buckets.add("example-inventoried-bucket")

    run = world.run(dry_run=True)

    assert (only(run).action, only(run).encryption_filters) == (Action.WOULD_START, ("SSES3",))
    assert only(run, "example-inventoried-bucket").action is Action.WOULD_START
    assert world.jobs.created == {}
    assert world.files.objects == {}


# --- S3 Inventory ---------------------------------------------------------------------------------------------------


def test_a_fresh_inventory_report_starts_one_job_over_its_rows_that_are_not_dsse(world: World) -> None:
    report = world.inventories.report(BUCKET, [("a.csv", "SSE-S3"), ("b.csv", "DSSE-KMS")], world.ago(hours=6))
    world.buckets.add(BUCKET)

    run = world.run()

    assert (only(run).action, only(run).source, only(run).inventory) == (
        Action.STARTED,
        "inventory",
        report.manifest_uri,
    )
    assert world.filters == ["INVENTORY"]
    [request] = world.jobs.created.values()
    manifest = request["Manifest"]["Location"]["ObjectArn"].split(":::", 1)[1]
    assert world.files.objects[manifest] == [[BUCKET, "a.csv"]]
    assert world.last_runs[BUCKET] == report.delivered.isoformat(timespec="seconds")  # the report's time, not the run's
    assert world.buckets.listed == []


def test_an_inventory_report_no_newer_than_the_last_one_covered_starts_no_job(world: World) -> None:
    world.inventories.report(BUCKET, [("a.csv", "SSE-S3")], world.ago(hours=6))
    world.buckets.add(BUCKET)
    world.record(example_protected_bucket=world.ago(hours=6))

    run = world.run()

    assert only(run).action is Action.SKIPPED
    assert "no newer than the last one covered" in only(run).reason
    assert world.jobs.created == {}


def test_the_newest_report_of_the_buckets_usable_configurations_is_the_one_read(world: World) -> None:
    weekly = inventory_configuration(BUCKET, id="weekly", frequency="Weekly")
    world.inventories.report(BUCKET, [("old.csv", "SSE-S3")], world.ago(days=2), weekly)
    newest = world.inventories.report(BUCKET, [("new.csv", "SSE-S3")], world.ago(hours=6))
    world.buckets.add(BUCKET)

    assert only(world.run()).inventory == newest.manifest_uri


@pytest.mark.parametrize(
    "change",
    [{"enabled": False}, {"format": "Parquet"}, {"fields": ("Size",)}, {"filtered": True}],
    ids=["disabled", "not-csv", "no-encryption-status", "part-of-the-bucket"],
)
def test_an_inventory_that_cannot_say_which_objects_to_fix_is_not_read(world: World, change: dict[str, Any]) -> None:
    world.inventories.report(
        BUCKET, [("a.csv", "SSE-S3")], world.ago(hours=6), inventory_configuration(BUCKET, **change)
    )
    world.buckets.add(BUCKET, ("a.csv", world.ago(hours=1), SSE_S3))

    run = world.run()

    assert (only(run).source, only(run).action, world.filters) == ("window", Action.STARTED, ["SSES3"])


def test_an_inventory_that_cannot_be_read_falls_back_to_the_window(world: World) -> None:
    world.inventories.report(BUCKET, [("a.csv", "SSE-S3")], world.ago(hours=6))
    world.inventories.failure = AwsFailure(Failure.DENIED, "AccessDenied: the destination is another account's")
    world.buckets.add(BUCKET, ("a.csv", world.ago(hours=1), SSE_S3))

    run = world.run()

    assert (only(run).source, only(run).action) == ("window", Action.STARTED)


def test_with_include_dsse_other_keys_an_inventory_job_covers_the_reports_dsse_rows_whatever_their_key(
    world: World,
) -> None:
    """S3 Inventory names no key: a DSSE-KMS row may be under another key (a write whose event was missed). With
    BACKSTOP_INCLUDE_DSSE_OTHER_KEYS its job takes them too; its tasks read each object's key (one HEAD each)."""
    rows = [("other-key.csv", "DSSE-KMS"), ("customer-key.bin", "SSE-C")]
    world.inventories.report(BUCKET, rows, world.ago(hours=6))
    world.buckets.add(BUCKET)

    without = world.run(dry_run=True)
    run = world.run(backstop_include_dsse_other_keys=True)

    assert only(without).reason.endswith("over its objects that are not DSSE-KMS, if it lists any")
    assert (only(run).action, only(run).source, world.filters) == (Action.STARTED, "inventory", ["INVENTORY"])
    assert "(and DSSE-KMS ones: it names no key)" in only(run).reason
    [request] = world.jobs.created.values()
    manifest = request["Manifest"]["Location"]["ObjectArn"].split(":::", 1)[1]
    assert world.files.objects[manifest] == [[BUCKET, "other-key.csv"]]  # never the SSE-C one


def test_without_include_dsse_other_keys_an_inventory_of_dsse_rows_only_starts_no_job(world: World) -> None:
    world.inventories.report(BUCKET, [("a.csv", "DSSE-KMS")], world.ago(hours=6))
    world.buckets.add(BUCKET)

    run = world.run()

    assert (only(run).action, only(run).source) == (Action.SKIPPED, "inventory")
    assert "lists no object that is not DSSE-KMS" in only(run).reason
    assert world.jobs.created == {}


# --- a stale inventory, and one that has delivered no report yet ----------------------------------------------------


def test_an_inventory_whose_reports_stopped_falls_back_to_the_window_and_one_alert_names_it(world: World) -> None:
    """Its newest report older than two days (Daily): every run would otherwise find no report newer than the last one
    covered and skip the bucket for good, silently."""
    report = world.inventories.report(BUCKET, [("a.csv", "SSE-S3")], world.ago(days=4))
    world.record(example_protected_bucket=report.delivered)
    world.buckets.add(BUCKET, ("b.csv", world.ago(days=1), SSE_S3))

    run = world.run()

    assert (only(run).source, only(run).action, world.filters) == ("window", Action.STARTED, ["SSES3"])
    assert only(run).created_after == report.delivered  # from where the inventory stopped covering the bucket
    assert "older than 2 of its periods: its reports stopped, the window instead" in only(run).reason
    [stale] = run.stale_inventories
    assert (stale.bucket, stale.configuration_id, stale.frequency, stale.newest_report) == (
        BUCKET,
        "daily",
        "Daily",
        report.delivered,
    )
    assert stale.destination == f"s3://example-inventories/inv/{BUCKET}/daily/"
    [alert] = world.published.alerts
    assert (alert.body["severity"], alert.body["outcome"], alert.body["resourceType"]) == (
        "high",
        "failed",
        "s3-inventory",
    )
    assert alert.body["resource"] == f"s3://{BUCKET}"
    assert alert.body["staleInventories"] == [
        {
            "bucket": BUCKET,
            "configurationId": "daily",
            "frequency": "Daily",
            "destination": stale.destination,
            "newestReport": report.delivered.isoformat(),
        }
    ]
    assert any("bucket policy" in check for check in alert.body["check"])
    assert alert.attributes == {
        "severity": "high",
        "outcome": "failed",
        "resourceType": "s3-inventory",
        "bucket": BUCKET,
    }
    assert stale.destination in alert.text_body
    assert run.answer()["staleInventories"] == alert.body["staleInventories"]
    assert run.alert_error is None


def test_a_fresh_inventory_report_is_used_and_no_alert_is_published(world: World) -> None:
    world.inventories.report(BUCKET, [("a.csv", "SSE-S3")], world.ago(hours=47))
    world.buckets.add(BUCKET)

    run = world.run()

    assert (only(run).source, only(run).action) == ("inventory", Action.STARTED)
    assert (run.stale_inventories, world.published.alerts, run.answer()["staleInventories"]) == ((), [], [])


def test_a_weekly_inventory_is_stale_after_two_weeks_not_two_days(world: World) -> None:
    weekly = inventory_configuration(BUCKET, id="weekly", frequency="Weekly")
    world.inventories.report(BUCKET, [("a.csv", "SSE-S3")], world.ago(days=13), weekly)
    world.inventories.report(
        "example-other-bucket",
        [("a.csv", "SSE-S3")],
        world.ago(days=15),
        inventory_configuration("example-other-bucket", id="weekly", frequency="Weekly"),
    )
    world.buckets.add(BUCKET)
    world.buckets.add("example-other-bucket")

    run = world.run()

    assert only(run).source == "inventory"
    assert [stale.bucket for stale in run.stale_inventories] == ["example-other-bucket"]
    assert len(world.published.alerts) == 1


def test_every_stale_bucket_is_named_in_the_runs_one_alert(world: World) -> None:
    for bucket in ("example-first-bucket", "example-second-bucket"):
        world.inventories.report(bucket, [("a.csv", "SSE-S3")], world.ago(days=3))
        world.buckets.add(bucket)

    run = world.run()

    [alert] = world.published.alerts
    assert [one["bucket"] for one in alert.body["staleInventories"]] == [
        "example-first-bucket",
        "example-second-bucket",
    ]
    assert alert.body["resource"] == "s3://example-first-bucket, s3://example-second-bucket"
    assert "bucket" not in alert.attributes
    assert len(run.stale_inventories) == 2


def test_a_dry_run_lists_the_stale_inventories_and_publishes_nothing(world: World) -> None:
    world.inventories.report(BUCKET, [("a.csv", "SSE-S3")], world.ago(days=3))
    world.buckets.add(BUCKET)

    run = world.run(dry_run=True)

    assert [stale.bucket for stale in run.stale_inventories] == [BUCKET]
    assert world.published.alerts == []


def test_a_lost_stale_inventory_alert_is_named_on_the_run(world: World) -> None:
    world.inventories.report(BUCKET, [("a.csv", "SSE-S3")], world.ago(days=3))
    world.buckets.add(BUCKET)
    world.published.failure = AwsFailure(Failure.TRANSIENT, "InternalError: SNS is down")

    run = world.run()

    assert run.alert_error is not None
    assert "SNS is down" in run.alert_error
    assert BUCKET in world.last_runs  # the window's run is recorded: a retry does not start its jobs twice


def test_an_inventory_that_has_delivered_no_report_yet_gets_the_window_and_no_alert(world: World) -> None:
    """S3 keeps no creation time for a configuration: a first report still to come (up to 48 hours) and a destination
    that never received one look the same. The window misses nothing meanwhile; the reason names the configuration."""
    world.inventories.configurations_of[BUCKET] = [inventory_configuration(BUCKET)]
    world.buckets.add(BUCKET, ("a.csv", world.ago(hours=1), SSE_S3))

    run = world.run()

    assert (only(run).source, only(run).action) == ("window", Action.STARTED)
    assert only(run).reason.startswith(
        f"S3 Inventory 'daily' (s3://example-inventories/inv/{BUCKET}/daily/) has delivered no report yet"
    )
    assert (run.stale_inventories, world.published.alerts) == ((), [])
