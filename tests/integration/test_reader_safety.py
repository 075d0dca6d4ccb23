"""The reader-safety gate end to end (issue 16): real bucket configurations on fake AWS — each reason the gate holds a
bucket for, and the safe controls beside them — on every write path. Where the gate says unsafe and nobody accepted,
nothing is written: the object stays as it was, the bucket default stays, no Batch Operations job is created. Where it
says safe (or the owner accepted the impact, which every result then records) the path remediates as it always did.

The matrix (`CASES`) follows tests/gate_matrix.py, the rules' specification as data, wherever moto can hold the
configuration; `mirrors` names the case whose reason codes each must share. A case builds its fake AWS once (the
class-scoped `world`) with one bucket per write path (`PATHS`), all configured alike, so that each path starts from
the same untouched bucket whatever ran before it. Then the watch (a DSSE-KMS bucket that becomes a website is held at
once, naming who did it) and the cost (the gate reads a bucket once, not per object).

moto differs from AWS in what some of these reads answer; tests/aws_fidelity.py makes it answer as documented:
replication rules as put (15), the bucket owner condition (17), GetKeyPolicy's PolicyName (18), Block Public Access on
new buckets (19: a public configuration first deletes it, as on AWS). moto enforces no Block Public Access setting, so
the "neutralised" case puts its public policy before turning Block Public Access on, the order AWS itself requires.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dsse_remediation.batch.backstop import Action
from dsse_remediation.batch.requests import plan
from dsse_remediation.cli import commands
from dsse_remediation.exceptions import Held
from dsse_remediation.gate.facts import ALL_USERS, LOG_DELIVERY
from dsse_remediation.gate.safety import ACCEPT_TAG, ReaderVerdict, Safety
from dsse_remediation.model import DSSE, BucketRequest, ObjectRequest, Outcome
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests import aws_fidelity
from tests.batch_operations import BATCH_SETTINGS, REPORT_BUCKET
from tests.gate_matrix import (
    BY_NAME,
    DISTRIBUTION,
    ELB_US_EAST_1,
    OAC_KEY_GRANT,
    OAI,
    OTHER_ACCOUNT,
    TRAIL,
    key_grant,
    key_policy,
    policy,
    statement,
)
from tests.helpers import (
    ACCOUNT_ID,
    AWS_UNSET,
    FAKE_AWS_ENV,
    GATE_READS,
    REGION,
    CallLog,
    Inbox,
    Wiring,
    assert_remediated,
    load_event,
    put,
    snapshot,
)
from tests.lambda_context import LambdaContext, load_function
from tests.s3control_double import S3ControlDouble

KEY = "reports/q3.csv"
REPLICA_BUCKET = "gate-replica"
ACCEPTED_PATTERN = "gate-*"  # ACCEPT_READER_IMPACT (the stack parameter AcceptReaderImpactBuckets) of one case
TICKET = "CHG-1234"  # the acceptance tag's value: who accepted


# --- the configurations -------------------------------------------------------------------------------------------


@dataclass
class World:
    """One case's fake AWS: the DSSE key, the alert inbox, one bucket per write path."""

    case: Case
    s3: Any
    kms: Any
    key: str
    inbox: Inbox
    replica_key: str = ""

    def wiring(self, calls: CallLog | None = None) -> Wiring:
        return Wiring(self.key, self.inbox.topic_arn, calls or CallLog())

    def settings_overrides(self) -> dict[str, Any]:
        return {"accept_reader_impact": self.case.accept}

    def app(self, **overrides: Any) -> App:
        return self.wiring().app(**(self.settings_overrides() | overrides))

    def alerts(self, bucket: str) -> list[dict[str, Any]]:
        return [message for message in self.inbox.messages() if message["body"].get("bucket") == bucket]


def objects(bucket: str, prefix: str = "") -> str:
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def put_policy(world: World, bucket: str, *statements: dict[str, Any]) -> None:
    world.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(*statements)))


