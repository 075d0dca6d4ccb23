"""The scheduled backstop: Batch Operations jobs for the writes whose events never arrived, only where there are any.

CloudTrail → EventBridge delivery is best effort, so a periodic pass must look again; but a job costs $0.25 plus $1.00
per million objects, and a four-jobs-per-bucket daily run over 1,000 buckets would cost about $1,000 a day in job
fees alone. So each run decides per bucket (owned by this account, in the protected scope, in this Region; not the
report bucket) whether there is anything to do, and an idle estate starts no job:

1. S3 Inventory, where the bucket has a usable one (CSV, EncryptionStatus field, whole bucket, enabled): its newest
   report, when newer than the one last covered, is filtered to the objects that are not DSSE-KMS
   (`Backfill.from_inventory`); none → no job; else one job over that manifest. The report's own time (its folder,
   when the listing was taken) is recorded as the bucket's last run: a report delivered hours after its listing
   began is still newer than the one before it, and a bucket whose inventory is later removed gets a window from
   the last listing on.
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
alert-only deployment are dry runs. A dry run of the backstop starts nothing and writes nothing (not even
last-run.json): its answer lists what would start.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import errors
from ..aws.batch_jobs import bucket_name
from ..config import Settings, is_key_arn
from ..exceptions import AwsFailure, ConfigError, InvalidRequest
from ..model import Clock, Failure, utc_now
from ..scope import is_directory_bucket
from .backfill import Backfill, plan

log = logging.getLogger(__name__)

LAST_RUN_KEY = "backstop/last-run.json"
# S3 Inventory delivers each report under <prefix>/<source bucket>/<config id>/<YYYY-MM-DDTHH-MMZ>/manifest.json.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html
_REPORT_FOLDER = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)/$")
_REPORT_TRIES = 3  # newest report folders tried for a manifest.json (the newest may still be being written)
_PAGE = 1000
HEAD_LIMIT = 1000  # recent writes read one by one ($0.0004 per 1,000 HEADs); beyond, every type's job starts
# HeadObject's x-amz-server-side-encryption → the manifest generator's encryption filter (no header: NOTSSE).
_FILTERS = {None: "NOTSSE", "AES256": "SSES3", "aws:kms": "SSEKMS", "aws:kms:dsse": "DSSEKMS"}


class Action(StrEnum):
    STARTED = "started"
    WOULD_START = "would-start"  # a dry run of the backstop
    SKIPPED = "skipped"  # nothing to do, or not ours to do
    FAILED = "failed"  # an AWS error: looked at again on the next run (its last run is not recorded)


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


@dataclass(frozen=True)
class BackstopRun:
    time: datetime
    campaign: str
    dry_run: bool
    buckets: tuple[BucketRun, ...] = ()

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(job for bucket in self.buckets for job in bucket.job_ids)

    @property
    def failed(self) -> tuple[BucketRun, ...]:
        return tuple(bucket for bucket in self.buckets if bucket.action is Action.FAILED)


@dataclass(frozen=True)
class InventoryReport:
    manifest_uri: str
    delivered: datetime  # the report folder's time


class Backstop:
    def __init__(self, settings: Settings, backfill: Backfill, s3: Any, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.backfill = backfill
        self.store = BackstopStore(s3, settings.account_id)
        self.clock = clock

    def run(self, *, dry_run: bool = False) -> BackstopRun:
        report_bucket = self.settings.report_bucket
        if not report_bucket:
            raise ConfigError("REPORT_BUCKET is not set: the backstop keeps each bucket's last run there")
        now = self.clock().astimezone(UTC)
        campaign = f"backstop-{now:%Y-%m-%d}"
        records = self.store.last_runs(report_bucket)
        recorded = dict(records)
        results = []
        for bucket, region in self.store.owned_buckets():
            skip = self._not_ours(bucket, region)
            if skip:
                results.append(BucketRun(bucket, Action.SKIPPED, skip))
                continue
            try:
                result = self._bucket(bucket, _parse_time(records.get(bucket)), now, campaign, dry_run)
            except (AwsFailure, InvalidRequest) as exc:
                log.error("backstop failed for a bucket", extra={"bucket": bucket, "error": str(exc)})
                result = BucketRun(bucket, Action.FAILED, f"{type(exc).__name__}: {exc}")
            results.append(result)
            if dry_run or result.action is Action.FAILED:
                continue
            recorded[bucket] = (result.covered or now).isoformat(timespec="seconds")
            if result.job_ids:  # the record follows the jobs: a run cut short after this keeps them recorded
                self.store.save_last_runs(report_bucket, recorded)
                records = dict(recorded)
        if not dry_run and recorded != records:
            self.store.save_last_runs(report_bucket, recorded)
        return BackstopRun(time=now, campaign=campaign, dry_run=dry_run, buckets=tuple(results))

    def _not_ours(self, bucket: str, region: str | None) -> str | None:
        if bucket == self.settings.report_bucket:  # its own writes (reports, last-run.json) would start jobs daily
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
        inventory = self.store.latest_inventory(bucket)
        if inventory is not None:
            try:
                return self._from_inventory(bucket, inventory, last_run, campaign, dry_run)
            except InvalidRequest as exc:  # a report delivered before the EncryptionStatus field was added, ...
                log.warning("inventory unusable: listing instead", extra={"bucket": bucket, "error": str(exc)})
        return self._window(bucket, last_run, now, campaign, dry_run)

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
        if last_run is not None and inventory.delivered <= last_run:
            reason = (
                f"the S3 Inventory report of {delivered} is no newer than the last one covered ({last_run.isoformat()})"
            )
            return BucketRun(bucket, Action.SKIPPED, reason, **(found | {"covered": last_run}))
        if dry_run:  # from_inventory writes the filtered manifest: a dry run only says what it would read
            reason = (
                f"would read the S3 Inventory report of {delivered} and start one job over its objects that are not "
                "DSSE-KMS, if it lists any"
            )
            return BucketRun(bucket, Action.WOULD_START, reason, encryption_filters=("INVENTORY",), **found)
        spec = self.backfill.from_inventory(inventory.manifest_uri, campaign=campaign)  # alert-only: Backfill.dry_run
        if spec is None:
            reason = f"the S3 Inventory report of {delivered} lists no object that is not DSSE-KMS"
            return BucketRun(bucket, Action.SKIPPED, reason, **found)
        job = self.backfill.start(spec)
        reason = f"the S3 Inventory report of {delivered} lists objects that are not DSSE-KMS: one job over them"
        return BucketRun(bucket, Action.STARTED, reason, encryption_filters=(spec.encryption,), job_ids=(job,), **found)

    def _window(self, bucket: str, last_run: datetime | None, now: datetime, campaign: str, dry_run: bool) -> BucketRun:
        # No record: a lookback from the hour, so a retried run asks for the same window (the same request tokens).
        since = last_run or (now - timedelta(hours=self.settings.backstop_lookback_hours)).replace(
            minute=0, second=0, microsecond=0
        )
        limit = self.settings.backstop_listing_limit
        written, listed = self.store.written_since(bucket, since, limit, HEAD_LIMIT + 1)
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
            include_dsse_other_keys=self.settings.backstop_include_dsse_other_keys or "DSSEKMS" in (needed or ()),
            created_after=since,
            priority=self.settings.batch_job_priority,
        )
        specs = [spec for spec in specs if needed is None or spec.encryption in needed]
        filters = tuple(spec.encryption for spec in specs)
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
            algorithm, key_id = self.store.encryption(bucket, key)
            if algorithm == "gone" or algorithm == "SSE-C":
                continue
            if algorithm == "aws:kms:dsse" and (key_id == expected or not is_key_arn(expected)):
                continue  # compliant (a key configured by alias cannot be compared: its DSSE objects are let be)
            needed.add(_FILTERS.get(algorithm, "NOTSSE"))
        return needed


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class BackstopStore:
    """The S3 calls of the backstop (the adapter part of this module): errors arrive as AwsFailure."""

    def __init__(self, client: Any, account_id: str | None) -> None:
        self._client = client
        self._owner = {"ExpectedBucketOwner": account_id} if account_id else {}

    @errors.translated
    def owned_buckets(self) -> list[tuple[str, str | None]]:
        """(name, Region or None) of every general purpose bucket this account owns (ListBuckets), by name.

        ListBuckets answers each bucket's BucketRegion only to a request with a parameter: MaxBuckets is sent.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html"""
        found = []
        for page in self._client.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": _PAGE}):
            found += [(b["Name"], b.get("BucketRegion")) for b in page.get("Buckets", [])]
        return sorted(found)

    @errors.translated
    def last_runs(self, report_bucket: str) -> dict[str, str]:
        try:
            body = self._client.get_object(Bucket=report_bucket, Key=LAST_RUN_KEY, **self._owner)["Body"].read()
        except ClientError as exc:
            if errors.classify(exc) is Failure.GONE:
                return {}
            raise
        try:
            parsed = json.loads(body)
        except ValueError:
            log.warning("backstop/last-run.json is not JSON: every bucket gets the lookback window")
            return {}
        return {k: v for k, v in parsed.items() if isinstance(v, str)} if isinstance(parsed, dict) else {}

    @errors.translated
    def save_last_runs(self, report_bucket: str, records: Mapping[str, str]) -> None:
        body = json.dumps(dict(sorted(records.items())), indent=1).encode()
        self._client.put_object(
            Bucket=report_bucket, Key=LAST_RUN_KEY, Body=body, ContentType="application/json", **self._owner
        )

    @errors.translated
    def written_since(self, bucket: str, since: datetime, limit: int, most: int) -> tuple[list[str], int]:
        """(up to `most` keys written after `since`; how many keys were listed), listing at most `limit` keys."""
        listed, written = 0, list[str]()
        for obj in self._objects(bucket, limit):
            listed += 1
            if obj["LastModified"] > since and len(written) < most:
                written.append(str(obj["Key"]))
        return written, listed

    def encryption(self, bucket: str, key: str) -> tuple[str | None, str | None]:
        """(x-amz-server-side-encryption or None, the KMS key id) of the current object; ("gone", None) when it was
        deleted since the listing, ("SSE-C", None) for HeadObject's bare 400 (an SSE-C object without its key)."""
        try:
            head = self._client.head_object(Bucket=bucket, Key=key, **self._owner)
        except ClientError as exc:
            found = errors.classify(exc)
            if found is Failure.GONE:
                return "gone", None
            if found is Failure.BAD_REQUEST:
                return "SSE-C", None
            raise errors.failure(exc) from exc
        except BotoCoreError as exc:
            raise errors.failure(exc) from exc
        return head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")

    def _objects(self, bucket: str, limit: int) -> Iterator[Mapping[str, Any]]:
        token: dict[str, str] = {}
        remaining = limit
        while remaining > 0:
            page = self._client.list_objects_v2(Bucket=bucket, MaxKeys=min(_PAGE, remaining), **token, **self._owner)
            contents = page.get("Contents", [])
            yield from contents
            remaining -= len(contents)
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def latest_inventory(self, bucket: str) -> InventoryReport | None:
        """The newest report of the bucket's usable S3 Inventory configurations, or None (then the window is used:
        no configuration, none usable, or its reports cannot be read)."""
        try:
            return self._latest_inventory(bucket)
        except AwsFailure as exc:
            log.warning("S3 Inventory not readable: listing instead", extra={"bucket": bucket, "error": str(exc)})
            return None

    @errors.translated
    def _latest_inventory(self, bucket: str) -> InventoryReport | None:
        reports = [self._newest_report(bucket, config) for config in self._usable_configurations(bucket)]
        found = [report for report in reports if report is not None]
        return max(found, key=lambda report: report.delivered) if found else None

    def _usable_configurations(self, bucket: str) -> Iterator[Mapping[str, Any]]:
        """Enabled CSV inventories of the whole bucket (no Filter) with the EncryptionStatus field."""
        token: dict[str, str] = {}
        while True:
            page = self._client.list_bucket_inventory_configurations(Bucket=bucket, **token, **self._owner)
            for config in page.get("InventoryConfigurationList", []):
                destination = config.get("Destination", {}).get("S3BucketDestination", {})
                if (
                    config.get("IsEnabled")
                    and destination.get("Format") == "CSV"
                    and "EncryptionStatus" in (config.get("OptionalFields") or [])
                    and not config.get("Filter")
                ):
                    yield config
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def _newest_report(self, bucket: str, config: Mapping[str, Any]) -> InventoryReport | None:
        destination = config["Destination"]["S3BucketDestination"]
        target = bucket_name(str(destination["Bucket"]))
        prefix = str(destination.get("Prefix") or "").strip("/")
        folder = f"{prefix}/{bucket}/{config['Id']}/" if prefix else f"{bucket}/{config['Id']}/"
        stamps = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=target, Prefix=folder, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                match = _REPORT_FOLDER.search(common["Prefix"])
                if match:
                    stamps.append(match[1])
        for stamp in sorted(stamps, reverse=True)[:_REPORT_TRIES]:
            key = f"{folder}{stamp}/manifest.json"
            if self._exists(target, key):
                delivered = datetime.strptime(stamp, "%Y-%m-%dT%H-%MZ").replace(tzinfo=UTC)
                return InventoryReport(f"s3://{target}/{key}", delivered)
        return None

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if errors.classify(exc) is Failure.GONE:
                return False
            raise
        return True
