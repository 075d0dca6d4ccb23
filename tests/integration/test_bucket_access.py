"""The reader-safety gate's adapter (aws/bucket_access.py) on fake AWS: each configuration a bucket can have reads back
as the BucketAccess the rules expect, "does not exist" is the empty value, a configuration the role may not read is
`unreadable` (never "none"), throttling raises, and the account's values and the key policy cost one call per TTL
across buckets.

moto differs from AWS in what some of these calls answer; tests/aws_fidelity.py makes it answer as documented:
replication rules as put (15), EventBridge notifications (16), the bucket owner condition (17), GetKeyPolicy's
PolicyName (18) and Block Public Access on new buckets (19).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest
from botocore.config import Config

from dsse_remediation.aws.bucket_access import ACCOUNT_TTL_SECONDS, BucketAccessReader
from dsse_remediation.config import Settings
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.gate.facts import (
    LOG_DELIVERY,
    BucketAccess,
    Grant,
    PublicAccessBlock,
    ReplicationRule,
)
from dsse_remediation.model import Failure
from dsse_remediation.wiring import App
from tests.helpers import ACCOUNT_ID, REGION, CallLog, inject_error
from tests.template.iam_model import Calls, s3_arn

OTHER_ACCOUNT = "210987654321"
OAI = "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHAPOMQZL"
ALL_BLOCKED = PublicAccessBlock(True, True, True, True)
BUCKET_CALLS = {
    "GetBucketWebsite": 1,
    "GetBucketPolicy": 1,
    "GetBucketAcl": 1,
    "GetPublicAccessBlock": 1,
    "GetBucketReplication": 1,
    "GetBucketTagging": 1,
    "GetBucketVersioning": 1,
    "GetBucketLifecycleConfiguration": 1,
    "GetBucketNotificationConfiguration": 1,
}


class Clients:
    """The composition root's client factory: one client per call (the App keeps one per service and Region), each
    counting its calls per service, and without botocore's retries, so an injected throttle fails at once."""

    def __init__(self) -> None:
        self.calls: defaultdict[str, CallLog] = defaultdict(CallLog)

    def __call__(self, service: str, region: str | None = None) -> Any:
        client = boto3.client(service, region_name=region or REGION, config=Config(retries={"total_max_attempts": 1}))
        events = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-parameter-build.{events}", self.calls[service])
        return client

    def counts(self) -> dict[str, dict[str, int]]:
        return {service: dict(log.counts) for service, log in self.calls.items() if log.calls}

    def clear(self) -> None:
        for log in self.calls.values():
            log.clear()


@dataclass
class World:
    """What a configuration case sets up with: plain clients, the bucket under test and the DSSE key."""

    s3: Any
    s3control: Any
    kms: Any
    organizations: Any
    bucket: str
    key: str


@pytest.fixture
def clients() -> Clients:
    return Clients()


@pytest.fixture
def app(bucket: str, dsse_key: str, clients: Clients) -> App:
    return App(Settings(key=dsse_key, account_id=ACCOUNT_ID, region=REGION), clients)


@pytest.fixture
def world(s3: Any, bucket: str, dsse_key: str) -> World:
    return World(
        s3,
        boto3.client("s3control", region_name=REGION),
        boto3.client("kms", region_name=REGION),
        boto3.client("organizations", region_name=REGION),
        bucket,
        dsse_key,
    )


def default_key_policy(world: World) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(world.kms.get_key_policy(KeyId=world.key)["Policy"])
    return parsed


def ordinary(world: World) -> BucketAccess:
    """What a new bucket reads as: nothing configured but S3's defaults (Block Public Access on, fidelity 19)."""
    return BucketAccess(
        bucket=world.bucket,
        account_id=ACCOUNT_ID,
        key_arn=world.key,
        bucket_block=ALL_BLOCKED,
        key_policy=default_key_policy(world),
    )


def allow(sid: str, principal: Any, bucket: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }


def put_policy(world: World, *statements: dict[str, Any]) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    world.s3.put_bucket_policy(Bucket=world.bucket, Policy=json.dumps(document))
    return {"policy": document}


