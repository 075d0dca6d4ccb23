"""The scheduled posture (PostureSchedule → the batch jobs function, {"posture": {}}): how much of each in-scope bucket
is DSSE-KMS under its key, read from the bucket's newest S3 Inventory report, kept in the report bucket as a dated
series an auditor can be handed, measured per bucket in CloudWatch, and summarised for the security account.

The buckets are the coverage check's (coverage_check.account_coverage): the account's buckets in the Region, in the
protected scope, the report bucket excepted. Each is measured from its own inventory, as `dsse-remediate posture`
finds it (an enabled configuration of the whole bucket, all versions, with the EncryptionStatus field, that has
delivered a report): the report's rows are counted by EncryptionStatus and POSTURE_SAMPLE_SIZE of its DSSE-KMS rows
are read with HeadObject (S3 Inventory names no key), so dsse-key and dsse-other-key are estimates with their
interval (posture/sampling.py). The stack never lists a bucket itself: a bucket without a usable inventory is in the
document with an `error` saying it was not measured and how to measure it.

Time. A Lambda invocation ends at its timeout whatever it is doing (deadline.py). Before a report is read, its rows
are estimated from its data files' sizes (the manifest lists each) and the time to read them from a measured rate;
a report that would not fit in the time left is handed to Amazon Athena (the `AthenaSource`: one table and one query
per report, AWS's documented way to query S3 Inventory), or, without one, reported as not measured with the CLI
command that reads it. A read that runs over its estimate anyway is stopped between rows, and the bucket is reported
as not measured: figures read before the stop are dropped, never half-reported.

Outputs (each run): the posture/v1 document at `posture/YYYY/MM/DD/posture-HHMMSSZ.json` and its HTML evidence
(evidence/html.py) beside it, then `posture/latest.json` (config_rule.POSTURE_KEY, which the AWS Config rule reads),
all in the stack's report bucket (DSSE-KMS under the key by default, versioned). The summary (posture_summary.py) is
forwarded to the security account (`Alerts.forward`), never published on the team's topic: it is a measurement.
In alert-only mode the run writes the same files: the report bucket is the stack's own record store (as the
backstop's record and manifests are), no protected bucket is written, and a measurement is what such a deployment is
for.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .config_rule import POSTURE_KEY
from .coverage_check import buckets_in_scope
from .deadline import ASSUMED_REQUEST_SECONDS, Deadline, OutOfTime
from .exceptions import AwsFailure, ConfigError, InvalidRequest
from .findings import partition_of
from .model import Clock, Failure
from .posture.document import BucketPosture, Estate
from .posture.inventory import Manifest, Row, report_rows
from .posture.states import State
from .posture.survey import Head, Parallel, Survey, posture_of
from .posture.tally import BucketTally
from .posture_summary import posture_summary

if TYPE_CHECKING:
    from .alerts import Alerts
    from .aws.kms import KeyRing
    from .aws.s3_buckets import BucketStore
    from .aws.s3_inventory import InventoryConfiguration, InventoryStore
    from .config import Settings

# The rate the posture reads an inventory report at, measured by benchmarks/posture.py over gzipped CSV through the
# posture's own read path (gzip, csv, URL-decoding, MD5, counting): 81,552 rows/s at 100,000 rows and 119,316 at
# 1,000,000 (benchmarks/README.md), 70,973 at 200,000 on a busier moment of the same shared 2-core machine, one core
# each. Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), and the rows are read in one thread, so
# the rate is scaled by memory/1,769 up to one vCPU. Assumed 60,000 rows/s per vCPU, below every figure measured:
# about 17,000 rows/s at the batch jobs function's 512 MB, some 15 million rows in its 900 s. A report estimated to
# fit then almost always does, and one that does not is stopped between rows.
ROWS_PER_VCPU_SECOND = 60_000.0
MB_PER_VCPU = 1769
# Rows from a data file's size. The benchmark's gzipped CSV rows (8 fields, keys of ~45 characters) are 30 bytes
# each; evidence/athena.py measured 47 for 7 fields with ~70-character keys. Assumed: 20 bytes per row (fewer bytes
# per row mean more rows: the estimate errs long). ORC and Parquet compress columns further; not measured (no writer
# in the project's environment): assumed 10 bytes per row.
CSV_BYTES_PER_ROW = 20
COLUMNAR_BYTES_PER_ROW = 10
HEAD_CONCURRENCY = 8  # HeadObject of the sampled DSSE-KMS rows, at most this many at once
# What must still happen once the buckets are measured: three PutObjects to the report bucket and the summary's
# PutEvents, at deadline.ASSUMED_REQUEST_SECONDS each, and the HTML rendered.
FINISH_SECONDS = 5 * ASSUMED_REQUEST_SECONDS
ATHENA_MIN_SECONDS = 60.0  # the least time left in which an Athena query (start, wait, results) is started
ROWS_PER_CHECK = 10_000  # the time left is checked every this many rows of a report
PREFIX = "posture/"
LATEST_KEY = POSTURE_KEY


class AthenaSource(Protocol):
    """A report too large for the invocation, measured with Amazon Athena (posture/athena_source.AthenaPosture): the
    same BucketPosture the survey gives; errors raise (AwsFailure, InvalidRequest)."""

    def bucket(self, manifest: Manifest, key_arn: str) -> BucketPosture: ...


# The Athena source for one invocation: its queries may take the time the deadline leaves (less FINISH_SECONDS).
AthenaFactory = Callable[[Deadline], AthenaSource]


class Queries(Protocol):
    """aws/athena.AthenaQueries.run."""

    def run(self, sql: str, database: str, *, timeout: float | None = None) -> Iterable[list[str | None]]: ...


class DeadlineQueries:
    """Athena's queries held to the invocation's deadline: each may take the time left but what the run needs to
    finish; past it AthenaQueries stops the query (StopQueryExecution) and raises AwsFailure (OUT_OF_TIME)."""

    def __init__(self, queries: Queries, deadline: Deadline) -> None:
        self._queries = queries
        self._deadline = deadline

    def run(self, sql: str, database: str) -> Iterable[list[str | None]]:
        return self._queries.run(sql, database, timeout=max(0.0, self._deadline.remaining() - FINISH_SECONDS))


class PostureFiles(Protocol):
    """The report bucket's writes (aws/report_files.ReportFiles)."""

    def write_json(self, bucket: str, key: str, value: Any) -> None: ...

    def write_text(self, bucket: str, key: str, text: str, content_type: str) -> None: ...


