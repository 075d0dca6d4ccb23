"""The gate's rules: a bucket's access facts (facts.BucketAccess) -> a verdict (safety.ReaderVerdict): would
converting the bucket to DSSE-KMS break a reader or a writer? Each reason says what to do and which AWS page says why.
Pure: no AWS calls. Acceptance is not decided here (`accepted_by` stays None).

Unsafe, each a Finding (code: why):
- website-endpoint: website hosting with public access not neutralised (RestrictPublicBuckets and IgnorePublicAcls
  both on). Website endpoints serve only publicly readable content (S3 User Guide, WebsiteEndpoints); a KMS-protected
  object is served only to SigV4-signed requests (S3 API Reference, CopyObject, SSEKMSKeyId).
- public-reader / public-writer: a public bucket-policy grant not neutralised by RestrictPublicBuckets, or a bucket
  ACL WRITE for AllUsers/AuthenticatedUsers without IgnorePublicAcls (access-control-block-public-access).
  public-object-acl (object_findings): an object ACL READ for those groups without IgnorePublicAcls. A bucket ACL
  READ only lists keys (S3 User Guide, acl-overview): listing is not encrypted, so it is not judged.
- cloudfront-oai: "OAI doesn't support" SSE-KMS. cloudfront-oac: cloudfront.amazonaws.com reads but the key policy
  does not let it kms:Decrypt for that distribution's AWS:SourceArn (CloudFront Developer Guide,
  private-content-restricting-access-to-s3).
- cross-account-reader / -writer: an account, a principal of one, or an Organization (aws:PrincipalOrgID) may read or
  write, and the key policy does not let it kms:Decrypt / kms:GenerateDataKey (KMS Developer Guide,
  key-policy-modifying-external-accounts). service-reader / -writer: the same for a service principal
  (key-policy-services, and each service's page in SERVICE_PAGES).
- network-*, access-point-*, canonical-user-*, unproven-*: grants that cannot be matched to a key grant (anyone from
  a network, anonymous included; whoever the access points admit; an S3 canonical id; a statement the gate cannot
  read with certainty). The gate does not guess: unsafe, with the reason.
- replication-without-kms: a rule without SseKmsEncryptedObjects and ReplicaKmsKeyID stops replicating converted
  objects (S3 User Guide, replication-config-for-kms-objects).
- server-access-logs (logging.s3.amazonaws.com, or WRITE for the LogDelivery group), elb-access-logs (the Region's
  ELB account, logdelivery.elasticloadbalancing.amazonaws.com), cloudwatch-logs-export (logs.amazonaws.com): SSE-S3
  only, or no DSSE-KMS (enable-server-access-logging; ELB enable-access-logging; CloudWatch Logs S3Export): always
  unsafe. CloudTrail, Config, delivery.logs.amazonaws.com (VPC Flow Logs, vended logs) and other writing services
  are unsafe unless the key policy lets them kms:GenerateDataKey.
- unreadable-configuration: "could not read X: the gate does not guess".

Side effects, never blocking: lifecycle ages restart (a copy is a new object); a versioned bucket keeps each old
version; opted-in replication re-sends each copy; notifications fire s3:ObjectCreated:Copy; every GET by a reader
outside the account becomes a KMS Decrypt (DSSE-KMS has no S3 Bucket Keys) on the account's request quota.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dsse_remediation.gate import policies
from dsse_remediation.gate.facts import ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY, BucketAccess, PublicAccessBlock
from dsse_remediation.gate.policies import Grantee, Kind, Requester
from dsse_remediation.gate.safety import Finding, ReaderVerdict
from dsse_remediation.partitions import AWS, partition_of_arn

_S3 = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/"
WEBSITE = _S3 + "WebsiteEndpoints.html"
SIGNED_REQUESTS = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html"
PUBLIC = policies.MEANING_OF_PUBLIC
ACL = _S3 + "acl-overview.html"
CLOUDFRONT = (
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html"
)
EXTERNAL_ACCOUNTS = policies.EXTERNAL_ACCOUNTS
ACCESS_POINTS = _S3 + "access-points-policies.html"
REPLICATION = _S3 + "replication-config-for-kms-objects.html"
SERVER_ACCESS_LOGS = _S3 + "enable-server-access-logging.html"
ELB_LOGS = policies.ELB_LOGS
LOGS_EXPORT = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/S3Export.html"
SERVICE_KEY_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-services.html"
SERVICE_PAGES = {
    "cloudtrail.amazonaws.com": "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html",
    "config.amazonaws.com": "https://docs.aws.amazon.com/config/latest/developerguide/s3-kms-key-policy.html",
    "delivery.logs.amazonaws.com": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-V2-S3.html",
}  # fmt: skip
PERMISSIONS = _S3 + "using-with-s3-policy-actions.html"
LIFECYCLE = _S3 + "intro-lifecycle-rules.html"
VERSIONING = _S3 + "Versioning.html"
NOTIFICATIONS = _S3 + "notification-how-to-event-types-and-destinations.html"
KMS_QUOTA = "https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html"

CLOUDFRONT_SERVICE = "cloudfront.amazonaws.com"
SERVER_ACCESS_LOGS_SERVICE = "logging.s3.amazonaws.com"
_LOGS_EXPORT_SERVICE = re.compile(r"logs(\.[a-z0-9-]+)?\.amazonaws\.com")
_ACL_GRANTEE = re.compile(r'(id|uri|emailAddress)="([^"]*)"')
_OBJECT_READ_PARAMS = ("GrantRead", "GrantFullControl")
_WRITE_PERMISSIONS = ("WRITE", "FULL_CONTROL")
_OFF_SITE = (
    "exclude this bucket from remediation and keep its default encryption SSE-S3 (or accept that delivery stops)"
)


@dataclass(frozen=True)
class _Role:
    noun: str  # reader | writer
    verb: str
    s3_action: str
    kms_action: str


READ = _Role("reader", "read", "s3:GetObject", "kms:Decrypt")
WRITE = _Role("writer", "write", "s3:PutObject", "kms:GenerateDataKey")


def evaluate(access: BucketAccess) -> ReaderVerdict:
    """Whether converting `access.bucket` to DSSE-KMS breaks a reader or a writer, and what it costs or changes."""
    read, shared = _policy(access, READ)
    written, _ = _policy(access, WRITE)
    reasons = (*_unreadable(access), *_website(access), *read, *written, *_bucket_acl(access), *_replication(access))
    return ReaderVerdict(access.bucket, tuple(dict.fromkeys(reasons)), _side_effects(access, shared))


def object_findings(
    grants: Mapping[str, str], block: PublicAccessBlock, owner_id: str | None = None
) -> tuple[Finding, ...]:
    """One object's ACL as the object path carries it (CopyObject Grant* parameters, `id="..."` / `uri="..."`
    grantees, aws/s3_objects.py `grants`). The owner's FULL_CONTROL is in every ACL: without `owner_id` a canonical
    user is judged only when two or more hold READ/FULL_CONTROL (one of them is then certainly not the owner)."""
    granted = [found for param in _OBJECT_READ_PARAMS for found in _ACL_GRANTEE.findall(grants.get(param, ""))]
    findings: list[Finding] = []
    public = sorted({value for kind, value in granted if kind == "uri" and value in (ALL_USERS, AUTHENTICATED_USERS)})
    if public and not block.ignore_public_acls:
        findings.append(Finding(
            "public-object-acl",
            f"the object's ACL lets {', '.join(public)} read it and IgnorePublicAcls is off; anonymous requests "
            "cannot read a KMS-encrypted object",
            "turn on IgnorePublicAcls (or remove the public grant) and serve readers through CloudFront with OAC and "
            "a key-policy grant to cloudfront.amazonaws.com for that distribution",
            PUBLIC,
        ))  # fmt: skip
    users = sorted({value for kind, value in granted if kind != "uri"})
    others = [user for user in users if user != owner_id] if owner_id else (users if len(users) > 1 else [])
    if others:
        findings.append(Finding(
            "object-acl-reader",
            f"the object's ACL lets canonical user(s) {', '.join(others)} read it"
            + ("" if owner_id else " (at least one is not the owner)")
            + "; a canonical id cannot be matched to a key-policy grant, so kms:Decrypt could not be proven",
            "grant those accounts through the bucket policy and the key policy instead of the ACL (or accept)",
            ACL,
        ))  # fmt: skip
    return tuple(findings)


# --- the bucket policy's readers and writers ----------------------------------------------------------------------


def _policy(access: BucketAccess, role: _Role) -> tuple[list[Finding], list[Grantee]]:
    """The findings for the policy's grantees, and the grantees outside this account that keep working (shared)."""
    if access.policy is None:
        return [], []
    found = policies.grantees(access.policy, access.bucket, role.s3_action, _partition(access.key_arn))
    who = found.restricted() if access.public_access_block.restrict_public_buckets else found.grantees
    findings: list[Finding] = []
    shared: list[Grantee] = []
    for grantee in who:
        if finding := _judge(grantee, access, role):
            findings.append(finding)
        elif grantee.kind in (Kind.SERVICE, Kind.ORGANIZATION) or grantee.account not in (None, access.account_id):
            shared.append(grantee)
    return findings, shared


