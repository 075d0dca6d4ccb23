"""Security Hub findings: one ASFF finding per object or bucket that is not DSSE-KMS under its key, resolved when it is.

Every final object and bucket result goes through `Findings.record` (SECURITY_HUB_FINDINGS=true):

    unremediable, failed, would-remediate   import the resource's finding: RecordState ACTIVE, Compliance FAILED
    remediated                              import it archived (RecordState ARCHIVED, Compliance PASSED), then
                                            resolve it (BatchUpdateFindings: Workflow RESOLVED)
    compliant                               the same, but only when an ACTIVE finding exists;
                                            an archived one whose workflow is still NEW is only resolved
    out-of-scope, gone                      nothing (another account's bucket is that account's business)

Every import first reads the resource's finding back (one GetFindings by its id): a finding is one record per
resource, whatever happens to it. Raised again (an alert-only look, a retried failure) or recurring after it was
archived and resolved, it keeps the CreatedAt it was created with: CreatedAt "indicates when the potential security
issue captured by a finding was created", and "upon creation of a finding record, the CreatedAt and UpdatedAt
timestamps must be the same"; only UpdatedAt moves, always later than the finding's own ("after an update to the
finding record, the value of this field must be more recent than all of the previous values"), since Security Hub
ignores an update whose UpdatedAt is earlier
(https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html,
https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html). A lookup that fails
does not keep a problem out of Security Hub: the result is imported as a new finding all the same (its CreatedAt then
now), and the failed lookup is counted. Security Hub deletes a finding 90 days after its last update: one that
recurs later is a new finding.

Security Hub sets Workflow RESOLVED by itself only on findings from its own controls; a provider's import cannot change
the Workflow of an existing finding
(https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html), so the stack
resolves its findings with BatchUpdateFindings, as a customer does
(https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html), unless a person suppressed
the finding (Workflow SUPPRESSED: their decision stands). A later import that makes the finding ACTIVE (or FAILED)
again turns a RESOLVED or NOTIFIED workflow back to NEW (Security Hub does that:
https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_Workflow.html); the import never sends a Workflow.

Bulk results stay within Security Hub's quotas (BatchImportFindings: 10 requests per second per account and Region,
GetFindings 3): results whose trigger is a bucket sweep (Source.SWEEP) or an S3 Batch Operations task (Source.BATCH)
only raise findings (unremediable, failed, would-remediate: one GetFindings and one BatchImportFindings each); their
compliant and remediated results, the bulk of a sweep or a backfill, make no Security Hub call. Event-driven and manual
results raise and resolve as above.

A finding's id is deterministic per resource (`dsse-remediation/<account>/<region>/<sha256 of the S3 URI>`), so a
repeat updates the finding instead of adding one. A finding carries the result's reason, the encryption found, the
key expected and the writer (the actor CloudTrail names): never object contents or metadata values.

A finding that cannot be imported, looked up or resolved is logged and counted (metric FindingImportFailed); whatever
goes wrong (an AWS error, or an answer this code did not expect), `Findings.record` never raises: it never fails the
remediation.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from .exceptions import AwsFailure
from .model import BucketResult, Clock, Failure, ObjectResult, Outcome, Source, truncate, utc_now
from .partitions import partition_of as partition_of  # re-exported: coverage_check, cli/org_status import it here
from .partitions import s3_bucket_arn

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2018-10-08"
GENERATOR_ID = "dsse-remediation"
TYPES = ("Software and Configuration Checks/AWS Security Best Practices",)
FIELD_PREFIX = "dsse-remediation/"
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 1024
RAISES = frozenset({Outcome.UNREMEDIABLE, Outcome.FAILED, Outcome.WOULD_REMEDIATE, Outcome.HELD})
RESOLVES = frozenset({Outcome.REMEDIATED, Outcome.COMPLIANT})
# Triggers of bulk work (sweeps, Batch Operations tasks): their results only raise findings (Security Hub's quotas).
BULK = frozenset({Source.SWEEP, Source.BATCH})
_SEVERITY = {
    Outcome.UNREMEDIABLE: "HIGH",
    Outcome.FAILED: "HIGH",
    Outcome.WOULD_REMEDIATE: "MEDIUM",
    Outcome.HELD: "HIGH",
}
_OBJECT_TITLES = {
    Outcome.WOULD_REMEDIATE: "S3 object not encrypted with DSSE-KMS under its key",
    Outcome.UNREMEDIABLE: "S3 object cannot be re-encrypted with DSSE-KMS",
    Outcome.FAILED: "S3 object re-encryption with DSSE-KMS failed",
    Outcome.HELD: "S3 object not re-encrypted with DSSE-KMS: it would break the bucket's readers",
}
_BUCKET_TITLES = {
    Outcome.WOULD_REMEDIATE: "S3 bucket default encryption is not DSSE-KMS under its key",
    Outcome.UNREMEDIABLE: "S3 bucket default encryption cannot be set to DSSE-KMS",
    Outcome.FAILED: "S3 bucket default encryption reset to DSSE-KMS failed",
    Outcome.HELD: "S3 bucket not converted to DSSE-KMS: it would break its readers or writers",
}
_RESOLVED_TITLES = {
    "AwsS3Object": "S3 object encrypted with DSSE-KMS under its key",
    "AwsS3Bucket": "S3 bucket default encryption is DSSE-KMS under its key",
}

Recorded = ObjectResult | BucketResult


class FindingImportFailed(AwsFailure):
    """A finding could not be imported (or looked up); counted apart from alerts (reporting.Reporter)."""

    metric = "FindingImportFailed"


class Hub(Protocol):
    def import_findings(self, findings: list[dict[str, Any]]) -> None: ...

    def finding(self, finding_id: str, product_arn: str) -> dict[str, Any] | None: ...

    def resolve(self, finding_id: str, product_arn: str) -> None: ...


@dataclass(frozen=True)
class Where:
    """The account and Region whose hub receives the findings (the functions' own)."""

    account: str
    region: str

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @property
    def product_arn(self) -> str:
        """The account's own product: findings a customer imports from its own account,
        `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`, the partition the Region's
        (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html#ProductArn; the
        GovCloud ARN format: https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/using-govcloud-arns.html)."""
        return f"arn:{self.partition}:securityhub:{self.region}:{self.account}:product/{self.account}/default"


def s3_uri(result: Recorded) -> str:
    return f"s3://{result.bucket}/{result.key}" if isinstance(result, ObjectResult) else f"s3://{result.bucket}"


def finding_id(where: Where, result: Recorded) -> str:
    """Deterministic per resource: every result about the same object (or bucket) updates one finding."""
    digest = hashlib.sha256(s3_uri(result).encode("utf-8", "surrogatepass")).hexdigest()
    return f"dsse-remediation/{where.account}/{where.region}/{digest}"


def asff(result: Recorded, where: Where, now: datetime, created: str | None = None) -> dict[str, Any]:
    """The result's finding: active for unremediable, failed and would-remediate, resolved for anything else.
    `created`: the existing finding's CreatedAt (else now, as a new finding's CreatedAt equals its UpdatedAt)."""
    active = result.outcome in RAISES
    is_object = isinstance(result, ObjectResult)
    kind = "AwsS3Object" if is_object else "AwsS3Bucket"
    uri = s3_uri(result)
    titles = _OBJECT_TITLES if is_object else _BUCKET_TITLES
    title = titles[result.outcome] if active else _RESOLVED_TITLES[kind]
    severity = {"Label": _SEVERITY[result.outcome] if active else "INFORMATIONAL", "Original": result.outcome.value}
    stamp = timestamp(now)
    arn = s3_bucket_arn(where.partition, uri.removeprefix("s3://"))  # a bucket's, or with /<key> its object's
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(where, result),
        "ProductArn": where.product_arn,
        "GeneratorId": GENERATOR_ID,
        "AwsAccountId": where.account,
        "Types": list(TYPES),
        "CreatedAt": created or stamp,
        "UpdatedAt": stamp,
        "Severity": severity,
        "FindingProviderFields": {"Severity": severity, "Types": list(TYPES)},
        "Title": truncate(f"{title}: {uri}", TITLE_LIMIT),
        "Description": truncate(result.reason or result.outcome.value, DESCRIPTION_LIMIT),
        "Resources": [{"Type": kind, "Id": arn, "Partition": where.partition, "Region": where.region}],
        "Compliance": {"Status": "FAILED" if active else "PASSED"},
        "RecordState": "ACTIVE" if active else "ARCHIVED",
        "ProductFields": product_fields(result),
    }


