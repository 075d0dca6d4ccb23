"""The deployment the contract tests check (template.yaml with every opt-in on) and the scenarios that run every path
of each function on fake AWS through `Calls` (tests/template/iam_model.py), so that what the code calls can be set
against what the template grants. S3 Batch Operations jobs are created on the s3control double
(tests/s3control_double.py: moto has no Batch Operations), which checks every request against the service model."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from dsse_remediation import posture_run, sweep
from dsse_remediation.aws import report_files
from dsse_remediation.batch import requests
from dsse_remediation.batch.events import CoverageRequest, JobStatusChange, parse_batch_jobs_event
from dsse_remediation.batch.tasks import parse_batch_invocation
from dsse_remediation.config import MIB, BatchSettings, CanarySettings, Mode, PostureSettings, ResultSharing, Settings
from dsse_remediation.config_rule import parse_config_event
from dsse_remediation.deadline import Deadline
from dsse_remediation.model import BucketRequest, KeyEvent, ObjectRequest, SweepStep
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests import config_double
from tests.cfn import Resolved
from tests.clock import PinnedClock
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_OTHER_KEY, REGION, inject_error, load_event, put
from tests.s3control_double import ReportRow, S3ControlDouble
from tests.template.iam_model import Calls

OBJECT, BUCKET, KEY = "ObjectRemediationFunction", "BucketRemediationFunction", "KeyGuardFunction"
TASK, JOBS = "BatchTaskFunction", "BatchJobsFunction"  # S3 Batch Operations: its tasks; starting and summarising jobs
CANARY = "CanaryFunction"  # the canary (CanarySchedule): a remediate-mode deployment's only
CONFIG = "ConfigRuleFunction"  # the AWS Config custom rule (ConfigRule)
FUNCTIONS = (OBJECT, BUCKET, KEY, TASK, JOBS, CANARY, CONFIG)
INVENTORY_BUCKET = "example-inventory-reports"  # InventoryBuckets: where S3 Inventory delivers the reports
POSTURE_BUCKET = "example-measured"  # the scheduled posture's bucket with an inventory of all versions
CATEGORY = "secrets-*"  # the BucketKeyMap pattern of the scenarios: buckets named secrets-... use the category key
PLACEHOLDER_CATEGORY_KEY = "arn:aws:kms:us-east-1:123456789012:key/3333cccc-33cc-33cc-33cc-333333333333"
SECURITY_BUS = "arn:aws:events:us-east-1:999988887777:event-bus/dsse-remediation-results"  # the security account's
DEFAULT_BUS = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/default"
FINDINGS_PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"
HUB = f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:hub/default"
# CreateJob is granted to requests that tag the job as this product's (the campaign tag).
JOB_TAG_CONDITION = {"Null": {f"aws:RequestTag/{requests.CAMPAIGN_TAG}": "false"}}
SAMPLE_JOB_ID = "9c1d5e0b-fd60-4b6e-9ae7-c9ab5a41b3e6"  # the job of events/batch-job-status-complete.json
TASK_VERSION = "7"  # the task function's version its `live` alias names (GetAlias, answered by the double)
# Every opt-in of the template on.
ALL_ON = {
    "PurgeNoncurrentVersions": "true",
    "PreventionPolicy": "true",
    "SweepAfterBucketReset": "true",
    "KeyGuardRevert": "true",
    "RemediateRestoredArchives": "true",
    "SourceKmsKeyArns": PLACEHOLDER_OTHER_KEY,
    "BucketKeyMap": f"{CATEGORY}={PLACEHOLDER_CATEGORY_KEY}",
    "BackstopSchedule": "rate(1 day)",
    "BackstopIncludeDsseOtherKeys": "true",
    "InventoryBuckets": INVENTORY_BUCKET,
    "SecurityBusArn": SECURITY_BUS,
    "SecurityHubFindings": "true",
    "CanarySchedule": "rate(15 minutes)",
    "PostureSchedule": "rate(1 day)",
    "ConfigRule": "true",
}
CANARY_BUCKET = Resolved().value({"Ref": "CanaryBucket"})  # the stack's canary bucket, as tests/cfn.py names it


def map_patterns(parameters: Mapping[str, str]) -> list[str]:
    """The bucket patterns of the BucketKeyMap parameter."""
    return [entry.split("=", 1)[0] for entry in parameters["BucketKeyMap"].split(",") if entry]


@dataclass
class World:
    dsse_key: str
    other_key: str  # SourceKmsKeyArns: some team's SSE-KMS key
    category_key: str  # BucketKeyMap: secrets-* buckets
    topic: str
    queue_url: str

    @property
    def parameters(self) -> dict[str, str]:
        """The template, deployed for this world: its keys, its topic and queue (named as tests/cfn.py names them)."""
        return ALL_ON | {
            "DsseKmsKeyArn": self.dsse_key,
            "SourceKmsKeyArns": self.other_key,
            "BucketKeyMap": f"{CATEGORY}={self.category_key}",
        }

    def settings(self, mode: Mode) -> Settings:
        """Every opt-in of the code on, as the template sets them."""
        return Settings(
            key=self.dsse_key,
            bucket_keys=((CATEGORY, self.category_key),),
            mode=mode,
            alert_topic_arn=self.topic,
            purge_noncurrent=True,
            prevention_policy=True,
            sweep_after_reset=True,
            object_queue_url=self.queue_url,
            key_guard_revert=True,
            remediate_restored_archives=True,
            multipart_threshold=5 * MIB,
            part_size=5 * MIB,
            account_id=ACCOUNT_ID,
            region=REGION,
            sharing=ResultSharing(forward_results=True, security_hub_findings=True),
            canary=CanarySettings(bucket=CANARY_BUCKET),
        )


# --- the scenarios: every path of each function on fake AWS ---------------------------------------------------------


def every_kind_of_object(bucket: str, world: World) -> list[str]:
    """A versioned, Object Lock, ACL-enabled bucket holding one object of each kind the object path treats apart."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, ObjectOwnership="ObjectWriter")
    put(s3, bucket, "a-broken.bin", Body=b"y" * (6 * MIB))  # its multipart copy fails once: aborted
    put(s3, bucket, "big.bin", Body=b"x" * (6 * MIB), Tagging="team=a", ACL="public-read")
    put(s3, bucket, "page.html", ACL="public-read", Tagging="team=web")
    put(s3, bucket, "sse-kms.csv", ServerSideEncryption="aws:kms", SSEKMSKeyId=world.other_key)
    put(s3, bucket, "held.log", ObjectLockLegalHoldStatus="ON")
    put(
        s3,
        bucket,
        "retained.log",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime(2030, 1, 1, tzinfo=UTC),
    )
    put(s3, bucket, "plain.csv")
    s3.create_bucket(Bucket=f"{bucket}-unversioned", ObjectOwnership="ObjectWriter")
    put(s3, f"{bucket}-unversioned", "page.html", ACL="public-read", Tagging="team=web")
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])


