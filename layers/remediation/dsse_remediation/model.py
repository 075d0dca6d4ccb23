"""Value types shared by every path: what was asked, what was found, what was done, and what AWS said went wrong.

Domain modules read and build only these; adapters (aws/) turn AWS answers into them. Results are frozen and built
whole; `answer()` is the one serialiser of every handler's answer and every alert's resource fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, Generic, TypeVar

DSSE = "aws:kms:dsse"
T = TypeVar("T")

# The product's one clock: every date it writes or compares (alert and finding times, campaign labels, estimate and
# inventory windows, Object Lock retention) comes from a `Clock` that `wiring.App` hands to each part, so a test pins
# the date in one place and the suite passes on any day (tests/conftest.py: `clock`, and DSSE_TEST_TIME_TRAVEL).
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: an aware datetime in UTC (never the machine's time zone)."""
    return datetime.now(UTC)


class Outcome(StrEnum):
    REMEDIATED = "remediated"
    COMPLIANT = "compliant"
    WOULD_REMEDIATE = "would-remediate"
    UNREMEDIABLE = "unremediable"
    OUT_OF_SCOPE = "out-of-scope"
    GONE = "gone"
    FAILED = "failed"
    # Not written: converting the bucket would break a reader or a writer (the reader-safety gate, gate/) and nobody
    # accepted the impact. Nothing is written in the bucket until its configuration or an acceptance changes that.
    HELD = "held"

    @property
    def alerts(self) -> bool:
        """Outcomes a human is told about; `compliant`, `out-of-scope` and `gone` publish nothing."""
        return self in (
            Outcome.REMEDIATED,
            Outcome.WOULD_REMEDIATE,
            Outcome.UNREMEDIABLE,
            Outcome.FAILED,
            Outcome.HELD,
        )

    @property
    def severity(self) -> str:
        return _SEVERITY.get(self, "info")


CRITICAL = "critical"  # every event that threatens the DSSE key
_SEVERITY = {
    Outcome.REMEDIATED: "low",
    Outcome.WOULD_REMEDIATE: "medium",
    Outcome.UNREMEDIABLE: "high",
    Outcome.FAILED: "high",
    Outcome.HELD: "high",
}


class Source(StrEnum):
    """Where a request came from. Everything but a manual call is event-driven: its failures are retried."""

    CLOUDTRAIL = "cloudtrail"
    S3_NOTIFICATION = "s3-notification"
    SWEEP = "sweep"
    BATCH = "batch-operations"  # a task of an S3 Batch Operations job: its result code, not a raise, asks for a retry
    MANUAL = "manual"


class Action(StrEnum):
    NONE = "none"
    COPY = "copy-in-place"
    MULTIPART_COPY = "multipart-copy-in-place"


class Failure(StrEnum):
    """What an AWS error means to the domain (aws/errors.py classifies every ClientError and BotoCoreError), or that
    the invocation's time ran out."""

    RACE = "race"  # a newer write changed the object under a conditional request (412 / 409)
    GONE = "gone"  # no such key, version or bucket
    DENIED = "denied"  # access denied, or the bucket belongs to another account (ExpectedBucketOwner)
    ARCHIVED = "archived"  # the object must be restored before S3 can read it
    KEY_UNUSABLE = "key-unusable"  # KMS refused: key disabled, pending deletion, missing, not usable by the role
    # KMS or S3 refused a copy whose source is KMS-encrypted under another key than the DSSE key: reading it needs
    # kms:Decrypt on that key, which this one object's owner chose. A condition of the object, like SSE-C, not of the
    # deployment: it never stops a Batch Operations job (remediation._copy_failed, batch_tasks.result_code).
    SOURCE_KEY = "source-key"
    ACLS_DISABLED = "acls-disabled"  # Grant* sent to a BucketOwnerEnforced bucket
    BAD_REQUEST = "bad-request"  # 400 without a code (a HeadObject of an SSE-C object)
    THROTTLED = "throttled"  # slow down: retried by botocore, then by the delivery
    TRANSIENT = "transient"  # a service fault or a network error: retried likewise
    # The invocation's time ran out before a copy could finish (deadline.py): not started, or stopped between parts
    # and its upload aborted. A fresh invocation has the time.
    OUT_OF_TIME = "out-of-time"
    OTHER = "other"

    @property
    def retryable(self) -> bool:
        return self in (Failure.THROTTLED, Failure.TRANSIENT, Failure.OUT_OF_TIME)


