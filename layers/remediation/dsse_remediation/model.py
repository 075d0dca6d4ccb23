"""Value types shared by every path: what was asked, what was found, what was done."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    REMEDIATED = "remediated"
    COMPLIANT = "compliant"
    WOULD_REMEDIATE = "would-remediate"
    UNREMEDIABLE = "unremediable"
    OUT_OF_SCOPE = "out-of-scope"
    GONE = "gone"
    FAILED = "failed"

    @property
    def alerts(self) -> bool:
        """Outcomes a human is told about; `compliant`, `out-of-scope` and `gone` publish nothing."""
        return self in (Outcome.REMEDIATED, Outcome.WOULD_REMEDIATE, Outcome.UNREMEDIABLE, Outcome.FAILED)

    @property
    def severity(self) -> str:
        return _SEVERITY.get(self, "info")


CRITICAL = "critical"  # every event that threatens the DSSE key
_SEVERITY = {
    Outcome.REMEDIATED: "low",
    Outcome.WOULD_REMEDIATE: "medium",
    Outcome.UNREMEDIABLE: "high",
    Outcome.FAILED: "high",
}


@dataclass(frozen=True)
class Trigger:
    """Where a request came from; CloudTrail fields are kept for attribution in alerts."""

    source: str  # "cloudtrail" | "s3-notification" | "sweep" | "manual"
    event_name: str | None = None
    event_id: str | None = None
    event_time: str | None = None
    actor: str | None = None
    source_ip: str | None = None
    # The bucket owner's account as the event states it (CloudTrail: the AWS::S3::Bucket entry of detail.resources).
    # CloudTrail also delivers a requester's writes into other accounts' buckets; those are not ours to fix.
    bucket_owner: str | None = None

    @property
    def event_driven(self) -> bool:
        """Delivered by AWS or by this stack's own queue: a failure raises, so the delivery is retried."""
        return self.source != "manual"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "eventName": self.event_name,
            "eventId": self.event_id,
            "eventTime": self.event_time,
            "actor": self.actor,
            "sourceIp": self.source_ip,
            "bucketOwner": self.bucket_owner,
        }


MANUAL = Trigger(source="manual")


@dataclass(frozen=True)
class ObjectRequest:
    """One object to evaluate.

    `keys` holds the key as delivered first, then any decoded alternative to try on 404
    (CloudTrail logs raw keys, S3 notifications URL-encode them; neither is documented as certain).
    `version_id` is set only by a manual payload that names a version.
    """

    bucket: str
    keys: tuple[str, ...]
    version_id: str | None = None
    dry_run: bool = False
    trigger: Trigger = MANUAL

    @property
    def key(self) -> str:
        return self.keys[0]


@dataclass(frozen=True)
class SweepStep:
    """One step of a bucket sweep, carried by the object queue: list one page from `continuation_token` (None: the
    first page), queue its keys as object tasks, and queue the next step. `queued` counts the keys queued before."""

    bucket: str
    sweep_id: str
    continuation_token: str | None = None
    queued: int = 0


@dataclass(frozen=True)
class Encryption:
    algorithm: str  # AES256 | aws:kms | aws:kms:dsse | SSE-C | unknown
    kms_key_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "kmsKeyId": self.kms_key_id}

    def __str__(self) -> str:
        return f"{self.algorithm} ({self.kms_key_id})" if self.kms_key_id else self.algorithm


