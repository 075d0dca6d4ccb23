"""The template and the code agree: every variable the code reads is set (or knowingly defaulted), every IAM action
the code's AWS calls need is granted on the resource the call names, nothing more is granted than those calls need,
and an alert-only deployment can write nothing, neither by its permissions nor by its calls."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlparse

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError

from dsse_remediation import backfill, sweep
from dsse_remediation.alerts import ForwardFailed
from dsse_remediation.aws.events import DETAIL_TYPE, SOURCE
from dsse_remediation.batch_events import JobStatusChange, parse_batch_jobs_event
from dsse_remediation.batch_tasks import parse_batch_invocation
from dsse_remediation.cli.session import STACK_OUTPUTS
from dsse_remediation.config import MIB, Mode, Settings
from dsse_remediation.findings import FindingImportFailed
from dsse_remediation.model import BucketRequest, Failure, KeyEvent, ObjectRequest, SweepStep
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests.cfn import Resolved
from tests.helpers import PLACEHOLDER_OTHER_KEY, REGION, inject_error, load_event, put

OBJECT, BUCKET, KEY = "ObjectRemediationFunction", "BucketRemediationFunction", "KeyGuardFunction"
TASK, JOBS = "BatchTaskFunction", "BatchJobsFunction"  # S3 Batch Operations: its tasks; starting and summarising jobs
FUNCTIONS = (OBJECT, BUCKET, KEY, TASK, JOBS)
INVENTORY_BUCKET = "example-inventory-reports"  # InventoryBuckets: where S3 Inventory delivers the reports
ACCOUNT = "123456789012"
CATEGORY = "secrets-*"  # the BucketKeyMap pattern of the scenarios: buckets named secrets-... use the category key
# Variables every function reads through Settings but the template leaves to their defaults, and why.
DEFAULTED = {
    "ENCRYPTION_CONTEXT": "optional; none by default",
    "MULTIPART_PART_SIZE_BYTES": "512 MiB, raised automatically to stay within 10,000 parts",
    "COPY_CONCURRENCY": "8 part copies at a time per object",
    "SWEEP_MAX_OBJECTS": "1,000 objects per sweep; larger buckets are for the bulk backfill",
    "AWS_REGION": "set by the Lambda runtime",
    "AWS_DEFAULT_REGION": "set by the Lambda runtime",
    "BATCH_JOB_PRIORITY": "10 for every backstop job; the CLI's backfill --priority sets one backfill's",
    "BACKSTOP_LOOKBACK_HOURS": "25: a bucket's first backstop window, a day and an hour of overlap",
    "BACKSTOP_LISTING_LIMIT": "10,000 keys listed per bucket to see a recent write; larger buckets want S3 Inventory",
}
# The batch jobs function's variables: where jobs run, what they invoke, where they report.
BATCH = {"BATCH_TASK_FUNCTION", "BATCH_JOB_ROLE_ARN", "REPORT_BUCKET", "BACKSTOP_INCLUDE_DSSE_OTHER_KEYS"}
# Variables a function reads but does not use; the template sets them only where they matter.
UNUSED_BY = {
    OBJECT: {"PREVENTION_POLICY", "KEY_GUARD_REVERT", *BATCH},
    BUCKET: {
        "PURGE_NONCURRENT_VERSIONS",
        "KEY_GUARD_REVERT",
        "MULTIPART_THRESHOLD_BYTES",  # the bucket function no longer copies objects: a sweep only queues them
        "REMEDIATE_RESTORED_ARCHIVES",
        *BATCH,
    },
    # Its results are about keys: no Security Hub finding (findings are about objects and buckets).
    KEY: {
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "SWEEP_AFTER_BUCKET_RESET",
        "PURGE_NONCURRENT_VERSIONS",
        "MULTIPART_THRESHOLD_BYTES",
        "OBJECT_QUEUE_URL",
        "REMEDIATE_RESTORED_ARCHIVES",
        *BATCH,
    },
    # The object remediation without its alerts (a job's summary alert says it all, and is the one forwarded), without
    # sweeps, and without findings (template.yaml: a backfill would meet the BatchImportFindings quota).
    TASK: {
        "FORWARD_RESULTS",
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "KEY_GUARD_REVERT",
        "SWEEP_AFTER_BUCKET_RESET",
        "OBJECT_QUEUE_URL",
        "ALERT_TOPIC_ARN",
        *BATCH,
    },
    # It starts and reads jobs; the objects are the task function's.
    JOBS: {
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "KEY_GUARD_REVERT",
        "SWEEP_AFTER_BUCKET_RESET",
        "OBJECT_QUEUE_URL",
        "PURGE_NONCURRENT_VERSIONS",
        "MULTIPART_THRESHOLD_BYTES",
        "REMEDIATE_RESTORED_ARCHIVES",
    },
}
PLACEHOLDER_CATEGORY_KEY = "arn:aws:kms:us-east-1:123456789012:key/3333cccc-33cc-33cc-33cc-333333333333"
SECURITY_BUS = "arn:aws:events:us-east-1:999988887777:event-bus/dsse-remediation-results"  # the security account's
DEFAULT_BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
FINDINGS_PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
HUB = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default"
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
}


class Recording(dict[str, str]):
    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_variable_read_is_set_by_the_template_and_every_variable_set_is_read(function: str) -> None:
    env = Recording(Resolved(ALL_ON).function_environment(function))

    Settings.from_env(env)

    ours = {name for name in env if not name.startswith("POWERTOOLS_")}
    assert ours <= env.read, f"set but never read: {ours - env.read}"
    assert env.read - ours <= set(DEFAULTED) | UNUSED_BY[function], f"read, never set: {env.read - ours}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_reads_the_bucket_key_map_the_template_sets(function: str) -> None:
    """Each function must know every key: the object function picks one, the bucket function checks it, the key
    guard watches it."""
    settings = Settings.from_env(Resolved(ALL_ON).function_environment(function))

    assert settings.bucket_keys == ((CATEGORY, PLACEHOLDER_CATEGORY_KEY),)


@pytest.mark.parametrize("sweep", ["true", "false"])
def test_a_sweep_is_wired_in_both_functions_that_run_it_or_in_neither(sweep: str) -> None:
    """The bucket function starts a sweep, the object function runs its steps: each builds its sweeper from the
    variables the template sets, so both have one or neither has (a step nobody runs would be dropped)."""
    template = Resolved(ALL_ON | {"SweepAfterBucketReset": sweep})
    object_side = App.from_env(template.function_environment(OBJECT)).sweeper
    bucket_side = App.from_env(template.function_environment(BUCKET)).sweeper

    assert (object_side is not None, bucket_side is not None) == ((sweep == "true"),) * 2


# --- IAM: what the code's calls need, on which resource -------------------------------------------------------------
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html (and the KMS, SNS, SQS pages)

Need = tuple[str, str]  # (IAM action, ARN of the resource the call acts on)


def s3_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def queue_arn(url: str) -> str:
    """https://sqs.<region>.amazonaws.com/<account>/<name> -> arn:aws:sqs:<region>:<account>:<name>"""
    parsed = urlparse(url)
    account, name = parsed.path.strip("/").split("/")
    return f"arn:aws:sqs:{parsed.netloc.split('.')[1]}:{account}:{name}"


