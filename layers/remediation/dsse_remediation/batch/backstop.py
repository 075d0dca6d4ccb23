"""The scheduled backstop: Batch Operations jobs for the writes whose events never arrived, only where there are any.

CloudTrail → EventBridge delivery is best effort, so a periodic pass must look again; but a job costs $0.25 plus $1.00
per million objects, and a four-jobs-per-bucket daily run over 1,000 buckets would cost about $1,000 a day in job
fees alone. So each run decides per bucket (owned by this account, in the protected scope, in this Region; not the
report bucket) whether there is anything to do, and an idle estate starts no job:

1. S3 Inventory, where the bucket has a usable one (CSV, EncryptionStatus field, whole bucket, enabled): its newest
   report, when newer than the one last covered, is filtered to the objects that are not DSSE-KMS
   (`Backfill.from_inventory`), and with BACKSTOP_INCLUDE_DSSE_OTHER_KEYS the DSSE-KMS ones too (S3 Inventory names
   no key: an object DSSE under another key is told apart only by its task's HeadObject); none → no job; else one
   job over that manifest. The report's own time (its folder,
   when the listing was taken) is recorded as the bucket's last run: a report delivered hours after its listing
   began is still newer than the one before it, and a bucket whose inventory is later removed gets a window from
   the last listing on. A stale inventory (its newest report older than two of its periods: Daily 48 hours,
   Weekly 14 days) has stopped delivering (its destination's policy changed, the destination is gone, ...): the
   bucket gets the window instead, and the run publishes one alert (resourceType `s3-inventory`, severity high)
   naming each such bucket, its configuration and destination, and what to check. Without it every run would find
   "no report newer than the last one covered" and look at the bucket no more, silently. A usable configuration
   that has delivered no report yet gets the window too, with no alert: S3 keeps no creation time for a
   configuration, so a first report still to come (up to 48 hours) cannot be told from one that never will, and
   the window misses nothing meanwhile; the bucket's reason names the configuration, for a person to check one
   that stays so.
2. Otherwise a `CreatedAfter` window since the bucket's last run (`backstop/last-run.json` in the report bucket; no
   record: BACKSTOP_LOOKBACK_HOURS back). The bucket is listed, up to BACKSTOP_LISTING_LIMIT keys, for the objects
   written after the window opened, and each of them (up to HEAD_LIMIT) is read with HeadObject: jobs start only for
   the encryption types found not compliant. An active bucket whose writes the event path already fixed (their copies
   are DSSE under the key) starts no job; none written → no job. A listing that reaches the limit, or more recent
   writes than HEAD_LIMIT, cannot tell, so the window's jobs start anyway (and the answer says to configure S3
   Inventory for buckets that large).

A bucket's last run is recorded only once its jobs were created (a bucket with nothing to do is recorded at once): a
run cut short, or a bucket that failed, is looked at again with the same window, and Batch Operations'
ClientRequestToken (campaign, bucket, type, window) keeps a job asked twice from starting twice. Jobs of an
alert-only deployment are dry runs. A dry run of the backstop starts nothing, writes nothing (not even
last-run.json) and publishes no alert: its answer lists what would start, and the stale inventories.

This module decides; the adapters call AWS: BucketStore (the account's buckets, a bucket's recent writes and their
encryption), InventoryStore (S3 Inventory configurations and reports), ReportFiles (last-run.json).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ..alerts import Alerts, Context, TextAlert, envelope, subject
from ..aws.report_files import ReportFiles
from ..aws.s3_buckets import BucketStore
from ..aws.s3_inventory import InventoryConfiguration, InventoryReport, InventoryStore
from ..config import Settings, is_key_arn
from ..exceptions import AwsFailure, ConfigError, Held, InvalidRequest
from ..model import DSSE, Clock, Failure, Outcome, answer, utc_now
from ..scope import is_directory_bucket
from .backfill import Backfill
from .requests import DSSE_FILTER, INVENTORY_FILTER, encryption_filter_of, plan

log = logging.getLogger(__name__)

LAST_RUN_KEY = "backstop/last-run.json"
HEAD_LIMIT = 1000  # recent writes read one by one ($0.0004 per 1,000 HEADs); beyond, every type's job starts
# S3 Inventory delivers a report daily or weekly (the configuration's Schedule.Frequency); a newest report older than
# STALE_PERIODS of them means deliveries stopped. https://docs.aws.amazon.com/AmazonS3/latest/API/API_InventorySchedule.html
PERIODS = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}
STALE_PERIODS = 2
# Why reports stop arriving, and where to look: S3 writes them with its service principal, under the destination's
# bucket policy, in the source bucket's Region. https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketInventoryConfiguration.html
CHECKS = (
    "the configuration still exists and is enabled (GetBucketInventoryConfiguration)",
    "the destination bucket still exists, in the source bucket's Region",
    "the destination's bucket policy still lets the S3 service (s3.amazonaws.com) PutObject under the destination "
    "prefix for the source bucket and account (aws:SourceArn, aws:SourceAccount)",
    "a KMS key that encrypts the reports still lets S3 use it",
)


class Action(StrEnum):
    STARTED = "started"
    WOULD_START = "would-start"  # a dry run of the backstop
    SKIPPED = "skipped"  # nothing to do, or not ours to do
    FAILED = "failed"  # an AWS error: looked at again on the next run (its last run is not recorded)
    HELD = "held"  # the reader-safety gate holds the bucket: no job; looked at again on the next run


@dataclass(frozen=True)
class BucketRun:
    """What the run did for one bucket, and why."""

    bucket: str
    action: Action
    reason: str
    source: str | None = None  # "inventory" | "window"
    created_after: datetime | None = None  # the window's start (window jobs)
    inventory: str | None = None  # the S3 Inventory manifest.json used
    encryption_filters: tuple[str, ...] = ()  # one job each (INVENTORY: one job over the inventory's manifest)
    job_ids: tuple[str, ...] = ()
    covered: datetime | None = None  # what is recorded as its last run: the inventory's time (None: the run's)
    stale_inventory: StaleInventory | None = None  # its inventory stopped delivering: the window was used instead


@dataclass(frozen=True)
class StaleInventory:
    """An S3 Inventory configuration whose newest report is older than STALE_PERIODS of its frequency."""

    bucket: str
    configuration_id: str
    frequency: str
    destination: str  # where its reports are delivered: s3://<bucket>/<prefix>/<source bucket>/<id>/
    newest_report: datetime

    @property
    def text(self) -> str:
        return (
            f"s3://{self.bucket}: S3 Inventory {self.configuration_id!r} ({self.frequency}), newest report "
            f"{self.newest_report:%Y-%m-%d %H:%M}Z in {self.destination}"
        )


@dataclass(frozen=True)
class BackstopRun:
    time: datetime
    campaign: str
    dry_run: bool
    buckets: tuple[BucketRun, ...] = ()
    alert_error: str | None = None  # the stale inventories' alert could not be delivered

    @property
    def stale_inventories(self) -> tuple[StaleInventory, ...]:
        return tuple(bucket.stale_inventory for bucket in self.buckets if bucket.stale_inventory is not None)

    def answer(self) -> dict[str, Any]:
        """The batch jobs function's answer: every bucket's, and the stale inventories at the top."""
        return {**answer(self), "staleInventories": answer(self.stale_inventories)}

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(job for bucket in self.buckets for job in bucket.job_ids)

    @property
    def failed(self) -> tuple[BucketRun, ...]:
        return tuple(bucket for bucket in self.buckets if bucket.action is Action.FAILED)


class Backstop:
    def __init__(
        self,
        settings: Settings,
        backfill: Backfill,
        buckets: BucketStore,
        inventories: InventoryStore,
        files: ReportFiles,
        alerts: Alerts,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.backfill = backfill
        self.buckets = buckets
        self.inventories = inventories
        self.files = files
        self.alerts = alerts
        self.clock = clock

    def run(self, *, dry_run: bool = False) -> BackstopRun:
        report_bucket = self.settings.batch.report_bucket
        if not report_bucket:
            raise ConfigError("REPORT_BUCKET is not set: the backstop keeps each bucket's last run there")
        now = self.clock().astimezone(UTC)
        campaign = f"backstop-{now:%Y-%m-%d}"
        records = self._last_runs(report_bucket)
        recorded = dict(records)
        results = []
        for bucket, region in self.buckets.owned_buckets():
            skip = self._not_ours(bucket, region)
            if skip:
                results.append(BucketRun(bucket, Action.SKIPPED, skip))
                continue
            try:
                result = self._bucket(bucket, _parse_time(records.get(bucket)), now, campaign, dry_run)
            except Held as exc:
                result = BucketRun(bucket, Action.HELD, str(exc))
            except (AwsFailure, InvalidRequest) as exc:
                log.error("backstop failed for a bucket", extra={"bucket": bucket, "error": str(exc)})
                result = BucketRun(bucket, Action.FAILED, f"{type(exc).__name__}: {exc}")
            results.append(result)
            if dry_run or result.action in (Action.FAILED, Action.HELD):
                continue
            recorded[bucket] = (result.covered or now).isoformat(timespec="seconds")
            if result.job_ids:  # the record follows the jobs: a run cut short after this keeps them recorded
                self._save_last_runs(report_bucket, recorded)
                records = dict(recorded)
        if not dry_run and recorded != records:
            self._save_last_runs(report_bucket, recorded)
        run = BackstopRun(time=now, campaign=campaign, dry_run=dry_run, buckets=tuple(results))
        if run.stale_inventories and not dry_run:
            run = replace(run, alert_error=self.alerts.publish(stale_alert(run, self.alerts.context)))
        return run

    def _last_runs(self, report_bucket: str) -> dict[str, str]:
        """Each bucket's last run (ISO time), from backstop/last-run.json; none recorded yet, or unreadable: {}."""
        try:
            parsed = self.files.read_json(report_bucket, LAST_RUN_KEY)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:
                return {}
            raise
        except ValueError:
            log.warning("backstop/last-run.json is not JSON: every bucket gets the lookback window")
            return {}
        return {k: v for k, v in parsed.items() if isinstance(v, str)} if isinstance(parsed, dict) else {}

    def _save_last_runs(self, report_bucket: str, records: dict[str, str]) -> None:
        self.files.write_json(report_bucket, LAST_RUN_KEY, dict(sorted(records.items())))

    def _not_ours(self, bucket: str, region: str | None) -> str | None:
        # The report bucket's own writes (reports, last-run.json) would start jobs daily.
        if bucket == self.settings.batch.report_bucket:
            return "the report bucket: written by the product itself (DSSE-KMS by default)"
        if not self.settings.scope.contains(bucket):
            return f"outside the protected buckets ({self.settings.scope.describe()})"
        if is_directory_bucket(bucket):
            return "a directory bucket: it cannot hold DSSE-KMS objects"
        here = self.settings.region
        if region and here and region != here:
            return f"in {region}: a Batch Operations job runs in its bucket's Region, this backstop in {here}"
        return None

    def _bucket(self, bucket: str, last_run: datetime | None, now: datetime, campaign: str, dry_run: bool) -> BucketRun:
        if why := self.backfill.held(bucket):  # before any listing: a held bucket gets no job at all
            return BucketRun(bucket, Action.HELD, f"held, no job: converting it would break its readers; {why}")
        inventory, note = self._newest_report(bucket)
        stale = _stale(inventory, now) if inventory is not None else None
        if inventory is not None and stale is None:
            try:
                return self._from_inventory(bucket, inventory, last_run, campaign, dry_run)
            except Held:
                raise
            except InvalidRequest as exc:  # a report delivered before the EncryptionStatus field was added, ...
                log.warning("inventory unusable: listing instead", extra={"bucket": bucket, "error": str(exc)})
        if stale is not None:
            log.warning("S3 Inventory stale: listing instead", extra={"bucket": bucket, "inventory": stale.text})
            note = f"{stale.text} is older than {STALE_PERIODS} of its periods: its reports stopped, the window instead"
        window = self._window(bucket, last_run, now, campaign, dry_run)
        return replace(window, reason=f"{note}; {window.reason}", stale_inventory=stale) if note else window

    def _from_inventory(
        self, bucket: str, inventory: InventoryReport, last_run: datetime | None, campaign: str, dry_run: bool
    ) -> BucketRun:
        # An inventory covers the bucket up to its own time, not the run's: that is what is recorded.
        found: dict[str, Any] = {
            "source": "inventory",
            "inventory": inventory.manifest_uri,
            "covered": inventory.delivered,
        }
        delivered = f"{inventory.delivered:%Y-%m-%d %H:%M}Z"
        # S3 Inventory names no key: with BACKSTOP_INCLUDE_DSSE_OTHER_KEYS its DSSE-KMS rows go to the job too, whose
        # task function reads each one's key (one HEAD each), as the window's DSSEKMS job does.
        dsse = self.settings.batch.backstop_include_dsse_other_keys
        what = "objects that are not DSSE-KMS" + (" (and DSSE-KMS ones: it names no key)" if dsse else "")
        if last_run is not None and inventory.delivered <= last_run:
            reason = (
                f"the S3 Inventory report of {delivered} is no newer than the last one covered ({last_run.isoformat()})"
            )
            return BucketRun(bucket, Action.SKIPPED, reason, **(found | {"covered": last_run}))
        if dry_run:  # from_inventory writes the filtered manifest: a dry run only says what it would read
            reason = (
                f"would read the S3 Inventory report of {delivered} and start one job over its {what}, if it lists any"
            )
            return BucketRun(bucket, Action.WOULD_START, reason, encryption_filters=(INVENTORY_FILTER,), **found)
        spec = self.backfill.from_inventory(  # alert-only: the job is a dry run (Backfill.dry_run)
            inventory.manifest_uri, campaign=campaign, include_dsse_other_keys=dsse
        )
        if spec is None:
            none = "object a job must read" if dsse else "object that is not DSSE-KMS"
            reason = f"the S3 Inventory report of {delivered} lists no {none}"
            return BucketRun(bucket, Action.SKIPPED, reason, **found)
        job = self.backfill.start(spec)
        reason = f"the S3 Inventory report of {delivered} lists {what}: one job over them"
        return BucketRun(
            bucket, Action.STARTED, reason, encryption_filters=(spec.encryption_filter,), job_ids=(job,), **found
        )

    def _window(self, bucket: str, last_run: datetime | None, now: datetime, campaign: str, dry_run: bool) -> BucketRun:
        # No record: a lookback from the hour, so a retried run asks for the same window (the same request tokens).
        batch = self.settings.batch
        since = last_run or (now - timedelta(hours=batch.backstop_lookback_hours)).replace(
            minute=0, second=0, microsecond=0
        )
        limit = batch.backstop_listing_limit
        written, listed = self.buckets.written_since(bucket, since, limit, HEAD_LIMIT + 1)
        complete = listed < limit
        if not written and complete:
            return BucketRun(
                bucket, Action.SKIPPED, f"no write since {since.isoformat()} ({listed:,} objects listed)",
                source="window", created_after=since,
            )  # fmt: skip
        needed: set[str] | None = None  # None: every type (the listing or the reads could not tell)
        if not complete:
            why = (
                f"listed {listed:,} objects (BACKSTOP_LISTING_LIMIT) without seeing the whole bucket, so the "
                "window's jobs start anyway; configure S3 Inventory (CSV, with the EncryptionStatus field) for "
                "buckets this large, so the backstop knows without listing"
            )
        elif len(written) > HEAD_LIMIT:
            why = f"more than {HEAD_LIMIT:,} objects written since {since.isoformat()}: the window's jobs start"
        else:
            needed = self._not_compliant(bucket, written)
            if not needed:
                reason = (
                    f"{len(written):,} object(s) written since {since.isoformat()}, every one DSSE-KMS under its key "
                    "(the event path fixed them): no job"
                )
                return BucketRun(bucket, Action.SKIPPED, reason, source="window", created_after=since)
            why = (
                f"{len(written):,} object(s) written since {since.isoformat()}, some not DSSE-KMS under the key "
                f"({', '.join(sorted(needed))})"
            )
        specs = plan(
            bucket,
            campaign=campaign,
            include_dsse_other_keys=batch.backstop_include_dsse_other_keys or DSSE_FILTER in (needed or ()),
            created_after=since,
            priority=batch.job_priority,
        )
        specs = [spec for spec in specs if needed is None or spec.encryption_filter in needed]
        filters = tuple(spec.encryption_filter for spec in specs)
        found: dict[str, Any] = {"source": "window", "created_after": since, "encryption_filters": filters}
        if dry_run:
            return BucketRun(bucket, Action.WOULD_START, f"{why}: would start {len(specs)} job(s)", **found)
        jobs = tuple(self.backfill.start(spec) for spec in specs)
        return BucketRun(bucket, Action.STARTED, f"{why}: started {len(jobs)} job(s)", job_ids=jobs, **found)

    def _not_compliant(self, bucket: str, keys: list[str]) -> set[str]:
        """The encryption filters of the objects among `keys` that are not DSSE-KMS under the bucket's key. Gone
        objects and SSE-C ones (HeadObject 400: no job can re-encrypt them) need none."""
        expected = self.settings.key_for(bucket)
        needed = set()
        for key in keys:
            found = self.buckets.object_encryption(bucket, key)
            if found is None or found.algorithm == "SSE-C":
                continue
            if found.algorithm == DSSE and (found.kms_key_id == expected or not is_key_arn(expected)):
                continue  # compliant (a key configured by alias cannot be compared: its DSSE objects are let be)
            needed.add(encryption_filter_of(found.algorithm))
        return needed

    def _newest_report(self, bucket: str) -> tuple[InventoryReport | None, str | None]:
        """The newest report of the bucket's usable S3 Inventory configurations; or None (then the window is used:
        no configuration, none usable, none delivered yet, or its reports cannot be read) and, for the last two, a
        note on the window's reason."""
        try:
            usable = [config for config in self.inventories.configurations(bucket) if _usable(config)]
            reports = [report for report in map(self.inventories.newest_report, usable) if report is not None]
        except AwsFailure as exc:
            log.warning("S3 Inventory not readable: listing instead", extra={"bucket": bucket, "error": str(exc)})
            return None, None
        if reports:
            return max(reports, key=lambda report: report.delivered), None
        if usable:  # a first report still to come, or a destination S3 never could write to: not told apart
            where = ", ".join(f"{config.id!r} ({config.location})" for config in usable)
            return None, f"S3 Inventory {where} has delivered no report yet (the first can take 48 hours)"
        return None, None


