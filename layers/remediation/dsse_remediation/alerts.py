"""Alerts: one SNS message per object a human must know about.

Body schema `dsse-remediation.alert/v1` (JSON, the SNS `default` message):

    schema, time, severity, outcome, resourceType ("object"), action, mode, dryRun,
    account, region, bucket, key, versionIdBefore, versionIdAfter, purgedVersionId,
    encryptionBefore {algorithm, kmsKeyId}, encryptionAfter {algorithm, kmsKeyId}, expectedKmsKeyId,
    reason, trigger {source, eventName, eventId, eventTime, actor, sourceIp}

Message attributes for subscription filter policies: severity, outcome, resourceType, bucket.
Object contents and user-metadata values never appear in an alert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from .model import ObjectResult, Outcome

SCHEMA = "dsse-remediation.alert/v1"
_SUBJECT_LIMIT = 100  # SNS: ASCII, no line breaks, fewer than 100 characters
_TITLES = {
    Outcome.REMEDIATED: "DSSE-KMS remediated",
    Outcome.WOULD_REMEDIATE: "DSSE-KMS not compliant (not changed)",
    Outcome.UNREMEDIABLE: "DSSE-KMS unremediable",
    Outcome.FAILED: "DSSE-KMS remediation failed",
}


@dataclass(frozen=True)
class Alert:
    subject: str
    body: dict[str, Any]
    attributes: dict[str, str]

    @property
    def json_body(self) -> str:
        return json.dumps(self.body, sort_keys=True)

    @property
    def text_body(self) -> str:
        b = self.body
        lines = [
            self.subject,
            "",
            f"Object:      s3://{b['bucket']}/{b['key']}",
            f"Outcome:     {b['outcome']} (severity {b['severity']})",
            f"Reason:      {b['reason']}",
            f"Before:      {_describe(b['encryptionBefore'])}  version {b['versionIdBefore'] or '-'}",
            f"After:       {_describe(b['encryptionAfter'])}  version {b['versionIdAfter'] or '-'}",
            f"Written by:  {b['trigger']['actor'] or 'unknown'} from {b['trigger']['sourceIp'] or 'unknown'}"
            f" at {b['trigger']['eventTime'] or 'unknown'} ({b['trigger']['eventName'] or b['trigger']['source']})",
            f"Account:     {b['account'] or '-'}  Region: {b['region'] or '-'}  Mode: {b['mode']}",
            "",
            "Machine-readable body:",
            json.dumps(b, indent=2, sort_keys=True),
        ]
        return "\n".join(lines)


class Publisher(Protocol):
    def publish(self, alert: Alert) -> str: ...


def object_alert(result: ObjectResult, *, mode: str, account: str | None, region: str | None) -> Alert:
    title = _TITLES.get(result.outcome, f"DSSE-KMS {result.outcome.value}")
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "severity": result.outcome.severity,
        "outcome": result.outcome.value,
        "resourceType": "object",
        "action": result.action,
        "mode": mode,
        "dryRun": result.dry_run,
        "account": account,
        "region": region,
        "bucket": result.bucket,
        "key": result.key,
        "versionIdBefore": result.version_id,
        "versionIdAfter": result.version_id_after,
        "purgedVersionId": result.purged_version_id,
        "encryptionBefore": result.before.to_dict() if result.before else None,
        "encryptionAfter": result.after.to_dict() if result.after else None,
        "expectedKmsKeyId": result.expected_key_arn,
        "reason": result.reason,
        "trigger": result.trigger.to_dict(),
    }
    return Alert(
        subject=subject(title, f"s3://{result.bucket}/{result.key}"),
        body=body,
        attributes={
            "severity": body["severity"],
            "outcome": body["outcome"],
            "resourceType": "object",
            "bucket": result.bucket,
        },
    )


def subject(title: str, resource: str) -> str:
    """`<title>: <resource>`, made ASCII (non-ASCII and control characters percent-encoded) and cut to SNS's limit."""
    safe = quote(resource, safe="/:+-_.~!$&'()*,;=@ ")
    text = f"{title}: {safe}"
    limit = _SUBJECT_LIMIT - 1
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(encryption: dict[str, Any] | None) -> str:
    if not encryption:
        return "-"
    key = encryption.get("kmsKeyId")
    return f"{encryption['algorithm']} ({key})" if key else str(encryption["algorithm"])
