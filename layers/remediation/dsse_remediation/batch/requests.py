"""The jobs of the batch path as S3 Batch Operations takes them: which jobs cover a bucket (`plan`), each job's
CreateJob request, its idempotency token and description, and the campaign label that names a run.

The job is LambdaInvoke on the task function (the same per-object remediation the event path runs), never Batch
Operations' own Copy: Copy cannot ask for DSSE-KMS and applies one ACL, storage class and lock setting to a whole job.
Which objects a job visits comes either from S3's manifest generator, whose encryption filter holds exactly one type
(`MatchAnyObjectEncryption` has one element and no negation, so "not DSSE under our key" is one job per type and
bucket), or from an S3 Inventory report the user already has (one job over a CSV manifest written from its rows).
../shared/reference/aws-facts.md §8 has the facts this module follows.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..config import MAX_JOB_PRIORITY, JobSettings
from ..exceptions import InvalidRequest
from ..scope import Scope, is_directory_bucket, require_bucket_name

# The encryption filter of a job: one type each, as MatchAnyObjectEncryption names it (s3control model, list max 1).
# SSEKMS has no key: every SSE-KMS object is non-compliant whatever its key. SSEC is never a job: SSE-C objects
# cannot be read without the customer's key, so they cannot be remediated.
NOT_DSSE_FILTERS = ("NOTSSE", "SSES3", "SSEKMS")
DSSE_FILTER = "DSSEKMS"  # DSSE under any key: lists compliant objects too (one HEAD each), so only when asked
INVENTORY_FILTER = "INVENTORY"  # not a filter: the job reads a CSV manifest written from an S3 Inventory report
ENCRYPTION_FILTERS = (*NOT_DSSE_FILTERS, DSSE_FILTER, INVENTORY_FILTER)
# HeadObject's x-amz-server-side-encryption -> the filter whose job lists that object (no header: NOTSSE).
_FILTER_OF_HEADER = {"AES256": "SSES3", "aws:kms": "SSEKMS", "aws:kms:dsse": DSSE_FILTER}

# Batch Operations' fixed formats (s3control model enums).
INVOCATION_SCHEMA = "2.0"  # UserArguments, bucket names rather than ARNs in tasks
REPORT_FORMAT = "Report_CSV_20180820"
GENERATED_MANIFEST_FORMAT = "S3InventoryReport_CSV_20211130"
CSV_MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
CAMPAIGN_TAG = "dsse-remediation:campaign"
DESCRIPTION_MAX = 256  # CreateJob Description
_PRODUCT = "dsse-remediation"

# The campaign label names a run everywhere: its jobs' Description, their tag (a tag value: at most 256 characters),
# UserArguments (a value: at most 1,024), the report and manifest prefixes (in S3 keys of at most 1,024 bytes) and
# the task function's log lines. The tightest is the Description (at most 256 characters), which must never be cut:
# the job summary reads the bucket and filter back from it and a run's jobs find each other by its start. It holds
# "dsse-remediation <campaign> s3://<bucket> <filter>": with 64 characters of campaign, a bucket name of up to 159
# characters still fits (every name since 2018 has at most 63). A letter or digit first: never "." or "..", which
# tools read as path segments in a key, nor a leading "-", which a command line reads as an option.
CAMPAIGN_MAX = 64
CAMPAIGN_RULES = f"1-{CAMPAIGN_MAX} letters, digits, '.', '_' or '-', starting with a letter or digit"
_CAMPAIGN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{CAMPAIGN_MAX - 1}}}")


def is_campaign(label: str) -> bool:
    return _CAMPAIGN.fullmatch(label) is not None


def check_campaign(campaign: str) -> None:
    if not is_campaign(campaign):
        raise InvalidRequest(
            f"campaign {campaign!r} must be {CAMPAIGN_RULES} (it names the report and manifest prefixes)"
        )


def encryption_filter_of(algorithm: str | None) -> str:
    """The filter of the job that lists an object whose HeadObject says `algorithm` (none: NOTSSE)."""
    return _FILTER_OF_HEADER.get(algorithm or "", "NOTSSE")


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
    encryption_filter: str  # NOTSSE | SSES3 | SSEKMS | DSSEKMS | INVENTORY
    campaign: str
    dry_run: bool = False
    created_after: datetime | None = None
    created_before: datetime | None = None
    priority: int = 10
    manifest: ManifestFile | None = None

    @property
    def description(self) -> str:
        """`dsse-remediation <campaign> s3://<bucket> <filter>`: how the console and the completion alert name it."""
        return f"{_PRODUCT} {self.campaign} s3://{self.bucket} {self.encryption_filter}"[:DESCRIPTION_MAX]

    @property
    def client_request_token(self) -> str:
        """CreateJob's idempotency key: the same job asked twice (a retried launcher, a re-run command) is created
        once. Whatever decides which objects the job visits and what it does to them is in it."""
        identity = [
            self.campaign,
            self.bucket,
            self.encryption_filter,
            _iso(self.created_after),
            _iso(self.created_before),
            self.dry_run,
            self.manifest.key if self.manifest else None,
            self.manifest.etag if self.manifest else None,
        ]
        digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()
        return f"{_PRODUCT}-{digest}"[:64]


@dataclass(frozen=True)
class Described:
    """A description `dsse-remediation <campaign> s3://<bucket> <filter>` read back (`JobSpec.description`)."""

    campaign: str
    bucket: str | None
    encryption_filter: str | None

    @property
    def run_prefix(self) -> str:
        """What the descriptions of one run's jobs (one per filter, same campaign and bucket) start with."""
        return f"{_PRODUCT} {self.campaign} s3://{self.bucket} "


