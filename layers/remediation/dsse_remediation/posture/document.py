"""The posture document (`dsse-remediation.posture/v1`), its text table and its CSV rows.

Every bucket: objects and bytes by state for current and noncurrent versions (delete markers never counted), the
share of all versions that is DSSE under the key, the ten largest versions left, the noncurrent-version debt and the
lifecycle rule that would retire it, where the figures come from (a scan now, or an inventory report of a stated
date, sampled or not) and any error that left them incomplete. The estate total adds the buckets up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .lifecycle import configuration, retire_noncurrent
from .sampling import Estimate
from .states import STATES, State
from .tally import BucketTally, Counts, percent

SCHEMA = "dsse-remediation.posture/v1"
CSV_FIELDS = (
    "bucket",
    "state",
    "currentObjects",
    "currentBytes",
    "noncurrentObjects",
    "noncurrentBytes",
    "source",
    "inventoryDate",
    "error",
)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class BucketPosture:
    bucket: str
    key_arn: str
    kind: str  # scan | inventory
    tally: BucketTally
    inventory_date: datetime | None = None
    manifest: str | None = None
    estimate: Estimate | None = None
    error: str | None = None
    noncurrent_listed: bool = True  # False: an inventory of current versions only (IncludedObjectVersions Current)

    @property
    def compliant(self) -> bool:
        return self.error is None and self.tally.compliant() and (self.estimate is None or self.estimate.exact)

    def answer(self) -> dict[str, Any]:
        tally, debt = self.tally, self.tally.debt
        return {
            "bucket": self.bucket,
            "key": self.key_arn,
            "source": {
                "kind": self.kind,
                "inventoryDate": iso(self.inventory_date),
                "manifest": self.manifest,
                "sample": self.estimate.answer() if self.estimate is not None else None,
                "noncurrentListed": self.noncurrent_listed,
            },
            "current": tally.current.answer(),
            "noncurrent": tally.noncurrent.answer(),
            "percentDsseUnderKey": percent(tally.current, tally.noncurrent),
            "largestNotDsse": tally.largest(),
            "noncurrentDebt": {
                "objects": debt.objects,
                "bytes": debt.bytes,
                "lockedObjects": debt.locked,
                "lockedUntil": iso(debt.locked_until),
                "lifecycleRule": retire_noncurrent() if debt.objects else None,
            },
            "vanished": tally.vanished,
            "compliant": self.compliant,
            "error": self.error,
        }


@dataclass(frozen=True)
class Estate:
    generated_at: datetime
    generated_by: str | None
    account: str | None
    region: str
    partition: str
    key_arn: str
    buckets: tuple[BucketPosture, ...]

    def totals(self) -> tuple[Counts, Counts]:
        current, noncurrent = Counts(), Counts()
        for bucket in self.buckets:
            current.merge(bucket.tally.current)
            noncurrent.merge(bucket.tally.noncurrent)
        return current, noncurrent

    @property
    def compliant(self) -> bool:
        return all(bucket.compliant for bucket in self.buckets)

    @property
    def exit_code(self) -> int:
        return 0 if self.compliant else 1

    def answer(self) -> dict[str, Any]:
        current, noncurrent = self.totals()
        return {
            "schema": SCHEMA,
            "generatedAt": iso(self.generated_at),
            "generatedBy": self.generated_by,
            "account": self.account,
            "region": self.region,
            "partition": self.partition,
            "key": self.key_arn,
            "states": [state.value for state in STATES],
            "buckets": [bucket.answer() for bucket in self.buckets],
            "total": {
                "current": current.answer(),
                "noncurrent": noncurrent.answer(),
                "percentDsseUnderKey": percent(current, noncurrent),
            },
            "compliant": self.compliant,
            "exitCode": self.exit_code,
        }


def csv_rows(estate: Estate) -> list[dict[str, Any]]:
    """`--report FILE.csv`: one row per bucket and state."""
    found = []
    for bucket in estate.buckets:
        for state in STATES:
            found.append(
                {
                    "bucket": bucket.bucket,
                    "state": state.value,
                    "currentObjects": bucket.tally.current.objects[state],
                    "currentBytes": bucket.tally.current.bytes[state],
                    "noncurrentObjects": bucket.tally.noncurrent.objects[state],
                    "noncurrentBytes": bucket.tally.noncurrent.bytes[state],
                    "source": bucket.kind,
                    "inventoryDate": iso(bucket.inventory_date) or "",
                    "error": bucket.error or "",
                }
            )
    return found


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def share(value: float) -> str:
    """A percentage to two places that never rounds a shortfall up to 100.00 % (nor a sliver down to 0.00 %)."""
    if 0 < value < 100:
        return f"{min(max(value, 0.01), 99.99):.2f}%"
    return f"{value:.2f}%"


def table(current: Counts, noncurrent: Counts) -> list[str]:
    lines = [f"  {'state':<16}{'current':>12}{'bytes':>12}{'noncurrent':>12}{'bytes':>12}"]
    for state in STATES:
        lines.append(
            f"  {state.value:<16}{current.objects[state]:>12,}{size(current.bytes[state]):>12}"
            f"{noncurrent.objects[state]:>12,}{size(noncurrent.bytes[state]):>12}"
        )
    return lines


def text(estate: Estate) -> str:
    lines = [
        f"DSSE-KMS posture under {estate.key_arn}",
        f"account {estate.account or 'unknown'}, {estate.region}, generated {iso(estate.generated_at)} by "
        f"{estate.generated_by or 'unknown'}",
        "",
    ]
    for bucket in estate.buckets:
        lines += bucket_text(bucket)
    current, noncurrent = estate.totals()
    shares = percent(current, noncurrent)
    lines.append(f"estate: {len(estate.buckets)} bucket(s)")
    lines += table(current, noncurrent)
    lines.append(
        f"  DSSE under the key: {share(shares['objects'])} of versions, {share(shares['bytes'])} of bytes "
        f"({'compliant' if estate.compliant else 'NOT compliant'}, exit {estate.exit_code})"
    )
    return "\n".join(lines) + "\n"


def bucket_text(bucket: BucketPosture) -> list[str]:
    if bucket.kind == "inventory":
        source = f"inventory of {iso(bucket.inventory_date) or 'unknown date'} ({bucket.manifest})"
    else:
        source = "scan (ListObjectVersions and HeadObject, now)"
    lines = [f"s3://{bucket.bucket}  key {bucket.key_arn}", f"  source: {source}"]
    if bucket.error:
        lines.append(f"  ERROR: {bucket.error}")
    if not bucket.noncurrent_listed:
        lines.append("  the report lists current versions only (IncludedObjectVersions Current): no noncurrent count")
    if bucket.estimate is not None:
        low, high = bucket.estimate.interval()
        lines.append(
            f"  dsse-key and dsse-other-key are ESTIMATES: {bucket.estimate.checked} of {bucket.estimate.population} "
            f"DSSE versions read; {100 * bucket.estimate.share:.1f}% under the key (95% Wilson interval "
            f"{100 * low:.1f}%-{100 * high:.1f}%)"
        )
    lines += table(bucket.tally.current, bucket.tally.noncurrent)
    shares = percent(bucket.tally.current, bucket.tally.noncurrent)
    lines.append(f"  DSSE under the key: {share(shares['objects'])} of versions, {share(shares['bytes'])} of bytes")
    debt = bucket.tally.debt
    if debt.objects:
        locked = (
            f"; {debt.locked:,} under Object Lock retention until {iso(debt.locked_until)} at the latest"
            if debt.locked
            else ""
        )
        lines.append(f"  noncurrent debt: {debt.objects:,} version(s), {size(debt.bytes)}{locked}")
        lines.append("  the lifecycle rule that would retire them (NOT applied; it expires EVERY noncurrent version,")
        lines.append("  and PutBucketLifecycleConfiguration replaces the bucket's rules: merge it into them):")
        lines += ["    " + line for line in json.dumps(configuration(retire_noncurrent()), indent=2).splitlines()]
    for entry in bucket.tally.largest()[:3]:
        lines.append(
            f"  largest left: {entry['key']} ({'current' if entry['current'] else 'noncurrent'}, "
            f"{size(entry['size'])}, {entry['state']})"
        )
    lines.append("")
    return lines


__all__ = ["SCHEMA", "BucketPosture", "Estate", "State", "csv_rows", "text"]