def put_key_policy(world: World, *grants: dict[str, Any]) -> None:
    """The DSSE key's policy: the account-root statement and `grants` (AWS's own examples, tests/gate_matrix.py)."""
    world.kms.put_key_policy(KeyId=world.key, PolicyName="default", Policy=json.dumps(key_policy(*grants)))


def public(world: World, bucket: str) -> None:
    """Public access allowed: S3 blocks it on every new bucket (fidelity 19) until the owner deletes the block."""
    world.s3.delete_public_access_block(Bucket=bucket)


def acls_enabled(world: World, bucket: str) -> str:
    """ACLs enabled (new buckets have them disabled, fidelity 6); the owner's canonical id."""
    world.s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    )
    owner: str = world.s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    return owner


def public_read_policy(world: World, bucket: str) -> None:
    public(world, bucket)
    put_policy(world, bucket, statement("*", resource=objects(bucket), sid="PublicRead"))


def website_with_public_policy(world: World, bucket: str) -> None:
    """A static website as the S3 User Guide sets one up: Block Public Access off, a public-read policy."""
    public_read_policy(world, bucket)
    world.s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}},
    )


def public_policy_blocked(world: World, bucket: str) -> None:
    """The public policy stays, but Block Public Access (turned on after it, as AWS requires) neutralises it."""
    public_read_policy(world, bucket)
    world.s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def public_write_acl(world: World, bucket: str) -> None:
    owner = acls_enabled(world, bucket)
    public(world, bucket)
    world.s3.put_bucket_acl(Bucket=bucket, GrantFullControl=f'id="{owner}"', GrantWrite=f'uri="{ALL_USERS}"')


def oai_reader(world: World, bucket: str) -> None:
    put_policy(world, bucket, statement({"AWS": OAI}, resource=objects(bucket), sid="CloudFrontOAI"))


def oac_reader(world: World, bucket: str) -> None:
    """The OAC bucket statement of the CloudFront Developer Guide (private-content-restricting-access-to-s3)."""
    put_policy(
        world,
        bucket,
        statement(
            {"Service": "cloudfront.amazonaws.com"},
            resource=objects(bucket),
            condition={"StringEquals": {"AWS:SourceArn": DISTRIBUTION}},
            sid="AllowCloudFrontServicePrincipalReadOnly",
        ),
    )


def oac_reader_with_key_grant(world: World, bucket: str) -> None:
    oac_reader(world, bucket)
    put_key_policy(world, OAC_KEY_GRANT)


def cross_account_reader(world: World, bucket: str) -> None:
    """Another account may list the bucket and read its objects."""
    reader = {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}
    resources = [f"arn:aws:s3:::{bucket}", objects(bucket)]
    put_policy(world, bucket, statement(reader, ["s3:GetObject", "s3:ListBucket"], resources, sid="Partner"))