# --- each configuration: what to set up, and what it reads back as (the fields that differ from `ordinary`) ---------


def website(world: World) -> dict[str, Any]:
    world.s3.put_bucket_website(
        Bucket=world.bucket,
        WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}},
    )
    return {"website": True}


def public_policy(world: World) -> dict[str, Any]:
    return put_policy(world, allow("Public", "*", world.bucket))


def oai_policy(world: World) -> dict[str, Any]:
    return put_policy(world, allow("CloudFront", {"AWS": OAI}, world.bucket))


def cross_account_reader(world: World) -> dict[str, Any]:
    reader = {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:role/analytics"}
    return put_policy(world, allow("Analytics", reader, world.bucket))


def log_delivery_acl(world: World) -> dict[str, Any]:
    """A server access log target: ACLs on (BucketOwnerPreferred), the log delivery group may WRITE and READ_ACP."""
    world.s3.put_bucket_ownership_controls(
        Bucket=world.bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    )
    owner = world.s3.get_bucket_acl(Bucket=world.bucket)["Owner"]["ID"]
    world.s3.put_bucket_acl(
        Bucket=world.bucket,
        GrantFullControl=f'id="{owner}"',
        GrantWrite=f'uri="{LOG_DELIVERY}"',
        GrantReadACP=f'uri="{LOG_DELIVERY}"',
    )
    return {"acl": (Grant(LOG_DELIVERY, "READ_ACP"), Grant(LOG_DELIVERY, "WRITE"))}


def bucket_block_lifted(world: World) -> dict[str, Any]:
    world.s3.delete_public_access_block(Bucket=world.bucket)
    return {"bucket_block": PublicAccessBlock()}


def bucket_block_partial(world: World) -> dict[str, Any]:
    config = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False}
    world.s3.put_public_access_block(
        Bucket=world.bucket, PublicAccessBlockConfiguration=config | {"RestrictPublicBuckets": False}
    )
    return {"bucket_block": PublicAccessBlock(True, True, False, False)}


