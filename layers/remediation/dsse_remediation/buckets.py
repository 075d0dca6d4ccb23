"""The bucket path: keep each protected bucket's default encryption DSSE-KMS under its key."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import prevention
from .alerts import Alerts
from .aws.kms import KeyRing, KmsGateway
from .aws.s3_buckets import BucketStore
from .config import Mode, Settings
from .exceptions import AwsFailure
from .gate.safety import ReaderVerdict, Safety
from .model import DSSE, READER_CHANGES, BucketEncryption, BucketRequest, BucketResult, Failure, Outcome
from .scope import is_directory_bucket, require_bucket_name
from .sweep import Sweeper

if TYPE_CHECKING:
    from .findings import Findings
    from .gate.gate import ReaderGate


class BucketRemediator:
    """Reads the bucket's default encryption (never the event body), and resets it to DSSE-KMS when needed."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyRing,
        s3: BucketStore,
        kms: KmsGateway,
        alerts: Alerts,
        sweeper: Sweeper | None = None,
        findings: Findings | None = None,
        gate: ReaderGate | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.s3 = s3
        self.kms = kms
        self.alerts = alerts
        self.sweeper = sweeper
        self.findings = findings  # every final result, when SECURITY_HUB_FINDINGS is on
        self.gate = gate  # the reader-safety gate (wiring.App always gives one)

    def handle(self, request: BucketRequest) -> BucketResult:
        require_bucket_name(request.bucket)
        try:
            result = self._process(request)
        except AwsFailure as exc:
            result = self._result(request, *_failure(exc))
        if self.findings is not None:
            self.findings.record(result)
        if result.outcome.alerts and (error := self.alerts.send(result)):
            return replace(result, alert_error=error)
        return result

    def _process(self, request: BucketRequest) -> BucketResult:
        bucket, settings = request.bucket, self.settings
        if not settings.scope.contains(bucket):
            reason = f"bucket {bucket} is outside the protected scope ({settings.scope.describe()})"
            return self._result(request, Outcome.OUT_OF_SCOPE, reason)
        if owner := request.trigger.foreign_owner(settings.account_id):
            reason = f"bucket {bucket} belongs to account {owner}, not this account ({settings.account_id})"
            return self._result(request, Outcome.OUT_OF_SCOPE, reason)
        key_arn = self.keys.arn(settings.key_for(bucket))
        if is_directory_bucket(bucket):
            reason = "directory buckets (S3 Express One Zone) support SSE-S3 and SSE-KMS only, not DSSE-KMS"
            return self._result(request, Outcome.UNREMEDIABLE, reason, expected_key_arn=key_arn)

        before = self.s3.bucket_encryption(bucket)
        found: dict[str, Any] = {"before": before, "expected_key_arn": key_arn}
        blocked = before.blocked_encryption_types
        policy: dict[str, Any] | None = None
        policy_change: str | None = None
        if settings.prevention_policy:
            policy, policy_change = prevention.merged(self.s3.bucket_policy(bucket), bucket, key_arn)
            # SSE-C uploads carry no x-amz-server-side-encryption header, so the policy cannot see them: block them.
            blocked = prevention.blocking_sse_c(blocked)
        found["policy_change"] = policy_change
        default_ok = is_dsse(before, key_arn) and blocked == before.blocked_encryption_types
        if default_ok and policy_change is None:
            reason = f"default encryption is DSSE-KMS under the configured key {key_arn}"
            return self._gated(request, key_arn, found, True) or self._result(
                request, Outcome.COMPLIANT, reason, **found
            )

        changes = [] if default_ok else [f"reset the default encryption from {before} to DSSE-KMS under {key_arn}"]
        if blocked != before.blocked_encryption_types:
            changes.append("blocked SSE-C uploads (BlockedEncryptionTypes)")
        if policy_change:
            changes.append(f"{policy_change} the prevention statements of the bucket policy")
        if not default_ok and (problem := self._key_problem(bucket, key_arn)):
            reason = f"{problem}; nothing was changed (S3 does not check the key a bucket default names)"
            return self._result(request, Outcome.UNREMEDIABLE, reason, **found)
        if held_result := self._gated(request, key_arn, found, False):
            return held_result
        if request.dry_run or settings.mode is Mode.ALERT_ONLY:
            why = "dry run" if request.dry_run else "alert-only mode"
            return self._result(request, Outcome.WOULD_REMEDIATE, f"{why}: would {'; '.join(changes)}", **found)

        if self.sweeper is not None and not default_ok:
            # Queued before the default is written: if anything after this fails, the retry finds the bucket still
            # not compliant and queues the sweep again (sweeping twice is harmless, never sweeping is not).
            found["sweep"] = self.sweeper.start(bucket, request.trigger)
            changes.append("queued a sweep of the objects already in the bucket")
        found["after"] = before if default_ok else self.s3.put_dsse_default(bucket, key_arn, blocked)
        if policy is not None and policy_change:
            try:
                self.s3.put_bucket_policy(bucket, policy)
            except AwsFailure as exc:
                done = "the default encryption was reset, but " if not default_ok else ""
                reason = f"{done}the prevention statements could not be written: {exc}"
                return self._result(request, Outcome.FAILED, reason, **found)
        return self._result(request, Outcome.REMEDIATED, "; ".join(changes), **found)

    def _gated(
        self, request: BucketRequest, key_arn: str, found: dict[str, Any], compliant: bool
    ) -> BucketResult | None:
        """The held result when the reader-safety gate blocks the bucket (its note kept in `found` either way)."""
        readers = self._readers(request, key_arn, compliant)
        if readers is None:
            return None
        if readers.safety is not Safety.SAFE:
            found["reader_impact"] = readers.describe()
        if not readers.blocks:
            return None
        return self._result(request, Outcome.HELD, held(request, readers, compliant), **found)

    def _readers(self, request: BucketRequest, key_arn: str, compliant: bool) -> ReaderVerdict | None:
        """The gate's verdict, read before any write; for a compliant bucket only on a change that can break its
        readers (the watch), read at once (its cached verdict forgotten)."""
        if self.gate is None:
            return None
        if request.trigger.event_name in READER_CHANGES:
            self.gate.forget(request.bucket)
        elif compliant:
            return None  # nothing to write, nothing changed: no read
        return self.gate.verdict(request.bucket, key_arn)

    def _key_problem(self, bucket: str, key_arn: str) -> str | None:
        """Why this key cannot be the bucket's DSSE default (DescribeKey + GetBucketLocation), or None."""
        try:
            facts = self.kms.facts(key_arn)
        except AwsFailure as exc:
            if exc.failure.retryable:
                raise  # throttled or a KMS fault: `failed`, and the event is retried
            return f"the configured key {key_arn} cannot be described ({exc})"
        if problem := facts.unusable_for_dsse():
            return f"{problem} ({key_arn})"
        region = self.s3.bucket_region(bucket)
        if facts.region != region:
            return (
                f"the key is in {facts.region} but the bucket in {region}: DSSE-KMS needs a key in the bucket's Region"
            )
        return None

    @staticmethod
    def _result(request: BucketRequest, outcome: Outcome, reason: str, **found: Any) -> BucketResult:
        return BucketResult(
            bucket=request.bucket,
            outcome=outcome,
            reason=reason,
            dry_run=request.dry_run,
            trigger=request.trigger,
            **found,
        )