def _stale(report: InventoryReport, now: datetime) -> StaleInventory | None:
    """The report's configuration when the report is older than STALE_PERIODS of its frequency (an unknown frequency
    counts as Weekly: no alert before two weeks)."""
    config = report.configuration
    if now - report.delivered <= STALE_PERIODS * PERIODS.get(config.frequency, PERIODS["Weekly"]):
        return None
    return StaleInventory(config.bucket, config.id, config.frequency, config.location, report.delivered)


def stale_alert(run: BackstopRun, context: Context) -> TextAlert:
    """One alert for the run's stale inventories (resourceType s3-inventory, severity high): each bucket, its
    configuration and destination, and what to check. The window covered those buckets meanwhile."""
    stale = run.stale_inventories
    buckets = [f"s3://{one.bucket}" for one in stale]
    reason = (
        f"S3 Inventory reports stopped arriving for {len(stale)} bucket(s): the backstop listed them instead "
        "(a CreatedAfter window) and will until a new report arrives"
    )
    head = envelope(
        context,
        severity="high",
        outcome=Outcome.FAILED,
        resource_type="s3-inventory",
        resource=", ".join(buckets),
        dry_run=run.dry_run,
        reason=reason,
    )
    body = {**head, "campaign": run.campaign, "staleInventories": answer(stale), "check": list(CHECKS)}
    text = "\n".join(
        [reason + ":", "", *(f"  {one.text}" for one in stale), "", "Check, for each:", *(f"  - {c}" for c in CHECKS)]
    )
    attributes = {"severity": "high", "outcome": Outcome.FAILED.value, "resourceType": "s3-inventory"}
    if len(stale) == 1:
        attributes["bucket"] = stale[0].bucket
    title = "DSSE-KMS backstop: S3 Inventory reports stopped"
    return TextAlert(subject=subject(title, ", ".join(buckets)), body=body, attributes=attributes, text=text)


def _usable(config: InventoryConfiguration) -> bool:
    """An inventory that says which objects to fix: enabled, CSV, of the whole bucket (no Filter), with the
    EncryptionStatus field."""
    return config.enabled and config.format == "CSV" and "EncryptionStatus" in config.fields and not config.filtered


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
