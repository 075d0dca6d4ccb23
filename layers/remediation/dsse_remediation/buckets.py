"""The bucket path: keep each protected bucket's default encryption DSSE-KMS under its key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import prevention
from .alerts import Publisher, bucket_alert, publish
from .aws import errors
from .aws.kms import KeyRing, KmsGateway
from .aws.s3 import DSSE, S3Gateway
from .config import Mode, Settings
from .model import BucketEncryption, BucketRequest, BucketResult, Outcome
from .scope import is_directory_bucket, require_bucket_name
from .sweep import Sweeper


class BucketRemediator:
    """Reads the bucket's default encryption (never the event body), and resets it to DSSE-KMS when needed."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyRing,
        s3: S3Gateway,
        kms: KmsGateway,
        publisher: Publisher | None = None,
        sweeper: Sweeper | None = None,
        on_alert_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.s3 = s3
        self.kms = kms
        self.publisher = publisher
        self.sweeper = sweeper
        self._on_alert_error = on_alert_error

    def handle(self, request: BucketRequest) -> BucketResult:
        require_bucket_name(request.bucket)
        try:
            result = self._process(request)
        except ClientError as exc:
            result = self._failure(request, exc)
        except BotoCoreError as exc:
            result = BucketResult(request.bucket, Outcome.FAILED, f"{exc}")
        result.trigger = request.trigger
        result.dry_run = request.dry_run
        if result.outcome.alerts:
            alert = bucket_alert(result, self.settings.alert_context)
            result.alert_error = publish(self.publisher, alert, self._on_alert_error)
        return result

    def _process(self, request: BucketRequest) -> BucketResult:
        bucket = request.bucket
        if not self.settings.scope.contains(bucket):
            reason = f"bucket {bucket} is outside the protected scope ({self.settings.scope.describe()})"
            return BucketResult(bucket, Outcome.OUT_OF_SCOPE, reason)
        owner, account = request.trigger.bucket_owner, self.settings.account_id
        if owner and account and owner != account:
            reason = f"bucket {bucket} belongs to account {owner}, not this account ({account}): its owner's business"
            return BucketResult(bucket, Outcome.OUT_OF_SCOPE, reason)
        key_arn = self.keys.arn(self.settings.key_for(bucket))
        if is_directory_bucket(bucket):
            reason = "directory buckets (S3 Express One Zone) support SSE-S3 and SSE-KMS only, not DSSE-KMS"
            return BucketResult(bucket, Outcome.UNREMEDIABLE, reason, expected_key_arn=key_arn)

        before = self.s3.bucket_encryption(bucket)
        result = BucketResult(bucket, Outcome.COMPLIANT, "", before=before, expected_key_arn=key_arn)
        blocked = before.blocked_encryption_types
        policy: dict[str, Any] | None = None
        if self.settings.prevention_policy:
            policy, result.policy_change = prevention.merged(self.s3.bucket_policy(bucket), bucket, key_arn)
            # SSE-C uploads carry no x-amz-server-side-encryption header, so the policy cannot see them: block them.
            blocked = prevention.blocking_sse_c(blocked)
        default_ok = is_dsse(before, key_arn) and blocked == before.blocked_encryption_types
        if default_ok and result.policy_change is None:
            result.reason = f"default encryption is DSSE-KMS under the configured key {key_arn}"
            return result

        changes = [] if default_ok else [f"reset the default encryption from {before} to DSSE-KMS under {key_arn}"]
        if blocked != before.blocked_encryption_types:
            changes.append("blocked SSE-C uploads (BlockedEncryptionTypes)")
        if result.policy_change:
            changes.append(f"{result.policy_change} the prevention statements of the bucket policy")
        if not default_ok and (problem := self._key_problem(bucket, key_arn)):
            result.outcome = Outcome.UNREMEDIABLE
            result.reason = f"{problem}; nothing was changed (S3 does not check the key a bucket default names)"
            return result
        if request.dry_run or self.settings.mode is Mode.ALERT_ONLY:
            why = "dry run" if request.dry_run else "alert-only mode"
            result.outcome = Outcome.WOULD_REMEDIATE
            result.reason = f"{why}: would {'; '.join(changes)}"
            return result

        if self.sweeper is not None and not default_ok:
            # Queued before the default is written: if anything after this fails, the retry finds the bucket still
            # not compliant and queues the sweep again (sweeping twice is harmless, never sweeping is not).
            result.sweep = self.sweeper.start(bucket, request.trigger)
            changes.append("queued a sweep of the objects already in the bucket")
        result.after = before if default_ok else self.s3.put_dsse_default(bucket, key_arn, blocked)
        result.outcome = Outcome.REMEDIATED
        result.reason = "; ".join(changes)
        if policy is not None and result.policy_change:
            try:
                self.s3.put_bucket_policy(bucket, policy)
            except ClientError as exc:
                result.outcome = Outcome.FAILED
                done = "the default encryption was reset, but " if not default_ok else ""
                result.reason = f"{done}the prevention statements could not be written: {errors.message(exc)}"
                return result
        return result

    def _key_problem(self, bucket: str, key_arn: str) -> str | None:
        """Why this key cannot be the bucket's DSSE default (DescribeKey + GetBucketLocation), or None."""
        try:
            facts = self.kms.facts(key_arn)
        except ClientError as exc:
            if errors.is_transient(exc):
                raise  # throttled or a KMS fault: `failed`, and the event is retried
            return f"the configured key {key_arn} cannot be described ({errors.message(exc)})"
        if problem := facts.unusable_for_dsse():
            return f"{problem} ({key_arn})"
        region = self.s3.bucket_region(bucket)
        if facts.region != region:
            return (
                f"the key is in {facts.region} but the bucket in {region}: DSSE-KMS needs a key in the bucket's Region"
            )
        return None

    def _failure(self, request: BucketRequest, exc: ClientError) -> BucketResult:
        code = errors.code(exc)
        if code == "NoSuchBucket":
            return BucketResult(request.bucket, Outcome.GONE, "the bucket does not exist (deleted, or a typo)")
        if code in errors.ACCESS_DENIED:
            reason = (
                f"access denied ({errors.message(exc)}), or the bucket belongs to another account (every call names "
                "this account as the expected owner): the bucket function's role needs "
                "s3:GetEncryptionConfiguration and s3:PutEncryptionConfiguration here (and s3:GetBucketPolicy / "
                "s3:PutBucketPolicy with the prevention policy), and no bucket policy may deny them"
            )
            return BucketResult(request.bucket, Outcome.UNREMEDIABLE, reason)
        return BucketResult(request.bucket, Outcome.FAILED, errors.message(exc))


def is_dsse(encryption: BucketEncryption, key_arn: str) -> bool:
    """Compliant: DSSE-KMS under exactly this key ARN (an alias could be repointed), Bucket Key off."""
    return encryption.algorithm == DSSE and encryption.kms_key_id == key_arn and not encryption.bucket_key_enabled