@dataclass
class ObjectResult:
    bucket: str
    key: str
    outcome: Outcome
    reason: str
    version_id: str | None = None
    version_id_after: str | None = None
    before: Encryption | None = None
    after: Encryption | None = None
    action: str = "none"  # none | copy-in-place | multipart-copy-in-place
    purged_version_id: str | None = None
    expected_key_arn: str | None = None
    dry_run: bool = False
    trigger: Trigger = field(default=MANUAL)
    alert_error: str | None = None  # an alert a human must read could not be published

    def to_dict(self) -> dict[str, Any]:
        """The answer shape every handler returns: one entry per object."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "versionId": self.version_id,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "versionIdAfter": self.version_id_after,
            "encryptionBefore": self.before.to_dict() if self.before else None,
            "encryptionAfter": self.after.to_dict() if self.after else None,
            "action": self.action,
            "purgedVersionId": self.purged_version_id,
            "expectedKmsKeyId": self.expected_key_arn,
            "dryRun": self.dry_run,
            "alertError": self.alert_error,
        }


# Every S3 data event that writes a whole new object. UploadPart / UploadPartCopy only stage parts: the object appears
# with the CompleteMultipartUpload that follows them. PostObject is an HTML-form (browser, presigned POST) upload.
OBJECT_WRITES = frozenset({"PutObject", "PostObject", "CopyObject", "CompleteMultipartUpload"})
# PutBucketPolicy / DeleteBucketPolicy matter when the prevention policy is on: they may remove its statements.
BUCKET_CHANGES = frozenset(
    {"CreateBucket", "PutBucketEncryption", "DeleteBucketEncryption", "PutBucketPolicy", "DeleteBucketPolicy"}
)
KEY_REVERTIBLE = frozenset({"DisableKey", "ScheduleKeyDeletion", "DisableKeyRotation"})
KEY_FOR_HUMANS = frozenset({"PutKeyPolicy", "DeleteImportedKeyMaterial"})
ALIAS_CHANGES = frozenset({"UpdateAlias", "DeleteAlias"})
KEY_EVENTS = KEY_REVERTIBLE | KEY_FOR_HUMANS | ALIAS_CHANGES


@dataclass(frozen=True)
class BucketRequest:
    bucket: str
    dry_run: bool = False
    trigger: Trigger = MANUAL


@dataclass(frozen=True)
class BucketEncryption:
    """A bucket's default encryption rule, as GetBucketEncryption reports it."""

    algorithm: str  # AES256 | aws:kms | aws:kms:dsse
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False
    blocked_encryption_types: tuple[str, ...] | None = None  # None: the bucket has no BlockedEncryptionTypes

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "kmsKeyId": self.kms_key_id,
            "bucketKeyEnabled": self.bucket_key_enabled,
            "blockedEncryptionTypes": list(self.blocked_encryption_types)
            if self.blocked_encryption_types is not None
            else None,
        }

    def __str__(self) -> str:
        text = f"{self.algorithm} ({self.kms_key_id})" if self.kms_key_id else self.algorithm
        return text + (", Bucket Key on" if self.bucket_key_enabled else "")


@dataclass
class BucketResult:
    bucket: str
    outcome: Outcome
    reason: str
    before: BucketEncryption | None = None
    after: BucketEncryption | None = None
    expected_key_arn: str | None = None
    policy_change: str | None = None  # added | updated | None (prevention policy)
    sweep: dict[str, Any] | None = None
    dry_run: bool = False
    trigger: Trigger = field(default=MANUAL)
    alert_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "encryptionBefore": self.before.to_dict() if self.before else None,
            "encryptionAfter": self.after.to_dict() if self.after else None,
            "expectedKmsKeyId": self.expected_key_arn,
            "preventionPolicy": self.policy_change,
            "sweep": self.sweep,
            "dryRun": self.dry_run,
            "alertError": self.alert_error,
        }


@dataclass(frozen=True)
class KeyEvent:
    """A KMS management event on some key (CloudTrail), or a manual look at one key (`event_name` None)."""

    key_arns: tuple[str, ...]  # detail.resources[].ARN (key ARNs; alias ARNs too for alias events)
    event_name: str | None = None
    alias_name: str | None = None
    request: dict[str, Any] = field(default_factory=dict)  # requestParameters
    response: dict[str, Any] = field(default_factory=dict)  # responseElements
    dry_run: bool = False
    trigger: Trigger = MANUAL


@dataclass
class KeyResult:
    key_arn: str
    outcome: Outcome
    reason: str
    event_name: str | None = None
    key_state: str | None = None
    rotation_enabled: bool | None = None
    deletion_date: str | None = None
    actions: list[str] = field(default_factory=list)  # revert calls made
    protects: list[str] = field(default_factory=list)  # bucket scopes using this key
    policy_statements: list[dict[str, Any]] | None = None
    dry_run: bool = False
    trigger: Trigger = field(default=MANUAL)
    alert_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "keyArn": self.key_arn,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "eventName": self.event_name,
            "keyState": self.key_state,
            "rotationEnabled": self.rotation_enabled,
            "deletionDate": self.deletion_date,
            "actions": self.actions,
            "protects": self.protects,
            "policyStatements": self.policy_statements,
            "dryRun": self.dry_run,
            "alertError": self.alert_error,
        }
