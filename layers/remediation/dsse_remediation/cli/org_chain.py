"""Whether each member's chain is alive, as `dsse-remediate org-status` reads it from the security results log.

Three kinds of result prove it and measure it, all forwarded by every member stack (SecurityBusArn) like any alert:

- `coverage` (coverage_check.py): each coverage check, covered or not, carries `coverage` {inScope, covered,
  uncovered, unknown}. The latest one in the window is the row's coverage; an uncovered or unknown bucket needs
  attention.
- `canary` (canary.py): each tick, passed (a heartbeat, severity info, with `latencySeconds` from the write to its
  DSSE-KMS version) or missed (severity high). The latest one is the row's canary; a miss needs attention.
- `posture` (posture_summary.py): each scheduled posture's totals — the share of objects and bytes DSSE-KMS under the
  key, and what is left. The latest one is the row's posture; anything left, or a bucket not measured, needs
  attention.

Silence is measured against the member's own schedules (its CoverageSchedule, CanarySchedule and CanarySloSeconds
parameters, as the StackSet deploys them): a check or a canary that runs `rate(N unit)` and has forwarded nothing for
longer than it may — a coverage check one period and an hour, a canary two periods and its SLO — is *silent*: its
trail, its function, its schedule or its forwarding is broken, and a quiet member is told apart from a broken one. A
`cron(...)` schedule, an unknown parameter, a stack that forwards nowhere, or a window (`--hours`) shorter than the
allowed gap leaves silence unjudged (null), never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

CHAIN_TYPES = ("coverage", "canary", "posture")
COVERAGE_GRACE = timedelta(hours=1)  # a check's own run time and EventBridge Scheduler's flexible window

# EventBridge Scheduler's rate expressions: "rate(value unit)", unit minute(s) | hour(s) | day(s)
# (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based).
RATE = re.compile(r"^rate\((?P<value>[1-9][0-9]*) (?P<unit>minutes?|hours?|days?)\)$")
UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def period_of(expression: str | None) -> timedelta | None:
    """A rate expression's period; None for a cron expression, an empty or unknown one."""
    found = RATE.match(expression or "")
    if found is None:
        return None
    return int(found["value"]) * UNITS[found["unit"].rstrip("s")]


@dataclass(frozen=True)
class Seen:
    """The newest result of one kind from one account and Region."""

    at: datetime
    outcome: str
    detail: Mapping[str, Any]


@dataclass
class Chain:
    """The newest coverage and canary result per (account, Region, resourceType)."""

    latest: dict[tuple[str, str, str], Seen] = field(default_factory=dict)

    def add(self, account: str, region: str, resource_type: str, seen: Seen) -> None:
        place = (account, region, resource_type)
        known = self.latest.get(place)
        if known is None or seen.at >= known.at:
            self.latest[place] = seen

    def of(self, account: str, region: str, resource_type: str) -> Seen | None:
        return self.latest.get((account, region, resource_type))


@dataclass(frozen=True)
class Schedules:
    """What the member stack runs, from its parameters (None: unknown)."""

    coverage: str | None
    canary: str | None
    canary_slo_seconds: str | None
    mode: str | None
    forwards: bool  # its SecurityBusArn is set: its results can reach the security account

    @property
    def runs_canary(self) -> bool | None:
        """The canary runs only with a schedule and Mode=remediate (template.yaml's RunsCanary)."""
        if self.canary is None:
            return None
        if self.canary == "":
            return False
        return None if self.mode is None else self.mode == "remediate"


