"""Starting S3 Batch Operations jobs that bring a bucket's existing objects to DSSE-KMS: the backfill and the backstop.

The job is LambdaInvoke on the task function (the same per-object remediation the event path runs), never Batch
Operations' own Copy: Copy cannot ask for DSSE-KMS and applies one ACL, storage class and lock setting to a whole job.
Which objects a job visits comes either from S3's manifest generator, whose encryption filter holds exactly one type
(`MatchAnyObjectEncryption` has one element and no negation, so "not DSSE under our key" is one job per type and
bucket), or from an S3 Inventory report the user already has (`from_inventory`: one job over a CSV manifest of the
rows that are not DSSE). ../shared/reference/aws-facts.md §8 has the facts and prices this module follows.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import errors
from ..aws.batch_jobs import BatchJobs, bucket_name
from ..config import MAX_JOB_PRIORITY, Mode, Settings
from ..exceptions import AwsFailure, ConfigError, InvalidRequest
from ..model import Clock, Failure, utc_now
from ..scope import is_directory_bucket, require_bucket_name

# One job per type: MatchAnyObjectEncryption holds exactly one ObjectEncryptionFilter (s3control model, list max 1).
# SSEKMS has no key: every SSE-KMS object is non-compliant whatever its key. SSEC is never a job: SSE-C objects
# cannot be read without the customer's key, so they cannot be remediated.
ENCRYPTION_FILTERS = ("NOTSSE", "SSES3", "SSEKMS")
DSSEKMS = "DSSEKMS"  # DSSE under any key: lists compliant objects too (one HEAD each), so only when asked
INVENTORY = "INVENTORY"  # not a filter: the job reads a CSV manifest written from an S3 Inventory report
ENCRYPTION_TYPES = (*ENCRYPTION_FILTERS, DSSEKMS, INVENTORY)

# Batch Operations' fixed formats (s3control model enums).
INVOCATION_SCHEMA = "2.0"  # UserArguments, bucket names rather than ARNs in tasks
REPORT_FORMAT = "Report_CSV_20180820"
GENERATED_MANIFEST_FORMAT = "S3InventoryReport_CSV_20211130"
CSV_MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
CAMPAIGN_TAG = "dsse-remediation:campaign"

# us-east-1 list prices, checked against https://aws.amazon.com/s3/pricing/ ("Batch Operations": $0.25 per job and
# $1.00 per million objects processed; "Requests & data retrievals": GET/HEAD $0.0004 per 1,000, PUT/COPY $0.005 per
# 1,000) and https://aws.amazon.com/kms/pricing/ ($0.03 per 10,000 requests). Other Regions differ.
JOB_FEE = 0.25
PER_OBJECT_FEE = 1.00 / 1_000_000
HEAD_FEE = 0.0004 / 1_000
COPY_FEE = 0.005 / 1_000
KMS_FEE = 0.03 / 10_000
# A DSSE-KMS write asks KMS for one data key (GenerateDataKey); reading an SSE-KMS or DSSE-KMS source adds a Decrypt.
# The ceiling assumes every object is a KMS-encrypted source that is rewritten.
KMS_REQUESTS_CEILING = 2

# AWS/S3 NumberOfObjects is a daily storage metric ("reported once per day"), published in the bucket's Region:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html
METRIC_LOOKBACK = timedelta(days=3)

# The campaign label goes into S3 keys (reports/<campaign>/, manifests/<campaign>/), a tag value and UserArguments.
_CAMPAIGN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
CAMPAIGN_MAX = 64
DESCRIPTION_MAX = 256  # CreateJob Description
UPLOAD_PART_BYTES = 8 * 1024 * 1024  # the inventory manifest is uploaded in parts of this size (S3 minimum: 5 MiB)


@dataclass(frozen=True)
class ManifestFile:
    """A CSV manifest already written (`Bucket,Key` rows, keys URL-encoded), and how many objects it lists."""

    bucket: str
    key: str
    etag: str
    objects: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """One job to start: a bucket and an encryption filter (or a written manifest), for a campaign."""

    bucket: str
    encryption: str  # NOTSSE | SSES3 | SSEKMS | DSSEKMS | INVENTORY
    campaign: str
    dry_run: bool = False
    created_after: datetime | None = None
    created_before: datetime | None = None
    priority: int = 10
    manifest: ManifestFile | None = None

    @property
    def description(self) -> str:
        """`dsse-remediation <campaign> s3://<bucket> <ENCTYPE>`: how the console and the completion alert name it."""
        return f"dsse-remediation {self.campaign} s3://{self.bucket} {self.encryption}"[:DESCRIPTION_MAX]

    @property
    def client_request_token(self) -> str:
        """CreateJob's idempotency key: the same job asked twice (a retried launcher, a re-run command) is created
        once. Whatever decides which objects the job visits and what it does to them is in it."""
        identity = [
            self.campaign,
            self.bucket,
            self.encryption,
            _iso(self.created_after),
            _iso(self.created_before),
            self.dry_run,
            self.manifest.key if self.manifest else None,
            self.manifest.etag if self.manifest else None,
        ]
        digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()
        return f"dsse-remediation-{digest}"[:64]


def plan(
    bucket: str,
    *,
    campaign: str,
    dry_run: bool = False,
    include_dsse_other_keys: bool = False,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    priority: int = 10,
) -> list[JobSpec]:
    """The jobs that cover a bucket's non-compliant objects: one per encryption type, DSSEKMS only when asked."""
    types = (*ENCRYPTION_FILTERS, DSSEKMS) if include_dsse_other_keys else ENCRYPTION_FILTERS
    return [
        JobSpec(
            bucket=bucket,
            encryption=encryption,
            campaign=campaign,
            dry_run=dry_run,
            created_after=created_after,
            created_before=created_before,
            priority=priority,
        )
        for encryption in types
    ]


