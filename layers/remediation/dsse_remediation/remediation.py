"""The object path: judge one object and, when it is not DSSE-KMS under its key, copy it in place."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError

from .alerts import Publisher, object_alert, publish
from .aws import errors
from .aws.kms import KeyRing
from .aws.s3 import AnnotationsWouldBeLost, CopyStopped, DsseTarget, ObjectState, S3Gateway, Written
from .config import Mode, Settings
from .exceptions import InvalidRequest
from .model import Encryption, ObjectRequest, ObjectResult, Outcome
from .scope import is_directory_bucket, require_bucket_name
from .verdict import Verdict, ends_a_restore, judge

log = logging.getLogger(__name__)

MAX_KEY_BYTES = 1024


def validate(request: ObjectRequest) -> ObjectRequest:
    """The request with only the candidate keys S3 could hold, or InvalidRequest saying what is wrong.

    A candidate that cannot be a key (say the still URL-encoded form of a long key, over 1,024 bytes) is dropped as
    long as another candidate can be one: the object is then looked up under that one.
    """
    require_bucket_name(request.bucket)
    if request.version_id is not None:
        if not request.version_id:
            raise InvalidRequest("versionId is empty: omit it, or give the version id to check")
        if key_problem(request.version_id, "versionId"):
            raise InvalidRequest(f"versionId {request.version_id!r} is not valid UTF-8 text")
    problems = [key_problem(key) for key in request.keys]
    usable = tuple(key for key, problem in zip(request.keys, problems, strict=True) if problem is None)
    if not usable:
        raise InvalidRequest(problems[0] if problems else "no key given")
    return replace(request, keys=usable)


def key_problem(key: str, what: str = "key") -> str | None:
    """Why `key` cannot be an S3 object key, or None."""
    if not key:
        return f'{what} is empty: give the object key, e.g. "reports/2026/q3.csv"'
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return f"{what} {key!r} is not valid UTF-8 text (it holds a lone surrogate): S3 keys are UTF-8"
    if size > MAX_KEY_BYTES:
        return f"{what} is {size} bytes long: S3 keys are at most 1,024 bytes"
    return None


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

    def handle(self, request: ObjectRequest, *, alert: bool = True) -> ObjectResult:
        """Evaluate one object, remediate it if needed and allowed, alert when a human should know."""
        request = validate(request)
        result = self._process(request)
        result.trigger = request.trigger
        result.dry_run = request.dry_run
        # A sweep's objects are notified only when a human must act; the bucket's alert announced the sweep.
        quiet = request.trigger.source == "sweep" and result.outcome is Outcome.REMEDIATED
        if alert and result.outcome.alerts and not quiet:
            result.alert_error = self._alert(result)
        return result

    def _process(self, request: ObjectRequest) -> ObjectResult:
        bucket = request.bucket
        if not self.settings.scope.contains(bucket):
            reason = f"bucket {bucket} is outside the protected scope ({self.settings.scope.describe()})"
            return ObjectResult(bucket, request.key, Outcome.OUT_OF_SCOPE, reason, version_id=request.version_id)
        owner, account = request.trigger.bucket_owner, self.settings.account_id
        if owner and account and owner != account:
            reason = (
                f"bucket {bucket} belongs to account {owner}, not this account ({account}): CloudTrail also delivers "
                "this account's writes into other accounts' buckets; the owner's own deployment remediates them"
            )
            return ObjectResult(bucket, request.key, Outcome.OUT_OF_SCOPE, reason, version_id=request.version_id)
        key_arn = self.keys.arn(self.settings.key_for(bucket))
        if is_directory_bucket(bucket):
            reason = "directory buckets (S3 Express One Zone) support SSE-S3 and SSE-KMS only, not DSSE-KMS"
            return self._refused(request, Outcome.UNREMEDIABLE, reason, key_arn)
        target = DsseTarget(key_arn, self.settings.encryption_context_header)

        found = self._head(request, key_arn)
        if isinstance(found, ObjectResult):
            return found
        state = found
        if request.version_id is not None:
            current = self._head(ObjectRequest(bucket, (state.key,), trigger=request.trigger), key_arn)
            if not isinstance(current, ObjectState) or current.version_id != state.version_id:
                return self._noncurrent(state, key_arn)

        for attempt in range(self.MAX_ATTEMPTS):
            judgement = judge(state, key_arn, self.settings.remediate_restored_archives)
            if judgement.verdict is Verdict.COMPLIANT:
                reason = judgement.reason
                if attempt:
                    reason = f"a newer write replaced the object during remediation and it is compliant: {reason}"
                return self._result(state, Outcome.COMPLIANT, reason, key_arn)
            if judgement.verdict is Verdict.UNREMEDIABLE:
                return self._result(state, Outcome.UNREMEDIABLE, judgement.reason, key_arn)
            if request.dry_run or self.settings.mode is Mode.ALERT_ONLY:
                why = "dry run" if request.dry_run else "alert-only mode"
                reason = f"{why}: would copy in place; {judgement.reason}"
                return self._result(state, Outcome.WOULD_REMEDIATE, reason, key_arn)
            try:
                action, written = self._copy(state, target)
            except ClientError as exc:
                if errors.code(exc) in errors.NOT_FOUND:
                    return self._confirm_gone(request, state, exc, key_arn)
                if errors.code(exc) not in errors.RACE:
                    return self._copy_error(state, exc, key_arn)
                log.info("object changed during remediation, re-evaluating", extra={"attempt": attempt + 1})
                found = self._head(ObjectRequest(bucket, (state.key,), trigger=request.trigger), key_arn)
                if isinstance(found, ObjectResult):
                    return found
                state = found
                continue
            except AnnotationsWouldBeLost:
                reason = (
                    "the object has annotations and is above the multipart threshold: a multipart copy would drop "
                    "them. Raise MULTIPART_THRESHOLD_BYTES (up to 5 GiB) or move the annotations first"
                )
                return self._result(state, Outcome.UNREMEDIABLE, reason, key_arn)
            except CopyStopped as exc:
                reason = f"interrupted ({exc}): the multipart upload was aborted and the object left as it was"
                return self._result(state, Outcome.FAILED, reason, key_arn)
            except BotoCoreError as exc:
                return self._result(state, Outcome.FAILED, f"copy failed: {exc}", key_arn)
            return self._remediated(state, action, written, key_arn)
        reason = f"a newer write replaced the object during each of {self.MAX_ATTEMPTS} attempts; left as it is"
        return self._result(state, Outcome.FAILED, reason, key_arn)

    def _head(self, request: ObjectRequest, key_arn: str) -> ObjectState | ObjectResult:
        """HeadObject with each candidate key in turn (as delivered, then decoded) until one is found.

        Without s3:ListBucket S3 answers 403 for a missing key, so a 403 also moves on to the next candidate.
        """
        denied: ClientError | None = None
        for key in dict.fromkeys(request.keys):
            try:
                return self.s3.head(request.bucket, key, request.version_id)
            except ClientError as exc:
                code = errors.code(exc)
                if code in errors.NOT_FOUND:
                    continue
                if code in errors.ACCESS_DENIED:
                    denied = exc
                    continue
                if code in ("400", "BadRequest"):
                    what = "an invalid versionId, or " if request.version_id else ""
                    reason = (
                        f"HeadObject answered 400 Bad Request: {what}an SSE-C object (S3 refuses to describe those "
                        "without their customer key, and cannot re-encrypt them without it)"
                    )
                    return self._refused(request, Outcome.UNREMEDIABLE, reason, key_arn, Encryption("SSE-C?"))
                return self._refused(request, Outcome.FAILED, f"HeadObject failed: {errors.message(exc)}", key_arn)
            except BotoCoreError as exc:
                return self._refused(request, Outcome.FAILED, f"HeadObject failed: {exc}", key_arn)
        if denied is not None:
            reason = (
                "access denied reading the object (HeadObject 403), or the bucket belongs to another account (every "
                "call names this account as the expected owner): the remediation role needs s3:GetObject and "
                "s3:ListBucket here, and no bucket policy may deny it"
            )
            return self._refused(request, Outcome.UNREMEDIABLE, reason, key_arn)
        what = f"version {request.version_id} of " if request.version_id else ""
        reason = f"no {what}s3://{request.bucket}/{request.key}: deleted since it was written, or it never existed"
        return self._refused(request, Outcome.GONE, reason, key_arn)

    def _copy(self, state: ObjectState, target: DsseTarget) -> tuple[str, Written]:
        """The copy with the object's grants where ACLs are enabled. When the bucket has switched to
        BucketOwnerEnforced since its ownership was read, S3 refuses the grants: read it again and copy again."""
        grants = self.s3.grants(state) if self.s3.acls_enabled(state.bucket) else {}
        try:
            return self._copy_with(state, target, grants)
        except ClientError as exc:
            if errors.code(exc) not in errors.ACLS_DISABLED:
                raise
            log.info("Object Ownership changed to BucketOwnerEnforced; copying again without grants")
        self.s3.forget_ownership(state.bucket)
        grants = self.s3.grants(state) if self.s3.acls_enabled(state.bucket) else {}
        return self._copy_with(state, target, grants)

    def _copy_with(self, state: ObjectState, target: DsseTarget, grants: Mapping[str, str]) -> tuple[str, Written]:
        if state.size > self.settings.multipart_threshold:
            written = self.s3.multipart_copy_in_place(
                state, target, grants, self.settings.part_size, self.settings.copy_concurrency
            )
            return "multipart-copy-in-place", written
        return "copy-in-place", self.s3.copy_in_place(state, target, grants)

    def _copy_error(self, state: ObjectState, exc: ClientError, key_arn: str) -> ObjectResult:
        code = errors.code(exc)
        if errors.is_kms_key_unusable(exc):
            reason = (
                f"KMS refused the write ({errors.message(exc)}): the key is disabled, pending deletion or missing, "
                "or the remediation role may not use it (kms:GenerateDataKey, kms:Decrypt)"
            )
            return self._result(state, Outcome.UNREMEDIABLE, reason, key_arn)
        if code in errors.ACCESS_DENIED:
            reason = (
                f"access denied copying the object ({errors.message(exc)}): the role needs s3:GetObject and "
                "s3:PutObject here, and kms:Decrypt on the source key when it is SSE-KMS"
            )
            return self._result(state, Outcome.UNREMEDIABLE, reason, key_arn)
        if code in errors.ARCHIVED:
            reason = f"archived object: restore it first ({errors.message(exc)})"
            return self._result(state, Outcome.UNREMEDIABLE, reason, key_arn)
        return self._result(state, Outcome.FAILED, f"copy failed: {errors.message(exc)}", key_arn)

    def _confirm_gone(self, request: ObjectRequest, state: ObjectState, exc: ClientError, key_arn: str) -> ObjectResult:
        """A 404 from the copy is `gone` only if a HeadObject agrees; else a failure, retried by the delivery."""
        found = self._head(ObjectRequest(state.bucket, (state.key,), trigger=request.trigger), key_arn)
        if isinstance(found, ObjectResult) and found.outcome is Outcome.GONE:
            return self._result(state, Outcome.GONE, "deleted while it was being remediated", key_arn)
        reason = f"the copy answered {errors.message(exc)}, but the object is still there: to be retried"
        return self._result(state, Outcome.FAILED, reason, key_arn)

    def _remediated(self, state: ObjectState, action: str, written: Written, key_arn: str) -> ObjectResult:
        reason = f"copied in place from {state.encryption} to DSSE-KMS under {key_arn}"
        if ends_a_restore(state):
            reason += (
                f"; it was a restored copy of a {state.storage_class} object: the new DSSE version is in "
                f"{state.storage_class}, so that restore ended (restore it again to read it)"
            )
        result = self._result(state, Outcome.REMEDIATED, reason, key_arn)
        result.action = action
        result.after = written.encryption
        result.version_id_after = written.version_id
        if written.encryption != Encryption("aws:kms:dsse", key_arn):
            result.outcome = Outcome.FAILED
            result.reason = f"S3 accepted the copy but reports {written.encryption}; expected DSSE-KMS under {key_arn}"
            return result
        if self.settings.purge_noncurrent and state.versioned and state.version_id != written.version_id:
            self._purge(state, result)
        return result

    def _purge(self, state: ObjectState, result: ObjectResult) -> None:
        """The opt-in deletion of the old non-DSSE version; never an Object Lock-protected one."""
        if state.locked:
            result.reason += f"; kept the old version {state.version_id}: Object Lock protects it"
            return
        try:
            self.s3.delete_version(state.bucket, state.key, state.version_id or "")
        except ClientError as exc:
            result.reason += f"; could not delete the old version {state.version_id}: {errors.message(exc)}"
            return
        result.purged_version_id = state.version_id
        result.reason += f"; deleted the old non-DSSE version {state.version_id}"

    def _noncurrent(self, state: ObjectState, key_arn: str) -> ObjectResult:
        judgement = judge(state, key_arn)
        if judgement.verdict is Verdict.COMPLIANT:
            return self._result(state, Outcome.COMPLIANT, judgement.reason, key_arn)
        reason = (
            f"version {state.version_id} is not the current version; copying it in place would put old data over "
            "newer data. Expire noncurrent versions with a lifecycle rule instead"
        )
        return self._result(state, Outcome.UNREMEDIABLE, reason, key_arn)

    @staticmethod
    def _result(state: ObjectState, outcome: Outcome, reason: str, key_arn: str) -> ObjectResult:
        return ObjectResult(
            state.bucket,
            state.key,
            outcome,
            reason,
            version_id=state.version_id,
            before=state.encryption,
            expected_key_arn=key_arn,
        )

    @staticmethod
    def _refused(
        request: ObjectRequest, outcome: Outcome, reason: str, key_arn: str, before: Encryption | None = None
    ) -> ObjectResult:
        return ObjectResult(
            request.bucket,
            request.key,
            outcome,
            reason,
            version_id=request.version_id,
            before=before,
            expected_key_arn=key_arn,
        )

    def _alert(self, result: ObjectResult) -> str | None:
        return publish(self.publisher, object_alert(result, self.settings.alert_context), self._on_alert_error)