def cross_account_reader_with_key_grant(world: World, bucket: str) -> None:
    """The external-account key statement of the KMS Developer Guide (key-policy-modifying-external-accounts)."""
    cross_account_reader(world, bucket)
    put_key_policy(world, key_grant({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, ["kms:Decrypt", "kms:DescribeKey"]))


def replication(world: World, bucket: str, *, kms_opt_in: bool) -> None:
    """One enabled rule to a versioned destination (replication needs versioning on both buckets); with the opt-in:
    SseKmsEncryptedObjects and a ReplicaKmsKeyID (S3 User Guide, replication-config-for-kms-objects)."""
    if not world.replica_key:
        world.s3.create_bucket(Bucket=REPLICA_BUCKET)
        world.s3.put_bucket_versioning(Bucket=REPLICA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        world.replica_key = world.kms.create_key(Description="replica key")["KeyMetadata"]["Arn"]
    world.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    destination: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{REPLICA_BUCKET}"}
    rule: dict[str, Any] = {
        "ID": "to-dr",
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": destination,
    }
    if kms_opt_in:
        rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
        destination["EncryptionConfiguration"] = {"ReplicaKmsKeyID": world.replica_key}
    world.s3.put_bucket_replication(
        Bucket=bucket,
        ReplicationConfiguration={"Role": f"arn:aws:iam::{ACCOUNT_ID}:role/replication", "Rules": [rule]},
    )


def server_access_logs_by_policy(world: World, bucket: str) -> None:
    """The log target statement of the S3 User Guide (enable-server-access-logging)."""
    put_policy(
        world,
        bucket,
        statement(
            {"Service": "logging.s3.amazonaws.com"},
            ["s3:PutObject"],
            objects(bucket, "logs/"),
            {
                "ArnLike": {"aws:SourceArn": "arn:aws:s3:::example-source-bucket"},
                "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            },
            sid="S3ServerAccessLogsPolicy",
        ),
    )


def server_access_logs_by_acl(world: World, bucket: str) -> None:
    """The older way: the log delivery group may WRITE and READ_ACP in the bucket ACL."""
    owner = acls_enabled(world, bucket)
    world.s3.put_bucket_acl(
        Bucket=bucket,
        GrantFullControl=f'id="{owner}"',
        GrantWrite=f'uri="{LOG_DELIVERY}"',
        GrantReadACP=f'uri="{LOG_DELIVERY}"',
    )


def elb_access_logs(world: World, bucket: str) -> None:
    """The ELB account statement of the ELB User Guide (enable-access-logging), us-east-1."""
    elb = {"AWS": f"arn:aws:iam::{ELB_US_EAST_1}:root"}
    put_policy(world, bucket, statement(elb, "s3:PutObject", objects(bucket, f"alb/AWSLogs/{ACCOUNT_ID}/")))


def cloudtrail_writer(world: World, bucket: str) -> None:
    """The trail bucket policy of the CloudTrail User Guide (create-s3-bucket-policy-for-cloudtrail)."""
    service = {"Service": "cloudtrail.amazonaws.com"}
    put_policy(
        world,
        bucket,
        statement(service, "s3:GetBucketAcl", f"arn:aws:s3:::{bucket}", {"StringEquals": {"aws:SourceArn": TRAIL}},
                  sid="AWSCloudTrailAclCheck"),
        statement(service, "s3:PutObject", objects(bucket, f"AWSLogs/{ACCOUNT_ID}/"),
                  {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL}},
                  sid="AWSCloudTrailWrite"),
    )  # fmt: skip


def cloudtrail_writer_with_key_grant(world: World, bucket: str) -> None:
    cloudtrail_writer(world, bucket)
    grant = key_grant({"Service": "cloudtrail.amazonaws.com"}, "kms:GenerateDataKey*",
                      {"StringEquals": {"aws:SourceArn": TRAIL}})  # fmt: skip
    put_key_policy(world, grant)


def private(world: World, bucket: str) -> None:
    """Nothing but S3's defaults: Block Public Access on, ACLs disabled, the key's default policy."""


def versioned_with_lifecycle(world: World, bucket: str) -> None:
    world.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rules = [
        {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}]},
        {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
    ]  # fmt: skip
    world.s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def accepted_by_tag(world: World, bucket: str) -> None:
    """The public website, whose owner accepted the impact with the bucket tag (its value: the change ticket)."""
    website_with_public_policy(world, bucket)
    world.s3.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "web"}, {"Key": ACCEPT_TAG, "Value": TICKET}]}
    )


@dataclass(frozen=True)
class Case:
    name: str
    configure: Callable[[World, str], None]
    safety: Safety
    reasons: tuple[str, ...] = ()  # reason codes, in any order
    side_effects: tuple[str, ...] = ()
    accepted_by: str | None = None  # who the gate says accepted the impact (the tag, the stack parameter)
    accept: tuple[str, ...] = ()  # ACCEPT_READER_IMPACT patterns of the deployment
    mirrors: str | None = None  # the tests/gate_matrix.py case with the same reasons

    @property
    def held(self) -> bool:
        return self.safety is Safety.UNSAFE and self.accepted_by is None

    def __str__(self) -> str:
        return self.name


