"""Alerts: one SNS message per resource a human must know about.

Body schema `dsse-remediation.alert/v1` (JSON, the SNS `default` message). Every alert carries:

    schema, time, severity, outcome, resourceType ("object" | "bucket" | "kms-key" | "batch-job" | "s3-inventory" |
    "canary" | "coverage" | "posture"), resource, mode, dryRun, account, region, reason, trigger {source, eventName,
    eventId, eventTime, actor, sourceIp} (all but s3-inventory, canary and posture: they run on a schedule, no event
    triggers them; coverage's is null on schedule)

plus the fields of its resource type:

    object:  bucket, key, action, versionIdBefore, versionIdAfter, purgedVersionId,
             encryptionBefore / encryptionAfter {algorithm, kmsKeyId}, expectedKmsKeyId, latencySeconds (remediated:
             seconds from the write, CloudTrail's eventTime, to the remediation; null without an event time)
    bucket:  bucket, encryptionBefore / encryptionAfter {algorithm, kmsKeyId, bucketKeyEnabled,
             blockedEncryptionTypes}, expectedKmsKeyId, preventionPolicy, sweep
    kms-key: keyArn, eventName, keyState, rotationEnabled, deletionDate, actions, protects, policyStatements
    batch-job (batch/summary.py): jobId, jobIds, campaign, bucket, encryptionFilter, status, counts, totalTasks,
             failedTasks, unremediable, reportLocation, jobFailureReasons
    s3-inventory (batch/backstop.py, severity high): campaign, staleInventories [{bucket, configurationId,
             frequency, destination, newestReport}], check
    canary (canary.py): bucket, key, writtenAt, ageSeconds, sloSeconds, latencySeconds, encryption, expectedKmsKeyId;
             outcome failed (severity high: it missed its SLO) or compliant (severity info: a heartbeat, only put on
             the default bus for the security account, never published to the topic)
    coverage (coverage_check.py): coverage {inScope, covered, uncovered, unknown}, trail, trails, trigger;
             outcome failed (high on schedule, medium when every uncovered bucket is only unknown, critical after a
             trail change: uncoveredBuckets, suggestedSelector) or compliant (severity info: a heartbeat for the
             security account only, like the canary's)
    posture (posture_summary.py, severity info, for the security account only): posture {buckets,
             percentDsseUnderKey {objects, bytes}, objects/bytes {total, notDsseUnderKey}, noncurrentDebt, unmeasured},
             generatedAt, key, report, leastConverted; outcome compliant (nothing left) or failed

The e-mail rendering (`text_body`) of an object, bucket or key alert links the resource in the AWS Management Console of
its own partition (partitions.py: console.aws.amazon.com, console.amazonaws-us-gov.com, console.amazonaws.cn); the JSON
body carries no link.

Message attributes for subscription filter policies: severity, outcome, resourceType, and bucket or keyArn.
Object contents and user-metadata values never appear in an alert.

With FORWARD_RESULTS=true every alert is also put, as its JSON body, on the account's default EventBridge bus (source
"dsse-remediation", detail-type "DSSE-KMS remediation result"), where the stack's forwarding rule sends it to the
security account's results bus. A required alert (severity above low) that cannot be forwarded is reported like one
that cannot be published: the event-driven invocation fails and is retried, then dead-lettered and alarmed, so a
member account cannot lose its security channel's copy silently. A lost low-severity notice is logged and counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Protocol
from urllib.parse import quote

from .exceptions import AwsFailure
from .model import CRITICAL, BucketResult, Clock, KeyResult, ObjectResult, Outcome, Result, answer, truncate, utc_now
from .partitions import kms_console_url, s3_console_url

log = logging.getLogger(__name__)
SCHEMA = "dsse-remediation.alert/v1"
_SUBJECT_LIMIT = 100  # SNS: ASCII, no line breaks, fewer than 100 characters
_OBJECT_TITLES = {
    Outcome.REMEDIATED: "DSSE-KMS remediated",
    Outcome.WOULD_REMEDIATE: "DSSE-KMS not compliant (not changed)",
    Outcome.UNREMEDIABLE: "DSSE-KMS unremediable",
    Outcome.FAILED: "DSSE-KMS remediation failed",
    Outcome.HELD: "DSSE-KMS held: it would break the bucket's readers",
}
_BUCKET_TITLES = {
    Outcome.REMEDIATED: "DSSE-KMS bucket default reset",
    Outcome.WOULD_REMEDIATE: "DSSE-KMS bucket default not compliant (not changed)",
    Outcome.UNREMEDIABLE: "DSSE-KMS bucket default unremediable",
    Outcome.FAILED: "DSSE-KMS bucket remediation failed",
    Outcome.HELD: "DSSE-KMS bucket held: it would break its readers or writers",
}


@dataclass(frozen=True)
class Alert:
    subject: str
    body: dict[str, Any]
    attributes: dict[str, str]

    @property
    def required(self) -> bool:
        """A human must read it: everything but the low-severity "remediated" notice. An event-driven invocation
        whose required alert cannot be published fails, so its delivery is retried (and ends in a DLQ, alarmed)."""
        return bool(self.body["severity"] != "low")

    @property
    def json_body(self) -> str:
        return json.dumps(self.body, sort_keys=True)

    @property
    def text_body(self) -> str:
        """The e-mail rendering: the facts a human reads first, then the JSON body."""
        b, t = self.body, self.body["trigger"]
        lines = [
            self.subject,
            "",
            f"Resource:    {b['resource']}",
            f"Outcome:     {b['outcome']} (severity {b['severity']})",
            f"Reason:      {b['reason']}",
        ]
        if "encryptionBefore" in b:
            lines.append(f"Before:      {_describe(b['encryptionBefore'])}")
            lines.append(f"After:       {_describe(b['encryptionAfter'])}")
        if t["source"] != "manual":
            lines.append(
                f"Done by:     {t['actor'] or 'unknown'} from {t['sourceIp'] or 'unknown'}"
                f" at {t['eventTime'] or 'unknown'} ({t['eventName'] or t['source']})"
            )
        link = console_link(b)
        if link:
            lines.append(f"Console:     {link}")
        lines += [
            f"Account:     {b['account'] or '-'}  Region: {b['region'] or '-'}  Mode: {b['mode']}",
            "",
            "Machine-readable body:",
            json.dumps(b, indent=2, sort_keys=True, default=str),
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class TextAlert(Alert):
    """An alert whose e-mail rendering is its own text (then the JSON body): a batch job's summary, the backstop's
    stale inventories."""

    text: str = ""

    @property
    def text_body(self) -> str:
        return "\n".join([self.subject, "", self.text, "", "Machine-readable body:", json.dumps(self.body, indent=2)])


class Publisher(Protocol):
    def publish(self, alert: Alert) -> str: ...


class Forwarder(Protocol):
    def forward(self, alert: Alert) -> str: ...


class ForwardFailed(AwsFailure):
    """An alert's event could not be put on the default bus; counted apart from SNS failures (reporting.Reporter)."""

    metric = "AlertForwardFailed"