@dataclass(frozen=True)
class Trigger:
    """Where a request came from; CloudTrail fields are kept for attribution in alerts."""

    source: Source
    event_name: str | None = None
    event_id: str | None = None
    event_time: str | None = None
    actor: str | None = None
    source_ip: str | None = None
    # The bucket owner's account as the event states it (CloudTrail: the AWS::S3::Bucket entry of detail.resources).
    # CloudTrail also delivers a requester's writes into other accounts' buckets; those are not ours to fix.
    bucket_owner: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Source(self.source))  # "cloudtrail" or Source.CLOUDTRAIL alike

    @property
    def manual(self) -> bool:
        """A person asked: answer them. Anything else is event-driven: a failure raises, so the delivery is retried."""
        return self.source is Source.MANUAL

    def seconds_since(self, now: datetime) -> float | None:
        """Seconds from the event's time to `now`, to the millisecond (never below 0: clocks differ by a little): how
        long a write waited for its remediation. The event's time is CloudTrail's eventTime (when the write was made)
        or the time of S3's own event; None without one (manual requests, sweeps, Batch Operations tasks) or when it
        cannot be read."""
        if not self.event_time:
            return None
        try:
            then = datetime.fromisoformat(self.event_time.replace("Z", "+00:00"))
        except ValueError:
            return None
        if then.tzinfo is None:
            then = then.replace(tzinfo=UTC)
        return max(0.0, round((now - then).total_seconds(), 3))

    def foreign_owner(self, account: str | None) -> str | None:
        """The owner's account when the event says the bucket is another account's, else None."""
        return self.bucket_owner if self.bucket_owner and account and self.bucket_owner != account else None


MANUAL = Trigger(source=Source.MANUAL)


@dataclass(frozen=True)
class ObjectRequest:
    """One object to evaluate.

    `keys` holds the key as delivered first, then any decoded alternative to try on 404
    (CloudTrail logs raw keys, S3 notifications URL-encode them; neither is documented as certain).
    `version_id` is set only by a manual payload that names a version.
    `write_set_acl`: the write that triggered the request gave the object an ACL S3 accepts only while the bucket has
    ACLs enabled (its CloudTrail requestParameters carry x-amz-acl or x-amz-grant-* headers), so a cached "ACLs
    disabled" for the bucket is stale and is read again before the copy. Only a CloudTrail object write can say so:
    S3's own notifications, sweeps, Batch Operations tasks and manual payloads carry no request headers (False).
    """

    bucket: str
    keys: tuple[str, ...]
    version_id: str | None = None
    dry_run: bool = False
    trigger: Trigger = MANUAL
    write_set_acl: bool = False

    @property
    def key(self) -> str:
        return self.keys[0]


@dataclass(frozen=True)
class BucketRequest:
    bucket: str
    dry_run: bool = False
    trigger: Trigger = MANUAL


@dataclass(frozen=True)
class KeyEvent:
    """A KMS management event on some key (CloudTrail), or a manual look at one key (`event_name` None)."""

    key_arns: tuple[str, ...]  # detail.resources[].ARN (key ARNs; alias ARNs too for alias events)
    event_name: str | None = None
    alias_name: str | None = None
    request: Mapping[str, Any] = field(default_factory=dict)  # requestParameters
    response: Mapping[str, Any] = field(default_factory=dict)  # responseElements
    dry_run: bool = False
    trigger: Trigger = MANUAL


