"""The scheduled coverage check, and the same check at once when a trail changes (the batch jobs function).

The report is `dsse-remediate coverage`'s (`account_coverage`, which the CLI calls too): the account's in-scope
buckets of this Region (the report bucket excepted) and the trails that log here. Any bucket uncovered → ONE alert
naming each (resourceType `coverage`): severity high on schedule, critical when a trail change (StopLogging,
DeleteTrail, PutEventSelectors, UpdateTrail) triggered the check, naming the event, its actor and the trail, as the
key guard treats the key. A bucket left uncovered only because a trail that applies here could not be read (an
Organization trail seen from a member account, whose selectors CloudTrail may refuse to it) is *unknown*, not proven
uncovered: on schedule, an alert whose buckets are all unknown is severity medium, not high.

A covered account alerts nobody: its check forwards a heartbeat (severity info, outcome compliant, resourceType
`coverage`) to the security account only (`Alerts.forward`, never the topic), as the canary does on a pass. Every
coverage alert and heartbeat carries `coverage`: {inScope, covered, uncovered, unknown}, which `dsse-remediate
org-status` and the security dashboard show per account and Region; a member whose heartbeats stop shows as silent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .alerts import Alerts, Context, TextAlert, envelope, subject
from .config import Settings
from .coverage.report import Coverage, coverage
from .findings import partition_of
from .model import CRITICAL, Outcome, answer

if TYPE_CHECKING:
    from .aws.cloudtrail import TrailReader
    from .aws.s3_buckets import BucketStore
    from .batch.events import CoverageRequest

HIGH = "high"
MEDIUM = "medium"  # every uncovered bucket is unknown: a trail that applies could not be read


def buckets_in_scope(settings: Settings, bucket_store: BucketStore) -> list[str]:
    """The buckets the coverage check, the scheduled posture and `posture --all` look at: the account's buckets in the
    Region, in the protected scope, the report bucket (the stack's own record store) excepted."""
    return [
        name
        for name, _ in bucket_store.owned_buckets(settings.region or "")
        if settings.scope.contains(name) and name != settings.batch.report_bucket
    ]


def account_coverage(settings: Settings, bucket_store: BucketStore, trails: TrailReader) -> Coverage:
    """Per in-scope bucket of the account and Region (the report bucket excepted), whether a logging trail delivers
    its object writes."""
    region = settings.region or ""
    buckets = buckets_in_scope(settings, bucket_store)
    read = trails.trails()
    return coverage(buckets, read, region, partition_of(region), settings.account_id, scope_text(settings))


def scope_text(settings: Settings) -> str:
    report = settings.batch.report_bucket
    return settings.scope.describe() + (f" (and not the report bucket {report})" if report else "")


@dataclass(frozen=True)
class CoverageRun:
    report: Coverage
    request: CoverageRequest
    alert_error: str | None = None  # the alert could not be delivered

    @property
    def severity(self) -> str | None:
        """The alert's severity, None when every bucket is covered (no alert, a heartbeat)."""
        uncovered = self.report.uncovered
        if not uncovered:
            return None
        if self.request.trigger is not None:
            return CRITICAL
        return MEDIUM if all(bucket.unknown for bucket in uncovered) else HIGH

    def answer(self) -> dict[str, Any]:
        trigger = self.request.trigger
        return self.report.answer() | {
            "uncoveredBuckets": [bucket.bucket for bucket in self.report.uncovered],
            "severity": self.severity,
            "trigger": answer(trigger) if trigger is not None else None,
            "trail": self.request.trail,
            "alertError": self.alert_error,
        }


class CoverageCheck:
    def __init__(self, settings: Settings, bucket_store: BucketStore, trails: TrailReader, alerts: Alerts) -> None:
        self.settings = settings
        self.bucket_store = bucket_store
        self.trails = trails
        self.alerts = alerts

    def run(self, request: CoverageRequest) -> CoverageRun:
        run = CoverageRun(account_coverage(self.settings, self.bucket_store, self.trails), request)
        if not run.report.uncovered:
            return CoverageRun(run.report, request, self.alerts.forward(coverage_heartbeat(run, self.alerts.context)))
        return CoverageRun(run.report, request, self.alerts.publish(coverage_alert(run, self.alerts.context)))


def coverage_heartbeat(run: CoverageRun, context: Context) -> TextAlert:
    """Every in-scope bucket covered: severity info, outcome compliant, for the security account only."""
    report = run.report
    summary = report.summary
    reason = (
        f"all {summary['inScope']} in-scope bucket(s) in {report.region}: a logging trail delivers their object "
        "writes to EventBridge"
    )
    head = envelope(
        context,
        severity=Outcome.COMPLIANT.severity,
        outcome=Outcome.COMPLIANT,
        resource_type="coverage",
        resource=f"{summary['covered']}/{summary['inScope']} bucket(s) in {report.region}",
        dry_run=False,
        reason=reason,
    )
    body = {
        **head,
        "coverage": summary,
        "trail": run.request.trail,
        "trails": [one.arn for one in report.trails if one.applies_in(report.region)],
        "trigger": answer(run.request.trigger) if run.request.trigger is not None else None,
    }
    attributes = {"severity": head["severity"], "outcome": Outcome.COMPLIANT.value, "resourceType": "coverage"}
    return TextAlert(
        subject=subject("DSSE-KMS coverage: covered", report.region), body=body, attributes=attributes, text=reason
    )


def coverage_alert(run: CoverageRun, context: Context) -> TextAlert:
    """One alert for every uncovered bucket (resourceType coverage): high on schedule, critical after a trail change."""
    report, trigger, trail = run.report, run.request.trigger, run.request.trail
    severity = run.severity or HIGH
    uncovered = report.uncovered
    buckets = [f"s3://{bucket.bucket}" for bucket in uncovered]
    cause = ""
    if trigger is not None:
        cause = f" after {trigger.event_name} of trail {trail or 'unknown'} by {trigger.actor or 'unknown'}"
    unknown = sum(1 for bucket in uncovered if bucket.unknown)
    if unknown == len(uncovered) and trigger is None:
        reason = (
            f"{len(uncovered)} of {len(report.buckets)} in-scope bucket(s) in {report.region}: coverage unknown, a "
            "trail that applies here could not be read (see each bucket); no readable trail delivers their object "
            "writes. Check that trail from its own account, or let the canary prove the chain"
        )
    else:
        reason = (
            f"{len(uncovered)} of {len(report.buckets)} in-scope bucket(s) in {report.region}: no logging trail "
            f"delivers their object writes to EventBridge{cause}; only the backstop remediates them"
        )
    head = envelope(
        context,
        severity=severity,
        outcome=Outcome.FAILED,
        resource_type="coverage",
        resource=", ".join(buckets),
        dry_run=False,
        reason=reason,
    )
    body = {
        **head,
        "coverage": report.summary,
        "trail": trail,
        "uncoveredBuckets": [bucket.answer() for bucket in uncovered],
        "trails": [one.answer(report.region) for one in report.trails],
        "suggestedSelector": report.suggestion,
        "trigger": answer(trigger) if trigger is not None else None,
    }
    text = "\n".join(
        [
            reason + ":",
            "",
            *(f"  s3://{bucket.bucket}: {bucket.reason}" for bucket in uncovered),
            "",
            "Restore the trail, or add this advanced event selector to a logging trail (`dsse-remediate coverage`):",
            json.dumps(report.suggestion, indent=2),
        ]
    )
    attributes = {"severity": severity, "outcome": Outcome.FAILED.value, "resourceType": "coverage"}
    if len(uncovered) == 1:
        attributes["bucket"] = uncovered[0].bucket
    title = "DSSE-KMS coverage: uncovered"
    if trigger is not None:
        title = "DSSE-KMS trail change blinds the object path"
    elif unknown == len(uncovered):
        title = "DSSE-KMS coverage: unknown"
    return TextAlert(subject=subject(title, ", ".join(buckets)), body=body, attributes=attributes, text=text)
