"""The template and the code agree: every variable the code reads is set (or knowingly defaulted), every IAM action
the code's AWS calls need is granted, and nothing more is granted than those calls need."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from dsse_remediation.aws.kms import KeyRing, KmsGateway
from dsse_remediation.aws.s3 import S3Gateway
from dsse_remediation.aws.sns import SnsPublisher
from dsse_remediation.buckets import BucketRemediator
from dsse_remediation.config import MIB, Settings
from dsse_remediation.keyguard import KeyGuard
from dsse_remediation.model import BucketRequest, KeyEvent, ObjectRequest
from dsse_remediation.remediation import ObjectRemediator
from tests.cfn import Resolved
from tests.conftest import REGION, inject_error
from tests.integration.test_copy_in_place import put

FUNCTIONS = ("ObjectRemediationFunction", "BucketRemediationFunction", "KeyGuardFunction")
# Variables every function reads through Settings but the template leaves to their defaults, and why.
DEFAULTED = {
    "BUCKET_KEY_MAP": "one key per bucket category needs IAM for each key: a deployment that wants it edits both",
    "ENCRYPTION_CONTEXT": "optional; none by default",
    "MULTIPART_PART_SIZE_BYTES": "512 MiB, raised automatically to stay within 10,000 parts",
    "COPY_CONCURRENCY": "8 part copies at a time per object",
    "SWEEP_MAX_OBJECTS": "1,000 objects; larger buckets are for the bulk backfill",
    "AWS_REGION": "set by the Lambda runtime",
    "AWS_DEFAULT_REGION": "set by the Lambda runtime",
}
# Variables a function reads but does not use; the template sets them only where they matter.
UNUSED_BY = {
    "ObjectRemediationFunction": {"PREVENTION_POLICY", "SWEEP_AFTER_BUCKET_RESET", "KEY_GUARD_REVERT"},
    "BucketRemediationFunction": {"PURGE_NONCURRENT_VERSIONS", "KEY_GUARD_REVERT"},
    "KeyGuardFunction": {
        "PREVENTION_POLICY",
        "SWEEP_AFTER_BUCKET_RESET",
        "PURGE_NONCURRENT_VERSIONS",
        "MULTIPART_THRESHOLD_BYTES",
    },
}
ALL_ON = {
    "PurgeNoncurrentVersions": "true",
    "PreventionPolicy": "true",
    "SweepAfterBucketReset": "true",
    "KeyGuardRevert": "true",
    "SourceKmsKeyArns": "arn:aws:kms:us-east-1:123456789012:key/2222bbbb-22bb-22bb-22bb-222222222222",
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


# --- IAM: what the code's calls need --------------------------------------------------------------------------------


def needed(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    """IAM actions one API call needs (https://docs.aws.amazon.com/service-authorization/latest/reference/)."""
    versioned = "VersionId" in params
    if service == "kms":
        return {f"kms:{operation}"}
    if service == "sns":
        return {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"}  # an SSE topic: the publisher uses its key
    writes_dsse = params.get("ServerSideEncryption") == "aws:kms:dsse"
    write_extras = {"kms:GenerateDataKey"} if writes_dsse else set()
    if any(name.startswith("Grant") for name in params):
        write_extras.add("s3:PutObjectAcl")
    if "ObjectLockMode" in params:
        write_extras.add("s3:PutObjectRetention")
    if "ObjectLockLegalHoldStatus" in params:
        write_extras.add("s3:PutObjectLegalHold")
    table: dict[str, set[str]] = {
        # HeadObject reports Object Lock settings only to callers with the retention and legal-hold read actions;
        # on a missing key it answers 404 only to callers with s3:ListBucket (403 otherwise).
        "HeadObject": {
            "s3:GetObjectVersion" if versioned else "s3:GetObject",
            "s3:GetObjectRetention",
            "s3:GetObjectLegalHold",
            "s3:ListBucket",
        },
        "GetObjectAcl": {"s3:GetObjectVersionAcl" if versioned else "s3:GetObjectAcl"},
        "GetObjectTagging": {"s3:GetObjectVersionTagging" if versioned else "s3:GetObjectTagging"},
        "CopyObject": {
            "s3:GetObject",
            "s3:PutObject",
            "s3:GetObjectTagging",
            "s3:PutObjectTagging",
            "s3:GetObjectAnnotation",
            "s3:PutObjectAnnotation",
            "kms:Decrypt",
        }
        | write_extras,
        "CreateMultipartUpload": {"s3:PutObject"}
        | ({"s3:PutObjectTagging"} if "Tagging" in params else set())
        | write_extras,
        "UploadPartCopy": {"s3:GetObject", "s3:PutObject", "kms:Decrypt", "kms:GenerateDataKey"},
        "CompleteMultipartUpload": {"s3:PutObject"},
        "AbortMultipartUpload": {"s3:AbortMultipartUpload"},
        "ListObjectAnnotations": {"s3:ListObjectAnnotations"},
        "GetBucketOwnershipControls": {"s3:GetBucketOwnershipControls"},
        "DeleteObject": {"s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"},
        "ListObjectsV2": {"s3:ListBucket"},
        "GetBucketEncryption": {"s3:GetEncryptionConfiguration"},
        "PutBucketEncryption": {"s3:PutEncryptionConfiguration"},
        "GetBucketLocation": {"s3:GetBucketLocation"},
        "GetBucketPolicy": {"s3:GetBucketPolicy"},
        "PutBucketPolicy": {"s3:PutBucketPolicy"},
    }
    return table[operation]


class Calls:
    def __init__(self) -> None:
        self.actions: set[str] = set()

    def client(self, service: str) -> Any:
        client = boto3.client(service, region_name=REGION)

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.actions |= needed(service, model.name, params)

        client.meta.events.register(f"provide-client-params.{service}", record)
        return client


@pytest.fixture
def calls(aws: None) -> Calls:
    return Calls()


def every_kind_of_object(bucket: str, other_key: str) -> list[str]:
    """A versioned, Object Lock, ACL-enabled bucket holding one object of each kind the object path treats apart."""
    from datetime import UTC, datetime

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True, ObjectOwnership="ObjectWriter")
    put(s3, bucket, "a-broken.bin", Body=b"y" * (6 * MIB))  # its multipart copy fails once: aborted
    put(s3, bucket, "big.bin", Body=b"x" * (6 * MIB), Tagging="team=a", ACL="public-read")
    put(s3, bucket, "page.html", ACL="public-read", Tagging="team=web")
    put(s3, bucket, "sse-kms.csv", ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
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


def object_scenarios(calls: Calls, dsse_key: str, other_key: str, topic: str) -> None:
    settings = Settings(
        key=dsse_key, alert_topic_arn=topic, purge_noncurrent=True, multipart_threshold=5 * MIB, part_size=5 * MIB
    )
    keys = every_kind_of_object("objects", other_key)
    version = boto3.client("s3", region_name=REGION).head_object(Bucket="objects", Key="plain.csv")["VersionId"]
    gateway = S3Gateway(calls.client("s3"), "123456789012")
    sns = calls.client("sns")
    remediator = ObjectRemediator(
        settings, KeyRing([dsse_key], calls.client), gateway, SnsPublisher(lambda: sns, topic)
    )
    inject_error(gateway.client, "CompleteMultipartUpload", "InternalError", 500, times=1)
    remediator.handle(ObjectRequest("objects", ("plain.csv",), version_id=version))  # a manual request for a version
    for key in [*keys, "deleted.csv"]:
        remediator.handle(ObjectRequest("objects", (key,)))
    remediator.handle(ObjectRequest("objects-unversioned", ("page.html",)))


def bucket_scenarios(calls: Calls, dsse_key: str, other_key: str, topic: str) -> None:
    settings = Settings(
        key=dsse_key,
        alert_topic_arn=topic,
        prevention_policy=True,
        sweep_after_reset=True,
        multipart_threshold=5 * MIB,
        part_size=5 * MIB,
    )
    every_kind_of_object("new-bucket", other_key)
    gateway = S3Gateway(calls.client("s3"), "123456789012")
    inject_error(gateway.client, "CompleteMultipartUpload", "InternalError", 500, times=1)
    sns = calls.client("sns")
    keys = KeyRing([dsse_key], calls.client)
    objects = ObjectRemediator(settings, keys, gateway, SnsPublisher(lambda: sns, topic))
    kms = KmsGateway(calls.client("kms"))
    remediator = BucketRemediator(settings, keys, gateway, kms, SnsPublisher(lambda: sns, topic), objects)
    for bucket in ("new-bucket", "new-bucket-unversioned"):
        remediator.handle(BucketRequest(bucket))


def key_scenarios(calls: Calls, dsse_key: str, _other_key: str, topic: str) -> None:
    settings = Settings(key=dsse_key, alert_topic_arn=topic, key_guard_revert=True)
    sns = calls.client("sns")
    guard = KeyGuard(
        settings, KeyRing([dsse_key], calls.client), KmsGateway(calls.client("kms")), SnsPublisher(lambda: sns, topic)
    )
    kms = boto3.client("kms", region_name=REGION)
    for event in ("DisableKey", "ScheduleKeyDeletion", "DisableKeyRotation", "PutKeyPolicy"):
        if event == "ScheduleKeyDeletion":
            kms.schedule_key_deletion(KeyId=dsse_key, PendingWindowInDays=7)
        guard.handle(KeyEvent((dsse_key,), event))
    guard.handle(KeyEvent((dsse_key,)))  # the manual report


SCENARIOS: dict[str, Callable[..., None]] = {
    "ObjectRemediationFunction": object_scenarios,
    "BucketRemediationFunction": bucket_scenarios,
    "KeyGuardFunction": key_scenarios,
}


def granted(function: str) -> set[str]:
    actions: set[str] = set()
    for statement in Resolved(ALL_ON).function_statements(function):
        assert statement["Effect"] == "Allow"
        found = statement["Action"]
        actions |= {found} if isinstance(found, str) else set(found)
    return actions


@pytest.fixture
def scenario_keys(aws: None) -> tuple[str, str, str]:
    kms = boto3.client("kms", region_name=REGION)
    dsse = kms.create_key()["KeyMetadata"]["Arn"]
    other = kms.create_key()["KeyMetadata"]["Arn"]
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="alerts")["TopicArn"]
    return dsse, other, topic


@pytest.mark.parametrize("function", FUNCTIONS)
def test_iam_grants_exactly_what_the_calls_need(
    function: str, calls: Calls, scenario_keys: tuple[str, str, str]
) -> None:
    SCENARIOS[function](calls, *scenario_keys)

    assert calls.actions <= granted(function), f"missing: {sorted(calls.actions - granted(function))}"
    assert granted(function) <= calls.actions, f"granted, never needed: {sorted(granted(function) - calls.actions)}"


def test_no_wildcard_actions_anywhere() -> None:
    template = Resolved(ALL_ON)
    for function in FUNCTIONS:
        for statement in template.function_statements(function):
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            assert not [a for a in actions if a == "*" or a.endswith(":*")], (function, statement["Sid"])
            resource = json.dumps(statement.get("Resource", ""))
            if "*" in resource:  # only the ProtectedBuckets patterns, in this account's buckets, may hold wildcards
                assert resource.startswith('["arn:aws:s3:::'), (function, statement["Sid"])
                assert statement["Condition"] == {"StringEquals": {"s3:ResourceAccount": "123456789012"}}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_alert_only_deployments_cannot_write(function: str) -> None:
    template = Resolved(ALL_ON | {"Mode": "alert-only", "KeyGuardRevert": "false"})
    actions = {
        a
        for s in template.function_statements(function)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }

    writes = {a for a in actions if a.split(":")[1].startswith(("Put", "Delete", "Abort", "Enable", "Cancel"))}
    assert writes == set()
    assert "kms:GenerateDataKey" not in {
        a
        for s in template.function_statements(function)
        if s["Sid"] != "EncryptAlerts"
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