@dataclass
class Calls:
    """Records what each call made through `client()` needs. Looks at the state it needs (a copy source's
    encryption, a multipart upload's key) with its own, unrecorded, clients."""

    topic_key: str  # the alert topic is encrypted with the stack's AlertTopicKey: publishing uses it
    needs: set[Need] = field(default_factory=set)
    uploads: dict[tuple[str, str], str] = field(default_factory=dict)  # (bucket, key) -> its multipart upload's key
    # Answers for what moto does not serve ("service" or "service.Operation" -> answer(params)): the request is still
    # built, and so checked against the service model, before the answer replaces AWS's.
    fakes: dict[str, Callable[[str, Mapping[str, Any]], dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (service, operation, params)
    # HeadObject reports Object Lock settings only to callers with the retention and legal-hold read actions: the
    # object path needs them (it keeps them on its copy); the backstop only asks whether a report exists.
    lock_fields: bool = True

    def app(self, settings: Settings) -> App:
        """The composition root on clients whose calls are recorded."""
        return App(settings, self.client)

    def client(self, service: str, region: str | None = None) -> Any:
        client = boto3.client(service, region_name=region or REGION)

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.requests.append((service, model.name, dict(params)))
            self.needs |= self.needed(service, model.name, params)

        def fake(model: Any, **_: Any) -> Any:
            answer = self.fakes.get(f"{service}.{model.name}") or self.fakes.get(service)
            if answer is None:
                return None
            (_, _, params) = [r for r in self.requests if r[:2] == (service, model.name)][-1]  # this call's
            return AWSResponse("https://fake", 200, HTTPHeaders(), None), answer(model.name, params)

        events = client.meta.service_model.service_id.hyphenize()  # s3control's events are named s3-control
        client.meta.events.register(f"provide-client-params.{events}", record)
        client.meta.events.register(f"before-call.{events}", fake)
        return client

    def needed(self, service: str, operation: str, params: Mapping[str, Any]) -> set[Need]:
        if service == "s3control":
            if operation == "CreateJob":  # no resource type (Service Authorization Reference); the role is passed
                tagged = {("s3:PutJobTagging", f"arn:aws:s3:{REGION}:{params['AccountId']}:job/*")}
                return {("s3:CreateJob", "*"), ("iam:PassRole", params["RoleArn"])} | (
                    tagged if params.get("Tags") else set()
                )
            if operation == "ListJobs":  # no resource type (Service Authorization Reference)
                return {("s3:ListJobs", "*")}
            assert operation == "DescribeJob", operation
            return {("s3:DescribeJob", f"arn:aws:s3:{REGION}:{params['AccountId']}:job/{params['JobId']}")}
        if service == "lambda":  # GetAlias acts on the function (the Lambda developer guide's resource table)
            assert operation == "GetAlias", operation
            name = params["FunctionName"]
            return {
                ("lambda:GetAlias", name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:{name}")
            }
        if service == "kms":
            return {(f"kms:{operation}", self.key_arn(params["KeyId"]))}
        if service == "sns":  # an SSE topic: the publisher encrypts with the topic's key
            return {
                ("sns:Publish", params["TopicArn"]),
                ("kms:GenerateDataKey", self.topic_key),
                ("kms:Decrypt", self.topic_key),
            }
        if service == "sqs":  # SendMessageBatch is authorized by sqs:SendMessage; the queue is SSE-SQS (no KMS)
            return {("sqs:SendMessage", queue_arn(params["QueueUrl"]))}
        if service == "events":  # each entry's bus (EventBusName, else the default bus)
            assert operation == "PutEvents", operation
            return {
                (
                    "events:PutEvents",
                    f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{entry.get('EventBusName', 'default')}",
                )
                for entry in params["Entries"]
            }
        if service == "securityhub":  # BatchImportFindings acts on each finding's product, GetFindings and
            if operation == "BatchImportFindings":  # BatchUpdateFindings on the hub (Service Authorization Reference)
                return {("securityhub:BatchImportFindings", finding["ProductArn"]) for finding in params["Findings"]}
            assert operation in ("GetFindings", "BatchUpdateFindings"), operation
            return {(f"securityhub:{operation}", f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default")}
        assert service == "s3", service
        return self.s3_needed(operation, params)

    def s3_needed(self, operation: str, params: Mapping[str, Any]) -> set[Need]:
        if operation == "ListBuckets":  # no resource type
            return {("s3:ListAllMyBuckets", "*")}
        bucket = params["Bucket"]
        versioned = "VersionId" in params
        obj = s3_arn(bucket, params.get("Key"))
        table: dict[str, set[str]] = {
            # HeadObject reports Object Lock settings only to callers with the retention and legal-hold read
            # actions; on a missing key it answers 404 only to callers with s3:ListBucket (403 otherwise).
            "HeadObject": {"s3:GetObjectVersion" if versioned else "s3:GetObject"}
            | ({"s3:GetObjectRetention", "s3:GetObjectLegalHold"} if self.lock_fields else set()),
            "GetObjectAcl": {"s3:GetObjectVersionAcl" if versioned else "s3:GetObjectAcl"},
            "GetObjectTagging": {"s3:GetObjectVersionTagging" if versioned else "s3:GetObjectTagging"},
            "CompleteMultipartUpload": {"s3:PutObject"},
            "AbortMultipartUpload": {"s3:AbortMultipartUpload"},
            "ListObjectAnnotations": {"s3:ListObjectAnnotations"},
            "DeleteObject": {"s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"},
        }
        bucket_table: dict[str, str] = {
            "ListObjectsV2": "s3:ListBucket",
            "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
            "GetBucketEncryption": "s3:GetEncryptionConfiguration",
            "PutBucketEncryption": "s3:PutEncryptionConfiguration",
            "GetBucketLocation": "s3:GetBucketLocation",
            "GetBucketPolicy": "s3:GetBucketPolicy",
            "PutBucketPolicy": "s3:PutBucketPolicy",
            "ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
        }
        if operation in bucket_table:
            return {(bucket_table[operation], s3_arn(bucket))}
        needs = {(action, obj) for action in table.get(operation, set())}
        if operation == "GetObject":
            needs |= self.read_needed(bucket, params["Key"], params.get("VersionId"))
        if operation == "PutObject":
            needs.add(("s3:PutObject", obj))
            needs |= self.default_encryption_needed(bucket, params)
        if operation == "UploadPart":
            needs.add(("s3:PutObject", obj))
            if (bucket, params["Key"]) in self.uploads:
                needs.add(("kms:GenerateDataKey", self.uploads[(bucket, params["Key"])]))
        if operation == "CreateMultipartUpload" and "SSEKMSKeyId" not in params:
            key = self.bucket_key(bucket) if "ServerSideEncryption" not in params else None
            if key is not None:  # the bucket's default encrypts the parts (see the note on SSEKMSKeyId below)
                self.uploads[(bucket, params["Key"])] = key
                needs |= {("kms:GenerateDataKey", key), ("kms:Decrypt", key)}
        if operation == "HeadObject":
            needs.add(("s3:ListBucket", s3_arn(bucket)))
        if operation in ("CopyObject", "UploadPartCopy"):
            needs |= self.copy_source_needed(params["CopySource"])
            needs.add(("s3:PutObject", obj))
        if operation == "CopyObject":
            source = self.source_object(params["CopySource"])
            needs |= {("s3:GetObjectTagging", source), ("s3:GetObjectAnnotation", source)}
            needs |= {("s3:PutObjectTagging", obj), ("s3:PutObjectAnnotation", obj)}
        if operation == "CreateMultipartUpload":
            needs.add(("s3:PutObject", obj))
            if "Tagging" in params:
                needs.add(("s3:PutObjectTagging", obj))
        if operation in ("CopyObject", "CreateMultipartUpload"):
            needs |= self.write_extras(obj, params)
        if operation == "CreateMultipartUpload" and "SSEKMSKeyId" in params:
            # "you must have permission to the kms:Decrypt and kms:GenerateDataKey actions on the key ... because
            # Amazon S3 must decrypt and read data from the encrypted file parts before it completes the multipart
            # upload" https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions
            self.uploads[(bucket, params["Key"])] = params["SSEKMSKeyId"]
            needs |= {("kms:GenerateDataKey", params["SSEKMSKeyId"]), ("kms:Decrypt", params["SSEKMSKeyId"])}
        if operation == "UploadPartCopy" and (bucket, params["Key"]) in self.uploads:
            needs.add(("kms:GenerateDataKey", self.uploads[(bucket, params["Key"])]))
        assert needs, f"no IAM mapping for s3:{operation}"
        return needs

    def read_needed(self, bucket: str, key: str, version: str | None) -> set[Need]:
        """GetObject: the object, the key it is encrypted with, and ListBucket where the object is missing (S3 answers
        404 rather than 403 only to callers allowed to list: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)."""
        needs: set[Need] = {("s3:GetObjectVersion" if version else "s3:GetObject", s3_arn(bucket, key))}
        s3 = boto3.client("s3", region_name=REGION)
        try:
            head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
        except ClientError:
            return needs | {("s3:ListBucket", s3_arn(bucket))}
        if head.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
            # moto leaves SSEKMSKeyId out of an object encrypted by its bucket's default: that default's key.
            key_id = head.get("SSEKMSKeyId") or self.bucket_key(bucket)
            assert key_id is not None, (bucket, key)
            needs.add(("kms:Decrypt", self.key_arn(key_id)))
        return needs

    def default_encryption_needed(self, bucket: str, params: Mapping[str, Any]) -> set[Need]:
        """A write that names no encryption takes the bucket's default: under a KMS key, the writer generates its
        data key."""
        if "ServerSideEncryption" in params:
            return self.write_extras(s3_arn(bucket, params["Key"]), params)
        key = self.bucket_key(bucket)
        return {("kms:GenerateDataKey", key)} if key else set()

    def bucket_key(self, bucket: str) -> str | None:
        """The KMS key of the bucket's default encryption (SSE-KMS or DSSE-KMS), if it has one."""
        try:
            rules = boto3.client("s3", region_name=REGION).get_bucket_encryption(Bucket=bucket)[
                "ServerSideEncryptionConfiguration"
            ]["Rules"]
        except ClientError:
            return None
        default = rules[0]["ApplyServerSideEncryptionByDefault"]
        key_id = default.get("KMSMasterKeyID")
        return self.key_arn(key_id) if default["SSEAlgorithm"] in ("aws:kms", "aws:kms:dsse") and key_id else None

    def write_extras(self, obj: str, params: Mapping[str, Any]) -> set[Need]:
        needs: set[Need] = set()
        if params.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
            needs.add(("kms:GenerateDataKey", self.key_arn(params["SSEKMSKeyId"])))
        if any(name.startswith("Grant") for name in params):
            needs.add(("s3:PutObjectAcl", obj))
        if "ObjectLockMode" in params:
            needs.add(("s3:PutObjectRetention", obj))
        if "ObjectLockLegalHoldStatus" in params:
            needs.add(("s3:PutObjectLegalHold", obj))
        return needs

    @staticmethod
    def source(copy_source: Any) -> tuple[str, str, str | None]:
        if isinstance(copy_source, Mapping):
            return copy_source["Bucket"], copy_source["Key"], copy_source.get("VersionId")
        path, _, query = str(copy_source).partition("?versionId=")
        bucket, key = path.lstrip("/").split("/", 1)
        return bucket, key, query or None

    def source_object(self, copy_source: Any) -> str:
        bucket, key, _ = self.source(copy_source)
        return s3_arn(bucket, key)

    def copy_source_needed(self, copy_source: Any) -> set[Need]:
        """Reading the source: its object, and the key it is encrypted with (SSE-KMS or DSSE-KMS) to decrypt it."""
        bucket, key, version = self.source(copy_source)
        needs: set[Need] = {("s3:GetObjectVersion" if version else "s3:GetObject", s3_arn(bucket, key))}
        head = boto3.client("s3", region_name=REGION).head_object(
            Bucket=bucket, Key=key, **({"VersionId": version} if version else {})
        )
        if head.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
            needs.add(("kms:Decrypt", self.key_arn(head["SSEKMSKeyId"])))
        return needs

    @staticmethod
    def key_arn(key_id: str) -> str:
        if key_id.startswith("arn:aws:kms:") and ":key/" in key_id:
            return key_id
        arn: str = boto3.client("kms", region_name=REGION).describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        return arn


# --- what the template grants, and the comparison -----------------------------------------------------------------


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def iam_match(pattern: str, arn: str) -> bool:
    """IAM's Resource matching: `*` any run of characters (`/` included), `?` one character, case-sensitive.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
    """
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def covers(statement: Mapping[str, Any], need: Need) -> bool:
    action, arn = need
    return (
        statement["Effect"] == "Allow"
        and action in as_list(statement["Action"])
        and any(iam_match(pattern, arn) for pattern in as_list(statement["Resource"]))
    )


def missing(needs: Iterable[Need], statements: list[dict[str, Any]]) -> set[Need]:
    return {need for need in needs if not any(covers(s, need) for s in statements)}


def inert(statement: Mapping[str, Any], resource: str, map_patterns: Iterable[str]) -> bool:
    """An S3 ARN in a KMS-only statement grants nothing: BucketKeyMap's patterns ride along with its keys (the
    template cannot take the keys alone out of the pairs). Exactly those patterns, nothing broader."""
    kms_only = all(action.startswith("kms:") for action in as_list(statement["Action"]))
    return kms_only and resource in {s3_arn(pattern) for pattern in map_patterns}


def unneeded(needs: set[Need], statements: list[dict[str, Any]], map_patterns: Iterable[str]) -> set[Need]:
    """Each (action, resource) a statement grants that no call needed."""
    patterns = list(map_patterns)
    found: set[Need] = set()
    for statement in statements:
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                if inert(statement, resource, patterns):
                    continue
                if not any(a == action and iam_match(resource, arn) for a, arn in needs):
                    found.add((action, resource))
    return found


# --- the scenarios: every path of each function on fake AWS ------------------------------------------------------


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
            account_id=ACCOUNT,
            region=REGION,
            forward_results=True,
            security_hub_findings=True,
        )


@pytest.fixture
def world(aws: None) -> World:
    kms = boto3.client("kms", region_name=REGION)
    template = Resolved()
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="AlertTopic")["TopicArn"]
    queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="ObjectEventsQueue")["QueueUrl"]
    # The scenarios' topic and queue are the template's, as tests/cfn.py resolves them.
    assert topic == template.value({"Ref": "AlertTopic"})
    assert queue_url == template.value({"Ref": "ObjectEventsQueue"})
    return World(
        dsse_key=kms.create_key()["KeyMetadata"]["Arn"],
        other_key=kms.create_key()["KeyMetadata"]["Arn"],
        category_key=kms.create_key()["KeyMetadata"]["Arn"],
        topic=topic,
        queue_url=queue_url,
    )


def findings_updated(_: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """BatchUpdateFindings, which moto 5.2.5 does not serve (404 "Not yet implemented"), as Security Hub answers it
    when every finding is updated (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html)."""
    return {"ProcessedFindings": list(params["FindingIdentifiers"]), "UnprocessedFindings": []}


@pytest.fixture
def calls(world: World) -> Calls:
    return Calls(
        topic_key=Resolved().value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]}),
        fakes={"securityhub.BatchUpdateFindings": findings_updated},
    )


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


