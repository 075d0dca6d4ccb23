"""`dsse-remediate posture`: per bucket, objects and bytes by encryption state (DSSE under the key or not), current
and noncurrent versions, from a scan (ListObjectVersions + HeadObject per version) or an S3 Inventory report.

The buckets: those named (s3://BUCKET ...), or `--all`: the in-scope general purpose buckets of the account in the
Region, the report bucket excepted, as `coverage` chooses them. The source, per bucket: `--from-inventory` (one
bucket), else with `--source auto` (the default) the newest report of the bucket's own inventory configuration when
one is usable (enabled, whole bucket, all versions, with EncryptionStatus), else a scan. Read-only: nothing is written
to AWS; `--report` (and `--html`) files are written only once the survey has ended. Exit 0 when every version in
scope is DSSE under the key, 1 otherwise or when a bucket could not be read (or a sample leaves it uncertain), 2 usage.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..aws.s3_inventory import InventoryConfiguration, InventoryStore
from ..aws.s3_posture import PostureReader
from ..batch.inventory import parse_s3_uri
from ..coverage_check import buckets_in_scope
from ..exceptions import AwsFailure, InvalidRequest
from ..findings import partition_of
from ..model import Clock, Failure, utc_now
from ..posture.document import CSV_FIELDS, BucketPosture, Estate, csv_rows, iso, text
from ..posture.inventory import Manifest, Row, report_rows
from ..posture.survey import Survey, posture_of
from ..posture.tally import BucketTally
from ..scope import BUCKET_NAME_RULES, is_valid_bucket_name
from ..wiring import App
from .arguments import EXIT_OK, PROG, UsageError
from .console import Console
from .pool import Tally, run_pool
from .session import connect, load_settings

RngFactory = Callable[[str], random.Random]
PROGRESS_ROWS = 10_000  # the progress line is considered once per this many inventory rows


def default_rng(bucket: str) -> random.Random:
    return random.Random()


def parse_buckets(args: argparse.Namespace) -> list[str]:
    """The named buckets (s3://BUCKET, no key), checked before any call."""
    names = []
    for uri in args.buckets:
        if not uri.startswith("s3://"):
            raise UsageError(f"{uri!r} is not an S3 URI: expected s3://bucket")
        name, _, key = uri.removeprefix("s3://").partition("/")
        if key:
            raise UsageError(f"{uri}: posture surveys whole buckets: give s3://{name}")
        if not is_valid_bucket_name(name):
            raise UsageError(f"{uri!r}: {name!r} is not a valid S3 bucket name ({BUCKET_NAME_RULES})")
        names.append(name)
    if args.all and names:
        raise UsageError("give s3://BUCKET ... or --all, not both")
    if args.from_inventory:
        if args.all or len(names) > 1:
            raise UsageError("--from-inventory reads one bucket's report: give at most that one bucket")
        if args.source == "scan":
            raise UsageError("--from-inventory and --source scan contradict each other")
        try:
            parse_s3_uri(args.from_inventory)
        except InvalidRequest as exc:
            raise UsageError(str(exc)) from None
    elif not args.all and not names:
        raise UsageError("name the buckets (s3://BUCKET ...), or --all, or --from-inventory s3://.../manifest.json")
    if args.athena_sql and args.source == "scan":
        raise UsageError("--athena-sql queries an inventory report: not with --source scan")
    if args.sample and args.source == "scan":
        raise UsageError("--sample applies to an inventory's DSSE-KMS rows: not with --source scan")
    return list(dict.fromkeys(names))


class Posture:
    """One run: the App's readers, the pool, the progress line."""

    def __init__(self, args: argparse.Namespace, app: App, console: Console, rng: RngFactory) -> None:
        self.args = args
        self.app = app
        self.console = console
        self.rng = rng
        owner = app.settings.account_id
        self.reader = PostureReader(app.object_store, owner)
        self.inventories = InventoryStore(app.client("s3"), owner)
        self._label = ""
        self._read = 0  # HeadObject answers, over the run
        self._rows = 0  # inventory rows read, over the run
        self._drawn = 0.0

    def parallel(self, items: Iterable[Any], work: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
        def counted(result: Any) -> None:
            done(result)
            self._read += 1
            self._progress()

        batch = run_pool(
            items,
            work,
            failed=lambda item, exc: (item, exc),
            concurrency=self.args.concurrency,
            on_done=counted,
            tally=Tally(),
            thread_name=PROG,
        )
        if batch.interrupted:
            raise KeyboardInterrupt

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._drawn < self.console.REDRAW_SECONDS:
            return
        self._drawn = now
        elapsed = max(now - self.console.started, 1e-9)
        rows = f"{self._rows:,} inventory rows ({self._rows / elapsed:,.0f}/s), " if self._rows else ""
        self.console.draw([f"{self._label}: {rows}{self._read:,} HeadObject ({self._read / elapsed:,.1f}/s)"])

    def bucket(self, name: str, manifest_uri: str | None) -> BucketPosture:
        settings = self.app.settings
        key_arn = self.app.keys.arn(settings.key_for(name))
        self._label = f"s3://{name}"
        survey = Survey(name, key_arn, self.reader.head, self.parallel, self.app.clock())
        try:
            if manifest_uri is None and self.args.source != "scan":
                manifest_uri = self.newest_report(name)
            if manifest_uri is None:
                survey.scan(self.reader.versions(name))
                return posture_of(survey, "scan")
            manifest = self.manifest(manifest_uri)
            if manifest.source_bucket != name:
                raise InvalidRequest(f"{manifest_uri} is the inventory of s3://{manifest.source_bucket}, not of {name}")
            survey.inventory(manifest, self.rows(manifest), self.args.sample, self.rng(name))
            return posture_of(survey, "inventory", manifest)
        except (AwsFailure, InvalidRequest, ValueError) as exc:
            kind = "inventory" if manifest_uri else "scan"
            empty = BucketTally(self.app.clock())  # figures read before the error are dropped, never half-reported
            return BucketPosture(name, key_arn, kind, empty, manifest=manifest_uri, error=str(exc))

    def newest_report(self, bucket: str, required: bool = False) -> str | None:
        """The manifest of the newest report of a usable inventory configuration of the bucket; None: scan it (or,
        with --source inventory, an error)."""
        try:
            configurations = self.inventories.configurations(bucket)
        except AwsFailure as exc:
            if required or self.args.source == "inventory":
                raise
            self.console.notice(f"s3://{bucket}: its inventory configurations could not be read ({exc}): scanning")
            return None
        usable = [config for config in configurations if _usable(config)]
        required = required or self.args.source == "inventory"
        if configurations and not usable and not required:
            self.console.notice(
                f"s3://{bucket}: no inventory configuration usable for posture (enabled, whole bucket, all versions, "
                "with the Encryption field): scanning"
            )
        for config in usable:
            report = self.inventories.newest_report(config)
            if report is not None:
                return report.manifest_uri
        if required:
            raise InvalidRequest(
                f"s3://{bucket} has no usable S3 Inventory report (an enabled configuration of the whole bucket, "
                "all versions, with the Encryption field, that has delivered a report): use --source scan"
            )
        return None

    def manifest(self, uri: str) -> Manifest:
        bucket, key = parse_s3_uri(uri)
        try:
            document = self.inventories.manifest(bucket, key)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:
                raise InvalidRequest(f"no inventory manifest at {uri}") from None
            raise
        return Manifest.parse(document, uri, bucket)

    def rows(self, manifest: Manifest) -> Iterator[Row]:
        for row in report_rows(manifest, self.reader.open):
            yield row
            self._rows += 1
            if not self._rows % PROGRESS_ROWS:
                self._progress()


def _usable(config: InventoryConfiguration) -> bool:
    return config.enabled and not config.filtered and "EncryptionStatus" in config.fields and config.versions == "All"


def caller_arn(app: App) -> str | None:
    """Who generated the document: STS GetCallerIdentity's Arn (None when it cannot be read)."""
    try:
        arn = app.client("sts").get_caller_identity()["Arn"]
    except Exception:
        return None
    return str(arn)


def run_posture(
    args: argparse.Namespace, console: Console, clock: Clock = utc_now, rng: RngFactory | None = None
) -> int:
    """`rng`: a bucket's random generator for `--sample` (default_rng, read when called: a test seeds it)."""
    names = parse_buckets(args)
    settings = load_settings(args, os.environ)
    app = connect(args, settings, args.concurrency, clock=clock)
    posture = Posture(args, app, console, rng or default_rng)
    if args.all:
        names = buckets_in_scope(app.settings, app.bucket_store)
    elif not names:  # --from-inventory alone: the manifest's source bucket
        names = [posture.manifest(args.from_inventory).source_bucket]
    for name in names:
        try:
            posture.reader.require_bucket(name)
        except AwsFailure as exc:
            what = "no such bucket" if exc.failure is Failure.GONE else "cannot be read"
            raise UsageError(f"s3://{name}: {what} (HeadBucket: {exc}); nothing was surveyed") from None
    if args.athena_sql:
        console.out.write(athena_sql(posture, names))
        console.out.flush()
        return EXIT_OK
    generated_at = clock()
    surveyed = tuple(posture.bucket(name, args.from_inventory) for name in names)
    console.draw([])
    region = app.settings.region or ""
    estate = Estate(
        generated_at=generated_at,
        generated_by=caller_arn(app),
        account=app.settings.account_id,
        region=region,
        partition=partition_of(region),
        key_arn=app.keys.arn(app.settings.key),
        buckets=surveyed,
    )
    document = estate.answer()
    write_files(args, estate, document)
    if console.json_mode:
        console.document(document)
    else:
        console.out.write(text(estate))
        console.out.flush()
    return estate.exit_code


def athena_sql(posture: Posture, names: list[str]) -> str:
    """Per bucket, the table over its report's hive/ folder and the query of that report (evidence/athena.py)."""
    from ..evidence.athena import dt_of, posture_query, table_ddl

    parts = []
    for name in names:
        uri = posture.args.from_inventory or posture.newest_report(name, required=True)
        if uri is None:  # newest_report(required=True) raises instead
            raise InvalidRequest(f"s3://{name} has no inventory report")
        manifest = posture.manifest(uri)
        location = uri.rsplit("/", 2)[0] + "/hive/"  # .../SOURCE/CONFIG-ID/<stamp>/manifest.json -> .../hive/
        table = "s3_inventory_" + re.sub(r"[^a-z0-9]", "_", name.lower())
        if manifest.date is None:
            raise InvalidRequest(f"{uri}: neither creationTimestamp nor a dated folder says when the report was made")
        parts.append(f"-- s3://{name}: the S3 Inventory report of {iso(manifest.date)} ({uri})\n")
        parts.append(table_ddl(table, location, manifest.file_format, manifest.columns) + "\n")
        parts.append(posture_query(table, dt_of(manifest.date), all_versions=manifest.versions) + "\n")
    return "".join(parts)


def write_files(args: argparse.Namespace, estate: Estate, document: dict[str, Any]) -> None:
    if args.html:
        from ..evidence.html import render

        with open(args.html, "w", encoding="utf-8") as out:
            out.write(render(document))
    if args.report:
        with open(args.report, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(csv_rows(estate))