U, S, E = Safety.UNSAFE, Safety.SAFE, Safety.SIDE_EFFECTS
CASES: tuple[Case, ...] = (
    # --- held: each unsafe reason ---
    Case("website-with-public-policy", website_with_public_policy, U, ("website-endpoint", "public-reader"),
         mirrors="website-with-public-policy"),
    Case("public-read-policy", public_read_policy, U, ("public-reader",), mirrors="public-read-policy"),
    Case("public-write-acl", public_write_acl, U, ("public-writer",), mirrors="public-write-acl"),
    Case("cloudfront-oai", oai_reader, U, ("cloudfront-oai",), mirrors="cloudfront-oai"),
    Case("cloudfront-oac-without-key-grant", oac_reader, U, ("cloudfront-oac",),
         mirrors="cloudfront-oac-without-key-grant"),
    Case("cross-account-reader-without-key-grant", cross_account_reader, U, ("cross-account-reader",),
         mirrors="cross-account-reader-without-key-grant"),
    Case("replication-without-kms-opt-in", lambda w, b: replication(w, b, kms_opt_in=False), U,
         ("replication-without-kms",), ("old-versions-kept",), mirrors="replication-without-kms-opt-in"),
    Case("server-access-logs-by-policy", server_access_logs_by_policy, U, ("server-access-logs",),
         mirrors="server-access-logs-by-policy"),
    Case("server-access-logs-by-acl", server_access_logs_by_acl, U, ("server-access-logs",),
         mirrors="server-access-logs-by-acl"),
    Case("elb-access-logs-by-region-account", elb_access_logs, U, ("elb-access-logs",),
         mirrors="elb-access-logs-by-region-account"),
    Case("cloudtrail-without-key-grant", cloudtrail_writer, U, ("service-writer",),
         mirrors="cloudtrail-without-key-grant"),
    # --- safe controls ---
    Case("private-bucket", private, S, mirrors="private-bucket"),
    Case("public-policy-neutralised-by-bucket-block", public_policy_blocked, S,
         mirrors="public-policy-neutralised-by-bucket-block"),
    Case("cloudfront-oac-with-key-grant", oac_reader_with_key_grant, E, side_effects=("kms-decrypt-per-read",),
         mirrors="cloudfront-oac-with-key-grant"),
    Case("cross-account-reader-with-key-grant", cross_account_reader_with_key_grant, E,
         side_effects=("kms-decrypt-per-read",), mirrors="cross-account-reader-with-key-grant"),
    Case("replication-opted-in", lambda w, b: replication(w, b, kms_opt_in=True), E,
         side_effects=("replication-resends", "old-versions-kept"), mirrors="replication-opted-in"),
    Case("cloudtrail-with-key-grant", cloudtrail_writer_with_key_grant, S, mirrors="cloudtrail-with-key-grant"),
    Case("versioned-with-lifecycle", versioned_with_lifecycle, E,
         side_effects=("lifecycle-ages-restart", "old-versions-kept")),
    # --- unsafe, and the owner accepted the impact ---
    Case("website-accepted-by-tag", accepted_by_tag, U, ("website-endpoint", "public-reader"),
         accepted_by=f"the bucket tag {ACCEPT_TAG}={TICKET}", mirrors="website-with-public-policy"),
    Case("cross-account-reader-accepted-by-stack-parameter", cross_account_reader, U, ("cross-account-reader",),
         accepted_by=f"the stack parameter AcceptReaderImpactBuckets ({ACCEPTED_PATTERN})",
         accept=(ACCEPTED_PATTERN,), mirrors="cross-account-reader-without-key-grant"),
)  # fmt: skip


# --- the write paths ----------------------------------------------------------------------------------------------