@dataclass(frozen=True)
class Context:
    """Deployment facts every alert carries, and the clock that dates it."""

    mode: str
    account: str | None
    region: str | None
    clock: Clock = field(default=utc_now, compare=False, repr=False)


def envelope(
    context: Context,
    *,
    severity: str,
    outcome: Outcome,
    resource_type: str,
    resource: str,
    dry_run: bool,
    reason: str,
) -> dict[str, Any]:
    """The head of every alert body (schema dsse-remediation.alert/v1), object, bucket, key and batch job alike: the
    fields subscription filters and the security account's rules read. The caller adds its resource fields."""
    return {
        "schema": SCHEMA,
        "time": context.clock().astimezone(UTC).isoformat(timespec="seconds"),
        "severity": severity,
        "outcome": outcome.value,
        "resourceType": resource_type,
        "resource": resource,
        "mode": context.mode,
        "dryRun": dry_run,
        "account": context.account,
        "region": context.region,
        "reason": reason,
    }


class Alerts:
    """Every path's one way to tell a human: builds the alert of a result and publishes it, never raising."""

    def __init__(
        self,
        publisher: Publisher | None,
        context: Context,
        on_error: Callable[[Exception], None] | None = None,
        forwarder: Forwarder | None = None,
    ) -> None:
        self.publisher = publisher
        self.context = context
        self._on_error = on_error
        self.forwarder = forwarder

    def send(self, result: Result) -> str | None:
        """Why a *required* alert was not delivered (None when it was, or when only a low-severity notice was lost),
        for the caller to put on its result. Every failure is logged and counted (`on_error`)."""
        return self.publish(alert_for(result, self.context))

    def publish(self, alert: Alert) -> str | None:
        """To the topic, and to the default bus when forwarding is on: why a required alert missed either."""
        problems = []
        if self.publisher is not None:
            try:
                self.publisher.publish(alert)
            except AwsFailure as exc:
                log.error("alert could not be published", extra={"error": str(exc), "subject": alert.subject})
                if self._on_error:
                    self._on_error(exc)
                problems.append(f"the alert could not be published: {exc}")
        problems += self._forward(alert)
        return "; ".join(problems) if problems and alert.required else None

    def forward(self, alert: Alert) -> str | None:
        """To the default bus only (when forwarding is on), never to the topic: a heartbeat for the security account
        (the canary's passing ticks), which the team's channel need not read. Why it was not forwarded, or None."""
        problems = self._forward(alert)
        return "; ".join(problems) if problems else None

    def _forward(self, alert: Alert) -> list[str]:
        if self.forwarder is None:
            return []
        try:
            self.forwarder.forward(alert)
        except AwsFailure as exc:
            log.error("alert could not be forwarded", extra={"error": str(exc), "subject": alert.subject})
            if self._on_error:
                self._on_error(ForwardFailed(exc.failure, str(exc), exc.code))
            return [f"the alert could not be forwarded to the security account: {exc}"]
        return []