@dataclass(frozen=True)
class SweepStep:
    """One step of a bucket sweep, carried by the object queue: list one page from `continuation_token` (None: the
    first page), queue its keys as object tasks, and queue the next step. `queued` counts the keys queued before."""

    bucket: str
    sweep_id: str
    continuation_token: str | None = None
    queued: int = 0


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """What a handler was given: requests, or why a well-formed event asks for nothing (e.g. the write failed), or a
    bucket sweep's listing steps. Every parser returns one."""

    requests: tuple[T, ...] = ()
    ignored: str | None = None
    steps: tuple[SweepStep, ...] = ()


# What was found.


@dataclass(frozen=True)
class Encryption:
    algorithm: str  # AES256 | aws:kms | aws:kms:dsse | SSE-C | unknown | none (HeadObject sent no header)
    kms_key_id: str | None = None

    def __str__(self) -> str:
        return f"{self.algorithm} ({self.kms_key_id})" if self.kms_key_id else self.algorithm


@dataclass(frozen=True)
class ObjectState:
    """What one HeadObject says about an object."""

    bucket: str
    key: str
    etag: str
    size: int
    version_id: str | None
    encryption: Encryption
    storage_class: str
    archive_status: str | None = None
    restore: str | None = None
    website_redirect: str | None = None
    content: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    tag_count: int = 0
    lock: Mapping[str, Any] = field(default_factory=dict)  # the ObjectLock* fields HeadObject returned

    @property
    def versioned(self) -> bool:
        return self.version_id not in (None, "null")

    def locked(self, now: datetime) -> bool:
        """Retention still running, a legal hold or an event hold: S3 refuses to delete this version."""
        until = self.lock.get("ObjectLockRetainUntilDate")
        retained = until is not None and until > now
        held = "ON" in (self.lock.get("ObjectLockLegalHoldStatus"), self.lock.get("ObjectLockEventHold"))
        return retained or held


@dataclass(frozen=True)
class DsseTarget:
    key_arn: str
    encryption_context: str | None = None  # base64 JSON, as SSEKMSEncryptionContext wants it


@dataclass(frozen=True)
class Written:
    """What S3 reported for the in-place write."""

    version_id: str | None
    encryption: Encryption


@dataclass(frozen=True)
class BucketEncryption:
    """A bucket's default encryption rule, as GetBucketEncryption reports it."""

    algorithm: str  # AES256 | aws:kms | aws:kms:dsse
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False
    blocked_encryption_types: tuple[str, ...] | None = None  # None: the bucket has no BlockedEncryptionTypes

    def __str__(self) -> str:
        text = f"{self.algorithm} ({self.kms_key_id})" if self.kms_key_id else self.algorithm
        return text + (", Bucket Key on" if self.bucket_key_enabled else "")


# What was done. Fields are listed in answer order; `json` metadata renames a field, None leaves it out of answers.


OMITTED = {"json": None}  # field metadata: not part of answers (alerts carry the trigger on their own)


@dataclass(frozen=True, kw_only=True)
class ObjectResult:
    bucket: str
    key: str
    version_id: str | None = None
    outcome: Outcome
    reason: str
    version_id_after: str | None = None
    before: Encryption | None = field(default=None, metadata={"json": "encryptionBefore"})
    after: Encryption | None = field(default=None, metadata={"json": "encryptionAfter"})
    action: Action = Action.NONE
    purged_version_id: str | None = None
    expected_key_arn: str | None = field(default=None, metadata={"json": "expectedKmsKeyId"})
    # A remediated object's wait: seconds from its write (the trigger's event time) to its remediation
    # (Trigger.seconds_since); None for the other outcomes and for triggers without an event time (manual requests).
    latency_seconds: float | None = None
    dry_run: bool = False
    # The reader-safety gate's verdict when it is not plainly safe: why held, the side effects, who accepted.
    reader_impact: str | None = None
    alert_error: str | None = None  # an alert a human must read could not be published
    # What AWS said went wrong when the outcome comes from an AWS error (failed, some unremediable): whether a retry
    # can help. Not part of answers; the reason says it in words.
    failure: Failure | None = field(default=None, metadata=OMITTED)
    trigger: Trigger = field(default=MANUAL, metadata=OMITTED)