def _judge(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding | None:
    if role is WRITE and (delivery := _log_delivery(grantee)):
        return delivery
    return _JUDGES[grantee.kind](grantee, access, role)


def _public(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding:
    fix = (
        "serve the objects through CloudFront with OAC and grant cloudfront.amazonaws.com kms:Decrypt on the key for "
        "that distribution, then turn on RestrictPublicBuckets"
        if role is READ
        else "have the writers sign requests as principals the key policy allows kms:GenerateDataKey, then turn on "
        "RestrictPublicBuckets"
    )
    what = (
        f"the bucket policy lets {grantee.describe()} {role.verb} objects and RestrictPublicBuckets is off; "
        f"requests for KMS-encrypted objects must be SigV4-signed, so anonymous {role.verb}s would fail"
    )
    return Finding(f"public-{role.noun}", what + _doubt(grantee), fix, SIGNED_REQUESTS)


def _oai(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding:
    return Finding(
        "cloudfront-oai",
        f"{grantee.describe()} may {role.verb} objects, and an origin access identity does not support SSE-KMS",
        "move the distribution to origin access control (OAC), grant cloudfront.amazonaws.com kms:Decrypt on the key "
        "with Condition StringEquals AWS:SourceArn = the distribution's ARN, then remove the OAI statement",
        CLOUDFRONT,
    )


def _canonical_user(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding:
    return Finding(
        f"canonical-user-{role.noun}",
        f"{grantee.describe()} may {role.verb} objects: a CloudFront OAI (no SSE-KMS) or another account's canonical "
        "id, which cannot be matched to a key-policy grant, so it could not be proven to keep working",
        "name the account, role or OAC service principal instead, grant it on the key, and run the gate again",
        CLOUDFRONT,
    )


def _service(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding | None:
    answer = _key(grantee, access, role)
    if answer.allowed:
        return None
    operator = "ArnLike" if "*" in (grantee.source_arn or "") else "StringEquals"
    condition = f' with Condition {operator} AWS:SourceArn "{grantee.source_arn}"' if grantee.source_arn else ""
    if grantee.name == "*":
        fix = "name the service principal in the bucket-policy statement, then grant it on the key"
    else:
        fix = (
            f'add a key-policy statement: Allow Principal {{"Service": "{grantee.name}"}} {role.kms_action}{condition}'
        )
    cloudfront = grantee.name == CLOUDFRONT_SERVICE and role is READ
    what = f"{grantee.describe()} may {role.verb} objects but the key policy does not let it {role.kms_action}"
    return Finding(
        "cloudfront-oac" if cloudfront else f"service-{role.noun}",
        f"{what}: {answer.why}{_doubt(grantee)}",
        fix,
        CLOUDFRONT if cloudfront else SERVICE_PAGES.get(grantee.name, SERVICE_KEY_POLICY),
    )


def _principal(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding | None:
    if grantee.kind is not Kind.ORGANIZATION and grantee.account == access.account_id:
        return None  # this account: its IAM policies and the key's account-root statement decide
    answer = _key(grantee, access, role)
    if answer.allowed:
        return None
    if grantee.kind is Kind.ORGANIZATION:
        ours = " (this account's Organization)" if grantee.name == access.organization_id else ""
        principal = f'"*" with Condition StringEquals aws:PrincipalOrgID "{grantee.name}"{ours}'
    elif grantee.kind is Kind.ACCOUNT:
        principal = f'{{"AWS": "arn:{_partition(access.key_arn)}:iam::{grantee.account}:root"}}'
    else:
        principal = f'{{"AWS": "{grantee.name}"}}'
    return Finding(
        f"cross-account-{role.noun}",
        f"{grantee.describe()} may {role.verb} objects but the key policy does not let it {role.kms_action}: "
        f"{answer.why}{_doubt(grantee)}",
        f"add a key-policy statement allowing Principal {principal} {role.kms_action} (and an IAM policy in that "
        "account), or remove the bucket-policy grant",
        EXTERNAL_ACCOUNTS,
    )


def _network(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding:
    return Finding(
        f"network-{role.noun}",
        f"{grantee.describe()}: anyone from that network may {role.verb} objects, anonymous requests included; "
        "KMS-encrypted objects need SigV4-signed requests by principals the key policy allows",
        "add aws:PrincipalAccount or aws:PrincipalOrgID to the statement and grant those principals on the key, "
        "or accept the impact",
        PUBLIC,
    )


def _access_point(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding:
    return Finding(
        f"access-point-{role.noun}",
        f"{grantee.describe()} delegates access to access points, whose own policies decide who may {role.verb}; "
        "the gate does not read them, so their principals could not be proven to hold a key grant",
        f"check the access points' policies, grant their principals {role.kms_action} on the key, then accept",
        ACCESS_POINTS,
    )


def _unproven(grantee: Grantee, access: BucketAccess, role: _Role) -> Finding:
    return Finding(
        f"unproven-{role.noun}",
        f"{grantee.describe()} may {role.verb} objects and who that is could not be proven ({grantee.doubt}): "
        "the gate does not guess",
        "rewrite the statement with fixed principals or fixed aws:PrincipalAccount / aws:PrincipalOrgID values, "
        "or accept the impact",
        PUBLIC,
    )


_JUDGES: Mapping[Kind, Callable[[Grantee, BucketAccess, _Role], Finding | None]] = {
    Kind.PUBLIC: _public,
    Kind.OAI: _oai,
    Kind.CANONICAL_USER: _canonical_user,
    Kind.SERVICE: _service,
    Kind.ACCOUNT: _principal,
    Kind.PRINCIPAL: _principal,
    Kind.ORGANIZATION: _principal,
    Kind.NETWORK: _network,
    Kind.ACCESS_POINT: _access_point,
    Kind.UNPROVEN: _unproven,
}


def _log_delivery(grantee: Grantee) -> Finding | None:
    """The writers that support SSE-S3 only (or not DSSE-KMS), whatever the key policy says."""
    service = grantee.name if grantee.kind is Kind.SERVICE else ""
    if service == SERVER_ACCESS_LOGS_SERVICE:
        return _server_access_logs(grantee.describe())
    region = policies.elb_region(grantee.account) if grantee.kind is Kind.ACCOUNT else None
    if region or service in policies.ELB_SERVICE_PRINCIPALS:
        return Finding(
            "elb-access-logs",
            f"Elastic Load Balancing access logs are delivered here ({grantee.describe()}"
            + (f", the ELB account of {region}" if region else "")
            + "); the only server-side encryption they support is SSE-S3",
            _OFF_SITE,
            ELB_LOGS,
        )
    if _LOGS_EXPORT_SERVICE.fullmatch(service):
        return Finding(
            "cloudwatch-logs-export",
            f"CloudWatch Logs export tasks write here ({grantee.describe()}); exporting to DSSE-KMS is not supported",
            _OFF_SITE,
            LOGS_EXPORT,
        )
    return None


def _server_access_logs(by: str) -> Finding:
    return Finding(
        "server-access-logs",
        f"S3 server access logs are delivered here ({by}); a log target's default encryption may only be SSE-S3",
        _OFF_SITE,
        SERVER_ACCESS_LOGS,
    )


def _key(grantee: Grantee, access: BucketAccess, role: _Role) -> policies.KeyAnswer:
    requester = Requester.of(grantee)
    return policies.key_allows(access.key_policy, access.key_arn, role.kms_action, requester, access.bucket)


def _doubt(grantee: Grantee) -> str:
    return f" ({grantee.doubt})" if grantee.doubt else ""


# --- the rest of the configuration --------------------------------------------------------------------------------


def _bucket_acl(access: BucketAccess) -> list[Finding]:
    """WRITE (or FULL_CONTROL) on a bucket lets the grantee create objects; READ only lists them."""
    findings: list[Finding] = []
    for grant in (g for g in access.acl if g.permission in _WRITE_PERMISSIONS):
        if grant.grantee == LOG_DELIVERY:
            findings.append(_server_access_logs(f"the LogDelivery group's {grant.permission} in the bucket ACL"))
        elif grant.grantee in (ALL_USERS, AUTHENTICATED_USERS):
            if not access.public_access_block.ignore_public_acls:
                findings.append(Finding(
                    "public-writer",
                    f"the bucket ACL lets {grant.grantee} {grant.permission} and IgnorePublicAcls is off; "
                    "writes into a DSSE-KMS bucket must be signed by principals the key policy allows",
                    "remove the public ACL grant (or turn on IgnorePublicAcls)",
                    PUBLIC,
                ))  # fmt: skip
        else:
            findings.append(Finding(
                "canonical-user-writer",
                f"the bucket ACL lets {grant.grantee} {grant.permission}; a canonical id cannot be matched to a "
                "key-policy grant, so kms:GenerateDataKey could not be proven",
                "grant that account through the bucket policy and the key policy instead, or accept the impact",
                ACL,
            ))  # fmt: skip
    return findings


def _website(access: BucketAccess) -> list[Finding]:
    block = access.public_access_block
    off = [name for name, on in (("RestrictPublicBuckets", block.restrict_public_buckets),
                                 ("IgnorePublicAcls", block.ignore_public_acls)) if not on]  # fmt: skip
    if not access.website or not off:
        return []
    return [Finding(
        "website-endpoint",
        f"the bucket hosts a static website ({' and '.join(off)} off, so it may still serve); website endpoints "
        "serve only anonymous, publicly readable content and cannot serve KMS-encrypted objects",
        "serve the site through CloudFront with OAC (the bucket's REST endpoint as origin) and grant "
        "cloudfront.amazonaws.com kms:Decrypt on the key for that distribution, then remove the website configuration",
        WEBSITE,
    )]  # fmt: skip


def _replication(access: BucketAccess) -> list[Finding]:
    return [
        Finding(
            "replication-without-kms",
            f"replication rule {rule.rule_id!r} (to {rule.destination_bucket}) does not opt in to KMS-encrypted "
            f"objects ({'no ReplicaKmsKeyID' if rule.kms_opt_in else 'no SseKmsEncryptedObjects'}): converted "
            "objects stop replicating",
            "enable SourceSelectionCriteria.SseKmsEncryptedObjects, set Destination.EncryptionConfiguration."
            "ReplicaKmsKeyID, and let the replication role kms:Decrypt this key and kms:Encrypt the replica key",
            REPLICATION,
        )
        for rule in access.replication
        if not (rule.kms_opt_in and rule.replica_kms_key)
    ]


def _unreadable(access: BucketAccess) -> list[Finding]:
    return [
        Finding(
            "unreadable-configuration",
            f"could not read {what}: the gate does not guess",
            "grant the gate's role the read (s3:GetBucketPolicy, s3:GetBucketAcl, s3:GetBucketWebsite, "
            "s3:GetReplicationConfiguration, s3:GetBucketPublicAccessBlock, kms:GetKeyPolicy, ...) and run it again",
            PERMISSIONS,
        )
        for what in access.unreadable
    ]


def _side_effects(access: BucketAccess, shared: list[Grantee]) -> tuple[Finding, ...]:
    effects: list[Finding] = []
    if access.lifecycle_rules:
        effects.append(Finding(
            "lifecycle-ages-restart",
            f"{access.lifecycle_rules} lifecycle rule(s): a converted object is a new object, so its transition and "
            "expiration ages restart from the copy",
            "expect later transitions and expirations; nothing to change before converting",
            LIFECYCLE,
        ))  # fmt: skip
    if access.versioned:
        effects.append(Finding(
            "old-versions-kept",
            "versioning is on: each copy keeps the previous version as a noncurrent version, so storage doubles "
            "until the noncurrent versions expire",
            "check for a NoncurrentVersionExpiration lifecycle rule",
            VERSIONING,
        ))  # fmt: skip
    effects += [
        Finding("replication-resends", f"replication rule {rule.rule_id!r} re-sends every converted object to "
                f"{rule.destination_bucket}", "expect the replication traffic and its cost", REPLICATION)
        for rule in access.replication if rule.kms_opt_in and rule.replica_kms_key
    ]  # fmt: skip
    if access.notifications:
        effects.append(Finding(
            "copy-notifications",
            "event notifications are configured: every conversion fires s3:ObjectCreated:Copy",
            "make sure the consumers tolerate ObjectCreated:Copy for keys they already know",
            NOTIFICATIONS,
        ))  # fmt: skip
    if shared:
        effects.append(Finding(
            "kms-decrypt-per-read",
            f"every GET by {', '.join(sorted({g.describe() for g in shared}))} becomes a KMS Decrypt (DSSE-KMS has "
            "no S3 Bucket Keys), counted against this account's shared cryptographic-operations quota",
            "watch AWS/Usage CryptographicOperationsSymmetric and raise the quota before heavy reading",
            KMS_QUOTA,
        ))  # fmt: skip
    return tuple(effects)


def _partition(arn: str) -> str:
    """The key ARN's partition (the bucket's: a bucket's key is in its partition); `aws` for a key not named by ARN."""
    return partition_of_arn(arn) or AWS