def check_verdict(verdict: ReaderVerdict, case: Case) -> None:
    """The verdict a path acted on is the case's: its safety, reason and side-effect codes, and who accepted."""
    assert verdict.safety is case.safety, verdict.describe()
    assert sorted(r.code for r in verdict.reasons) == sorted(case.reasons), verdict.describe()
    assert sorted(e.code for e in verdict.side_effects) == sorted(case.side_effects), verdict.describe()
    assert verdict.accepted_by == case.accepted_by
    assert verdict.blocks is case.held


def expected_impact(verdict: ReaderVerdict) -> str | None:
    """What a result's `reader_impact` says of a converted bucket: nothing when plainly safe."""
    return None if verdict.safety is Safety.SAFE else verdict.describe()


def object_path(world: World, bucket: str) -> None:
    """The object function: App.objects on an SSE-S3 object."""
    case, before = world.case, snapshot(world.s3, bucket, KEY)
    app = world.app()

    result = app.objects.handle(ObjectRequest(bucket, (KEY,)))

    verdict = app.gate.verdict(bucket, world.key)  # cached: what the path acted on
    check_verdict(verdict, case)
    alerts = world.alerts(bucket)
    if case.held:
        assert result.outcome is Outcome.HELD, result.reason
        assert snapshot(world.s3, bucket, KEY) == before
        [alert] = alerts
        assert (alert["attributes"]["severity"], alert["body"]["outcome"]) == ("high", "held")
        assert verdict.describe() in alert["body"]["reason"]
        assert alert["body"]["readerImpact"] == verdict.describe()
        for reason in verdict.reasons:
            assert reason.what in alert["body"]["reason"]
    else:
        assert result.outcome is Outcome.REMEDIATED, result.reason
        assert_remediated(before, snapshot(world.s3, bucket, KEY), world.key)
        assert result.reader_impact == expected_impact(verdict)
        [alert] = alerts
        assert (alert["attributes"]["severity"], alert["body"]["outcome"]) == ("low", "remediated")
        assert alert["body"]["readerImpact"] == expected_impact(verdict)  # an acceptance names who accepted


def bucket_default(world: World, bucket: str) -> dict[str, Any]:
    configuration = world.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    rule: dict[str, Any] = configuration["Rules"][0]
    return rule