class DataFiles(Protocol):
    """An inventory data file's body (aws/s3_posture.PostureReader.open)."""

    def open(self, bucket: str, key: str) -> Any: ...


class NotMeasured(Exception):
    """The bucket cannot be measured in the stack as it is: the message says why and how to measure it."""


@dataclass(frozen=True)
class ReadEstimate:
    rows: int
    seconds: float
    basis: str


def rows_per_second(memory_mb: int) -> float:
    """The rate a function of `memory_mb` reads report rows at (one thread: at most one vCPU's worth)."""
    return ROWS_PER_VCPU_SECOND * min(max(memory_mb, 128), MB_PER_VCPU) / MB_PER_VCPU


def estimate(manifest: Manifest, sample: int, rate: float) -> ReadEstimate:
    """How long reading the report would take: its rows from its data files' sizes, at `rate` rows/s, plus the
    HeadObject of its sample (`sample` 0: every row may be DSSE-KMS and read), HEAD_CONCURRENCY at a time."""
    if any(data.size is None for data in manifest.files):
        return ReadEstimate(0, math.inf, f"{manifest.uri} lists a data file without its size: its rows are unknown")
    size = sum(data.size or 0 for data in manifest.files)
    per_row = CSV_BYTES_PER_ROW if manifest.file_format == "CSV" else COLUMNAR_BYTES_PER_ROW
    count = -(-size // per_row)
    heads = sample if sample else count
    seconds = count / rate + -(-heads // HEAD_CONCURRENCY) * ASSUMED_REQUEST_SECONDS
    basis = (
        f"{len(manifest.files)} {manifest.file_format} data file(s) of {size:,} bytes, about {count:,} rows at "
        f"{per_row} bytes a row, read at {rate:,.0f} rows/s, and {heads:,} HeadObject(s) {HEAD_CONCURRENCY} at a time"
    )
    return ReadEstimate(count, seconds, basis)


def columnar_readable() -> bool:
    """Whether ORC and Parquet reports can be read here: with pyarrow (the `posture` extra; the layer ships none)."""
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def usable(configuration: InventoryConfiguration) -> bool:
    """As `dsse-remediate posture` takes one: enabled, the whole bucket, every version, with EncryptionStatus."""
    return (
        configuration.enabled
        and not configuration.filtered
        and "EncryptionStatus" in configuration.fields
        and configuration.versions == "All"
    )


def bounded(concurrency: int) -> Parallel:
    """The survey's `parallel`: `work` on each item, at most `concurrency` at once, items pulled from the source in
    the calling thread only as slots free (so the source's own checks, the time left among them, run there), `done`
    called in the calling thread. An exception out of the source stops the pulling; running work is waited for."""

    def parallel(items: Iterable[Any], work: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="posture") as pool:
            pending: set[Future[Any]] = set()
            for item in items:
                pending.add(pool.submit(work, item))
                if len(pending) >= 2 * concurrency:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        done(future.result())
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(future.result())

    return parallel


def not_dsse_bytes(entry: dict[str, Any]) -> int:
    """Bytes of every version (current and noncurrent) that is not DSSE under the key."""
    return sum(
        value
        for part in ("current", "noncurrent")
        for state, value in entry[part]["bytes"].items()
        if state != State.DSSE_KEY.value
    )


@dataclass(frozen=True)
class BucketFigure:
    """One measured bucket's metrics: PercentDsseUnderKey (the bytes' share) and BytesNotDsse."""

    bucket: str
    percent_bytes: float
    bytes_not_dsse: int


@dataclass(frozen=True)
class PostureRun:
    estate: Estate
    document: dict[str, Any]
    report_bucket: str
    document_key: str
    html_key: str
    athena: tuple[str, ...] = ()  # buckets measured with Athena
    alert_error: str | None = None  # the summary could not be forwarded

    @property
    def location(self) -> str:
        return f"s3://{self.report_bucket}/{self.document_key}"

    @property
    def figures(self) -> list[BucketFigure]:
        """The measured buckets' figures; an unmeasured bucket has none (a zero would read as a measurement)."""
        return [
            BucketFigure(entry["bucket"], entry["percentDsseUnderKey"]["bytes"], not_dsse_bytes(entry))
            for entry in self.document["buckets"]
            if not entry["error"]
        ]

    def answer(self) -> dict[str, Any]:
        return {
            "document": self.location,
            "html": f"s3://{self.report_bucket}/{self.html_key}",
            "latest": f"s3://{self.report_bucket}/{LATEST_KEY}",
            "generatedAt": self.document["generatedAt"],
            "compliant": self.document["compliant"],
            "total": self.document["total"]["percentDsseUnderKey"],
            "buckets": [
                {
                    "bucket": entry["bucket"],
                    "percentDsseUnderKey": entry["percentDsseUnderKey"] if not entry["error"] else None,
                    "source": entry["source"]["kind"],
                    "inventoryDate": entry["source"]["inventoryDate"],
                    "error": entry["error"],
                }
                for entry in self.document["buckets"]
            ],
            "athena": list(self.athena),
            "alertError": self.alert_error,
        }


def dated_keys(moment: datetime) -> tuple[str, str]:
    """posture/YYYY/MM/DD/posture-HHMMSSZ.json and .html, in UTC."""
    stem = moment.strftime(f"{PREFIX}%Y/%m/%d/posture-%H%M%SZ")
    return f"{stem}.json", f"{stem}.html"


class ScheduledPosture:
    def __init__(
        self,
        settings: Settings,
        bucket_store: BucketStore,
        inventories: InventoryStore,
        head: Head,
        data_files: DataFiles,
        files: PostureFiles,
        alerts: Alerts,
        keys: KeyRing,
        clock: Clock,
        athena: AthenaFactory | None = None,
        rng: Callable[[str], random.Random] | None = None,
    ) -> None:
        """`rng`: a bucket's random generator for its sample (a test seeds it)."""
        self.settings = settings
        self.bucket_store = bucket_store
        self.inventories = inventories
        self.head = head
        self.data_files = data_files
        self.files = files
        self.alerts = alerts
        self.keys = keys
        self.clock = clock
        self.athena = athena
        self.rng = rng or (lambda bucket: random.Random())

    def buckets(self) -> list[str]:
        """The coverage check's buckets: in this Region, in scope, the report bucket excepted."""
        return buckets_in_scope(self.settings, self.bucket_store)

    def run(self, deadline: Deadline, generated_by: str | None = None, memory_mb: int = MB_PER_VCPU) -> PostureRun:
        report_bucket = self.settings.batch.report_bucket
        if not report_bucket:
            raise ConfigError("the scheduled posture needs REPORT_BUCKET: it keeps its documents there")
        generated_at = self.clock()
        rate = rows_per_second(memory_mb)
        athena: list[str] = []
        measured = []
        for name in self.buckets():
            posture, by_athena = self.bucket(name, deadline, rate)
            measured.append(posture)
            if by_athena:
                athena.append(name)
        region = self.settings.region or ""
        estate = Estate(
            generated_at=generated_at,
            generated_by=generated_by,
            account=self.settings.account_id,
            region=region,
            partition=partition_of(region),
            key_arn=self.keys.arn(self.settings.key),
            buckets=tuple(measured),
        )
        document = estate.answer()
        document_key, html_key = dated_keys(generated_at)
        self.write(report_bucket, document, document_key, html_key)
        location = f"s3://{report_bucket}/{document_key}"
        alert_error = self.alerts.forward(posture_summary(document, self.alerts.context, location))
        return PostureRun(estate, document, report_bucket, document_key, html_key, tuple(athena), alert_error)

    def write(self, bucket: str, document: dict[str, Any], document_key: str, html_key: str) -> None:
        """The dated pair first, then latest.json: `latest` never names a run whose dated files are missing."""
        from .evidence.html import render

        self.files.write_json(bucket, document_key, document)
        self.files.write_text(bucket, html_key, render(document), "text/html; charset=utf-8")
        self.files.write_json(bucket, LATEST_KEY, document)

    def bucket(self, name: str, deadline: Deadline, rate: float) -> tuple[BucketPosture, bool]:
        """One bucket's posture, and whether Athena measured it."""
        key_arn = self.keys.arn(self.settings.key_for(name))
        manifest: Manifest | None = None
        try:
            manifest = self.newest_manifest(name)
            if manifest.file_format != "CSV" and not columnar_readable():
                why = (
                    f"its inventory report is {manifest.file_format}, which the stack reads with Athena only (the "
                    "layer ships no pyarrow)"
                )
                return self.by_athena(name, key_arn, manifest, deadline, why), self.athena is not None
            read = estimate(manifest, self.settings.posture.sample_size, rate)
            if not deadline.allows(read.seconds + FINISH_SECONDS):
                why = (
                    f"its inventory report is too large for one invocation ({read.basis}: about {read.seconds:,.0f} "
                    f"s, {deadline.remaining():,.0f} s left)"
                )
                return self.by_athena(name, key_arn, manifest, deadline, why), self.athena is not None
            return self.survey(name, key_arn, manifest, deadline), False
        except NotMeasured as exc:
            return unmeasured(name, key_arn, self.clock(), manifest, str(exc)), False
        except (AwsFailure, InvalidRequest, ValueError) as exc:
            reason = f"not measured: {exc}; measure it with `dsse-remediate posture s3://{name}`"
            return unmeasured(name, key_arn, self.clock(), manifest, reason), False

    def newest_manifest(self, bucket: str) -> Manifest:
        how = (
            f"give it an S3 Inventory configuration of the whole bucket, all versions, with the EncryptionStatus "
            f"field (its next report is read), or measure it now with `dsse-remediate posture s3://{bucket}` (a scan)"
        )
        configurations = self.inventories.configurations(bucket)
        found = [configuration for configuration in configurations if usable(configuration)]
        if not found:
            what = "no S3 Inventory configuration" if not configurations else "no usable S3 Inventory configuration"
            raise NotMeasured(f"not measured: s3://{bucket} has {what}; {how}")
        for configuration in found:
            report = self.inventories.newest_report(configuration)
            if report is not None:
                destination, _, key = report.manifest_uri.removeprefix("s3://").partition("/")
                try:
                    document = self.inventories.manifest(destination, key)
                except AwsFailure as exc:
                    if exc.failure is Failure.GONE:
                        raise InvalidRequest(f"no inventory manifest at {report.manifest_uri}") from None
                    raise
                return Manifest.parse(document, report.manifest_uri, destination)
        raise NotMeasured(
            f"not measured: the S3 Inventory of s3://{bucket} has delivered no report yet (the first can take 48 "
            f"hours); or measure it now with `dsse-remediate posture s3://{bucket}` (a scan)"
        )

    def survey(self, name: str, key_arn: str, manifest: Manifest, deadline: Deadline) -> BucketPosture:
        if manifest.source_bucket != name:
            raise InvalidRequest(f"{manifest.uri} is the inventory of s3://{manifest.source_bucket}, not of {name}")
        survey = Survey(name, key_arn, self.head, bounded(HEAD_CONCURRENCY), self.clock())
        sample = self.settings.posture.sample_size or None
        try:
            survey.inventory(manifest, self.timed_rows(manifest, deadline), sample, self.rng(name))
        except OutOfTime as exc:
            raise NotMeasured(
                f"not measured: {exc}; read it with `dsse-remediate posture s3://{name} --from-inventory "
                f"{manifest.uri}`"
            ) from None
        return posture_of(survey, "inventory", manifest)

    def timed_rows(self, manifest: Manifest, deadline: Deadline) -> Iterator[Row]:
        """The report's rows, data file by data file; OutOfTime between rows once the time left is only what the
        run needs to finish."""
        for count, row in enumerate(report_rows(manifest, self.data_files.open), start=1):
            if count % ROWS_PER_CHECK == 0 and not deadline.allows(FINISH_SECONDS):
                raise OutOfTime(f"the invocation's time ran out after {count:,} rows of {manifest.uri}")
            yield row

    def by_athena(self, name: str, key_arn: str, manifest: Manifest, deadline: Deadline, why: str) -> BucketPosture:
        """A report the invocation cannot read (`why`): Athena's, or not measured."""
        left = deadline.remaining()
        if self.athena is None:
            raise NotMeasured(
                f"not measured: {why} and no Athena workgroup is configured; read it with "
                f"`dsse-remediate posture s3://{name} --from-inventory {manifest.uri}`"
            )
        if left < ATHENA_MIN_SECONDS + FINISH_SECONDS:
            raise NotMeasured(
                f"not measured: the invocation's time ran out before its Athena query ({left:,.0f} s left); the next "
                "run measures it"
            )
        return self.athena(deadline).bucket(manifest, key_arn)


def unmeasured(name: str, key_arn: str, now: datetime, manifest: Manifest | None, reason: str) -> BucketPosture:
    """A bucket without figures: its entry says why (`error`), every count zero, never compliant."""
    return BucketPosture(
        name,
        key_arn,
        "inventory",
        BucketTally(now),
        inventory_date=manifest.date if manifest else None,
        manifest=manifest.uri if manifest else None,
        error=reason,
    )
