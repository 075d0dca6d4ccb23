"""The object path: judge one object and, when it is not DSSE-KMS under its key, copy it in place."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .alerts import Alerts
from .aws.kms import KeyRing
from .aws.s3_multipart import AnnotationsWouldBeLost, CopyStopped
from .aws.s3_objects import ObjectStore
from .config import Mode, Settings
from .deadline import (
    LAMBDA_MAX_SECONDS,
    NO_DEADLINE,
    SAFETY_MARGIN_SECONDS,
    CopyEstimate,
    Deadline,
    OutOfTime,
    multipart_copy,
    part_seconds,
    single_copy,
)
from .exceptions import AwsFailure, InvalidRequest
from .gate.safety import ReaderVerdict, Safety
from .model import (
    Action,
    Clock,
    DsseTarget,
    Encryption,
    Failure,
    ObjectRequest,
    ObjectResult,
    ObjectState,
    Outcome,
    Source,
    Written,
    utc_now,
)
from .scope import is_directory_bucket, require_bucket_name
from .verdict import Verdict, ends_a_restore, judge

if TYPE_CHECKING:
    from .findings import Findings
    from .gate.gate import ReaderGate

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
        s3: ObjectStore,
        alerts: Alerts,
        findings: Findings | None = None,
        clock: Clock = utc_now,
        gate: ReaderGate | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.s3 = s3
        self.alerts = alerts
        self.findings = findings  # every final result, when SECURITY_HUB_FINDINGS is on
        self.clock = clock
        self.gate = gate  # the reader-safety gate (wiring.App always gives one)

    def handle(self, request: ObjectRequest, *, alert: bool = True, deadline: Deadline = NO_DEADLINE) -> ObjectResult:
        """Evaluate one object, remediate it if needed and allowed, alert when a human should know. A copy that
        cannot finish before `deadline` (the invocation's) is not started or is stopped between parts (deadline.py)."""
        request = validate(request)
        result = _Judging(self, request, deadline).result()
        # The canary's objects (CANARY_BUCKET) are remediated on schedule, every tick: routine, not news. Only when
        # something goes wrong with one does it reach Security Hub and the alert topic (and the canary alerts too).
        canary = self.settings.canary.owns(result.bucket, result.key)
        routine = canary and result.outcome in (Outcome.REMEDIATED, Outcome.COMPLIANT)
        if self.findings is not None and not routine:
            self.findings.record(result)
        # A sweep's objects are notified only when a human must act; the bucket's alert announced the sweep.
        quiet = request.trigger.source is Source.SWEEP and result.outcome in (Outcome.REMEDIATED, Outcome.HELD)
        if alert and result.outcome.alerts and not quiet and not routine:
            error = self.alerts.send(result)
            return replace(result, alert_error=error) if error else result
        return result


class _Judging:
    """One request's evaluation: every branch ends in one frozen ObjectResult, built whole."""

    def __init__(self, remediator: ObjectRemediator, request: ObjectRequest, deadline: Deadline) -> None:
        self.clock = remediator.clock
        self.settings = remediator.settings
        self.gate = remediator.gate
        self.keys = remediator.keys
        self.s3 = remediator.s3
        self.request = request
        self.deadline = deadline
        self.key_arn: str | None = None

    def result(self) -> ObjectResult:
        request, settings = self.request, self.settings
        bucket = request.bucket
        if self.deadline.expired():
            reason = "not started: the invocation's time is up; a fresh invocation retries it"
            return self._refused(Outcome.FAILED, reason, failure=Failure.OUT_OF_TIME)
        if not settings.scope.contains(bucket):
            reason = f"bucket {bucket} is outside the protected scope ({settings.scope.describe()})"
            return self._refused(Outcome.OUT_OF_SCOPE, reason)
        if owner := request.trigger.foreign_owner(settings.account_id):
            reason = (
                f"bucket {bucket} belongs to account {owner}, not this account ({settings.account_id}): CloudTrail "
                "also delivers this account's writes into other accounts' buckets; the owner's own deployment "
                "remediates them"
            )
            return self._refused(Outcome.OUT_OF_SCOPE, reason)
        self.key_arn = self.keys.arn(settings.key_for(bucket))
        if is_directory_bucket(bucket):
            reason = "directory buckets (S3 Express One Zone) support SSE-S3 and SSE-KMS only, not DSSE-KMS"
            return self._refused(Outcome.UNREMEDIABLE, reason)

        found = self._head(request.keys, request.version_id)
        if isinstance(found, ObjectResult):
            return found
        state = found
        if request.version_id is not None:
            current = self._head((state.key,), None)
            if not isinstance(current, ObjectState) or current.version_id != state.version_id:
                return self._noncurrent(state)
        return self._remediate(state)

    def _remediate(self, state: ObjectState) -> ObjectResult:
        key_arn = self._key_arn
        target = DsseTarget(key_arn, self.settings.encryption_context_header)
        for attempt in range(ObjectRemediator.MAX_ATTEMPTS):
            judgement = judge(state, key_arn, self.settings.remediate_restored_archives)
            if judgement.verdict is Verdict.COMPLIANT:
                reason = judgement.reason
                if attempt:
                    reason = f"a newer write replaced the object during remediation and it is compliant: {reason}"
                return self._found(state, Outcome.COMPLIANT, reason)
            if judgement.verdict is Verdict.UNREMEDIABLE:
                return self._found(state, Outcome.UNREMEDIABLE, judgement.reason)
            gated = self._gated(state, judgement.reason)
            if isinstance(gated, ObjectResult):
                return gated
            grants, impact = gated
            late = self._out_of_time(state)
            if late is not None:
                return late
            try:
                action, written = self._copy(state, target, grants)
            except AwsFailure as exc:
                if exc.failure is Failure.GONE:
                    return self._confirm_gone(state, exc)
                if exc.failure is not Failure.RACE:
                    return self._copy_failed(state, exc, target)
                log.info("object changed during remediation, re-evaluating", extra={"attempt": attempt + 1})
                found = self._head((state.key,), None)
                if isinstance(found, ObjectResult):
                    return found
                state = found
                continue
            except AnnotationsWouldBeLost:
                reason = (
                    "the object has annotations and is above the multipart threshold: a multipart copy would drop "
                    "them. Raise MULTIPART_THRESHOLD_BYTES (up to 5 GiB) or move the annotations first"
                )
                return self._found(state, Outcome.UNREMEDIABLE, reason)
            except CopyStopped as exc:
                reason = f"interrupted ({exc}): the multipart upload was aborted and the object left as it was"
                return self._found(state, Outcome.FAILED, reason, failure=Failure.TRANSIENT)
            except OutOfTime as exc:
                reason = (
                    f"stopped before the invocation's time ran out ({exc}): the multipart upload was aborted and the "
                    "object left as it was; a fresh invocation retries it"
                )
                return self._found(state, Outcome.FAILED, reason, failure=Failure.OUT_OF_TIME)
            return self._remediated(state, action, written, impact)
        reason = (
            f"a newer write replaced the object during each of {ObjectRemediator.MAX_ATTEMPTS} attempts; left as it is"
        )
        return self._found(state, Outcome.FAILED, reason, failure=Failure.RACE)

    def _estimate(self, state: ObjectState) -> CopyEstimate:
        settings = self.settings
        if state.size > settings.multipart_threshold:
            return multipart_copy(state.size, settings.part_size, settings.copy_concurrency)
        return single_copy(state.size)

    def _out_of_time(self, state: ObjectState) -> ObjectResult | None:
        """Before a copy: `unremediable` when no invocation could finish it (the command line can), `failed` (to be
        retried) when this one has too little time left; None when it can finish in the time left."""
        estimate, deadline = self._estimate(state), self.deadline
        if estimate.in_one_invocation > deadline.capacity:
            command = f"dsse-remediate fix --key {self._key_arn} {shlex.quote(f's3://{state.bucket}/{state.key}')}"
            reason = (
                f"too large to copy within one invocation: {estimate.basis} takes about "
                f"{estimate.in_one_invocation:.0f} s with the calls before it, "
                f"more than the {deadline.capacity:.0f} s this function's invocations give (its timeout, at most "
                f"{LAMBDA_MAX_SECONDS:.0f} s, less a {SAFETY_MARGIN_SECONDS:.0f}-s margin). Copy it where no timeout "
                f"applies, with the command line: {command}"
            )
            return self._found(state, Outcome.UNREMEDIABLE, reason)
        if not deadline.allows(estimate.seconds):
            reason = (
                f"not started: {estimate.basis} takes about {estimate.seconds:.0f} s and {deadline.remaining():.0f} s "
                "of this invocation are left; a fresh invocation retries it"
            )
            return self._found(state, Outcome.FAILED, reason, failure=Failure.OUT_OF_TIME)
        return None

    def _head(self, keys: tuple[str, ...], version_id: str | None) -> ObjectState | ObjectResult:
        """HeadObject with each candidate key in turn (as delivered, then decoded) until one is found.

        Without s3:ListBucket S3 answers 403 for a missing key, so a 403 also moves on to the next candidate.
        """
        denied = False
        for key in dict.fromkeys(keys):
            try:
                return self.s3.head(self.request.bucket, key, version_id)
            except AwsFailure as exc:
                if exc.failure is Failure.GONE:
                    continue
                if exc.failure is Failure.DENIED:
                    denied = True
                    continue
                if exc.failure is Failure.BAD_REQUEST:
                    what = "an invalid versionId, or " if version_id else ""
                    reason = (
                        f"HeadObject answered 400 Bad Request: {what}an SSE-C object (S3 refuses to describe those "
                        "without their customer key, and cannot re-encrypt them without it)"
                    )
                    return self._refused(Outcome.UNREMEDIABLE, reason, Encryption("SSE-C?"))
                return self._refused(Outcome.FAILED, f"HeadObject failed: {exc}", failure=exc.failure)
        if denied:
            reason = (
                "access denied reading the object (HeadObject 403), or the bucket belongs to another account (every "
                "call names this account as the expected owner): the remediation role needs s3:GetObject and "
                "s3:ListBucket here, and no bucket policy may deny it"
            )
            return self._refused(Outcome.UNREMEDIABLE, reason, failure=Failure.DENIED)
        what = f"version {version_id} of " if version_id else ""
        reason = (
            f"no {what}s3://{self.request.bucket}/{self.request.key}: deleted since it was written, or it never existed"
        )
        return self._refused(Outcome.GONE, reason)

    def _gated(self, state: ObjectState, why: str) -> ObjectResult | tuple[Mapping[str, str], str | None]:
        """What stands between a non-compliant object and its copy: the reader-safety gate (held: no write), then a
        dry run or alert-only mode (would-remediate). Else the grants the copy carries, and the gate's note."""
        writes = not (self.request.dry_run or self.settings.mode is Mode.ALERT_ONLY)
        try:
            grants = self._grants(state) if writes else {}  # a dry run reads no ACL: its bucket's verdict only
            readers = self._readers(state, grants)
        except AwsFailure as exc:
            return self._found(state, Outcome.FAILED, f"reading its readers failed: {exc}", failure=exc.failure)
        impact = readers.describe() if readers is not None and readers.safety is not Safety.SAFE else None
        if readers is not None and readers.blocks:
            reason = f"held, nothing written: converting it would break its readers or writers; {impact}"
            return self._found(state, Outcome.HELD, reason, reader_impact=impact)
        if not writes:
            mode = "dry run" if self.request.dry_run else "alert-only mode"
            return self._found(
                state, Outcome.WOULD_REMEDIATE, f"{mode}: would copy in place; {why}", reader_impact=impact
            )
        return grants, impact

    def _grants(self, state: ObjectState) -> Mapping[str, str]:
        """The object's grants where ACLs are enabled (the copy carries them; the gate reads them). A write that set
        an ACL proves they were enabled when it was made, so a cached "disabled" is read again first."""
        acls = self.s3.acls_enabled(state.bucket, seen_enabled=self.request.write_set_acl)
        return self.s3.grants(state) if acls else {}

    def _readers(self, state: ObjectState, grants: Mapping[str, str]) -> ReaderVerdict | None:
        """The reader-safety gate's verdict on converting this object: its bucket's (cached), and its own ACL."""
        if self.gate is None:
            return None
        return self.gate.object_verdict(state.bucket, self._key_arn, grants)

    def _copy(self, state: ObjectState, target: DsseTarget, grants: Mapping[str, str]) -> tuple[Action, Written]:
        """The copy with the object's grants. When the bucket has switched to BucketOwnerEnforced since its ownership
        was read, S3 refuses the grants: read it again and copy again."""
        try:
            return self._copy_with(state, target, grants)
        except AwsFailure as exc:
            if exc.failure is not Failure.ACLS_DISABLED:
                raise
            log.info("Object Ownership changed to BucketOwnerEnforced; copying again without grants")
        self.s3.forget_ownership(state.bucket)
        grants = self.s3.grants(state) if self.s3.acls_enabled(state.bucket) else {}
        return self._copy_with(state, target, grants)

    def _copy_with(self, state: ObjectState, target: DsseTarget, grants: Mapping[str, str]) -> tuple[Action, Written]:
        settings = self.settings
        if state.size > settings.multipart_threshold:
            written = self.s3.multipart_copy_in_place(
                state, target, grants, settings.part_size, settings.copy_concurrency, self._before_part
            )
            return Action.MULTIPART_COPY, written
        return Action.COPY, self.s3.copy_in_place(state, target, grants)

    def _before_part(self, number: int, parts: int, size: int) -> None:
        """Each part starts only if it and the completion can finish before the deadline (else OutOfTime)."""
        self.deadline.require(part_seconds(size), f"part {number} of {parts} and the completion")

    def _copy_failed(self, state: ObjectState, exc: AwsFailure, target: DsseTarget) -> ObjectResult:
        source_key = foreign_source_key(state, target)
        if source_key and exc.failure in (Failure.KEY_UNUSABLE, Failure.DENIED):
            # S3 decrypts the source with its key and encrypts the copy with ours, and its refusal does not say
            # which: an object under a key of its own is the one place where only this object is refused. A DSSE
            # key at fault refuses every object, the NOTSSE and SSE-S3 ones too, and those say so as KEY_UNUSABLE.
            reason = (
                f"the copy was refused ({exc}): the object is encrypted under its own key {source_key}, and reading "
                "it needs kms:Decrypt on that key: add the key to SourceKmsKeyArns or let the remediation role use "
                "it in the key's policy (if objects without a KMS key of their own fail too, the DSSE key is at fault)"
            )
            return self._found(state, Outcome.UNREMEDIABLE, reason, failure=Failure.SOURCE_KEY)
        if exc.failure is Failure.KEY_UNUSABLE:
            reason = (
                f"KMS refused the write ({exc}): the key is disabled, pending deletion or missing, "
                "or the remediation role may not use it (kms:GenerateDataKey, kms:Decrypt)"
            )
            return self._found(state, Outcome.UNREMEDIABLE, reason, failure=exc.failure)
        if exc.failure is Failure.DENIED:
            reason = (
                f"access denied copying the object ({exc}): the role needs s3:GetObject and "
                "s3:PutObject here, and kms:Decrypt on the source key when it is SSE-KMS"
            )
            return self._found(state, Outcome.UNREMEDIABLE, reason, failure=exc.failure)
        if exc.failure is Failure.ARCHIVED:
            return self._found(
                state, Outcome.UNREMEDIABLE, f"archived object: restore it first ({exc})", failure=exc.failure
            )
        return self._found(state, Outcome.FAILED, f"copy failed: {exc}", failure=exc.failure)

    def _confirm_gone(self, state: ObjectState, exc: AwsFailure) -> ObjectResult:
        """A 404 from the copy is `gone` only if a HeadObject agrees; else a failure, retried by the delivery."""
        found = self._head((state.key,), None)
        if isinstance(found, ObjectResult) and found.outcome is Outcome.GONE:
            return self._found(state, Outcome.GONE, "deleted while it was being remediated")
        return self._found(
            state,
            Outcome.FAILED,
            f"the copy answered {exc}, but the object is still there: to be retried",
            failure=Failure.TRANSIENT,
        )

    def _remediated(
        self, state: ObjectState, action: Action, written: Written, impact: str | None = None
    ) -> ObjectResult:
        key_arn = self._key_arn
        done = {
            "action": action,
            "after": written.encryption,
            "version_id_after": written.version_id,
            "reader_impact": impact,
        }
        if written.encryption != Encryption("aws:kms:dsse", key_arn):
            reason = f"S3 accepted the copy but reports {written.encryption}; expected DSSE-KMS under {key_arn}"
            return self._found(state, Outcome.FAILED, reason, **done)
        reasons = [f"copied in place from {state.encryption} to DSSE-KMS under {key_arn}"]
        if ends_a_restore(state):
            reasons.append(
                f"it was a restored copy of a {state.storage_class} object: the new DSSE version is in "
                f"{state.storage_class}, so that restore ended (restore it again to read it)"
            )
        purged = None
        if self.settings.purge_noncurrent and state.versioned and state.version_id != written.version_id:
            purged, note = self._purge(state)
            reasons.append(note)
        latency = self.request.trigger.seconds_since(self.clock())
        return self._found(
            state, Outcome.REMEDIATED, "; ".join(reasons), purged_version_id=purged, latency_seconds=latency, **done
        )

    def _purge(self, state: ObjectState) -> tuple[str | None, str]:
        """The opt-in deletion of the old non-DSSE version; never an Object Lock-protected one."""
        if state.locked(self.clock()):
            return None, f"kept the old version {state.version_id}: Object Lock protects it"
        try:
            self.s3.delete_version(state.bucket, state.key, state.version_id or "")
        except AwsFailure as exc:
            return None, f"could not delete the old version {state.version_id}: {exc}"
        return state.version_id, f"deleted the old non-DSSE version {state.version_id}"

    def _noncurrent(self, state: ObjectState) -> ObjectResult:
        judgement = judge(state, self._key_arn)
        if judgement.verdict is Verdict.COMPLIANT:
            return self._found(state, Outcome.COMPLIANT, judgement.reason)
        reason = (
            f"version {state.version_id} is not the current version; copying it in place would put old data over "
            "newer data. Expire noncurrent versions with a lifecycle rule instead"
        )
        return self._found(state, Outcome.UNREMEDIABLE, reason)

    @property
    def _key_arn(self) -> str:
        assert self.key_arn is not None
        return self.key_arn

    def _found(self, state: ObjectState, outcome: Outcome, reason: str, **done: Any) -> ObjectResult:
        """A result about the object HeadObject found."""
        return ObjectResult(
            bucket=state.bucket,
            key=state.key,
            version_id=state.version_id,
            outcome=outcome,
            reason=reason,
            before=state.encryption,
            expected_key_arn=self.key_arn,
            dry_run=self.request.dry_run,
            trigger=self.request.trigger,
            **done,
        )

    def _refused(
        self, outcome: Outcome, reason: str, before: Encryption | None = None, failure: Failure | None = None
    ) -> ObjectResult:
        """A result about the request, before (or without) finding the object."""
        return ObjectResult(
            bucket=self.request.bucket,
            key=self.request.key,
            version_id=self.request.version_id,
            outcome=outcome,
            reason=reason,
            before=before,
            expected_key_arn=self.key_arn,
            dry_run=self.request.dry_run,
            failure=failure,
            trigger=self.request.trigger,
        )


def foreign_source_key(state: ObjectState, target: DsseTarget) -> str | None:
    """The KMS key the object is encrypted under when it is not the DSSE key: S3 must decrypt with it to copy."""
    key = state.encryption.kms_key_id
    kms = state.encryption.algorithm in ("aws:kms", "aws:kms:dsse")
    return key if kms and key and key != target.key_arn else None
