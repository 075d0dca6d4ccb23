"""The posture summary each scheduled posture forwards to the security account (resourceType `posture`).

One event per run, for the account and Region: how much of its estate is DSSE-KMS under the key (objects and bytes,
current and noncurrent versions together), what is left, the noncurrent debt, and the buckets that could not be
measured. Severity info: it is a measurement, not an alert — put on the default bus for the security account
(`Alerts.forward`), never on the team's topic; the security stack logs it, `dsse-remediate org-status` shows it in
its POSTURE column and the security dashboard in its estate view. Outcome `compliant` when every measured bucket is
100 % DSSE under the key and none failed to be measured, `failed` otherwise. Per-bucket detail stays in the member's
report bucket (the posture/v1 document the summary names) and its per-bucket metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .alerts import Context, TextAlert, envelope, subject
from .model import Outcome

MOST_BUCKETS = 50  # the summary names the least-converted buckets, at most this many (an event holds 256 KB)


def totals(document: Mapping[str, Any]) -> dict[str, Any]:
    """Objects and bytes in all, and not DSSE under the key, over every measured bucket (current and noncurrent);
    percentages rounded down to the hundredth, so 99.996 % never reads 100 %."""
    objects = size = objects_left = size_left = debt_objects = debt_bytes = 0
    unmeasured = []
    for entry in _entries(document):
        if entry.get("error"):
            unmeasured.append(entry["bucket"])
            continue
        for part in ("current", "noncurrent"):
            counts = entry.get(part) or {}
            objects += _sum(counts.get("objects"))
            size += _sum(counts.get("bytes"))
            objects_left += _sum(counts.get("objects"), but="dsse-key")
            size_left += _sum(counts.get("bytes"), but="dsse-key")
        debt = entry.get("noncurrentDebt") or {}
        debt_objects += debt.get("objects") or 0
        debt_bytes += debt.get("bytes") or 0
    return {
        "buckets": len(_entries(document)),
        "percentDsseUnderKey": {"objects": _share(objects, objects_left), "bytes": _share(size, size_left)},
        "objects": {"total": objects, "notDsseUnderKey": objects_left},
        "bytes": {"total": size, "notDsseUnderKey": size_left},
        "noncurrentDebt": {"objects": debt_objects, "bytes": debt_bytes},
        "unmeasured": sorted(unmeasured),
    }


def posture_summary(document: Mapping[str, Any], context: Context, location: str | None = None) -> TextAlert:
    """The summary of a posture/v1 document; `location`: where the member keeps the document (s3://...)."""
    summary = totals(document)
    done = not summary["unmeasured"] and summary["objects"]["notDsseUnderKey"] == 0
    outcome = Outcome.COMPLIANT if done else Outcome.FAILED
    share = summary["percentDsseUnderKey"]
    region = context.region or document.get("region") or "this Region"
    reason = (
        f"{share['bytes']:g} % of bytes and {share['objects']:g} % of objects of {summary['buckets']} bucket(s) in "
        f"{region} are DSSE-KMS under the key; {summary['objects']['notDsseUnderKey']} object(s) "
        f"({summary['bytes']['notDsseUnderKey']} bytes) left"
    )
    if summary["unmeasured"]:
        reason += f"; {len(summary['unmeasured'])} bucket(s) could not be measured"
    head = envelope(
        context,
        severity="info",
        outcome=outcome,
        resource_type="posture",
        resource=f"{summary['buckets']} bucket(s) in {region}",
        dry_run=False,
        reason=reason,
    )
    body = {
        **head,
        "posture": summary,
        "generatedAt": document.get("generatedAt"),
        "key": document.get("key"),
        "report": location,
        "leastConverted": least_converted(document),
    }
    attributes = {"severity": "info", "outcome": outcome.value, "resourceType": "posture"}
    return TextAlert(subject=subject("DSSE-KMS posture", str(region)), body=body, attributes=attributes, text=reason)


def least_converted(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The buckets with the most bytes left, at most MOST_BUCKETS, each with its share of bytes."""
    rows = []
    for entry in _entries(document):
        if entry.get("error"):
            continue
        left = sum(_sum((entry.get(part) or {}).get("bytes"), but="dsse-key") for part in ("current", "noncurrent"))
        if left:
            share = (entry.get("percentDsseUnderKey") or {}).get("bytes")
            rows.append({"bucket": entry["bucket"], "bytesNotDsseUnderKey": left, "percentBytes": share})
    rows.sort(key=lambda row: (-row["bytesNotDsseUnderKey"], row["bucket"]))
    return rows[:MOST_BUCKETS]


def _entries(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = document.get("buckets")
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("bucket"), str)]


def _sum(counts: Any, but: str | None = None) -> int:
    if not isinstance(counts, Mapping):
        return 0
    return sum(value for state, value in counts.items() if state != but and isinstance(value, int))


def _share(total: int, left: int) -> float:
    """Percent done, rounded down to the hundredth; 100.0 when there is nothing."""
    if total == 0:
        return 100.0
    return (total - left) * 10000 // total / 100
