"""Named buckets for the reader-safety gate, each with the verdict the rules must give: the specification of
gate/rules.py as data. tests/unit/test_gate_rules.py checks every case; the integration tests of the write paths
(object copy, bucket default, Batch Operations) can build the same buckets on fake AWS and expect the same verdict.

A case's facts are what the adapter would read; the policies follow AWS's own examples: the OAC bucket and key
statements (CloudFront Developer Guide, private-content-restricting-access-to-s3), the server access log statement
(S3 User Guide, enable-server-access-logging), the ELB account statement (ELB User Guide, enable-access-logging),
the CloudTrail key statement (CloudTrail User Guide, create-kms-key-policy-for-cloudtrail) and the external-account
key statement (KMS Developer Guide, key-policy-modifying-external-accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsse_remediation.gate.facts import (
    ALL_USERS,
    LOG_DELIVERY,
    BucketAccess,
    Grant,
    PublicAccessBlock,
    ReplicationRule,
)
from dsse_remediation.gate.safety import Safety
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY

BUCKET = "example-gate-bucket"
OBJECTS = f"arn:aws:s3:::{BUCKET}/*"
OTHER_ACCOUNT = "444455556666"
OTHER_ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/reporting"
ORG_ID = "o-exampleorgid"
DISTRIBUTION = f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/EDFDVBD6EXAMPLE"
OAI = "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E15MNIMTCFKK4C"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/management"
ELB_US_EAST_1 = "127311923021"
REPLICA_KEY = "arn:aws:kms:us-west-2:123456789012:key/3333cccc-33cc-33cc-33cc-333333333333"
BLOCK_ALL = PublicAccessBlock(True, True, True, True)


def statement(
    principal: Any,
    action: str | list[str] = "s3:GetObject",
    resource: str | list[str] = OBJECTS,
    condition: dict[str, Any] | None = None,
    effect: str = "Allow",
    sid: str = "Grant",
) -> dict[str, Any]:
    found: dict[str, Any] = {"Sid": sid, "Effect": effect, "Principal": principal, "Action": action}
    found["Resource"] = resource
    if condition:
        found["Condition"] = condition
    return found


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ROOT_STATEMENT = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def key_policy(*grants: dict[str, Any]) -> dict[str, Any]:
    """The default key policy (the account-root statement) plus `grants`."""
    return policy(ROOT_STATEMENT, *grants)


def key_grant(
    principal: Any, action: str | list[str] = "kms:Decrypt", condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    return statement(principal, action, "*", condition, sid="KeyGrant")


def bucket(**facts: Any) -> BucketAccess:
    """A bucket of this account to be converted to the placeholder key; the key has the default policy unless given."""
    facts.setdefault("key_policy", key_policy())
    return BucketAccess(bucket=BUCKET, account_id=ACCOUNT_ID, key_arn=PLACEHOLDER_KEY, **facts)


@dataclass(frozen=True)
class Case:
    name: str
    access: BucketAccess
    safety: Safety
    reasons: tuple[str, ...] = ()  # the reason codes, in any order
    side_effects: tuple[str, ...] = ()


PUBLIC_READ = statement("*", sid="PublicRead")
OAC_READ = statement(
    {"Service": "cloudfront.amazonaws.com"}, condition={"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}, sid="OAC"
)
OAC_KEY_GRANT = key_grant(
    {"Service": ["cloudfront.amazonaws.com"]},
    ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
    {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}},
)
OTHER_ACCOUNT_READ = statement({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, sid="OtherAccount")
ORG_READ = statement("*", condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}, sid="Organization")
CLOUDTRAIL_WRITE = statement(
    {"Service": "cloudtrail.amazonaws.com"},
    "s3:PutObject",
    f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT_ID}/*",
    {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL}},
    sid="AWSCloudTrailWrite",
)

CASES: tuple[Case, ...] = (
    # --- unsafe: one reason each, unless named otherwise ---
    Case("website-with-public-policy", bucket(website=True, policy=policy(PUBLIC_READ)), Safety.UNSAFE,
         ("website-endpoint", "public-reader")),
    Case("website-without-policy", bucket(website=True), Safety.UNSAFE, ("website-endpoint",)),
    Case("public-read-policy", bucket(policy=policy(PUBLIC_READ)), Safety.UNSAFE, ("public-reader",)),
    Case("public-write-acl", bucket(acl=(Grant(ALL_USERS, "WRITE"),)), Safety.UNSAFE, ("public-writer",)),
    Case("cloudfront-oai", bucket(policy=policy(statement({"AWS": OAI}, sid="OAI"))), Safety.UNSAFE,
         ("cloudfront-oai",)),
    Case("cloudfront-oac-without-key-grant", bucket(policy=policy(OAC_READ)), Safety.UNSAFE, ("cloudfront-oac",)),
    Case("cross-account-reader-without-key-grant", bucket(policy=policy(OTHER_ACCOUNT_READ)), Safety.UNSAFE,
         ("cross-account-reader",)),
    Case("organization-reader-without-key-grant", bucket(policy=policy(ORG_READ), organization_id=ORG_ID),
         Safety.UNSAFE, ("cross-account-reader",)),
    Case("cross-account-writer-without-key-grant",
         bucket(policy=policy(statement({"AWS": OTHER_ROLE}, "s3:PutObject", sid="Uploads"))), Safety.UNSAFE,
         ("cross-account-writer",)),
    Case("replication-without-kms-opt-in",
         bucket(replication=(ReplicationRule("to-dr", "example-dr-bucket", kms_opt_in=False, replica_kms_key=None),)),
         Safety.UNSAFE, ("replication-without-kms",)),
    Case("server-access-logs-by-policy",
         bucket(policy=policy(statement({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject",
                                        condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::example-source"}}))),
         Safety.UNSAFE, ("server-access-logs",)),
    Case("server-access-logs-by-acl", bucket(acl=(Grant(LOG_DELIVERY, "WRITE"), Grant(LOG_DELIVERY, "READ_ACP"))),
         Safety.UNSAFE, ("server-access-logs",)),
    Case("elb-access-logs-by-region-account",
         bucket(policy=policy(statement({"AWS": f"arn:aws:iam::{ELB_US_EAST_1}:root"}, "s3:PutObject",
                                        f"arn:aws:s3:::{BUCKET}/alb/AWSLogs/{ACCOUNT_ID}/*"))),
         Safety.UNSAFE, ("elb-access-logs",)),
    Case("elb-access-logs-by-service-principal",
         bucket(policy=policy(statement({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                                        "s3:PutObject"))),
         Safety.UNSAFE, ("elb-access-logs",)),
    Case("cloudwatch-logs-export",
         bucket(policy=policy(statement({"Service": "logs.us-east-1.amazonaws.com"}, "s3:PutObject"))),
         Safety.UNSAFE, ("cloudwatch-logs-export",)),
    Case("cloudtrail-without-key-grant", bucket(policy=policy(CLOUDTRAIL_WRITE)), Safety.UNSAFE, ("service-writer",)),
    Case("vpc-flow-logs-without-key-grant",
         bucket(policy=policy(statement({"Service": "delivery.logs.amazonaws.com"}, "s3:PutObject", condition={
             "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
             "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:*"}}))),
         Safety.UNSAFE, ("service-writer",)),
    Case("vpc-endpoint-scoped-reader",
         bucket(policy=policy(statement("*", condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}))),
         Safety.UNSAFE, ("network-reader",)),
    Case("unknown-condition-operator-even-with-block-public-access",
         bucket(policy=policy(statement("*", condition={"StringEqualsPerhaps": {"aws:PrincipalOrgID": ORG_ID}})),
                bucket_block=BLOCK_ALL),
         Safety.UNSAFE, ("unproven-reader",)),
    Case("unreadable-bucket-policy", bucket(unreadable=("the bucket policy (AccessDenied)",)), Safety.UNSAFE,
         ("unreadable-configuration",)),
    # --- safe controls ---
    Case("private-bucket", bucket(), Safety.SAFE),
    Case("same-account-role-reader",
         bucket(policy=policy(statement({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/app"}))), Safety.SAFE),
    Case("bucket-acl-public-read-lists-only", bucket(acl=(Grant(ALL_USERS, "READ"),)), Safety.SAFE),
    Case("public-policy-neutralised-by-bucket-block", bucket(policy=policy(PUBLIC_READ), bucket_block=BLOCK_ALL),
         Safety.SAFE),
    Case("public-policy-neutralised-by-account-block",
         bucket(policy=policy(PUBLIC_READ), account_block=PublicAccessBlock(restrict_public_buckets=True)),
         Safety.SAFE),
    Case("website-neutralised-by-account-block",
         bucket(website=True, policy=policy(PUBLIC_READ), account_block=BLOCK_ALL), Safety.SAFE),
    Case("public-policy-restriction-also-cuts-cross-account",
         bucket(policy=policy(PUBLIC_READ, OTHER_ACCOUNT_READ), bucket_block=PublicAccessBlock(
             restrict_public_buckets=True)), Safety.SAFE),
    Case("cross-account-reader-denied",
         bucket(policy=policy(OTHER_ACCOUNT_READ, statement({"AWS": OTHER_ACCOUNT}, "s3:*", effect="Deny"))),
         Safety.SAFE),
    Case("cloudtrail-with-key-grant",
         bucket(policy=policy(CLOUDTRAIL_WRITE), key_policy=key_policy(key_grant(
             {"Service": "cloudtrail.amazonaws.com"}, "kms:GenerateDataKey*",
             {"StringEquals": {"aws:SourceArn": TRAIL}}))),
         Safety.SAFE),
    # --- side effects only ---
    Case("cloudfront-oac-with-key-grant", bucket(policy=policy(OAC_READ), key_policy=key_policy(OAC_KEY_GRANT)),
         Safety.SIDE_EFFECTS, side_effects=("kms-decrypt-per-read",)),
    Case("cross-account-reader-with-key-grant",
         bucket(policy=policy(OTHER_ACCOUNT_READ),
                key_policy=key_policy(key_grant({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}))),
         Safety.SIDE_EFFECTS, side_effects=("kms-decrypt-per-read",)),
    Case("organization-reader-with-key-grant",
         bucket(policy=policy(ORG_READ), organization_id=ORG_ID, key_policy=key_policy(key_grant(
             "*", condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}))),
         Safety.SIDE_EFFECTS, side_effects=("kms-decrypt-per-read",)),
    Case("replication-opted-in",
         bucket(replication=(ReplicationRule("to-dr", "example-dr-bucket", kms_opt_in=True,
                                             replica_kms_key=REPLICA_KEY),)),
         Safety.SIDE_EFFECTS, side_effects=("replication-resends",)),
    Case("versioned-with-lifecycle-and-notifications",
         bucket(versioned=True, lifecycle_rules=2, notifications=True), Safety.SIDE_EFFECTS,
         side_effects=("lifecycle-ages-restart", "old-versions-kept", "copy-notifications")),
)  # fmt: skip

BY_NAME = {case.name: case for case in CASES}
