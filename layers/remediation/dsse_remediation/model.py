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


_SEVERITY = {
    Outcome.REMEDIATED: "low",
    Outcome.WOULD_REMEDIATE: "medium",
    Outcome.UNREMEDIABLE: "high",
    Outcome.FAILED: "high",
}


@dataclass(frozen=True)
class Trigger:
    """Where a request came from; CloudTrail fields are kept for attribution in alerts."""

    source: str  # "cloudtrail" | "s3-notification" | "manual"
    event_name: str | None = None
    event_id: str | None = None
    event_time: str | None = None
    actor: str | None = None
    source_ip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "eventName": self.event_name,
            "eventId": self.event_id,
            "eventTime": self.event_time,
            "actor": self.actor,
            "sourceIp": self.source_ip,
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
        }