def product_fields(result: Recorded) -> dict[str, str]:
    """Strings only, empty ones left out: the outcome, the key expected, the encryption found, who wrote."""
    fields = {
        "outcome": result.outcome.value,
        "expectedKmsKeyId": result.expected_key_arn or "",
        "encryptionBefore": str(result.before) if result.before is not None else "",
        "actor": result.trigger.actor or "",
    }
    return {FIELD_PREFIX + name: value for name, value in fields.items() if value}


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as ASFF shows them (2017-03-22T13:22:13.933Z)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Findings:
    """The one sink every object and bucket result goes through; never raises."""

    def __init__(
        self,
        hub: Hub,
        where: Where,
        on_error: Callable[[Exception], None] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.hub = hub
        self.where = where
        self._on_error = on_error
        self._clock = clock

    def record(self, result: Recorded) -> None:
        """Raise, resolve or leave alone the result's finding. Never raises: any failure (an AWS error, an unexpected
        answer) is logged and counted as FindingImportFailed."""
        try:
            self._record(result)
        except Exception as exc:  # documented: a finding never fails the remediation
            failed = (
                FindingImportFailed(exc.failure, str(exc), exc.code)
                if isinstance(exc, AwsFailure)
                else FindingImportFailed(Failure.OTHER, f"{type(exc).__name__}: {exc}", type(exc).__name__)
            )
            log.error(
                "finding could not be imported",
                extra={"error": str(failed), "resource": s3_uri(result), "outcome": result.outcome.value},
            )
            if self._on_error:
                self._on_error(failed)

    def _record(self, result: Recorded) -> None:
        outcome = result.outcome
        if outcome in RESOLVES and result.trigger.source in BULK:
            return  # a sweep's or a backfill's bulk: no Security Hub call (the module's docstring)
        if outcome not in RAISES and outcome not in RESOLVES:
            return  # out-of-scope, gone
        try:
            existing = self.hub.finding(finding_id(self.where, result), self.where.product_arn)
        except Exception:
            if outcome is not Outcome.COMPLIANT:
                self._update(result, None)  # a problem or a fix still reaches Security Hub; if this fails, it counts
            raise  # else the failed lookup is what is counted
        self._update(result, existing)

    def _update(self, result: Recorded, existing: dict[str, Any] | None) -> None:
        """Import the result's finding over `existing` (None: there is none, or it could not be read), then resolve
        it when the result says the resource is fine."""
        if result.outcome in RAISES:
            self._import(result, existing)
        elif result.outcome is Outcome.REMEDIATED:
            self._import(result, existing)
            self._resolve(result, existing)
        elif existing is None:
            return  # compliant, and nothing to resolve
        elif existing.get("RecordState") == "ACTIVE":
            self._import(result, existing)
            self._resolve(result, existing)
        elif _workflow(existing) == "NEW":  # archived, but an earlier resolve failed
            self._resolve(result, existing)

    def _import(self, result: Recorded, existing: dict[str, Any] | None) -> None:
        """The finding, keeping the existing one's CreatedAt, updated later than it was (the module's docstring)."""
        created = _created(existing) if existing is not None else None
        self.hub.import_findings([asff(result, self.where, self._later(existing), created)])

    def _resolve(self, result: Recorded, existing: dict[str, Any] | None) -> None:
        if existing is not None and _workflow(existing) == "SUPPRESSED":
            return  # a person decided the finding needs no action: their decision stands
        self.hub.resolve(finding_id(self.where, result), self.where.product_arn)

    def _later(self, existing: dict[str, Any] | None) -> datetime:
        """Now, or just after the existing finding's UpdatedAt: Security Hub ignores an update that is not later."""
        now = self._clock()
        if existing is None:
            return now
        try:
            updated = datetime.fromisoformat(str(existing.get("UpdatedAt", "")).replace("Z", "+00:00"))
        except ValueError:
            return now
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        return max(now, updated + timedelta(milliseconds=1))


def _created(existing: dict[str, Any]) -> str | None:
    created = existing.get("CreatedAt")
    return created if isinstance(created, str) and created else None


def _workflow(existing: dict[str, Any]) -> str:
    """The finding's workflow status; NEW when it has none (a finding starts NEW)."""
    workflow = existing.get("Workflow")
    status = workflow.get("Status") if isinstance(workflow, dict) else None
    return status if isinstance(status, str) else "NEW"