def alert_for(result: Result, context: Context) -> Alert:
    if isinstance(result, ObjectResult):
        return object_alert(result, context)
    if isinstance(result, BucketResult):
        return bucket_alert(result, context)
    return key_alert(result, context)


def object_alert(result: ObjectResult, context: Context) -> Alert:
    fields = _resource_fields(answer(result))
    fields["versionIdBefore"] = fields.pop("versionId")
    title = _OBJECT_TITLES.get(result.outcome, f"DSSE-KMS {result.outcome.value}")
    resource = f"s3://{result.bucket}/{result.key}"
    return _alert(result, context, title, resource, "object", fields, {"bucket": result.bucket})


def bucket_alert(result: BucketResult, context: Context) -> Alert:
    title = _BUCKET_TITLES.get(result.outcome, f"DSSE-KMS bucket {result.outcome.value}")
    fields = _resource_fields(answer(result))
    return _alert(result, context, title, f"s3://{result.bucket}", "bucket", fields, {"bucket": result.bucket})


def key_alert(result: KeyResult, context: Context) -> Alert:
    title = f"DSSE-KMS key {result.event_name or 'state'}"
    fields = _resource_fields(answer(result))
    short = result.key_arn.rsplit(":", 1)[-1]  # key/<id>: a full ARN would not fit a subject
    return _alert(
        result, context, title, result.key_arn, "kms-key", fields, {"keyArn": result.key_arn}, short, CRITICAL
    )


def _resource_fields(answered: dict[str, Any]) -> dict[str, Any]:
    """A result's answer without what every alert carries anyway."""
    return {
        name: value for name, value in answered.items() if name not in ("outcome", "reason", "dryRun", "alertError")
    }


def _alert(
    result: Result,
    context: Context,
    title: str,
    resource: str,
    resource_type: str,
    fields: dict[str, Any],
    attributes: dict[str, str],
    short_name: str | None = None,
    severity: str | None = None,
) -> Alert:
    severity = severity or result.outcome.severity
    head = envelope(
        context,
        severity=severity,
        outcome=result.outcome,
        resource_type=resource_type,
        resource=resource,
        dry_run=result.dry_run,
        reason=result.reason,
    )
    body: dict[str, Any] = {**head, **fields, "trigger": answer(result.trigger)}
    return Alert(
        subject=subject(title, short_name or resource),
        body=body,
        attributes={"severity": severity, "outcome": result.outcome.value, "resourceType": resource_type, **attributes},
    )


def subject(title: str, resource: str) -> str:
    """`<title>: <resource>`, made ASCII (non-ASCII and control characters percent-encoded) and cut to SNS's limit."""
    safe = quote(resource, safe="/:+-_.~!$&'()*,;=@ ")
    return truncate(f"{title}: {safe}", _SUBJECT_LIMIT - 1)


def console_link(body: dict[str, Any]) -> str | None:
    """The resource's page in the console of the alert's partition: an object's or a bucket's (in the alert's Region,
    the functions' own, where the bucket is), a key's (its ARN's partition and Region); None for other resources or
    without a Region."""
    kind, region = body.get("resourceType"), body.get("region")
    if kind == "kms-key" and isinstance(body.get("keyArn"), str):
        return kms_console_url(body["keyArn"])
    if kind in ("object", "bucket") and isinstance(region, str) and region and isinstance(body.get("bucket"), str):
        key = body.get("key") if kind == "object" else None
        return s3_console_url(region, body["bucket"], key if isinstance(key, str) else None)
    return None


def _describe(encryption: dict[str, Any] | None) -> str:
    if not encryption:
        return "-"
    key = encryption.get("kmsKeyId")
    return f"{encryption['algorithm']} ({key})" if key else str(encryption["algorithm"])
