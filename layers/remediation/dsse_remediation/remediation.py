"""The object path: judge one object and, when it is not DSSE-KMS under its key, copy it in place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Publisher, object_alert
from .aws import errors
from .aws.kms import KeyRing
from .aws.s3 import DsseTarget, ObjectState, S3Gateway, Written
from .config import Mode, Settings
from .model import Encryption, ObjectRequest, ObjectResult, Outcome
from .scope import is_directory_bucket, is_valid_bucket_name
from .verdict import Verdict, judge

log = logging.getLogger(__name__)

MAX_KEY_BYTES = 1024


class InvalidRequest(ValueError):
    """A payload that names no valid object; nothing was read or changed."""


def validate(request: ObjectRequest) -> None:
    if not is_valid_bucket_name(request.bucket):
        raise InvalidRequest(
            f"bucket {request.bucket!r} is not a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')"
        )
    for key in request.keys:
        if not key:
            raise InvalidRequest('key is empty: give the object key, e.g. "reports/2026/q3.csv"')
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidRequest(f"key is {len(key.encode('utf-8'))} bytes long: S3 keys are at most 1,024 bytes")
    if request.version_id is not None and not request.version_id:
        raise InvalidRequest("versionId is empty: omit it, or give the version id to check")


@dataclass
class _Found:
    state: ObjectState | None
    result: ObjectResult | None = None


class ObjectRemediator:
    """Evaluates and remediates objects; one instance per container, shared by every invocation."""

    MAX_ATTEMPTS = 3  # a newer write during the copy restarts the evaluation on the newer object

    def __init__(
        self,
        settings: Settings,
        keys: KeyRing,
        s3: S3Gateway,
        publisher: Publisher | None = None,
        on_alert_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.s3 = s3
        self.publisher = publisher
        self._on_alert_error = on_alert_error

    def handle(self, request: ObjectRequest) -> ObjectResult:
        """Evaluate one object, remediate it if needed and allowed, alert when a human should know."""
        validate(request)
        result = self._process(request)
        result.trigger = request.trigger
        result.dry_run = request.dry_run
        if result.outcome.alerts:
            self._alert(result)
        return result

    def _process(self, request: ObjectRequest) -> ObjectResult:
        def outcome(outcome: Outcome, reason: str) -> ObjectResult:
            return ObjectResult(request.bucket, request.key, outcome, reason, version_id=request.version_id)

        bucket = request.bucket
        if not self.settings.scope.contains(bucket):
            return outcome(
                Outcome.OUT_OF_SCOPE,
                f"bucket {bucket} is outside the protected scope ({self.settings.scope.describe()})",
            )
        if is_directory_bucket(bucket):
            return outcome(
                Outcome.UNREMEDIABLE,
                "directory buckets (S3 Express One Zone) support SSE-S3 and SSE-KMS only, not DSSE-KMS",
            )
        key_arn = self.keys.arn(self.settings.key_for(bucket))
        target = DsseTarget(key_arn, self.settings.encryption_context_header)

        found = self._head(request)
        if found.state is None:
            assert found.result is not None
            return found.result
        state = found.state
        if request.version_id is not None:
            current = self._head(ObjectRequest(bucket, (state.key,), trigger=request.trigger))
            if current.state is None or current.state.version_id != state.version_id:
                judgement = judge(state, key_arn)
                if judgement.verdict is Verdict.COMPLIANT:
                    return self._result(state, Outcome.COMPLIANT, judgement.reason)
                return self._result(
                    state,
                    Outcome.UNREMEDIABLE,
                    f"version {request.version_id} is not the current version; copying it in place would put old "
                    "data over newer data. Expire noncurrent versions with a lifecycle rule instead",
                )

        for attempt in range(self.MAX_ATTEMPTS):
            judgement = judge(state, key_arn)
            if judgement.verdict is Verdict.COMPLIANT:
                reason = judgement.reason
                if attempt:
                    reason = (
                        f"a newer write replaced the object during remediation; the newer object is compliant: {reason}"
                    )
                return self._result(state, Outcome.COMPLIANT, reason)
            if judgement.verdict is Verdict.UNREMEDIABLE:
                return self._result(state, Outcome.UNREMEDIABLE, judgement.reason)
            if request.dry_run or self.settings.mode is Mode.ALERT_ONLY:
                why = "dry run" if request.dry_run else "alert-only mode"
                return self._result(state, Outcome.WOULD_REMEDIATE, f"{why}: would copy in place; {judgement.reason}")
            try:
                action, written = self._copy(state, target)
            except ClientError as exc:
                if errors.code(exc) in errors.RACE:
                    log.info("object changed during remediation, re-evaluating", extra={"attempt": attempt + 1})
                    found = self._head(ObjectRequest(bucket, (state.key,), trigger=request.trigger))
                    if found.state is None:
                        assert found.result is not None
                        return found.result
                    state = found.state
                    continue
                return self._copy_error(state, exc)
            except BotoCoreError as exc:
                return self._result(state, Outcome.FAILED, f"copy failed: {exc}")
            return self._remediated(state, action, written, key_arn)
        return self._result(
            state,
            Outcome.FAILED,
            f"the object changed {self.MAX_ATTEMPTS} times during remediation; it will be retried",
        )

    def _head(self, request: ObjectRequest) -> _Found:
        """HeadObject with each candidate key in turn (as delivered, then decoded) until one exists."""
        for key in dict.fromkeys(request.keys):
            try:
                return _Found(self.s3.head(request.bucket, key, request.version_id))
            except ClientError as exc:
                code = errors.code(exc)
                if code in errors.NOT_FOUND:
                    continue
                base = ObjectResult(request.bucket, key, Outcome.FAILED, "", version_id=request.version_id)
                if code in errors.ACCESS_DENIED:
                    base.outcome = Outcome.UNREMEDIABLE
                    base.reason = (
                        "access denied reading the object (HeadObject 403): the remediation role needs s3:GetObject "
                        "on it (and kms:Decrypt when it is SSE-KMS), and no bucket policy may deny it"
                    )
                elif code in ("400", "BadRequest"):
                    base.outcome = Outcome.UNREMEDIABLE
                    base.before = Encryption("SSE-C")
                    base.reason = (
                        "HeadObject answered 400 Bad Request, which S3 does for SSE-C objects read without their "
                        "customer key: it cannot be re-encrypted without that key"
                    )
                else:
                    base.reason = f"HeadObject failed: {errors.message(exc)}"
                return _Found(None, base)
            except BotoCoreError as exc:
                return _Found(None, ObjectResult(request.bucket, key, Outcome.FAILED, f"HeadObject failed: {exc}"))
        what = f"version {request.version_id} of " if request.version_id else ""
        return _Found(
            None,
            ObjectResult(
                request.bucket,
                request.key,
                Outcome.GONE,
                f"no {what}s3://{request.bucket}/{request.key}: deleted since it was written, or it never existed",
                version_id=request.version_id,
            ),
        )

    def _copy(self, state: ObjectState, target: DsseTarget) -> tuple[str, Written]:
        grants = self.s3.grants(state) if self.s3.acls_enabled(state.bucket) else {}
        if state.size > self.settings.multipart_threshold:
            written = self.s3.multipart_copy_in_place(
                state, target, grants, self.settings.part_size, self.settings.copy_concurrency
            )
            return "multipart-copy-in-place", written
        return "copy-in-place", self.s3.copy_in_place(state, target, grants)

    def _copy_error(self, state: ObjectState, exc: ClientError) -> ObjectResult:
        code = errors.code(exc)
        if errors.is_kms_refusal(exc):
            reason = (
                f"KMS refused the write ({errors.message(exc)}): the key is disabled or pending deletion, or the "
                "remediation role may not use it (kms:GenerateDataKey, kms:Decrypt)"
            )
            return self._result(state, Outcome.UNREMEDIABLE, reason)
        if code in errors.ACCESS_DENIED:
            reason = (
                f"access denied copying the object ({errors.message(exc)}): the role needs s3:GetObject and "
                "s3:PutObject here, and kms:Decrypt on the source key when it is SSE-KMS"
            )
            return self._result(state, Outcome.UNREMEDIABLE, reason)
        if code in errors.ARCHIVED:
            return self._result(
                state, Outcome.UNREMEDIABLE, f"archived object: restore it first ({errors.message(exc)})"
            )
        if code in errors.NOT_FOUND:
            return self._result(state, Outcome.GONE, "deleted while it was being remediated")
        return self._result(state, Outcome.FAILED, f"copy failed: {errors.message(exc)}")

    def _remediated(self, state: ObjectState, action: str, written: Written, key_arn: str) -> ObjectResult:
        result = self._result(
            state, Outcome.REMEDIATED, f"copied in place from {state.encryption} to DSSE-KMS under {key_arn}"
        )
        result.action = action
        result.after = written.encryption
        result.version_id_after = written.version_id
        if written.encryption.algorithm != "aws:kms:dsse" or written.encryption.kms_key_id not in (None, key_arn):
            result.outcome = Outcome.FAILED
            result.reason = f"S3 accepted the copy but reports {written.encryption}; expected DSSE-KMS under {key_arn}"
            return result
        if self.settings.purge_noncurrent and state.versioned and state.version_id != written.version_id:
            if state.locked:
                result.reason += f"; kept the old version {state.version_id}: Object Lock protects it"
            else:
                try:
                    self.s3.delete_version(state.bucket, state.key, state.version_id or "")
                    result.purged_version_id = state.version_id
                    result.reason += f"; deleted the old non-DSSE version {state.version_id}"
                except ClientError as exc:
                    result.reason += f"; could not delete the old version {state.version_id}: {errors.message(exc)}"
        return result

    @staticmethod
    def _result(state: ObjectState, outcome: Outcome, reason: str) -> ObjectResult:
        return ObjectResult(
            state.bucket, state.key, outcome, reason, version_id=state.version_id, before=state.encryption
        )

    def _alert(self, result: ObjectResult) -> None:
        if self.publisher is None:
            return
        alert = object_alert(
            result,
            expected_key_arn=self.keys.arn(self.settings.key_for(result.bucket))
            if self.settings.scope.contains(result.bucket)
            else None,
            mode=self.settings.mode.value,
            account=self.settings.account_id,
            region=self.settings.region,
        )
        try:
            self.publisher.publish(alert)
        except (ClientError, BotoCoreError) as exc:
            # The object's state is what matters; a lost alert is logged and counted, never retried into a loop.
            log.error("alert could not be published", extra={"error": str(exc)})
            if self._on_alert_error:
                self._on_alert_error(exc)