def object_scenarios(calls: Calls, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = every_kind_of_object("objects", world)
    s3 = boto3.client("s3", region_name=REGION)
    version = s3.head_object(Bucket="objects", Key="plain.csv")["VersionId"]
    # A category bucket: its objects go under the category key; a DSSE object under the default key is read with it.
    s3.create_bucket(Bucket="secrets-vault")
    put(s3, "secrets-vault", "big.bin", Body=b"z" * (6 * MIB))
    put(s3, "secrets-vault", "dsse-default.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=world.dsse_key)
    app = calls.app(settings)
    remediator = app.objects
    inject_error(app.object_store.client, "CompleteMultipartUpload", "InternalError", 500, times=1)
    remediator.handle(ObjectRequest("objects", ("plain.csv",), version_id=version))  # a manual request for a version
    for key in [*keys, "deleted.csv"]:
        remediator.handle(ObjectRequest("objects", (key,)))
    remediator.handle(ObjectRequest("objects-unversioned", ("page.html",)))
    for key in ("big.bin", "dsse-default.csv"):
        remediator.handle(ObjectRequest("secrets-vault", (key,)))
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
    s3.create_bucket(Bucket="secrets-vault")
    put(s3, "secrets-vault", "big.bin", Body=b"z" * (6 * MIB))
    put(s3, "secrets-vault", "dsse-default.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=world.dsse_key)
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


JOB_ID = "9c1d5e0b-fd60-4b6e-9ae7-c9ab5a41b3e6"  # the job of events/batch-job-status-complete.json


class FakeBatchOperations:
    """S3 Batch Operations as s3control and Lambda answer for it (moto has no jobs): CreateJob keeps the request,
    DescribeJob describes the job it created, finished, ListJobs lists them; GetAlias names version 7."""

    def __init__(self) -> None:
        self.jobs: dict[str, Mapping[str, Any]] = {}

    def s3control(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if operation == "CreateJob":
            job_id = JOB_ID if not self.jobs else f"{len(self.jobs):08d}-0000-4000-8000-000000000000"
            self.jobs[job_id] = params
            return {"JobId": job_id}
        if operation == "ListJobs":
            jobs = [{"JobId": job_id, "Description": request["Description"]} for job_id, request in self.jobs.items()]
            return {"Jobs": jobs}
        assert operation == "DescribeJob", operation
        request = self.jobs[params["JobId"]]
        arn = f"arn:aws:s3:{REGION}:{ACCOUNT}:job/{params['JobId']}"
        return {
            "Job": {
                "JobId": params["JobId"],
                "JobArn": arn,
                "Status": "Complete",
                "Description": request["Description"],
                "RoleArn": request["RoleArn"],
                "Operation": request["Operation"],
                "Report": request["Report"],
                "Priority": request["Priority"],
                "ProgressSummary": {"TotalNumberOfTasks": 2, "NumberOfTasksSucceeded": 1, "NumberOfTasksFailed": 1},
            }
        }

    @staticmethod
    def lambda_(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        assert operation == "GetAlias", operation
        return {
            "AliasArn": f"{params['FunctionName']}:{params['Name']}",
            "Name": params["Name"],
            "FunctionVersion": "7",
        }


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


def completion_report(s3: Any, request: Mapping[str, Any], job_id: str) -> None:
    """The completion report Batch Operations writes: <prefix>/job-<id>/manifest.json and a result file per status
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html)."""
    bucket = request["Report"]["Bucket"].split(":::")[1]
    folder = f"{request['Report']['Prefix']}/job-{job_id}/"
    results = [
        ("succeeded", "objects,new.csv,,succeeded,200,,remediated: copied in place\n"),
        ("failed", "objects,old.csv,,failed,500,,failed: InternalError\n"),
    ]
    files = []
    for status, row in results:
        key = f"{folder}results/{status}.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=row.encode())
        files.append({"TaskExecutionStatus": status, "Bucket": bucket, "MD5Checksum": "0", "Key": key})
    manifest = {"Format": "Report_CSV_20180820", "ReportCreationDate": "2026-11-20T11:42:07Z", "Results": files}
    s3.put_object(Bucket=bucket, Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode())


def batch_jobs_scenarios(calls: Calls, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backstop (dry run, a run whose manifest upload fails, a run) over a bucket with recent writes and a bucket
    with an S3 Inventory report, then the summary of a finished job, from its JobStatusChanged event."""
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
    s3.create_bucket(Bucket="inventoried")
    s3.create_bucket(Bucket=INVENTORY_BUCKET)
    # Over one 5 MiB part of manifest rows: the manifest is a multipart upload (which fails once: aborted).
    monkeypatch.setattr(backfill, "UPLOAD_PART_BYTES", 5 * MIB)
    inventory_report(s3, "inventoried", rows=320_000)
    fake = FakeBatchOperations()
    calls.lock_fields = False
    calls.fakes |= {
        "s3control": fake.s3control,
        "lambda": fake.lambda_,
        "s3.ListBucketInventoryConfigurations": inventory_configurations("inventoried"),
    }
    app = calls.app(settings)
    app.backstop.run(dry_run=True)
    inject_error(app.backstop.store._client, "CompleteMultipartUpload", "InternalError", 500, times=1)
    assert app.backstop.run().failed  # the inventoried bucket: looked at again next time
    assert not app.backstop.run().failed
    completion_report(s3, fake.jobs[JOB_ID], JOB_ID)
    request = parse_batch_jobs_event(load_event("batch-job-status-complete.json"))
    assert isinstance(request, JobStatusChange)
    summary = app.completions.on_status_change(request.job_id, request.status, request.trigger)
    assert summary is not None
    assert summary.alert_error is None
    app.completions.summarize(JOB_ID)


def jobs_settings(world: World, mode: Mode) -> Settings:
    """The batch jobs function's settings as the template sets them for this world."""
    env = Resolved(world.parameters).function_environment(JOBS)
    return replace(
        world.settings(mode),
        scope=Scope(("*",), (env["REPORT_BUCKET"], INVENTORY_BUCKET)),
        batch_task_function=env["BATCH_TASK_FUNCTION"],
        batch_job_role_arn=env["BATCH_JOB_ROLE_ARN"],
        report_bucket=env["REPORT_BUCKET"],
        backstop_include_dsse_other_keys=env["BACKSTOP_INCLUDE_DSSE_OTHER_KEYS"] == "true",
        account_id=ACCOUNT,
        region=REGION,
    )


SCENARIOS: dict[str, Callable[[Calls, World, Settings, pytest.MonkeyPatch], None]] = {
    OBJECT: object_scenarios,
    BUCKET: bucket_scenarios,
    KEY: key_scenarios,
    TASK: batch_task_scenarios,
    JOBS: batch_jobs_scenarios,
}


def scenario_settings(function: str, world: World, mode: Mode) -> Settings:
    if function == TASK:  # as the template sets it: neither forwarding nor findings (see UNUSED_BY)
        return replace(world.settings(mode), forward_results=False, security_hub_findings=False)
    return jobs_settings(world, mode) if function == JOBS else world.settings(mode)


def map_patterns(parameters: Mapping[str, str]) -> list[str]:
    return [entry.split("=", 1)[0] for entry in parameters["BucketKeyMap"].split(",") if entry]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_iam_grants_exactly_what_the_calls_need(
    function: str, calls: Calls, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    SCENARIOS[function](calls, world, scenario_settings(function, world, Mode.REMEDIATE), monkeypatch)
    statements = Resolved(world.parameters).function_statements(function)

    assert missing(calls.needs, statements) == set(), "needed, not granted on that resource"
    assert unneeded(calls.needs, statements, map_patterns(world.parameters)) == set(), "granted, never needed"
    # The events:PutEvents grant holds to the product's source and detail-type (its condition): every event the code
    # puts carries them, on the default bus (no EventBusName). The task function puts none: it sends no alert.
    entries = [e for service, operation, p in calls.requests if operation == "PutEvents" for e in p["Entries"]]
    assert {(e["Source"], e["DetailType"], e.get("EventBusName")) for e in entries} <= {(SOURCE, DETAIL_TYPE, None)}
    assert bool(entries) is (function != TASK)


def test_a_grant_on_the_wrong_resource_does_not_count() -> None:
    """The comparison is by resource, not only by action: kms:Decrypt on the source keys held by the object function
    does not let the bucket function read an SSE-KMS object (what the sweep's old in-function copy needed)."""
    source_key = PLACEHOLDER_OTHER_KEY
    template = Resolved(ALL_ON)
    needs = {("kms:Decrypt", source_key)}

    dsse_key = template.value({"Ref": "DsseKmsKeyArn"})

    assert missing(needs, template.function_statements(OBJECT)) == set()
    assert missing(needs, template.function_statements(BUCKET)) == needs
    assert missing(needs, [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": dsse_key}]) == needs
    assert missing(needs, [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": source_key}]) == needs


def test_iam_wildcards_match_as_iam_does() -> None:
    assert iam_match("arn:aws:s3:::*/*", "arn:aws:s3:::bucket/a/b.csv")
    assert iam_match("arn:aws:s3:::logs-?", "arn:aws:s3:::logs-1")
    assert not iam_match("arn:aws:s3:::logs-?", "arn:aws:s3:::logs-12")
    assert not iam_match("arn:aws:s3:::secrets-*", "arn:aws:s3:::Secrets-a")  # case-sensitive
    assert not iam_match("arn:aws:s3:::secrets-*", "arn:aws:kms:us-east-1:123456789012:key/x")


def named_resources(template: Resolved) -> set[str]:
    """ARNs the parameters and the stack name: the keys, the topic and its key, the queue."""
    p = template.parameters
    keys = [p["DsseKmsKeyArn"], *p["SourceKmsKeyArns"], *(e.split("=", 1)[1] for e in p["BucketKeyMap"] if e)]
    stack = [
        template.value({"Ref": "AlertTopic"}),
        template.value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]}),
        template.value({"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]}),
        # S3 Batch Operations: the stack's jobs, task function, job role, report bucket and its prefixes
        f"arn:aws:s3:{REGION}:{ACCOUNT}:job/*",
        template.value({"Fn::GetAtt": [TASK, "Arn"]}),
        template.value({"Fn::GetAtt": ["BatchJobRole", "Arn"]}),
        *report_bucket_resources(template),
        # Organizations: the default bus (the functions' events), the account's own findings product and hub, and
        # the security account's bus (the forwarding rule's role only)
        DEFAULT_BUS,
        FINDINGS_PRODUCT,
        HUB,
    ]
    inventories = [s3_arn(bucket) for bucket in p["InventoryBuckets"] if bucket]
    return set(keys) | set(stack) | set(inventories) | {f"{bucket}/*" for bucket in inventories}


def report_bucket_resources(template: Resolved) -> list[str]:
    bucket = template.value({"Fn::GetAtt": ["ReportBucket", "Arn"]})
    return [bucket, *(f"{bucket}/{prefix}/*" for prefix in ("reports", "manifests", "backstop"))]


# Actions with no resource type (Service Authorization Reference, Amazon S3): granted on "*", by the batch jobs
# function only. CreateJob is held to requests that tag the job as this product's; what a job may do is bounded by
# the one role the function may pass (BatchJobRole). ListAllMyBuckets only names the account's buckets, ListJobs the
# account's jobs (how the jobs of one backfill run find each other).
ON_EVERY_RESOURCE = {"s3:CreateJob", "s3:ListAllMyBuckets", "s3:ListJobs"}
JOB_TAG_CONDITION = {"Null": {f"aws:RequestTag/{backfill.CAMPAIGN_TAG}": "false"}}


@pytest.mark.parametrize("protected", ["*", "finance-*,example-protected-bucket"])
def test_no_wildcard_actions_and_resources_only_what_parameters_name(protected: str) -> None:
    template = Resolved(ALL_ON | {"ProtectedBuckets": protected})
    buckets = [s3_arn(p) for p in template.parameters["ProtectedBuckets"]]
    for function in FUNCTIONS:
        for statement in template.function_statements(function):
            where = (function, statement["Sid"])
            assert statement["Effect"] == "Allow", where
            assert not [a for a in as_list(statement["Action"]) if "*" in a], where
            for resource in as_list(statement["Resource"]):
                if resource == "*":
                    assert function == JOBS, where
                    assert len(as_list(statement["Action"])) == 1, where
                    assert set(as_list(statement["Action"])) <= ON_EVERY_RESOURCE, where
                    if statement["Action"] == "s3:CreateJob":
                        assert statement["Condition"] == JOB_TAG_CONDITION, where
                    continue
                if resource in named_resources(template) or inert(statement, resource, map_patterns(ALL_ON)):
                    continue
                # Otherwise only the ProtectedBuckets patterns (or their objects), in this account's buckets.
                assert resource in buckets or resource in [f"{b}/*" for b in buckets], (where, resource)
                assert all(a.startswith("s3:") for a in as_list(statement["Action"])), where
                assert statement["Condition"] == {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}, where


# --- alert-only: no write anywhere ----------------------------------------------------------------------------------


# Reports, not writes: an alert's event on the account's own default bus (which the forwarding rule takes to the
# security account) and a finding in the account's own Security Hub. Like publishing an alert, they change no
# customer data and are what an alert-only deployment is for; they stay allowed in that mode. An event on any other
# bus is a write (the functions may put events on no other).
REPORTS = {
    ("events:PutEvents", DEFAULT_BUS),
    ("securityhub:BatchImportFindings", FINDINGS_PRODUCT),
    ("securityhub:BatchUpdateFindings", HUB),  # resolving this stack's own finding
}


def writes(needs: Iterable[Need], topic_key: str) -> set[Need]:
    """Actions that change something: S3/KMS/EventBridge Put*/Delete*/Abort*/Enable*/Cancel*/Create* (a Batch
    Operations job among them), queueing work, and generating data keys (an encrypted write) with any key but the
    alert topic's (publishing an alert is allowed), except the REPORTS."""
    verbs = ("Put", "Delete", "Abort", "Enable", "Cancel", "Create")
    return {
        (action, resource)
        for action, resource in needs
        if (action, resource) not in REPORTS
        and (
            action.split(":")[1].startswith(verbs)
            or action == "sqs:SendMessage"
            or (action == "kms:GenerateDataKey" and resource != topic_key)
        )
    }


def alert_only_exception(function: str, template: Resolved) -> set[Need]:
    """The writes an alert-only deployment keeps, all in the batch jobs function: starting Batch Operations jobs
    (dry runs: the code asks for them, and the task function they invoke holds no write), and writing into the
    stack's own report bucket (manifests, the backstop's record) under its DSSE key, through S3 only. No protected
    bucket is written."""
    if function != JOBS:
        return set()
    bucket = template.value({"Fn::GetAtt": ["ReportBucket", "Arn"]})
    jobs = template.value({"Fn::Sub": "arn:${AWS::Partition}:s3:${AWS::Region}:${AWS::AccountId}:job/*"})
    return {
        ("s3:CreateJob", "*"),
        ("s3:PutJobTagging", jobs),  # the campaign tag of the jobs it creates
        ("s3:PutObject", f"{bucket}/manifests/*"),
        ("s3:AbortMultipartUpload", f"{bucket}/manifests/*"),
        ("s3:PutObject", f"{bucket}/backstop/*"),
        ("kms:GenerateDataKey", template.parameters["DsseKmsKeyArn"]),
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_alert_only_deployments_cannot_write(function: str) -> None:
    """Every opt-in on, KeyGuardRevert included: Mode=alert-only still grants no write, but for the batch jobs
    function's documented exception (dry-run jobs, its own report bucket)."""
    template = Resolved(ALL_ON | {"Mode": "alert-only"})
    topic_key = template.value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]})
    statements = template.function_statements(function)
    granted = {
        (action, resource)
        for statement in statements
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }

    assert writes(granted, topic_key) == alert_only_exception(function, template)
    for statement in statements:  # the exception's KMS use is through S3 only
        generates = "kms:GenerateDataKey" in as_list(statement["Action"])
        if function == JOBS and generates and statement["Resource"] != topic_key:
            assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_alert_only_code_makes_no_write_call(
    function: str, calls: Calls, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scenarios with Settings(mode=alert-only, every opt-in on): the code itself checks the mode. The
    batch jobs function's jobs are all dry runs."""
    SCENARIOS[function](calls, world, scenario_settings(function, world, Mode.ALERT_ONLY), monkeypatch)
    allowed = alert_only_exception(function, Resolved(world.parameters))

    assert {need for need in writes(calls.needs, calls.topic_key) if missing([need], allow(allowed))} == set()
    assert calls.needs, "the scenarios made no call at all"
    jobs = [params for service, operation, params in calls.requests if operation == "CreateJob"]
    assert all(job["Operation"]["LambdaInvoke"]["UserArguments"]["dryRun"] == "true" for job in jobs)
    assert bool(jobs) is (function == JOBS)


def allow(needs: Iterable[Need]) -> list[dict[str, Any]]:
    """Allow statements granting exactly these (action, resource pattern) pairs."""
    return [{"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in needs]


def test_the_write_check_sees_writes() -> None:
    topic_key = "arn:aws:kms:us-east-1:123456789012:AlertTopicKey"
    found = {
        ("s3:PutObject", "arn:aws:s3:::b/k"),
        ("kms:EnableKey", "arn:aws:kms:us-east-1:123456789012:key/k"),
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q"),
        ("kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:key/k"),
        ("s3:CreateJob", "*"),
        ("events:PutEvents", SECURITY_BUS),  # any bus but the account's default one
    }
    reads = {
        ("s3:GetObject", "arn:aws:s3:::b/k"),
        ("kms:GenerateDataKey", topic_key),
        ("sns:Publish", "t"),
        ("s3:DescribeJob", "arn:aws:s3:us-east-1:123456789012:job/j"),
        *REPORTS,
    }

    assert writes(found | reads, topic_key) == found


# --- operations ---------------------------------------------------------------------------------------------------


def test_the_publish_failure_alarm_watches_the_metric_the_code_emits() -> None:
    """The alarm on alerts that could not be published reads the EMF metric the handlers emit, in the namespace and
    with the service dimension the template gives Powertools."""
    from aws_lambda_powertools import Logger, Metrics

    from dsse_remediation.reporting import Reporter

    template = Resolved()
    shared = template.function_environment(OBJECT)
    alarm = template.value(template.resource("AlertPublishFailedAlarm")["Properties"])
    metrics = Metrics(namespace=shared["POWERTOOLS_METRICS_NAMESPACE"], service=shared["POWERTOOLS_SERVICE_NAME"])
    Reporter(Logger(), metrics).alert_failed(RuntimeError("publish failed"))
    emitted = metrics.serialize_metric_set()
    metrics.clear_metrics()
    (directive,) = emitted["_aws"]["CloudWatchMetrics"]

    assert alarm["Namespace"] == directive["Namespace"]
    assert alarm["MetricName"] in [metric["Name"] for metric in directive["Metrics"]]
    assert [d["Name"] for d in alarm["Dimensions"]] in directive["Dimensions"]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": emitted["service"]}
    assert (alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == ("Sum", 1, 300)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [template.value({"Ref": "AlertTopic"})]
    dashboard = json.loads(template.value(template.resource("Dashboard")["Properties"]["DashboardBody"]))
    assert [m for w in dashboard["widgets"] for m in w["properties"]["metrics"] if "AlertPublishFailed" in m]


# --- S3 Batch Operations: the jobs the code creates, and the role they run as ----------------------------------------


def job_role_needs(request: Mapping[str, Any], job_id: str, dsse_key: str) -> set[Need]:
    """What Batch Operations does as the job's role to run this CreateJob request
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html): invoke the function,
    generate the manifest (list the source bucket, read its objects, write the manifest) or read the given one, and
    write the completion report; the report bucket is DSSE-KMS under the DSSE key."""
    needs: set[Need] = {("lambda:InvokeFunction", request["Operation"]["LambdaInvoke"]["FunctionArn"])}
    report = request["Report"]
    needs.add(("s3:PutObject", f"{report['Bucket']}/{report['Prefix']}/job-{job_id}/results/part-0.csv"))
    if "ManifestGenerator" in request:
        generator = request["ManifestGenerator"]["S3JobManifestGenerator"]
        output = generator["ManifestOutputLocation"]
        needs.add(("s3:ListBucket", generator["SourceBucket"]))
        needs |= {
            (action, f"{generator['SourceBucket']}/any/key") for action in ("s3:GetObject", "s3:GetObjectVersion")
        }
        needs.add(("s3:PutObject", f"{output['Bucket']}/{output['ManifestPrefix']}/job-{job_id}/manifest.json"))
    else:
        location = request["Manifest"]["Location"]["ObjectArn"]
        needs |= {("s3:GetObject", location), ("s3:GetObjectVersion", location)}
    return needs | {("kms:GenerateDataKey", dsse_key), ("kms:Decrypt", dsse_key)}


@pytest.fixture
def started_jobs(calls: Calls, world: World, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    batch_jobs_scenarios(calls, world, jobs_settings(world, Mode.REMEDIATE), monkeypatch)
    return [params for service, operation, params in calls.requests if operation == "CreateJob"]


def test_every_job_the_code_creates_is_one_the_grants_allow(started_jobs: list[dict[str, Any]], world: World) -> None:
    """CreateJob is granted on "*" to requests that tag the job as this product's, with only BatchJobRole to pass;
    each job invokes a published version of the task function (pinned), which its role may invoke."""
    template = Resolved(world.parameters)
    role = template.value({"Fn::GetAtt": ["BatchJobRole", "Arn"]})
    task = template.value({"Fn::GetAtt": [TASK, "Arn"]})
    (tag,) = [key.split("/", 1)[1] for key in JOB_TAG_CONDITION["Null"]]

    assert len({job["ClientRequestToken"] for job in started_jobs}) >= 2  # the window's jobs and the inventory's
    for job in started_jobs:
        assert tag in [t["Key"] for t in job["Tags"]]
        assert job["RoleArn"] == role
        assert re.fullmatch(rf"{re.escape(task)}:\d+", job["Operation"]["LambdaInvoke"]["FunctionArn"])


def test_the_job_role_grants_exactly_what_the_jobs_need(started_jobs: list[dict[str, Any]], world: World) -> None:
    template = Resolved(world.parameters)
    needs = set().union(*(job_role_needs(job, "job-id", world.dsse_key) for job in started_jobs))
    statements = template.role_statements("BatchJobRole")

    assert {job.get("ManifestGenerator") is None for job in started_jobs} == {True, False}  # both kinds of manifest
    assert missing(needs, statements) == set(), "needed, not granted on that resource"
    assert unneeded(needs, statements, []) == set(), "granted, never needed"


def test_the_job_role_is_for_batch_operations_of_this_account_only() -> None:
    template = Resolved()
    trust = template.value(template.resource("BatchJobRole")["Properties"]["AssumeRolePolicyDocument"])

    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]


def test_alert_only_job_role_writes_only_into_the_report_bucket() -> None:
    template = Resolved(ALL_ON | {"Mode": "alert-only"})
    topic_key = template.value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]})
    bucket = template.value({"Fn::GetAtt": ["ReportBucket", "Arn"]})
    granted = {
        (action, resource)
        for statement in template.role_statements("BatchJobRole")
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }

    assert writes(granted, topic_key) == {
        ("s3:PutObject", f"{bucket}/reports/*"),
        ("s3:PutObject", f"{bucket}/manifests/*"),
        ("kms:GenerateDataKey", template.parameters["DsseKmsKeyArn"]),
    }


def test_the_task_function_holds_the_object_functions_object_rights_and_nothing_else() -> None:
    """Same S3 and KMS statements in every mode and opt-in (so a change to one is made to both), without the
    object function's alert and queue statements: a task publishes and queues nothing."""
    for parameters in (ALL_ON, ALL_ON | {"Mode": "alert-only"}, {}):
        template = Resolved(parameters)
        kept = [
            s
            for s in template.function_statements(OBJECT)
            if s["Sid"] not in ("PublishAlerts", "EncryptAlerts", "QueueSweepSteps", "ForwardResults")
            and s["Sid"] not in ("ImportFindings", "ReadFindings", "ResolveFindings")
        ]

        assert template.function_statements(TASK) == kept


def test_the_batch_jobs_function_finds_its_jobs_settings_where_the_cli_finds_them() -> None:
    """`backfill --stack` reads the stack's outputs (cli/session.py STACK_OUTPUTS); the function reads the same
    values from its environment, and they make a working job configuration (an alias ARN the adapter pins)."""
    template = Resolved(ALL_ON)
    env = template.function_environment(JOBS)
    outputs = {name: template.value(output["Value"]) for name, output in template.template["Outputs"].items()}

    for output, variable in STACK_OUTPUTS.items():
        assert outputs[output] == env[variable], output
    assert env["BATCH_TASK_FUNCTION"] == template.value({"Fn::GetAtt": [TASK, "Arn"]}) + ":live"
    settings = Settings.from_env(env)
    assert (settings.batch_task_function, settings.batch_job_role_arn, settings.report_bucket) == (
        env["BATCH_TASK_FUNCTION"],
        env["BATCH_JOB_ROLE_ARN"],
        env["REPORT_BUCKET"],
    )


# --- Organizations: the security account's view, and nothing else ----------------------------------------------------


def test_the_functions_put_events_on_their_own_default_bus_only_and_only_the_products_events() -> None:
    """events:PutEvents on this account's default bus, held to the source and detail-type the code puts (the
    events:source and events:detail-type condition keys of PutEvents, Service Authorization Reference); none at all
    without SecurityBusArn. Security Hub only where SecurityHubFindings is on, on the object and bucket functions."""
    on, off = Resolved(ALL_ON), Resolved(ALL_ON | {"SecurityBusArn": "", "SecurityHubFindings": "false"})
    for function in FUNCTIONS:
        forwarding = [s for s in on.function_statements(function) if "events:PutEvents" in as_list(s["Action"])]
        expected = [] if function == TASK else [DEFAULT_BUS]
        assert [s["Resource"] for s in forwarding] == expected, function
        for statement in forwarding:
            condition = {"StringEquals": {"events:source": SOURCE, "events:detail-type": DETAIL_TYPE}}
            assert statement["Condition"] == condition
        hub = {
            (a, r)
            for s in on.function_statements(function)
            for a in as_list(s["Action"])
            for r in as_list(s["Resource"])
            if a.startswith("securityhub:")
        }
        findings = {
            ("securityhub:BatchImportFindings", FINDINGS_PRODUCT),
            ("securityhub:GetFindings", HUB),
            ("securityhub:BatchUpdateFindings", HUB),
        }
        assert hub == (findings if function in (OBJECT, BUCKET) else set()), function
        granted = [a for s in off.function_statements(function) for a in as_list(s["Action"])]
        assert not [a for a in granted if a.startswith(("events:", "securityhub:"))], function
        env = on.function_environment(function)
        assert env.get("FORWARD_RESULTS") == (None if function == TASK else "true"), function
        assert env.get("SECURITY_HUB_FINDINGS") == ("true" if function in (OBJECT, BUCKET) else None), function


def test_the_forwarding_rule_sends_the_products_events_to_the_security_bus_and_nothing_else() -> None:
    """One rule, one target (SecurityBusArn), through a role EventBridge may assume for this rule only, which may put
    events on that bus and nothing else (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html)."""
    template = Resolved(ALL_ON)
    rule = template.value(template.resource("ForwardResultsRule")["Properties"])
    role_arn = template.value({"Fn::GetAtt": ["ForwardResultsRole", "Arn"]})
    rule_arn = template.value({"Fn::GetAtt": ["ForwardResultsRule", "Arn"]})
    trust = template.value(template.resource("ForwardResultsRole")["Properties"]["AssumeRolePolicyDocument"])

    assert rule["EventPattern"] == {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}
    assert "EventBusName" not in rule  # the default bus, where the functions put their events
    (target,) = rule["Targets"]
    assert (target["Arn"], target["RoleArn"]) == (SECURITY_BUS, role_arn)
    assert target["DeadLetterConfig"] == {"Arn": template.value({"Fn::GetAtt": ["EventDeliveryDLQ", "Arn"]})}
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in template.role_statements("ForwardResultsRole")] == [
        ("Allow", "events:PutEvents", SECURITY_BUS)
    ]
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": rule_arn}},
        }
    ]
    assert len(rule["Name"]) <= 64  # EventBridge's limit on rule names, whatever the (StackSet) stack's name
    off = Resolved(ALL_ON | {"SecurityBusArn": ""})
    assert [name for name in ("ForwardResultsRule", "ForwardResultsRole") if off.exists(name)] == []


# What a principal of the stack can send data to, and where each may send it: the stack's own topic, queues and
# functions, the account's default bus; the security account's bus from the forwarding role alone.
SENDS = ("events:PutEvents", "sns:Publish", "sqs:SendMessage", "lambda:InvokeFunction")


@pytest.mark.parametrize("mode", ["remediate", "alert-only"])
def test_nothing_in_a_member_stack_can_send_anywhere_but_its_own_resources_and_the_security_bus(mode: str) -> None:
    template = Resolved(ALL_ON | {"Mode": mode, "BackstopSchedule": "rate(1 day)"})
    own = {
        DEFAULT_BUS,
        template.value({"Ref": "AlertTopic"}),
        template.value({"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]}),
        template.value({"Fn::Sub": "${BatchTaskFunction.Arn}:*"}),
        template.value({"Fn::GetAtt": [JOBS, "Arn"]}),
    }
    principals: dict[str, list[dict[str, Any]]] = {}
    for name, resource in template.template["Resources"].items():
        if not template.exists(name):
            continue
        if resource["Type"] == "AWS::Serverless::Function":
            principals[name] = template.function_statements(name)
        elif resource["Type"] == "AWS::IAM::Role":
            principals[name] = template.role_statements(name)
    sends = {
        (name, action, resource)
        for name, statements in principals.items()
        for statement in statements
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
        if action in SENDS
    }

    assert {send for send in sends if send[2] not in own} == {("ForwardResultsRole", "events:PutEvents", SECURITY_BUS)}
    rules = [n for n, r in template.template["Resources"].items() if r["Type"] == "AWS::Events::Rule"]
    targets = {
        (rule, template.value(t["Arn"]), "RoleArn" in t)
        for rule in rules
        if template.exists(rule)
        for t in template.resource(rule)["Properties"]["Targets"]
    }
    assert {t for t in targets if t[1] == SECURITY_BUS or t[2]} == {("ForwardResultsRule", SECURITY_BUS, True)}


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        (SECURITY_BUS, True),
        ("arn:aws-us-gov:events:us-gov-west-1:999988887777:event-bus/results", True),
        ("arn:aws:events:us-east-1:999988887777:rule/results", False),  # a rule, not a bus
        ("arn:aws:sqs:us-east-1:999988887777:results", False),
        ("dsse-remediation-results", False),  # a name: the ARN says which account
    ],
)
def test_the_security_bus_parameter_takes_a_bus_arn_or_nothing(value: str, accepted: bool) -> None:
    allowed = Resolved().template["Parameters"]["SecurityBusArn"]["AllowedPattern"]

    assert (re.fullmatch(allowed, value) is not None) is accepted


def test_forward_and_finding_failures_are_counted_where_the_alarm_and_the_dashboard_look() -> None:
    """A lost event for the security account is counted apart from a lost SNS alert and alarmed on this stack's
    topic; a finding that could not be imported is counted (never a failure of the remediation) and charted."""
    from aws_lambda_powertools import Logger, Metrics

    from dsse_remediation.reporting import Reporter

    template = Resolved(ALL_ON)
    shared = template.function_environment(OBJECT)
    alarm = template.value(template.resource("AlertForwardFailedAlarm")["Properties"])
    metrics = Metrics(namespace=shared["POWERTOOLS_METRICS_NAMESPACE"], service=shared["POWERTOOLS_SERVICE_NAME"])
    reporter = Reporter(Logger(), metrics)
    reporter.alert_failed(ForwardFailed(Failure.DENIED, "AccessDeniedException: no", "AccessDeniedException"))
    reporter.alert_failed(FindingImportFailed(Failure.OTHER, "InvalidAccess: not subscribed", "InvalidAccess"))
    emitted = metrics.serialize_metric_set()
    metrics.clear_metrics()
    (directive,) = emitted["_aws"]["CloudWatchMetrics"]
    names = [metric["Name"] for metric in directive["Metrics"]]

    assert sorted(names) == ["AlertForwardFailed", "FindingImportFailed"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (directive["Namespace"], "AlertForwardFailed")
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": emitted["service"]}
    assert alarm["AlarmActions"] == [template.value({"Ref": "AlertTopic"})]
    assert not Resolved().exists("AlertForwardFailedAlarm")
    dashboard = json.loads(template.value(template.resource("Dashboard")["Properties"]["DashboardBody"]))
    charted = {m[1] for w in dashboard["widgets"] for m in w["properties"]["metrics"]}
    assert {"AlertForwardFailed", "FindingImportFailed"} <= charted