@dataclass(frozen=True)
class ChainRow:
    """One account and Region's coverage and canary over a window that ends at `end`."""

    coverage: Seen | None
    canary: Seen | None
    schedules: Schedules
    end: datetime
    window: timedelta
    posture: Seen | None = None

    def coverage_silent(self) -> bool | None:
        if self.schedules.coverage == "":
            return False
        allowed = _allowed(period_of(self.schedules.coverage), COVERAGE_GRACE)
        return self._silent(self.coverage, allowed)

    def canary_silent(self) -> bool | None:
        runs = self.schedules.runs_canary
        if runs is not True:
            return None if runs is None else False
        period = period_of(self.schedules.canary)
        slo = self.schedules.canary_slo_seconds
        grace = timedelta(seconds=int(slo)) if slo and slo.isdigit() else None
        allowed = None if period is None or grace is None else 2 * period + grace
        return self._silent(self.canary, allowed)

    def _silent(self, seen: Seen | None, allowed: timedelta | None) -> bool | None:
        """True when nothing came for longer than `allowed`; None when that cannot be judged."""
        if allowed is None or not self.schedules.forwards:
            return None
        if seen is not None:
            return self.end - seen.at > allowed
        return True if self.window >= allowed else None

    def problems(self) -> list[str]:
        problems = []
        summary = _summary(self.coverage)
        if summary and summary.get("uncovered"):
            unknown = f", {summary['unknown']} unknown" if summary.get("unknown") else ""
            problems.append(
                f"coverage {summary.get('covered')}/{summary.get('inScope')} in-scope bucket(s){unknown} "
                f"at {_when(self.coverage)}"
            )
        if self.coverage_silent():
            problems.append(
                f"coverage check silent: {self._last(self.coverage)} (CoverageSchedule {self.schedules.coverage})"
            )
        if self.canary is not None and self.canary.outcome != "compliant":
            problems.append(f"canary {self.canary.outcome} at {_when(self.canary)}: {self.canary.detail.get('reason')}")
        if self.canary_silent():
            problems.append(f"canary silent: {self._last(self.canary)} (CanarySchedule {self.schedules.canary})")
        posture = _posture(self.posture)
        if posture and (posture["objects"].get("notDsseUnderKey") or posture.get("unmeasured")):
            unmeasured = posture.get("unmeasured") or []
            problems.append(
                f"posture {_percent(posture)} of bytes DSSE-KMS under the key, "
                f"{_bytes(posture['bytes'].get('notDsseUnderKey'))} left"
                + (f", {len(unmeasured)} bucket(s) not measured" if unmeasured else "")
                + f" at {_when(self.posture)}"
            )
        return problems

    def _last(self, seen: Seen | None) -> str:
        if seen is None:
            return f"nothing in the last {_duration(self.window)}"
        return f"last result {_duration(self.end - seen.at)} ago"

    def answer(self) -> dict[str, Any]:
        canary = self.canary
        return {
            "coverage": {
                "schedule": self.schedules.coverage,
                "at": _when(self.coverage),
                "outcome": self.coverage.outcome if self.coverage else None,
                **(_summary(self.coverage) or dict.fromkeys(("inScope", "covered", "uncovered", "unknown"))),
                "silent": self.coverage_silent(),
            },
            "canary": {
                "schedule": self.schedules.canary,
                "runs": self.schedules.runs_canary,
                "lastHeartbeat": _when(canary),
                "outcome": canary.outcome if canary else None,
                "latencySeconds": canary.detail.get("latencySeconds") if canary else None,
                "sloSeconds": canary.detail.get("sloSeconds") if canary else None,
                "silent": self.canary_silent(),
            },
            "posture": (_posture(self.posture) or {}) | {"at": _when(self.posture)} if self.posture else None,
        }

    def posture_cell(self) -> str:
        posture = _posture(self.posture)
        if posture is None:
            return "none"
        left = posture["bytes"].get("notDsseUnderKey")
        text = _percent(posture) + (f" ({_bytes(left)} left)" if left else "")
        unmeasured = posture.get("unmeasured") or []
        return text + (f" {len(unmeasured)} unmeasured" if unmeasured else "")

    def coverage_cell(self) -> str:
        summary = _summary(self.coverage)
        if summary is None:
            return "silent" if self.coverage_silent() else "none"
        text = f"{summary.get('covered')}/{summary.get('inScope')}"
        if summary.get("unknown"):
            text += f" ({summary['unknown']} unknown)"
        return text + (" silent" if self.coverage_silent() else "")

    def canary_cell(self) -> str:
        if self.schedules.runs_canary is False:
            return "off"
        canary = self.canary
        if canary is None:
            return "silent" if self.canary_silent() else "none"
        age = _duration(self.end - canary.at)
        if canary.outcome == "compliant":
            latency = canary.detail.get("latencySeconds")
            text = f"ok {latency:.0f}s" if isinstance(latency, int | float) else "ok"
        else:
            text = canary.outcome
        return f"{text} ({age} ago)" + (" silent" if self.canary_silent() else "")


def organization_posture(seen: Iterable[Seen | None]) -> dict[str, Any] | None:
    """Objects and bytes DSSE under the key over every account and Region's latest posture, shares rounded down;
    None when no posture summary arrived."""
    totals = {"objects": [0, 0], "bytes": [0, 0]}  # [total, not DSSE under the key]
    measured = 0
    for one in seen:
        posture = _posture(one)
        if posture is None:
            continue
        measured += 1
        for unit in totals:
            totals[unit][0] += int(posture[unit].get("total") or 0)
            totals[unit][1] += int(posture[unit].get("notDsseUnderKey") or 0)
    if not measured:
        return None
    share = {unit: (total - left) * 10_000 // total / 100 if total else 100.0 for unit, (total, left) in totals.items()}
    return {
        "measured": measured,
        "percentDsseUnderKey": share,
        "objects": {"total": totals["objects"][0], "notDsseUnderKey": totals["objects"][1]},
        "bytes": {"total": totals["bytes"][0], "notDsseUnderKey": totals["bytes"][1]},
    }


def _posture(seen: Seen | None) -> dict[str, Any] | None:
    """A posture summary's totals, when they have the shape posture_summary.py gives them."""
    posture = seen.detail.get("posture") if seen else None
    if not isinstance(posture, Mapping):
        return None
    if not all(isinstance(posture.get(part), Mapping) for part in ("objects", "bytes", "percentDsseUnderKey")):
        return None
    return dict(posture)


def _percent(posture: Mapping[str, Any]) -> str:
    share = posture["percentDsseUnderKey"].get("bytes")
    return f"{share:g}%" if isinstance(share, int | float) else "?%"


def _bytes(value: Any) -> str:
    """Bytes in binary units, for a table cell."""
    if not isinstance(value, int):
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"  # pragma: no cover - the loop returns at TiB


def _allowed(period: timedelta | None, grace: timedelta) -> timedelta | None:
    return None if period is None else period + grace


def _summary(seen: Seen | None) -> dict[str, Any] | None:
    summary = seen.detail.get("coverage") if seen else None
    return dict(summary) if isinstance(summary, Mapping) else None


def _when(seen: Seen | None) -> str | None:
    return seen.at.isoformat() if seen else None


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