def bucket_path(world: World, bucket: str) -> None:
    """The bucket function: App.buckets resetting the default encryption."""
    case, before = world.case, bucket_default(world, bucket)
    app = world.app()

    result = app.buckets.handle(BucketRequest(bucket))

    verdict = app.gate.verdict(bucket, world.key)
    check_verdict(verdict, case)
    after = bucket_default(world, bucket)
    [alert] = world.alerts(bucket)
    if case.held:
        assert result.outcome is Outcome.HELD, result.reason
        assert after == before
        assert after["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        assert verdict.describe() in result.reason
        assert (alert["attributes"]["severity"], alert["body"]["outcome"]) == ("high", "held")
    else:
        assert result.outcome is Outcome.REMEDIATED, result.reason
        assert after["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": DSSE, "KMSMasterKeyID": world.key}
        assert result.reader_impact == expected_impact(verdict)
        assert alert["body"]["outcome"] == "remediated"
        assert alert["body"]["readerImpact"] == expected_impact(verdict)


def batch_app(world: World, double: S3ControlDouble, **overrides: Any) -> App:
    wiring = world.wiring()
    settings = wiring.settings(**(BATCH_SETTINGS | world.settings_overrides() | overrides))
    return App(settings, double.factory(wiring.client), clock=lambda: datetime.now(UTC) + timedelta(hours=1))


def backfill_path(world: World, bucket: str) -> None:
    """The CLI's backfill: App.backfill.start of a job on the S3 Control double."""
    double = S3ControlDouble(ACCOUNT_ID, s3=world.s3)
    app = batch_app(world, double)
    [spec] = [spec for spec in plan(bucket, campaign="matrix-backfill") if spec.encryption_filter == "SSES3"]

    if world.case.held:
        with pytest.raises(Held) as raised:
            app.backfill.start(spec)
        assert app.gate.verdict(bucket, world.key).describe() in str(raised.value)
        assert double.jobs == {}
        assert "CreateJob" not in double.calls
    else:
        job_id = app.backfill.start(spec)
        assert list(double.jobs) == [job_id]
        assert double.jobs[job_id]["Description"] == spec.description
    check_verdict(app.gate.verdict(bucket, world.key), world.case)


def backstop_path(world: World, bucket: str) -> None:
    """The scheduled backstop over the bucket (written to within its window): a job, or HELD and none."""
    double = S3ControlDouble(ACCOUNT_ID, s3=world.s3)
    app = batch_app(world, double, scope=Scope.parse(bucket, ""))

    run = app.backstop.run()

    [result] = [found for found in run.buckets if found.bucket == bucket]
    verdict = app.gate.verdict(bucket, world.key)
    check_verdict(verdict, world.case)
    if world.case.held:
        assert (result.action, result.job_ids, double.jobs) == (Action.HELD, (), {})
        assert verdict.describe() in result.reason
    else:
        assert result.action is Action.STARTED, result.reason
        assert sorted(result.job_ids) == sorted(double.jobs) != []


def cli(world: World, *argv: str) -> tuple[int, dict[str, Any]]:
    """`dsse-remediate <argv> --output json` configured as the deployment is (its key, account and acceptances)."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out):
        for name in ("ALERT_TOPIC_ARN", "PROTECTED_BUCKETS", "EXCLUDED_BUCKETS", "MODE", "ACCEPT_READER_IMPACT"):
            env.delenv(name, raising=False)
        env.setenv("DSSE_KMS_KEY", world.key)
        env.setenv("ACCOUNT_ID", ACCOUNT_ID)
        if world.case.accept:
            env.setenv("ACCEPT_READER_IMPACT", ",".join(world.case.accept))
        code = commands.main([*argv, "--output", "json"])
    document: dict[str, Any] = json.loads(out.getvalue())
    return code, document


def fresh_verdict(world: World, bucket: str) -> ReaderVerdict:
    return world.app().gate.verdict(bucket, world.key)


def cli_fix_path(world: World, bucket: str) -> None:
    """`dsse-remediate fix s3://bucket/key`: exit 1 and nothing written when held, else 0 and remediated."""
    before = snapshot(world.s3, bucket, KEY)

    code, document = cli(world, "fix", f"s3://{bucket}/{KEY}")

    [result] = document["results"]
    verdict = fresh_verdict(world, bucket)
    check_verdict(verdict, world.case)
    if world.case.held:
        assert (code, result["outcome"]) == (1, "held"), result["reason"]
        assert snapshot(world.s3, bucket, KEY) == before
        assert result["readerImpact"] == verdict.describe()
    else:
        assert (code, result["outcome"]) == (0, "remediated"), result["reason"]
        assert_remediated(before, snapshot(world.s3, bucket, KEY), world.key)
        assert result.get("readerImpact") == expected_impact(verdict)


def cli_accept_path(world: World, bucket: str) -> None:
    """`fix --accept-reader-impact`: every case is remediated; a held one records the caller (STS
    GetCallerIdentity) as who accepted; a bucket accepted already keeps its own acceptance."""
    before = snapshot(world.s3, bucket, KEY)
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]

    code, document = cli(world, "fix", f"s3://{bucket}/{KEY}", "--accept-reader-impact")

    [result] = document["results"]
    assert (code, result["outcome"]) == (0, "remediated"), result["reason"]
    assert_remediated(before, snapshot(world.s3, bucket, KEY), world.key)
    verdict = fresh_verdict(world, bucket)  # without the flag: the bucket's own acceptance, if any
    check_verdict(verdict, world.case)
    if world.case.held:
        accepted = f"{caller} (dsse-remediate --accept-reader-impact)"
        assert result["readerImpact"] == f"{verdict.describe()} — impact accepted by {accepted}"
    else:
        assert result.get("readerImpact") == expected_impact(verdict)


@dataclass(frozen=True)
class WritePath:
    name: str
    run: Callable[[World, str], None]

    @property
    def bucket(self) -> str:
        return f"gate-{self.name}"


PATHS = (
    WritePath("object", object_path),
    WritePath("bucket", bucket_path),
    WritePath("backfill", backfill_path),
    WritePath("backstop", backstop_path),
    WritePath("cli-fix", cli_fix_path),
    WritePath("cli-fix-accept", cli_accept_path),
)


@pytest.fixture(scope="class", params=CASES, ids=str)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """The case's fake AWS, built once for every path: one bucket per path, configured alike, each holding an SSE-S3
    object written now (within the backstop's window)."""
    case: Case = request.param
    with pytest.MonkeyPatch.context() as env, mock_aws(), aws_fidelity.applied():
        for name, value in FAKE_AWS_ENV.items():
            env.setenv(name, value)
        for name in AWS_UNSET:
            env.delenv(name, raising=False)
        s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="dsse-alerts")["TopicArn"]
        url = sqs.create_queue(QueueName="security-channel")["QueueUrl"]
        queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
        key = kms.create_key(Description="DSSE key under test")["KeyMetadata"]["Arn"]
        built = World(case, s3, kms, key, Inbox(sqs, url, topic))
        s3.create_bucket(Bucket=REPORT_BUCKET)
        for path in PATHS:
            s3.create_bucket(Bucket=path.bucket)
            case.configure(built, path.bucket)
            put(s3, path.bucket, KEY)
        yield built


class TestEveryWritePath:
    def test_the_gate_reads_the_expected_verdict(self, world: World) -> None:
        check_verdict(fresh_verdict(world, PATHS[0].bucket), world.case)

    @pytest.mark.parametrize("path", PATHS, ids=lambda path: path.name)
    def test_no_write_where_unsafe_remediation_where_safe(self, world: World, path: WritePath) -> None:
        path.run(world, path.bucket)


@pytest.mark.parametrize("case", [case for case in CASES if case.mirrors], ids=str)
def test_each_case_has_the_reasons_of_the_rules_specification(case: Case) -> None:
    """Built on moto, a case is judged for the reasons tests/gate_matrix.py gives the same configuration as facts
    (its side effects may add what AWS requires around it, e.g. versioning under replication)."""
    assert case.mirrors is not None
    specified = BY_NAME[case.mirrors]
    assert sorted(case.reasons) == sorted(specified.reasons)
    assert set(specified.side_effects) <= set(case.side_effects)
    assert case.safety is specified.safety


def test_the_matrix_covers_each_path_with_held_and_converted_buckets() -> None:
    held = [case for case in CASES if case.held]
    converted = [case for case in CASES if not case.held]
    assert len(CASES) >= 15
    assert len(held) >= 10
    assert {case.safety for case in converted} == {Safety.SAFE, Safety.SIDE_EFFECTS, Safety.UNSAFE}


# --- the watch ----------------------------------------------------------------------------------------------------


def bucket_event(name: str, bucket: str, **params: Any) -> dict[str, Any]:
    """A CloudTrail bucket management event as EventBridge delivers it (events/delete-bucket-encryption.json's
    envelope and actor, events/README.md), for `name` with these request parameters."""
    event: dict[str, Any] = load_event("delete-bucket-encryption.json", **{"example-protected-bucket": bucket})
    detail = event["detail"]
    detail["eventName"] = name
    detail["eventID"] = f"{name.lower()}-0001"
    detail["requestParameters"] = {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com", **params}
    return event


def test_a_compliant_bucket_that_becomes_a_website_is_held_at_once(
    monkeypatch: pytest.MonkeyPatch, s3: Any, bucket: str, dsse_key: str, inbox: Inbox
) -> None:
    """The bucket is DSSE-KMS; its owner lifts Block Public Access (the gate reads it: still safe, and keeps that
    verdict for its TTL), then turns on website hosting. The PutBucketWebsite event makes the bucket function forget
    the kept verdict and read the bucket again at once: held, with a high alert naming the event and the actor."""
    for name, value in {"DSSE_KMS_KEY": dsse_key, "ALERT_TOPIC_ARN": inbox.topic_arn, "ACCOUNT_ID": ACCOUNT_ID}.items():
        monkeypatch.setenv(name, value)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": DSSE, "KMSMasterKeyID": dsse_key}}]
        },
    )
    function = load_function("bucket_remediation")
    calls = CallLog()
    function.app.client("s3").meta.events.register("before-parameter-build.s3", calls)

    s3.delete_public_access_block(Bucket=bucket)
    lifted = function.lambda_handler(bucket_event("DeletePublicAccessBlock", bucket, publicAccessBlock=""),
                                     LambdaContext())  # fmt: skip
    assert [r["outcome"] for r in lifted["results"]] == ["compliant"]
    assert calls.counts["GetBucketWebsite"] == 1
    assert function.app.gate.verdict(bucket, dsse_key).safety is Safety.SAFE  # kept for the TTL: no read
    assert calls.counts["GetBucketWebsite"] == 1
    assert inbox.messages() == []

    website = {"IndexDocument": {"Suffix": "index.html"}}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=website)
    answer = function.lambda_handler(
        bucket_event("PutBucketWebsite", bucket, website="", WebsiteConfiguration=website), LambdaContext()
    )

    [result] = answer["results"]
    actor = "arn:aws:sts::123456789012:assumed-role/data-pipeline/ingest-job"
    assert result["outcome"] == "held"
    assert f"since PutBucketWebsite by {actor} at 2026-11-20T10:11:05Z" in result["reason"]
    assert "hosts a static website" in result["reason"]
    assert calls.counts["GetBucketWebsite"] == 2  # read again at once, not after the TTL
    [alert] = inbox.messages()
    assert (alert["attributes"]["severity"], alert["body"]["outcome"]) == ("high", "held")
    assert alert["body"]["reason"] == result["reason"]
    assert (alert["body"]["trigger"]["eventName"], alert["body"]["trigger"]["actor"]) == ("PutBucketWebsite", actor)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": DSSE, "KMSMasterKeyID": dsse_key}