def account_block(world: World) -> dict[str, Any]:
    config = {"BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False}
    world.s3control.put_public_access_block(
        AccountId=ACCOUNT_ID, PublicAccessBlockConfiguration=config | {"RestrictPublicBuckets": True}
    )
    return {"account_block": PublicAccessBlock(False, True, False, True)}


def replication(world: World) -> dict[str, Any]:
    """Two enabled rules, one replicating KMS-encrypted objects under a replica key, one not; a disabled rule."""
    world.s3.create_bucket(Bucket="replica-bucket")
    for name in (world.bucket, "replica-bucket"):
        world.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    replica_key = world.kms.create_key(Description="replica key")["KeyMetadata"]["Arn"]
    destination = {"Bucket": "arn:aws:s3:::replica-bucket"}

    def rule(rule_id: str, priority: int, status: str, **extra: Any) -> dict[str, Any]:
        filtered = {"Filter": {"Prefix": f"{rule_id}/"}, "DeleteMarkerReplication": {"Status": "Disabled"}}
        return {"ID": rule_id, "Priority": priority, "Status": status, **filtered, "Destination": destination} | extra

    rules = [
        rule(
            "with-kms",
            1,
            "Enabled",
            SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            Destination=destination | {"EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key}},
        ),
        rule("without-kms", 2, "Enabled"),
        rule("paused", 3, "Disabled"),
    ]
    world.s3.put_bucket_replication(
        Bucket=world.bucket,
        ReplicationConfiguration={"Role": f"arn:aws:iam::{ACCOUNT_ID}:role/replication", "Rules": rules},
    )
    return {
        "versioned": True,
        "replication": (
            ReplicationRule("with-kms", "replica-bucket", kms_opt_in=True, replica_kms_key=replica_key),
            ReplicationRule("without-kms", "replica-bucket", kms_opt_in=False, replica_kms_key=None),
        ),
    }


def tags(world: World) -> dict[str, Any]:
    tag_set = [{"Key": "team", "Value": "data"}, {"Key": "dsse-remediation:accept-reader-impact", "Value": "alice"}]
    world.s3.put_bucket_tagging(Bucket=world.bucket, Tagging={"TagSet": tag_set})
    return {"tags": {"team": "data", "dsse-remediation:accept-reader-impact": "alice"}}


def versioning_enabled(world: World) -> dict[str, Any]:
    world.s3.put_bucket_versioning(Bucket=world.bucket, VersioningConfiguration={"Status": "Enabled"})
    return {"versioned": True}


def versioning_suspended(world: World) -> dict[str, Any]:
    """Suspended still keeps the versions written while it was enabled: versioned (aws/bucket_access.py says why)."""
    for status in ("Enabled", "Suspended"):
        world.s3.put_bucket_versioning(Bucket=world.bucket, VersioningConfiguration={"Status": status})
    return {"versioned": True}


def lifecycle(world: World) -> dict[str, Any]:
    rules = [
        {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 30}},
        {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": ""}, "Transitions": [_glacier(90)]},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "old/"}, "Expiration": {"Days": 1}},
    ]
    world.s3.put_bucket_lifecycle_configuration(Bucket=world.bucket, LifecycleConfiguration={"Rules": rules})
    return {"lifecycle_rules": 2}


def _glacier(days: int) -> dict[str, Any]:
    return {"Days": days, "StorageClass": "GLACIER"}


def queue_notifications(world: World) -> dict[str, Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="bucket-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    world.s3.put_bucket_notification_configuration(
        Bucket=world.bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return {"notifications": True}


def eventbridge_notifications(world: World) -> dict[str, Any]:
    world.s3.put_bucket_notification_configuration(
        Bucket=world.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    return {"notifications": True}


def key_policy(world: World) -> dict[str, Any]:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Admins",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AnalyticsDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:role/analytics"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
        ],
    }
    world.kms.put_key_policy(KeyId=world.key, PolicyName="default", Policy=json.dumps(document))
    return {"key_policy": document}


def organization(world: World) -> dict[str, Any]:
    org_id = world.organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    return {"organization_id": org_id}


CASES: list[Callable[[World], dict[str, Any]]] = [
    website,
    public_policy,
    oai_policy,
    cross_account_reader,
    log_delivery_acl,
    bucket_block_lifted,
    bucket_block_partial,
    account_block,
    replication,
    tags,
    versioning_enabled,
    versioning_suspended,
    lifecycle,
    queue_notifications,
    eventbridge_notifications,
    key_policy,
    organization,
]


def sorted_acl(access: BucketAccess) -> BucketAccess:
    return replace(access, acl=tuple(sorted(access.acl, key=lambda g: (g.grantee, g.permission))))


# --- tests ----------------------------------------------------------------------------------------------------------


def test_an_ordinary_bucket_reads_as_empty_values(app: App, world: World) -> None:
    """No website, policy, ACL grant, replication, tags, versioning, lifecycle or notification: each "does not exist"
    answer is the empty value, nothing is unreadable; S3's own defaults (Block Public Access on a new bucket, the
    key's default policy) are what they are."""
    access = app.bucket_access.read(world.bucket, world.key)

    assert access == ordinary(world)
    assert access.unreadable == ()
    assert access.public_access_block == ALL_BLOCKED


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_each_configuration_reads_back(case: Callable[[World], dict[str, Any]], app: App, world: World) -> None:
    expected = replace(ordinary(world), **case(world))

    access = app.bucket_access.read(world.bucket, world.key)

    assert sorted_acl(access) == sorted_acl(expected)


def test_the_account_block_and_the_bucket_block_combine(app: App, world: World) -> None:
    """What S3 enforces is the most restrictive of the two: the rules read `public_access_block`."""
    bucket_block_partial(world)
    account_block(world)

    access = app.bucket_access.read(world.bucket, world.key)

    assert access.public_access_block == PublicAccessBlock(True, True, False, True)


# (client service, operation, what `unreadable` names)
CONFIGURATIONS = [
    ("s3", "GetBucketWebsite", "website"),
    ("s3", "GetBucketPolicy", "bucket policy"),
    ("s3", "GetBucketAcl", "bucket ACL"),
    ("s3", "GetPublicAccessBlock", "bucket Block Public Access"),
    ("s3", "GetBucketReplication", "replication"),
    ("s3", "GetBucketTagging", "tags"),
    ("s3", "GetBucketVersioning", "versioning"),
    ("s3", "GetBucketLifecycleConfiguration", "lifecycle"),
    ("s3", "GetBucketNotificationConfiguration", "notifications"),
    ("s3control", "GetPublicAccessBlock", "account Block Public Access"),
    ("kms", "GetKeyPolicy", "key policy"),
]


@pytest.mark.parametrize(("service", "operation", "name"), CONFIGURATIONS, ids=[c[2] for c in CONFIGURATIONS])
def test_access_denied_on_one_configuration_is_unreadable(
    service: str, operation: str, name: str, app: App, world: World
) -> None:
    """The configuration is named with why; its value is the empty one, which the rules never take for "none"."""
    website(world)
    code = "AccessDeniedException" if service == "kms" else "AccessDenied"
    inject_error(app.client(service), operation, code, 400 if service == "kms" else 403)

    access = app.bucket_access.read(world.bucket, world.key)

    assert access.unreadable == (f"{name} ({operation}: {code}: injected {code})",)
    assert access.website is (name != "website")


def test_a_bucket_another_account_owns_is_unreadable_everywhere(world: World, clients: Clients) -> None:
    """Every bucket read names the expected owner: a bucket name that now belongs to another account is refused
    (403, fidelity 17) on each configuration, never read as that account's. (S3 Control refuses the other account's
    Block Public Access to this caller too.)"""
    settings = Settings(key=world.key, account_id=OTHER_ACCOUNT, region=REGION)

    access = App(settings, clients).bucket_access.read(world.bucket, world.key)

    denied = {entry.split(" (")[0]: entry for entry in access.unreadable}
    bucket_reads = [name for service, _, name in CONFIGURATIONS if service == "s3"]
    assert [name for name in denied if name in bucket_reads] == bucket_reads
    assert all("AccessDenied" in entry for entry in access.unreadable)
    assert not access.website
    assert access.policy is None
    assert access.bucket_block == PublicAccessBlock()


@pytest.mark.parametrize(
    ("service", "operation", "code", "status", "failure"),
    [
        ("s3", "GetBucketAcl", "SlowDown", 503, Failure.THROTTLED),
        ("s3", "GetBucketReplication", "InternalError", 500, Failure.TRANSIENT),
        ("s3control", "GetPublicAccessBlock", "SlowDown", 503, Failure.THROTTLED),
        ("kms", "GetKeyPolicy", "ThrottlingException", 400, Failure.THROTTLED),
        ("organizations", "DescribeOrganization", "TooManyRequestsException", 400, Failure.THROTTLED),
        ("organizations", "DescribeOrganization", "ConcurrentModificationException", 400, Failure.TRANSIENT),
    ],
)
def test_a_throttled_or_transient_read_raises_and_keeps_nothing(
    service: str, operation: str, code: str, status: int, failure: Failure, app: App, world: World, clients: Clients
) -> None:
    """The caller's delivery retries the whole read; a value that failed to be read is not kept for the TTL."""
    inject_error(app.client(service), operation, code, status)

    with pytest.raises(AwsFailure) as raised:
        app.bucket_access.read(world.bucket, world.key)
    access = app.bucket_access.read(world.bucket, world.key)

    assert (raised.value.failure, raised.value.code) == (failure, code)
    assert access == ordinary(world)
    assert clients.calls[service].counts[operation] == 2


def test_a_missing_bucket_raises_gone(app: App, world: World) -> None:
    with pytest.raises(AwsFailure) as raised:
        app.bucket_access.read("no-such-bucket-anywhere", world.key)

    assert (raised.value.failure, raised.value.code) == (Failure.GONE, "NoSuchBucket")


@pytest.mark.parametrize("code", ["AWSOrganizationsNotInUseException", "AccessDeniedException"])
def test_no_organization_known_is_none_not_unreadable(code: str, app: App, world: World) -> None:
    organization(world)
    inject_error(app.client("organizations"), "DescribeOrganization", code, 400)

    access = app.bucket_access.read(world.bucket, world.key)

    assert (access.organization_id, access.unreadable) == (None, ())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_account_values_and_the_key_policy_are_read_once_per_ttl(world: World, clients: Clients) -> None:
    """A bucket costs its own 9 calls; the account's Block Public Access, its Organization and a key's policy one
    call each per TTL (300 s, the gate's own) whatever the number of buckets; a new key its own one."""
    clock = Clock()
    reader = BucketAccessReader(
        clients("s3"),
        lambda: clients("s3control"),
        lambda region: clients("kms", region),
        lambda: clients("organizations"),
        ACCOUNT_ID,
        clock=clock,
    )
    for name in ("second-bucket", "third-bucket"):
        world.s3.create_bucket(Bucket=name)
    buckets = (world.bucket, "second-bucket", "third-bucket")
    once = {"s3control": {"GetPublicAccessBlock": 1}, "kms": {"GetKeyPolicy": 1}}
    once["organizations"] = {"DescribeOrganization": 1}

    reader.read(world.bucket, world.key)
    assert clients.counts() == {"s3": BUCKET_CALLS} | once  # the first bucket: 12 calls

    clients.clear()
    clock.now += ACCOUNT_TTL_SECONDS - 1
    for name in buckets:
        reader.read(name, world.key)
    assert clients.counts() == {"s3": {op: 3 for op in BUCKET_CALLS}}  # later buckets: 9 calls each

    clients.clear()
    other_key = world.kms.create_key(Description="another bucket's DSSE key")["KeyMetadata"]["Arn"]
    reader.read("second-bucket", other_key)
    assert clients.counts() == {"s3": BUCKET_CALLS, "kms": {"GetKeyPolicy": 1}}

    clients.clear()
    clock.now += 1  # the first reads are ACCOUNT_TTL_SECONDS old: read again
    reader.read(world.bucket, world.key)
    assert clients.counts() == {"s3": BUCKET_CALLS} | once


def test_every_bucket_read_names_the_expected_owner(app: App, world: World) -> None:
    sent: list[tuple[str, str | None]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        sent.append((model.name, params.get("ExpectedBucketOwner")))

    app.client("s3").meta.events.register("provide-client-params.s3", record)
    app.bucket_access.read(world.bucket, world.key)

    assert sent == [(operation, ACCOUNT_ID) for operation in BUCKET_CALLS]


def test_iam_needs_of_a_read(world: World) -> None:
    """What the template must grant the functions that run the gate (tests/template/iam_model.py), each action from
    the Service Authorization Reference: the bucket's nine read actions on the bucket, the account's two on "*" (no
    resource type), kms:GetKeyPolicy on the key."""
    calls = Calls(topic_key="unused")

    calls.app(Settings(key=world.key, account_id=ACCOUNT_ID, region=REGION)).bucket_access.read(world.bucket, world.key)

    bucket = s3_arn(world.bucket)
    assert calls.needs == {
        ("s3:GetBucketWebsite", bucket),
        ("s3:GetBucketPolicy", bucket),
        ("s3:GetBucketAcl", bucket),
        ("s3:GetBucketPublicAccessBlock", bucket),
        ("s3:GetReplicationConfiguration", bucket),
        ("s3:GetBucketTagging", bucket),
        ("s3:GetBucketVersioning", bucket),
        ("s3:GetLifecycleConfiguration", bucket),
        ("s3:GetBucketNotification", bucket),
        ("s3:GetAccountPublicAccessBlock", "*"),
        ("organizations:DescribeOrganization", "*"),
        ("kms:GetKeyPolicy", world.key),
    }