@dataclass(frozen=True, kw_only=True)
class BucketResult:
    bucket: str
    outcome: Outcome
    reason: str
    before: BucketEncryption | None = field(default=None, metadata={"json": "encryptionBefore"})
    after: BucketEncryption | None = field(default=None, metadata={"json": "encryptionAfter"})
    expected_key_arn: str | None = field(default=None, metadata={"json": "expectedKmsKeyId"})
    policy_change: str | None = field(default=None, metadata={"json": "preventionPolicy"})  # added | updated | None
    sweep: Mapping[str, Any] | None = None
    dry_run: bool = False
    reader_impact: str | None = None  # the reader-safety gate's verdict when it is not plainly safe
    alert_error: str | None = None
    trigger: Trigger = field(default=MANUAL, metadata=OMITTED)


@dataclass(frozen=True, kw_only=True)
class KeyResult:
    key_arn: str
    outcome: Outcome
    reason: str
    event_name: str | None = None
    key_state: str | None = None
    rotation_enabled: bool | None = None
    deletion_date: str | None = None
    actions: tuple[str, ...] = ()  # revert calls made
    protects: tuple[str, ...] = ()  # bucket scopes using this key
    policy_statements: tuple[Mapping[str, Any], ...] | None = None
    dry_run: bool = False
    alert_error: str | None = None
    trigger: Trigger = field(default=MANUAL, metadata=OMITTED)


Result = ObjectResult | BucketResult | KeyResult


def answer(value: Any) -> Any:
    """Any value of this module as JSON-ready data: dataclasses as objects with camelCase names, enums as values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get("json") or _camel(f.name): answer(getattr(value, f.name))
            for f in fields(value)
            if f.metadata.get("json", "") is not None
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): answer(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [answer(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def truncate(text: str, limit: int) -> str:
    """`text`, or its first `limit - 3` characters and "..." when it is longer than `limit` (an SNS subject, a
    finding's title, a task's result string, a reason an alert lists per object)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# Every S3 data event that writes a whole new object. UploadPart / UploadPartCopy only stage parts: the object appears
# with the CompleteMultipartUpload that follows them. PostObject is an HTML-form (browser, presigned POST) upload.
OBJECT_WRITES = frozenset({"PutObject", "PostObject", "CopyObject", "CompleteMultipartUpload"})
# PutBucketPolicy / DeleteBucketPolicy matter when the prevention policy is on: they may remove its statements.
# The configuration changes that can make converting a bucket break its readers or writers (the reader-safety gate):
# the bucket function reads the bucket's verdict again at once, and raises a high alert when a bucket already DSSE
# becomes one whose readers break. PutBucketLogging is about its *target* bucket, which receives the logs.
READER_CHANGES = frozenset(
    {
        "PutBucketPolicy",
        "DeleteBucketPolicy",
        "PutBucketWebsite",
        "PutBucketAcl",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
        "PutBucketReplication",
        "PutBucketLogging",
    }
)
BUCKET_CHANGES = (
    frozenset(
        {"CreateBucket", "PutBucketEncryption", "DeleteBucketEncryption", "PutBucketPolicy", "DeleteBucketPolicy"}
    )
    | READER_CHANGES
)
KEY_REVERTIBLE = frozenset({"DisableKey", "ScheduleKeyDeletion", "DisableKeyRotation"})
KEY_FOR_HUMANS = frozenset({"PutKeyPolicy", "DeleteImportedKeyMaterial"})
ALIAS_CHANGES = frozenset({"UpdateAlias", "DeleteAlias"})
KEY_EVENTS = KEY_REVERTIBLE | KEY_FOR_HUMANS | ALIAS_CHANGES