# --- the cost -----------------------------------------------------------------------------------------------------


def test_the_gate_reads_a_bucket_once_not_per_object(
    s3: Any, bucket: str, dsse_key: str, make_remediator: Any, calls: CallLog
) -> None:
    """Ten objects of one bucket: the gate's reads of the bucket and its key happen once (the account's Block Public
    Access and Organization, on S3 Control and Organizations, are not recorded here); each object costs what it
    did before the gate: HeadObject and CopyObject, and GetBucketOwnershipControls once for the bucket."""
    keys = [f"reports/{n:02d}.csv" for n in range(10)]
    for key in keys:
        put(s3, bucket, key)
    remediator = make_remediator()

    outcomes = [remediator.handle(ObjectRequest(bucket, (key,))).outcome for key in keys]

    assert outcomes == [Outcome.REMEDIATED] * 10
    assert calls.counts.keys() >= GATE_READS - {"DescribeOrganization"}
    assert {call: calls.counts[call] for call in calls.gate_reads} == dict.fromkeys(
        GATE_READS - {"DescribeOrganization"}, 1
    )
    assert calls.without_gate == [
        "HeadObject", "GetBucketOwnershipControls", "CopyObject", *["HeadObject", "CopyObject"] * 9
    ]  # fmt: skip
    first_copy = calls.calls.index("CopyObject")
    assert set(calls.calls[:first_copy]) >= GATE_READS - {"DescribeOrganization"}  # read before the first write