def _failure(exc: AwsFailure) -> tuple[Outcome, str]:
    if exc.failure is Failure.GONE:
        return Outcome.GONE, "the bucket does not exist (deleted, or a typo)"
    if exc.failure is Failure.DENIED:
        reason = (
            f"access denied ({exc}), or the bucket belongs to another account (every call names "
            "this account as the expected owner): the bucket function's role needs "
            "s3:GetEncryptionConfiguration and s3:PutEncryptionConfiguration here (and s3:GetBucketPolicy / "
            "s3:PutBucketPolicy with the prevention policy), and no bucket policy may deny them"
        )
        return Outcome.UNREMEDIABLE, reason
    return Outcome.FAILED, str(exc)


def is_dsse(encryption: BucketEncryption, key_arn: str) -> bool:
    """Compliant: DSSE-KMS under exactly this key ARN (an alias could be repointed), Bucket Key off."""
    return encryption.algorithm == DSSE and encryption.kms_key_id == key_arn and not encryption.bucket_key_enabled


def held(request: BucketRequest, readers: ReaderVerdict, compliant: bool) -> str:
    """Why nothing is written. For a bucket already DSSE-KMS (the watch) that has become one whose readers or
    writers break: who did it, and what will fail."""
    if not compliant:
        return f"held, nothing written: converting the bucket would break its readers or writers; {readers.describe()}"
    trigger = request.trigger
    who = f"{trigger.event_name} by {trigger.actor or 'an unknown principal'}" if trigger.event_name else "a change"
    when = f" at {trigger.event_time}" if trigger.event_time else ""
    return (
        f"the bucket is DSSE-KMS, and since {who}{when} its readers or writers break: {readers.describe()}; "
        "further writes are held"
    )