def category_bucket(world: World) -> None:
    """A category bucket: its objects go under the category key; a DSSE object under the default key is read with it."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="secrets-vault")
    put(s3, "secrets-vault", "big.bin", Body=b"z" * (6 * MIB))
    put(s3, "secrets-vault", "dsse-default.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=world.dsse_key)


def canary_bucket() -> Any:
    """The stack's canary bucket as the template makes it: SSE-S3 by default, ACLs disabled (tests/aws_fidelity.py)."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=CANARY_BUCKET)
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
    s3.put_bucket_encryption(Bucket=CANARY_BUCKET, ServerSideEncryptionConfiguration={"Rules": [rule]})
    return s3


def canary_write(remediator: Any) -> None:
    """The event path on a canary write (CanarySchedule): its object in the canary bucket, remediated."""
    s3 = canary_bucket()
    s3.put_object(Bucket=CANARY_BUCKET, Key="canary/20261120T091502Z", Body=b"canary")
    remediator.handle(ObjectRequest(CANARY_BUCKET, ("canary/20261120T091502Z",)))


def object_scenarios(calls: Calls, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = every_kind_of_object("objects", world)
    s3 = boto3.client("s3", region_name=REGION)
    version = s3.head_object(Bucket="objects", Key="plain.csv")["VersionId"]
    category_bucket(world)
    app = calls.app(settings)
    remediator = app.objects
    inject_error(app.object_store.client, "CompleteMultipartUpload", "InternalError", 500, times=1)
    remediator.handle(ObjectRequest("objects", ("plain.csv",), version_id=version))  # a manual request for a version
    for key in [*keys, "deleted.csv"]:
        remediator.handle(ObjectRequest("objects", (key,)))
    remediator.handle(ObjectRequest("objects-unversioned", ("page.html",)))
    for key in ("big.bin", "dsse-default.csv"):
        remediator.handle(ObjectRequest("secrets-vault", (key,)))
    canary_write(remediator)
    # Sweep steps: a page of 2 keys instead of 1,000 (the calls are the same), so the first step queues the next.
    monkeypatch.setattr(sweep, "PAGE", 2)
    sweeper = app.sweeper
    assert sweeper is not None
    s3.put_object(Bucket="objects-unversioned", Key="more.csv", Body=b"m")
    s3.put_object(Bucket="objects-unversioned", Key="most.csv", Body=b"m")
    sweeper.step(SweepStep("objects-unversioned", "sweep-1"))


def bucket_scenarios(calls: Calls, world: World, settings: Settings, _: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("new-bucket", "secrets-new"):  # the default key, and a category's key
        s3.create_bucket(Bucket=bucket)
        put(s3, bucket, "old.csv")
    remediator = calls.app(settings).buckets
    for bucket in ("new-bucket", "secrets-new", "new-bucket"):  # the second look finds it compliant (GetFindings)
        remediator.handle(BucketRequest(bucket))


def key_scenarios(calls: Calls, world: World, settings: Settings, _: pytest.MonkeyPatch) -> None:
    guard = calls.app(settings).key_guard
    kms = boto3.client("kms", region_name=REGION)
    for key in (world.dsse_key, world.category_key):  # the key guard watches every key of the configuration
        for event in ("DisableKey", "ScheduleKeyDeletion", "DisableKeyRotation", "PutKeyPolicy"):
            if event == "DisableKey":
                kms.disable_key(KeyId=key)
            if event == "ScheduleKeyDeletion":
                kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
            if event == "DisableKeyRotation":
                kms.disable_key_rotation(KeyId=key)
            guard.handle(KeyEvent((key,), event))
        guard.handle(KeyEvent((key,)))  # the manual report


def batch_task_scenarios(calls: Calls, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The object scenarios as S3 Batch Operations tasks (schema 2.0, keys URL-encoded as events/batch-task.json),
    a dry run among them; no sweep (the task function queues nothing)."""
    keys = every_kind_of_object("objects", world)
    s3 = boto3.client("s3", region_name=REGION)
    category_bucket(world)
    app = calls.app(settings)
    inject_error(app.object_store.client, "CompleteMultipartUpload", "InternalError", 500, times=1)
    tasks = [("objects", key) for key in [*keys, "deleted.csv"]]
    tasks += [("objects-unversioned", "page.html"), ("secrets-vault", "big.bin"), ("secrets-vault", "dsse-default.csv")]
    version = s3.head_object(Bucket="objects", Key="plain.csv")["VersionId"]
    for dry_run in ("true", "false"):
        for bucket, key, version_id in [("objects", "plain.csv", version), *((b, k, None) for b, k in tasks)]:
            invocation = load_event("batch-task.json")
            invocation["job"]["userArguments"]["dryRun"] = dry_run
            invocation["tasks"][0] |= {
                "s3Bucket": bucket,
                "s3Key": quote_plus(key, safe="/"),
                "s3VersionId": version_id,
            }
            (result,) = app.batch_tasks.run(parse_batch_invocation(invocation))
            assert result.result is not None, result.text  # every task reached the remediation


def inventory_report(s3: Any, source: str, rows: int) -> None:
    """An S3 Inventory report of `source` (CSV with EncryptionStatus) in INVENTORY_BUCKET, as S3 delivers it:
    <prefix>/<source>/<id>/<YYYY-MM-DDTHH-MMZ>/manifest.json and gzip CSV data files.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html"""
    data_key = f"inventory/{source}/all/data/part-0.csv.gz"
    lines = "".join(
        f'"{source}","exports/file-{n:07d}.csv","{"DSSE-KMS" if n % 2 else "SSE-S3"}"\n' for n in range(rows)
    )
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=data_key, Body=gzip.compress(lines.encode()))
    manifest = {
        "sourceBucket": source,
        "destinationBucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, EncryptionStatus",
        "files": [{"key": data_key, "size": 1, "MD5checksum": "0"}],
        "creationTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
    }
    folder = f"inventory/{source}/all/{datetime.now(UTC):%Y-%m-%dT%H-00Z}/"
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode())


def inventory_configurations(source: str) -> Callable[[str, Mapping[str, Any]], dict[str, Any]]:
    """ListBucketInventoryConfigurations as S3 answers it: moto drops the OptionalFields it was given
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBucketInventoryConfigurations.html)."""

    def answer(_: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if params["Bucket"] != source:
            return {"IsTruncated": False}
        return {
            "IsTruncated": False,
            "InventoryConfigurationList": [
                {
                    "Id": "all",
                    "IsEnabled": True,
                    "IncludedObjectVersions": "Current",
                    "Schedule": {"Frequency": "Daily"},
                    "OptionalFields": ["EncryptionStatus"],
                    "Destination": {
                        "S3BucketDestination": {
                            "Bucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
                            "Format": "CSV",
                            "Prefix": "inventory",
                        }
                    },
                }
            ],
        }

    return answer


def posture_inventory(s3: Any, world: World) -> Callable[[str, Mapping[str, Any]], dict[str, Any]]:
    """POSTURE_BUCKET (versioned, two DSSE-KMS versions under the key) and its S3 Inventory report of all versions
    with EncryptionStatus in INVENTORY_BUCKET; ListBucketInventoryConfigurations answers its configuration, and the
    backstop's (inventory_configurations) for the others."""
    s3.create_bucket(Bucket=POSTURE_BUCKET)
    s3.put_bucket_versioning(Bucket=POSTURE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for size in (10, 20):
        s3.put_object(
            Bucket=POSTURE_BUCKET,
            Key="ledger.csv",
            Body=b"x" * size,
            ServerSideEncryption="aws:kms:dsse",
            SSEKMSKeyId=world.dsse_key,
        )
    lines = "".join(
        f'"{POSTURE_BUCKET}","ledger.csv","{v["VersionId"]}","{str(v["IsLatest"]).lower()}","false","{v["Size"]}",'
        '"DSSE-KMS"\n'
        for v in s3.list_object_versions(Bucket=POSTURE_BUCKET)["Versions"]
    )
    body = gzip.compress(lines.encode())
    data_key = f"inventory/{POSTURE_BUCKET}/all-versions/data/part-0.csv.gz"
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=data_key, Body=body)
    manifest = {
        "sourceBucket": POSTURE_BUCKET,
        "destinationBucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus",
        "files": [{"key": data_key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()}],
    }
    folder = f"inventory/{POSTURE_BUCKET}/all-versions/{datetime.now(UTC):%Y-%m-%dT%H-00Z}/"
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode())
    backstop = inventory_configurations("inventoried")

    def answer(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if params["Bucket"] != POSTURE_BUCKET:
            return backstop(operation, params)
        configuration = backstop(operation, {"Bucket": "inventoried"})["InventoryConfigurationList"][0]
        destination = configuration["Destination"]["S3BucketDestination"]
        return {
            "IsTruncated": False,
            "InventoryConfigurationList": [
                configuration
                | {
                    "Id": "all-versions",
                    "IncludedObjectVersions": "All",
                    "Destination": {"S3BucketDestination": destination},
                }
            ],
        }

    return answer


def athena_answers(calls: Calls, s3: Any, env: Mapping[str, str]) -> dict[str, str]:
    """Athena as it answers the posture's queries (moto's Athena does not serve this botocore: tests/athena_double.py):
    each statement SUCCEEDED (or `state`), the grouped counts and the DSSE-KMS sample of POSTURE_BUCKET's report by the
    statement last started. The workgroup enforces its result location, the report bucket's athena/ prefix."""
    calls.athena_results[env["POSTURE_ATHENA_WORKGROUP"]] = f"s3://{env['REPORT_BUCKET']}/athena/"
    answer = {"state": "SUCCEEDED"}
    versions = s3.list_object_versions(Bucket=POSTURE_BUCKET)["Versions"]

    def sql() -> str:
        return str(
            [p for service, operation, p in calls.requests if operation == "StartQueryExecution"][-1]["QueryString"]
        )

    def results(_: str, params: Mapping[str, Any]) -> dict[str, Any]:
        text = sql()
        if "rand()" in text:
            columns = ["key", "version_id", "size", "is_current"]
            rows = [["ledger.csv", v["VersionId"], str(v["Size"]), str(v["IsLatest"]).lower()] for v in versions]
        elif "GROUP BY" in text:
            columns = ["bucket", "is_current", "encryption_status", "objects", "bytes"]
            rows = [[POSTURE_BUCKET, str(v["IsLatest"]).lower(), "DSSE-KMS", "1", str(v["Size"])] for v in versions]
        else:  # the table's DDL, the largest versions left (none)
            columns, rows = [], []
        header = [{"Data": [{"VarCharValue": name} for name in columns]}] if columns else []
        return {
            "ResultSet": {
                "Rows": header + [{"Data": [{"VarCharValue": value} for value in row]} for row in rows],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": n, "Label": n, "Type": "varchar"} for n in columns]},
            }
        }

    started = iter(range(1, 1000))
    calls.fakes["athena.StartQueryExecution"] = lambda _, params: {"QueryExecutionId": f"query-{next(started)}"}
    calls.fakes["athena.GetQueryExecution"] = lambda _, params: {
        "QueryExecution": {
            "QueryExecutionId": params["QueryExecutionId"],
            "Status": {"State": answer["state"]},
            "Statistics": {"DataScannedInBytes": 10_000_000},
        }
    }
    calls.fakes["athena.GetQueryResults"] = results
    calls.fakes["athena.StopQueryExecution"] = lambda _, params: {}
    return answer


def batch_jobs_scenarios(calls: Calls, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backstop (dry run, a run whose manifest upload fails, a run) over a bucket with recent writes and a bucket
    with an S3 Inventory report, then the summary of a finished job, from its JobStatusChanged event, then the coverage
    check a trail change triggers, then the scheduled posture (an inventory of all versions read, its DSSE-KMS versions
    read with HeadObject, the documents written into the report bucket, the summary forwarded)."""
    s3 = boto3.client("s3", region_name=REGION)
    env = Resolved(world.parameters).function_environment(JOBS)
    report_bucket = env["REPORT_BUCKET"]
    s3.create_bucket(Bucket=report_bucket)
    s3.put_bucket_encryption(
        Bucket=report_bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms:dsse",
                        "KMSMasterKeyID": world.dsse_key,
                    },
                    "BucketKeyEnabled": False,
                }
            ]
        },
    )
    s3.create_bucket(Bucket="objects")
    put(s3, "objects", "new.csv")
    category_bucket(world)  # its jobs are checked by the reader-safety gate under the category key
    s3.create_bucket(Bucket="inventoried")
    s3.create_bucket(Bucket=INVENTORY_BUCKET)
    # Over one 5 MiB part of manifest rows: the manifest is a multipart upload (which fails once: aborted).
    monkeypatch.setattr(report_files, "UPLOAD_PART_BYTES", 5 * MIB)
    inventory_report(s3, "inventoried", rows=320_000)
    # Batch Operations (CreateJob, DescribeJob, ListJobs) and the task function's alias (GetAlias) from the double;
    # its completion report is written with an unrecorded client: Batch Operations writes it, not the function.
    double = S3ControlDouble(ACCOUNT_ID, REGION, s3=s3, aliases={env["BATCH_TASK_FUNCTION"]: TASK_VERSION})
    calls.clients = double.factory(calls.clients)
    calls.lock_fields = False
    calls.fakes["s3.ListBucketInventoryConfigurations"] = inventory_configurations("inventoried")
    app = calls.app(settings)
    app.backstop.run(dry_run=True)
    inject_error(app.client("s3"), "CompleteMultipartUpload", "InternalError", 500, times=1)
    assert app.backstop.run().failed  # the inventoried bucket: looked at again next time
    assert not app.backstop.run().failed
    job_id = next(iter(double.jobs))  # the first job created
    double.finish(
        job_id,
        "Complete",
        report=[
            ReportRow("new.csv", result="remediated: copied in place", bucket="objects"),
            ReportRow(
                "old.csv",
                task_status="failed",
                result="failed: InternalError",
                bucket="objects",
                error_code="PermanentFailure",
            ),
        ],
    )
    request = parse_batch_jobs_event(load_event("batch-job-status-complete.json", **{SAMPLE_JOB_ID: job_id}))
    assert isinstance(request, JobStatusChange)
    summary = app.completions.on_status_change(request.job_id, request.status, request.trigger)
    assert summary is not None
    assert summary.alert_error is None
    app.completions.summarize(job_id)
    # The coverage check after a trail change: DescribeTrails, then the trail's status and selectors, by its ARN.
    boto3.client("cloudtrail", region_name=REGION).create_trail(Name="data-events", S3BucketName=report_bucket)
    change = parse_batch_jobs_event(load_event("cloudtrail-stop-logging.json"))
    assert isinstance(change, CoverageRequest)
    run = app.coverage_check.run(change)
    assert run.report.uncovered
    assert run.alert_error is None
    calls.fakes["s3.ListBucketInventoryConfigurations"] = posture_inventory(s3, world)
    posture = app.posture.run(Deadline(capacity=900.0, left=lambda: 900.0))
    assert [figure.bucket for figure in posture.figures] == [POSTURE_BUCKET]
    assert posture.alert_error is None
    # The same report, now too large for the invocation: counted by Athena (its table, its queries), then again with
    # a query still running when the time runs out: stopped (StopQueryExecution).
    athena = athena_answers(calls, s3, env)
    monkeypatch.setattr(posture_run, "ROWS_PER_VCPU_SECOND", 1e-3)
    posture = app.posture.run(Deadline(capacity=900.0, left=lambda: 900.0))
    assert posture.athena == (POSTURE_BUCKET,), posture.document["buckets"]
    assert [figure.bucket for figure in posture.figures] == [POSTURE_BUCKET]
    athena["state"] = "RUNNING"
    source, asked = app.posture.athena, []
    assert source is not None
    app.posture.athena = lambda deadline: (asked.append(deadline), source(deadline))[1]
    posture = app.posture.run(Deadline(capacity=900.0, left=lambda: 1.0 if asked else 900.0))  # out once it asks
    (stopped,) = [entry["error"] for entry in posture.document["buckets"] if entry["bucket"] == POSTURE_BUCKET]
    assert "StopQueryExecution" in stopped, stopped


def jobs_settings(world: World, mode: Mode) -> Settings:
    """The batch jobs function's settings as the template sets them for this world."""
    env = Resolved(world.parameters).function_environment(JOBS)
    return replace(
        world.settings(mode),
        scope=Scope(("*",), (env["REPORT_BUCKET"], INVENTORY_BUCKET)),
        batch=BatchSettings(
            task_function=env["BATCH_TASK_FUNCTION"],
            job_role_arn=env["BATCH_JOB_ROLE_ARN"],
            report_bucket=env["REPORT_BUCKET"],
            backstop_include_dsse_other_keys=env["BACKSTOP_INCLUDE_DSSE_OTHER_KEYS"] == "true",
        ),
        posture=PostureSettings(
            sample_size=int(env["POSTURE_SAMPLE_SIZE"]),
            athena_workgroup=env["POSTURE_ATHENA_WORKGROUP"],
            glue_database=env["POSTURE_GLUE_DATABASE"],
        ),
        account_id=ACCOUNT_ID,
        region=REGION,
    )


def canary_scenarios(calls: Calls, world: World, settings: Settings, _: pytest.MonkeyPatch) -> None:
    """Three ticks: the first writes; the event path makes its write DSSE-KMS (an unrecorded copy: the object
    function's calls, not the canary's), so the second passes it (a heartbeat), deletes it and writes; nothing
    remediates that one, so the third, past the SLO, misses it (an alert), deletes it and writes."""
    s3 = canary_bucket()
    clock = PinnedClock()
    canary = App(settings, calls.client, clock=clock).canary
    calls.lock_fields = False  # the canary reads encryption and LastModified only
    canary.tick()
    (key,) = [item["Key"] for item in s3.list_objects_v2(Bucket=CANARY_BUCKET)["Contents"]]
    dsse = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": world.dsse_key}
    s3.copy_object(Bucket=CANARY_BUCKET, Key=key, CopySource={"Bucket": CANARY_BUCKET, "Key": key}, **dsse)
    clock.advance(timedelta(minutes=15))
    passed = canary.tick()
    clock.advance(timedelta(minutes=15))
    missed = canary.tick()
    assert [p.outcome.value for p in (*passed.probes, *missed.probes)] == ["passed", "missed"]


def config_rule_scenarios(calls: Calls, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule's period before any posture was written (posture/latest.json missing: 404), then, once the posture
    is written, the change of one bucket; PutEvaluations kept by tests/config_double.py (moto answers TestMode only)."""
    s3 = boto3.client("s3", region_name=REGION)
    report_bucket = Resolved(world.parameters).function_environment(CONFIG)["REPORT_BUCKET"]
    for name in (report_bucket, "example-protected-bucket", "objects"):
        s3.create_bucket(Bucket=name)
    dsse = {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": world.dsse_key}
    for name in (report_bucket, "example-protected-bucket"):
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": dsse}]},
        )
    settings = replace(
        settings, scope=Scope(("*",), (report_bucket,)), batch=BatchSettings(report_bucket=report_bucket)
    )
    rule = calls.app(settings).bucket_rule
    calls.lock_fields = False
    with config_double.applied(monkeypatch) as double:
        periodic = rule.run(parse_config_event(load_event("config-rule-periodic.json")))
        assert {(e.bucket, e.compliance.value) for e in periodic.evaluations} == {
            (report_bucket, "NOT_APPLICABLE"),  # the stack's own: out of scope, its default never read
            ("example-protected-bucket", "NON_COMPLIANT"),  # no posture yet
            ("objects", "NON_COMPLIANT"),
        }
        posture = {"generatedAt": datetime.now(UTC).isoformat(), "buckets": []}
        s3.put_object(Bucket=report_bucket, Key="posture/latest.json", Body=json.dumps(posture).encode())
        changed = rule.run(parse_config_event(load_event("config-rule-bucket-changed.json")))
        assert changed.evaluations
        assert double.delivered


SCENARIOS: dict[str, Callable[[Calls, World, Settings, pytest.MonkeyPatch], None]] = {
    OBJECT: object_scenarios,
    BUCKET: bucket_scenarios,
    KEY: key_scenarios,
    TASK: batch_task_scenarios,
    JOBS: batch_jobs_scenarios,
    CANARY: canary_scenarios,
    CONFIG: config_rule_scenarios,
}


def scenario_settings(function: str, world: World, mode: Mode) -> Settings:
    """The settings a function's scenarios run with. The task function's as the template sets it: neither forwarding
    nor findings (UNUSED_BY in test_contract_environment.py)."""
    if function == TASK:
        return replace(world.settings(mode), sharing=ResultSharing())
    return jobs_settings(world, mode) if function == JOBS else world.settings(mode)