def described(description: str | None) -> Described | None:
    """None for a description this product did not write."""
    words = (description or "").split()
    if len(words) >= 3 and words[0] == _PRODUCT and words[2].startswith("s3://"):
        bucket = words[2].removeprefix("s3://").rstrip("/") or None
        return Described(words[1], bucket, words[3] if len(words) > 3 else None)
    return None


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
    filters = (*NOT_DSSE_FILTERS, DSSE_FILTER) if include_dsse_other_keys else NOT_DSSE_FILTERS
    return [
        JobSpec(
            bucket=bucket,
            encryption_filter=encryption_filter,
            campaign=campaign,
            dry_run=dry_run,
            created_after=created_after,
            created_before=created_before,
            priority=priority,
        )
        for encryption_filter in filters
    ]


def check_spec(spec: JobSpec) -> None:
    """InvalidRequest for a job that cannot be right, whatever the deployment (the bucket's scope is checked apart)."""
    check_campaign(spec.campaign)
    if spec.encryption_filter not in ENCRYPTION_FILTERS:
        raise InvalidRequest(
            f"encryption filter {spec.encryption_filter!r} is not one of {', '.join(ENCRYPTION_FILTERS)}"
        )
    if (spec.encryption_filter == INVENTORY_FILTER) != (spec.manifest is not None):
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


def check_bucket(bucket: str, scope: Scope) -> None:
    """InvalidRequest for a bucket no job may visit: not a bucket name, a directory bucket, outside the scope."""
    require_bucket_name(bucket)
    if is_directory_bucket(bucket):
        raise InvalidRequest(f"bucket {bucket} is a directory bucket: they cannot hold DSSE-KMS objects")
    if not scope.contains(bucket):
        raise InvalidRequest(
            f"bucket {bucket} is outside the protected buckets ({scope.describe()}): no job was created"
        )


def create_job_request(spec: JobSpec, config: JobSettings, function_version: str, dry_run: bool) -> dict[str, Any]:
    """The CreateJob parameters of one job, its tasks invoking `function_version` (a pinned version ARN)."""
    campaign = spec.campaign
    request: dict[str, Any] = {
        "AccountId": config.account_id,
        "ConfirmationRequired": False,
        "Operation": {
            "LambdaInvoke": {
                "FunctionArn": function_version,
                "InvocationSchemaVersion": INVOCATION_SCHEMA,
                "UserArguments": {"dryRun": "true" if dry_run else "false", "campaign": campaign},
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
        "ClientRequestToken": replace(spec, dry_run=dry_run).client_request_token,
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
        request["ManifestGenerator"] = {"S3JobManifestGenerator": _generator(spec, config)}
    return request


def _generator(spec: JobSpec, config: JobSettings) -> dict[str, Any]:
    """S3JobManifestGenerator: list the bucket's objects of one encryption type (and creation window).

    The generated manifest goes to the report bucket with no ManifestEncryption: the model offers only SSES3
    and SSEKMS there (no DSSE-KMS), so leaving it out lets the report bucket's default encryption, DSSE-KMS
    under the product's key, apply rather than writing single-layer objects into a DSSE bucket.
    """
    match: dict[str, Any] = {"MatchAnyObjectEncryption": [{spec.encryption_filter: {}}]}
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


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None