@dataclass(frozen=True)
class _JobSettings:
    function: str
    role_arn: str
    report_bucket: str
    account_id: str

    @property
    def partition(self) -> str:
        return self.role_arn.split(":")[1]  # aws, aws-cn, aws-us-gov: S3 ARNs must use the same

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"


class Backfill:
    """Builds, prices and starts the Batch Operations jobs of a backfill (the CLI) or a backstop run (scheduled)."""

    def __init__(
        self,
        settings: Settings,
        jobs: BatchJobs,
        s3: Any,
        cloudwatch: Any,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._jobs = jobs
        self._s3 = s3
        self._cloudwatch = cloudwatch
        self._clock = clock

    def dry_run(self, spec: JobSpec) -> bool:
        """Whether the job's tasks only report: asked for, or the deployment is alert-only (MODE=alert-only)."""
        return spec.dry_run or self._settings.mode is Mode.ALERT_ONLY

    def request(self, spec: JobSpec) -> dict[str, Any]:
        """The CreateJob parameters of one job. Refuses (nothing is called) a bucket outside the protected scope, an
        unknown encryption type and a deployment without the batch settings; then pins the task function's version
        (GetAlias)."""
        self._check(spec)
        config = self._job_settings()
        campaign = spec.campaign
        request: dict[str, Any] = {
            "AccountId": config.account_id,
            "ConfirmationRequired": False,
            "Operation": {
                "LambdaInvoke": {
                    "FunctionArn": self._jobs.pinned_version(config.function),
                    "InvocationSchemaVersion": INVOCATION_SCHEMA,
                    "UserArguments": {"dryRun": "true" if self.dry_run(spec) else "false", "campaign": campaign},
                }
            },
            "Report": {
                "Bucket": config.bucket_arn(config.report_bucket),
                "Prefix": f"reports/{campaign}",
                "Format": REPORT_FORMAT,
                "Enabled": True,
                "ReportScope": "AllTasks",  # every outcome is counted in the summary, not only failures
                "ExpectedBucketOwner": config.account_id,
            },
            # the dry run as the job runs it: a switch out of alert-only mode is another job, not a conflicting one
            "ClientRequestToken": replace(spec, dry_run=self.dry_run(spec)).client_request_token,
            "Priority": spec.priority,
            "RoleArn": config.role_arn,
            "Description": spec.description,
            "Tags": [{"Key": CAMPAIGN_TAG, "Value": campaign}],
        }
        if spec.manifest is not None:
            request["Manifest"] = {
                "Spec": {"Format": CSV_MANIFEST_FORMAT, "Fields": ["Bucket", "Key"]},
                "Location": {
                    "ObjectArn": f"{config.bucket_arn(spec.manifest.bucket)}/{spec.manifest.key}",
                    "ETag": spec.manifest.etag.strip('"'),
                },
            }
        else:
            request["ManifestGenerator"] = {"S3JobManifestGenerator": self._generator(spec, config)}
        return request

    def start(self, spec: JobSpec) -> str:
        """CreateJob for one spec; the job id. The job runs at once (ConfirmationRequired false)."""
        return self._jobs.create(self.request(spec))

    def estimate(self, specs: Sequence[JobSpec]) -> Estimate:
        """The fees of these jobs before any is created: an upper bound from each bucket's object count."""
        by_bucket: dict[str, list[JobSpec]] = {}
        for spec in specs:
            by_bucket.setdefault(spec.bucket, []).append(spec)
        return Estimate(tuple(self._bucket_estimate(bucket, group) for bucket, group in by_bucket.items()))

    def from_inventory(self, manifest_uri: str, *, campaign: str, dry_run: bool = False) -> JobSpec | None:
        """The job over an S3 Inventory report's objects that are not DSSE-KMS, its CSV manifest written to the report
        bucket (`manifests/<campaign>/inventory-<bucket>-<date>.csv`); None when no such object is listed (no job,
        no fee). Rows are streamed: an inventory of any size is read and written a part at a time."""
        check_campaign(campaign)
        config = self._job_settings()
        source_bucket, manifest_key = parse_s3_uri(manifest_uri)
        manifest = _read_json(self._s3, source_bucket, manifest_key)
        inventory = Inventory.parse(manifest, manifest_uri, default_bucket=source_bucket)
        self._check_bucket(inventory.source_bucket)
        created = inventory.created or self._clock()
        key = f"manifests/{campaign}/inventory-{inventory.source_bucket}-{created:%Y-%m-%d}.csv"
        archives = self._settings.remediate_restored_archives
        written = _write_manifest(self._s3, inventory, config.report_bucket, key, config.account_id, archives)
        if written is None:
            return None
        return JobSpec(
            bucket=inventory.source_bucket,
            encryption=INVENTORY,
            campaign=campaign,
            dry_run=dry_run,
            priority=self._settings.batch_job_priority,
            manifest=written,
        )

    # --- checks ------------------------------------------------------------------------------------------------

    def _check(self, spec: JobSpec) -> None:
        check_campaign(spec.campaign)
        self._check_bucket(spec.bucket)
        if spec.encryption not in ENCRYPTION_TYPES:
            raise InvalidRequest(f"encryption {spec.encryption!r} is not one of {', '.join(ENCRYPTION_TYPES)}")
        if (spec.encryption == INVENTORY) != (spec.manifest is not None):
            raise InvalidRequest("an INVENTORY job needs its written manifest, and only an INVENTORY job has one")
        for name, moment in (("created_after", spec.created_after), ("created_before", spec.created_before)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidRequest(f"{name} {moment.isoformat()} has no time zone: give it in UTC")
        if spec.created_after and spec.created_before and spec.created_after >= spec.created_before:
            raise InvalidRequest(
                f"created_after {_iso(spec.created_after)} is not before created_before {_iso(spec.created_before)}"
            )
        if not 0 <= spec.priority <= MAX_JOB_PRIORITY:
            raise InvalidRequest(f"priority {spec.priority} must be between 0 and {MAX_JOB_PRIORITY}")

    def _check_bucket(self, bucket: str) -> None:
        require_bucket_name(bucket)
        if is_directory_bucket(bucket):
            raise InvalidRequest(f"bucket {bucket} is a directory bucket: they cannot hold DSSE-KMS objects")
        if not self._settings.scope.contains(bucket):
            raise InvalidRequest(
                f"bucket {bucket} is outside the protected buckets ({self._settings.scope.describe()}): "
                "no job was created"
            )

    def _job_settings(self) -> _JobSettings:
        """The settings every job needs, or one ConfigError naming each missing variable."""
        wanted = {
            "BATCH_TASK_FUNCTION (the task function's alias ARN, stack output BatchTaskFunctionAlias)": (
                self._settings.batch_task_function
            ),
            "BATCH_JOB_ROLE_ARN (the role Batch Operations assumes, stack output BatchJobRoleArn)": (
                self._settings.batch_job_role_arn
            ),
            "REPORT_BUCKET (completion reports and manifests, stack output ReportBucket)": self._settings.report_bucket,
            "ACCOUNT_ID (the account that owns the jobs and the buckets)": self._settings.account_id,
        }
        missing = [name for name, value in wanted.items() if not value]
        if missing:
            raise ConfigError("S3 Batch Operations jobs need settings that are not set: " + "; ".join(missing))
        config = _JobSettings(
            function=self._settings.batch_task_function or "",
            role_arn=self._settings.batch_job_role_arn or "",
            report_bucket=self._settings.report_bucket or "",
            account_id=self._settings.account_id or "",
        )
        if not config.role_arn.startswith("arn:") or ":role/" not in config.role_arn:
            raise ConfigError(f"BATCH_JOB_ROLE_ARN={config.role_arn!r} is not an IAM role ARN")
        return config

    # --- the manifest generator --------------------------------------------------------------------------------

    def _generator(self, spec: JobSpec, config: _JobSettings) -> dict[str, Any]:
        """S3JobManifestGenerator: list the bucket's objects of one encryption type (and creation window).

        The generated manifest goes to the report bucket with no ManifestEncryption: the model offers only SSES3
        and SSEKMS there (no DSSE-KMS), so leaving it out lets the report bucket's default encryption, DSSE-KMS
        under the product's key, apply rather than writing single-layer objects into a DSSE bucket.
        """
        match: dict[str, Any] = {"MatchAnyObjectEncryption": [{spec.encryption: {}}]}
        if spec.created_after is not None:
            match["CreatedAfter"] = spec.created_after
        if spec.created_before is not None:
            match["CreatedBefore"] = spec.created_before
        return {
            "ExpectedBucketOwner": config.account_id,
            "SourceBucket": config.bucket_arn(spec.bucket),
            "EnableManifestOutput": True,
            "ManifestOutputLocation": {
                "ExpectedManifestBucketOwner": config.account_id,
                "Bucket": config.bucket_arn(config.report_bucket),
                "ManifestPrefix": f"manifests/{spec.campaign}",
                "ManifestFormat": GENERATED_MANIFEST_FORMAT,
            },
            "Filter": match,
        }

    # --- estimate ----------------------------------------------------------------------------------------------

    def _bucket_estimate(self, bucket: str, specs: Sequence[JobSpec]) -> BucketEstimate:
        listed = [spec.manifest.objects for spec in specs if spec.manifest is not None]
        generated = [spec for spec in specs if spec.manifest is None]
        writes = any(not self.dry_run(spec) for spec in specs)
        types = tuple(spec.encryption for spec in specs)
        if None in listed:
            return BucketEstimate(bucket, types, None, "a manifest without an object count", writes)
        objects = sum(count for count in listed if count is not None)
        source = f"{objects:,} rows in the inventory manifest" if listed else ""
        if generated:
            try:
                found = _object_count(self._cloudwatch, bucket, self._clock())
            except AwsFailure as exc:
                return BucketEstimate(bucket, types, None, f"CloudWatch did not answer ({exc})", writes)
            if found is None:
                where = self._settings.region or "this Region"
                return BucketEstimate(
                    bucket,
                    types,
                    None,
                    f"no AWS/S3 NumberOfObjects datapoint in {where} in the last {METRIC_LOOKBACK.days} days; "
                    "the metric is daily and published in the bucket's own Region",
                    writes,
                )
            count, day = found
            objects += count
            metric = f"CloudWatch NumberOfObjects of {day:%Y-%m-%d}, every version and storage class"
            source = f"{source} + {metric}" if source else metric
        return BucketEstimate(bucket, types, objects, source, writes)


# --- the estimate ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketEstimate:
    bucket: str
    encryptions: tuple[str, ...]  # one job each
    objects: int | None  # an upper bound of the objects the bucket's jobs visit together; None: unknown
    source: str  # where the count comes from, or why it is unknown
    writes: bool = True  # False: every job is a dry run (HEAD only: no COPY, no KMS)

    @property
    def jobs(self) -> int:
        return len(self.encryptions)


@dataclass(frozen=True)
class Estimate:
    """The fees of a set of jobs, at us-east-1 list prices: an upper bound where every object count is known.

    Each object has one encryption type, so a bucket's jobs together visit at most its object count.
    """

    buckets: tuple[BucketEstimate, ...] = field(default_factory=tuple)

    @property
    def jobs(self) -> int:
        return sum(bucket.jobs for bucket in self.buckets)

    @property
    def objects(self) -> int:
        """Objects of the buckets whose count is known."""
        return sum(bucket.objects or 0 for bucket in self.buckets)

    @property
    def written_objects(self) -> int:
        return sum(bucket.objects or 0 for bucket in self.buckets if bucket.writes)

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(bucket.bucket for bucket in self.buckets if bucket.objects is None)

    @property
    def job_fees(self) -> float:
        return self.jobs * JOB_FEE

    @property
    def object_fees(self) -> float:
        return self.objects * PER_OBJECT_FEE

    @property
    def head_fees(self) -> float:
        return self.objects * HEAD_FEE

    @property
    def copy_ceiling(self) -> float:
        return self.written_objects * COPY_FEE

    @property
    def kms_ceiling(self) -> float:
        return self.written_objects * KMS_REQUESTS_CEILING * KMS_FEE

    @property
    def batch_fees(self) -> float:
        """What Batch Operations itself charges (jobs and objects processed)."""
        return self.job_fees + self.object_fees

    @property
    def total_ceiling(self) -> float:
        return self.batch_fees + self.head_fees + self.copy_ceiling + self.kms_ceiling

    def __str__(self) -> str:
        lines = [
            f"Estimated fees of {self.jobs} S3 Batch Operations job{'s' if self.jobs != 1 else ''} "
            "(us-east-1 list prices, before any job is created):"
        ]
        for bucket in self.buckets:
            count = f"at most {bucket.objects:,} objects" if bucket.objects is not None else "object count unknown"
            dry = "; dry run: HEAD only" if not bucket.writes else ""
            lines.append(
                f"  s3://{bucket.bucket}: {bucket.jobs} job{'s' if bucket.jobs != 1 else ''} "
                f"({', '.join(bucket.encryptions)}), {count} ({bucket.source}){dry}"
            )
        rows = [
            ("Job fees", f"{self.jobs} x $0.25", self.job_fees),
            ("Objects processed", f"{self.objects:,} x $1.00 per million", self.object_fees),
            ("HEAD requests", f"{self.objects:,} x $0.0004 per 1,000", self.head_fees),
            ("COPY requests, at most", f"{self.written_objects:,} x $0.005 per 1,000", self.copy_ceiling),
            (
                "KMS requests, at most",
                f"{self.written_objects * KMS_REQUESTS_CEILING:,} x $0.03 per 10,000",
                self.kms_ceiling,
            ),
        ]
        lines += [f"  {label:<24}{basis:<36}{_dollars(amount):>12}" for label, basis, amount in rows]
        lines.append(f"  {'Total, at most':<24}{'':<36}{_dollars(self.total_ceiling):>12}")
        lines.append(
            "  plus the task function's Lambda duration; COPY and KMS are ceilings (compliant objects are only read)."
        )
        if self.unknown:
            per_million = PER_OBJECT_FEE + HEAD_FEE + COPY_FEE + KMS_REQUESTS_CEILING * KMS_FEE
            lines.append(
                f"  Not counted: the objects of {', '.join(self.unknown)} (count unknown), at most "
                f"{_dollars(per_million * 1_000_000)} per million objects on top; their job fees are counted."
            )
        return "\n".join(lines)


def _dollars(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.005 or amount == 0 else "< $0.01"


# --- S3 Inventory ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventory:
    """An S3 Inventory report's manifest.json (CSV format): its source bucket, columns and data files.

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html ("Inventory manifest")
    """

    uri: str
    source_bucket: str
    files_bucket: str  # the destination bucket, where the data files are
    files: tuple[str, ...]  # keys of the .csv.gz data files
    columns: tuple[str, ...]  # fileSchema, in order
    created: datetime | None = None

    @classmethod
    def parse(cls, manifest: Mapping[str, Any], uri: str, default_bucket: str) -> Inventory:
        file_format = str(manifest.get("fileFormat", ""))
        if file_format.upper() != "CSV":
            raise InvalidRequest(
                f"{uri} is a {file_format or 'non-CSV'} inventory: use an inventory whose output format is CSV"
            )
        columns = tuple(column.strip() for column in str(manifest.get("fileSchema", "")).split(","))
        for needed in ("Bucket", "Key"):
            if needed not in columns:
                raise InvalidRequest(f"{uri} lists no {needed} column (fileSchema: {manifest.get('fileSchema')!r})")
        if "EncryptionStatus" not in columns:
            raise InvalidRequest(
                f"{uri} has no EncryptionStatus column: add the 'Encryption' field (EncryptionStatus) to the "
                "inventory configuration, and use a report delivered after that"
            )
        source = str(manifest.get("sourceBucket") or "")
        if not source:
            raise InvalidRequest(f"{uri} names no sourceBucket: is it an S3 Inventory manifest.json?")
        listed = manifest.get("files") or ()
        if not isinstance(listed, list) or not all(isinstance(item, dict) for item in listed):
            raise InvalidRequest(f"{uri}: the inventory manifest's files is not a list of objects")
        files = tuple(str(item["key"]) for item in listed if isinstance(item.get("key"), str) and item["key"])
        destination = str(manifest.get("destinationBucket") or "")
        stamp = str(manifest.get("creationTimestamp") or "")
        created = datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp.isdigit() else None
        return cls(uri, source, bucket_name(destination) if destination else default_bucket, files, columns, created)

    def select(self, rows: Iterator[list[str]], archives: bool = False) -> Iterator[tuple[str, str]]:
        """(bucket, key) of the current objects a job can bring to DSSE-KMS, keys as the inventory has them
        (URL-encoded, what a Batch Operations CSV manifest wants).

        S3 documents EncryptionStatus as SSE-S3, SSE-C, SSE-KMS or NOT-SSE and leaves the DSSE-KMS spelling out, so
        any value naming DSSE counts as DSSE. Left out as well: SSE-C objects (nothing can re-encrypt them without
        their key: a job would only report them, every day), GLACIER and DEEP_ARCHIVE objects when a StorageClass
        column says so (unless `archives`: restored archives are remediated), noncurrent versions (IsLatest false)
        and delete markers: the job's tasks remediate the current version of a key.
        """
        index = {column: n for n, column in enumerate(self.columns)}
        bucket, key, status = index["Bucket"], index["Key"], index["EncryptionStatus"]
        latest, marker, storage = index.get("IsLatest"), index.get("IsDeleteMarker"), index.get("StorageClass")
        for row in rows:
            if len(row) != len(self.columns):
                raise InvalidRequest(
                    f"{self.uri}: a data file row has {len(row)} values where fileSchema lists {len(self.columns)}"
                )
            encryption = row[status].strip().upper()
            if "DSSE" in encryption or encryption == "SSE-C":
                continue
            if storage is not None and not archives and row[storage].strip() in ("GLACIER", "DEEP_ARCHIVE"):
                continue
            if latest is not None and row[latest].strip().lower() != "true":
                continue
            if marker is not None and row[marker].strip().lower() == "true":
                continue
            yield row[bucket], row[key]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise InvalidRequest(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InvalidRequest(f"{uri!r} names no object: expected s3://bucket/path/manifest.json")
    require_bucket_name(bucket)
    return bucket, key


def check_campaign(campaign: str) -> None:
    """A campaign label fits a tag value, UserArguments and an S3 prefix: letters, digits, '.', '_', '-'."""
    if not campaign or len(campaign) > CAMPAIGN_MAX or not set(campaign) <= _CAMPAIGN_CHARS:
        raise InvalidRequest(
            f"campaign {campaign!r} must be 1-{CAMPAIGN_MAX} letters, digits, '.', '_' or '-' "
            "(it names the report and manifest prefixes)"
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


# --- AWS calls of this module (errors reach callers as AwsFailure) -------------------------------------------------


@errors.translated
def _read_json(s3: Any, bucket: str, key: str) -> Mapping[str, Any]:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if errors.classify(exc) is Failure.GONE:
            raise InvalidRequest(f"s3://{bucket}/{key} does not exist ({errors.message(exc)})") from None
        raise
    try:
        parsed = json.loads(body)
    except ValueError:
        raise InvalidRequest(f"s3://{bucket}/{key} is not JSON: expected an S3 Inventory manifest.json") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"s3://{bucket}/{key} is not an S3 Inventory manifest.json")
    return parsed


@errors.translated
def _object_count(cloudwatch: Any, bucket: str, now: datetime) -> tuple[int, datetime] | None:
    """The bucket's latest daily NumberOfObjects (all storage classes and versions) of the last days, and its day."""
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="NumberOfObjects",
        Dimensions=[
            {"Name": "BucketName", "Value": bucket},
            {"Name": "StorageType", "Value": "AllStorageTypes"},
        ],
        StartTime=now - METRIC_LOOKBACK,
        EndTime=now,
        Period=86_400,
        Statistics=["Average"],
    )
    points = answer.get("Datapoints") or []
    if not points:
        return None
    latest = max(points, key=lambda point: point["Timestamp"])
    return int(latest["Average"]), latest["Timestamp"]


@errors.translated
def _write_manifest(
    s3: Any, inventory: Inventory, bucket: str, key: str, owner: str, archives: bool = False
) -> ManifestFile | None:
    """Stream the inventory's data files through the filter into a CSV manifest; None (nothing written) when no row
    is left. Data files are read gzip-decompressed a block at a time and the manifest is uploaded in parts."""
    upload = _PartUpload(s3, bucket, key, owner)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    rows = 0
    try:
        for data_key in inventory.files:
            body = s3.get_object(Bucket=inventory.files_bucket, Key=data_key)["Body"]
            try:
                with gzip.GzipFile(fileobj=body) as unzipped:
                    lines = io.TextIOWrapper(unzipped, encoding="utf-8", newline="")
                    for source, object_key in inventory.select(csv.reader(lines), archives):
                        writer.writerow((source, object_key))
                        rows += 1
                        if text.tell() >= UPLOAD_PART_BYTES:
                            upload.add(text.getvalue().encode())
                            text.seek(0)
                            text.truncate()
            except (gzip.BadGzipFile, EOFError, zlib.error, csv.Error, UnicodeDecodeError) as exc:
                raise InvalidRequest(
                    f"s3://{inventory.files_bucket}/{data_key} is not a gzip-compressed CSV data file: {exc}"
                ) from exc
        if rows == 0:
            upload.abort()
            return None
        etag = upload.finish(text.getvalue().encode())
    except BaseException:
        upload.abort()
        raise
    return ManifestFile(bucket, key, etag.strip('"'), rows)


class _PartUpload:
    """A multipart upload started with the first full part, so a small manifest is one PutObject. Every part but the
    last is UPLOAD_PART_BYTES or more (S3's minimum is 5 MiB). Objects take the report bucket's default encryption
    (DSSE-KMS under the product's key), which the job role can read."""

    def __init__(self, s3: Any, bucket: str, key: str, owner: str) -> None:
        self._s3 = s3
        self._where = {"Bucket": bucket, "Key": key, "ExpectedBucketOwner": owner}
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def add(self, data: bytes) -> None:
        if self._upload_id is None:
            started = self._s3.create_multipart_upload(ContentType="text/csv", **self._where)
            self._upload_id = str(started["UploadId"])
        number = len(self._parts) + 1
        part = self._s3.upload_part(UploadId=self._upload_id, PartNumber=number, Body=data, **self._where)
        self._parts.append({"PartNumber": number, "ETag": part["ETag"]})

    def finish(self, last: bytes) -> str:
        """The manifest's ETag, once the rest (`last`, any size) is written."""
        if self._upload_id is None:
            return str(self._s3.put_object(Body=last, ContentType="text/csv", **self._where)["ETag"])
        if last:
            self.add(last)
        done = self._s3.complete_multipart_upload(
            UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}, **self._where
        )
        self._upload_id = None
        return str(done["ETag"])

    def abort(self) -> None:
        """Drop the parts of an unfinished upload; a failure here must not hide the error that led to it."""
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            with suppress(ClientError, BotoCoreError):
                self._s3.abort_multipart_upload(UploadId=upload_id, **self._where)
