"""Per bucket: whether the trails that log in this Region record all its object writes, by which trails, and why not.

A write reaches EventBridge when any trail records it: a trail homed in this Region, a multi-Region trail homed
elsewhere, or an Organization trail (which "log[s] events for the management account and all member accounts",
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/creating-trail-organization.html). "In a single-region
trail, event selectors apply only to the Region where the trail is created" (logging-data-events-with-cloudtrail.html),
and a trail records nothing while it is not logging (StopLogging). So a bucket is covered when, for each write
event, the trails that apply here and are logging record it for every key together. A trail whose status or
selectors could not be read counts for nothing: its coverage is unknown, and said so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

from .keys import Extent, Keys, describe
from .selectors import NOTHING_RECORDED, S3_OBJECT, WRITE_EVENTS, AdvancedSelector, Recorded, Selector, object_base

# CloudTrail's quotas that bound how many buckets a trail can name (User Guide, WhatIsCloudTrail-Limits; they "cannot
# be increased"): trails per Region (a multi-Region trail counts in every Region), values of all advanced selectors
# and their conditions on a trail, data resources of all basic selectors on a trail.
MAX_TRAILS_PER_REGION = 5
MAX_ADVANCED_VALUES = 500
MAX_DATA_RESOURCES = 250


@dataclass(frozen=True)
class Trail:
    """A trail as coverage reads it (DescribeTrails, GetTrailStatus, GetEventSelectors)."""

    name: str
    arn: str
    home_region: str
    multi_region: bool = False
    organization: bool = False
    logging: bool = False
    selectors: tuple[Selector, ...] = ()
    problem: str | None = None  # its status or selectors could not be read: why

    def applies_in(self, region: str) -> bool:
        return self.multi_region or self.home_region == region

    @property
    def account(self) -> str:
        return self.arn.split(":")[4] if self.arn.count(":") >= 5 else ""

    @property
    def kind(self) -> str:
        if not self.selectors:
            return "none"
        return "advanced" if isinstance(self.selectors[0], AdvancedSelector) else "basic"

    @property
    def values(self) -> int:
        """The values its selectors hold, against MAX_ADVANCED_VALUES or MAX_DATA_RESOURCES."""
        return sum(selector.value_count for selector in self.selectors)

    def records(self, base: str) -> Recorded:
        return reduce(lambda a, b: a | b, (s.records(base) for s in self.selectors), NOTHING_RECORDED)

    def why_not(self, base: str) -> str:
        """Why it records none of the bucket's writes."""
        reasons = dict.fromkeys(s.why_not(base) for s in self.selectors if not s.records(base).anything)
        return "; ".join(reasons) or "no event selector with data events"

    def describe(self, region: str) -> str:
        """Where it comes from, for a line of text: "home eu-west-1, multi-Region, Organization trail of 111..."."""
        parts = [f"home {self.home_region}"]
        if self.multi_region:
            parts.append("multi-Region")
        if self.organization:
            parts.append(f"Organization trail of {self.account}")
        if not self.applies_in(region):
            parts.append(f"single-Region: does not log in {region}")
        return ", ".join(parts)

    def answer(self, region: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "homeRegion": self.home_region,
            "multiRegion": self.multi_region,
            "organization": self.organization,
            "appliesHere": self.applies_in(region),
            "logging": None if self.problem else self.logging,
            "selectors": None if self.problem else self.kind,
            "selectorValues": None if self.problem else self.values,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class BucketCoverage:
    bucket: str
    covered: bool
    trails: tuple[str, ...] = ()  # the logging trails that record some of its writes (ARNs)
    missing: tuple[str, ...] = ()  # write events not recorded for every key
    partial: tuple[str, ...] = ()  # what a trail records of only part of the bucket, in words
    reason: str | None = None  # when not covered
    # Not covered as far as the readable trails go, but a trail that applies here could not be read (an Organization
    # trail seen from a member account, a refused GetEventSelectors): it may cover the bucket; nothing proves it.
    unknown: bool = False

    def answer(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "covered": self.covered,
            "unknown": self.unknown,
            "trails": list(self.trails),
            "missing": list(self.missing),
            "partial": list(self.partial),
            "reason": self.reason,
        }


def assess(bucket: str, trails: Sequence[Trail], region: str, partition: str) -> BucketCoverage:
    """The bucket's coverage by the trails read in `region` (those of other Regions are left out here)."""
    base = object_base(partition, bucket)
    here = [trail for trail in trails if trail.applies_in(region)]
    logging = [trail for trail in here if trail.logging and trail.problem is None]
    records = {trail.arn: trail.records(base) for trail in logging}
    together = reduce(lambda a, b: a | b, records.values(), NOTHING_RECORDED)
    missing = tuple(event for event in WRITE_EVENTS if together.extent(event) is not Extent.ALL)
    partial = tuple(line for trail in logging for line in partial_lines(trail, records[trail.arn]))
    recording = tuple(trail.arn for trail in logging if records[trail.arn].anything)
    if not missing:
        return BucketCoverage(bucket, True, recording, (), partial)
    reasons = [
        *unavailable(here, region, base),
        *not_recorded(missing, together, logging, records, base),
        *(f"only part of the bucket is recorded: {line}" for line in partial),
        *(
            f"trail {trail.name} filters on {', '.join(records[trail.arn].uncertain)}: which writes it records "
            "depends on who writes, so none counts"
            for trail in logging
            if records[trail.arn].uncertain
        ),
    ]
    unknown = any(trail.problem for trail in here)
    return BucketCoverage(bucket, False, recording, missing, partial, "; ".join(reasons), unknown)


def unavailable(here: Sequence[Trail], region: str, base: str) -> list[str]:
    """No trail here; trails whose coverage is unknown; trails that would record writes but are stopped."""
    if not here:
        return [f"no trail logs in {region} (none homed here, no multi-Region or Organization trail)"]
    reasons = [f"trail {t.name}: {t.problem}; its coverage is unknown" for t in here if t.problem]
    for trail in here:
        if trail.problem is None and not trail.logging and trail.records(base).anything:
            reasons.append(f"trail {trail.name} would record its writes but is not logging (StartLogging)")
    return reasons


def not_recorded(
    missing: Sequence[str], together: Recorded, logging: Sequence[Trail], records: dict[str, Recorded], base: str
) -> list[str]:
    """The write events no logging trail records for any key, and why each logging trail records none."""
    nowhere = [event for event in missing if together.extent(event) is Extent.NONE]
    if not nowhere:
        return []
    if not logging:
        return [f"{', '.join(nowhere)}: recorded by no trail that is logging"]
    why = [  # a trail that filters on who writes is named on its own line
        f"trail {t.name}: {t.why_not(base)}"
        for t in logging
        if not records[t.arn].anything and not records[t.arn].uncertain
    ]
    return [f"{', '.join(nowhere)}: recorded by no trail" + (f" ({'; '.join(why)})" if why else "")]


def partial_lines(trail: Trail, recorded: Recorded) -> Iterable[str]:
    """What a trail records of only part of the bucket: "trail T records PutObject for keys starting with 'logs/', not
    the whole bucket"."""
    groups: dict[Keys, list[str]] = {}
    for event in WRITE_EVENTS:
        if recorded.extent(event) is Extent.PART:
            groups.setdefault(recorded.keys[event], []).append(event)
    for keys, events in groups.items():
        yield f"trail {trail.name} records {', '.join(events)} for {describe(keys)}, not the whole bucket"


@dataclass(frozen=True)
class Coverage:
    """Every in-scope bucket of an account and Region, and the trails read there."""

    region: str
    account: str | None
    scope: str
    trails: tuple[Trail, ...]
    buckets: tuple[BucketCoverage, ...]

    partition: str = "aws"

    @property
    def uncovered(self) -> list[BucketCoverage]:
        return [bucket for bucket in self.buckets if not bucket.covered]

    @property
    def summary(self) -> dict[str, int]:
        """The counts the security account shows per account and Region: in scope, covered, not covered, and of
        those not covered, how many only because a trail could not be read."""
        uncovered = self.uncovered
        return {
            "inScope": len(self.buckets),
            "covered": len(self.buckets) - len(uncovered),
            "uncovered": len(uncovered),
            "unknown": sum(1 for bucket in uncovered if bucket.unknown),
        }

    @property
    def suggestion(self) -> dict[str, Any] | None:
        """An advanced event selector that records the writes of every uncovered bucket, for a trail that logs here
        (PutEventSelectors replaces a trail's selectors: add it to those it has). Within MAX_ADVANCED_VALUES it names
        the buckets (StartsWith arn:...:s3:::bucket/); above, it records every bucket's writes."""
        if not self.uncovered:
            return None
        fixed = [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": [S3_OBJECT]},
            {"Field": "eventName", "Equals": list(WRITE_EVENTS)},
        ]
        values = [object_base(self.partition, bucket.bucket) for bucket in self.uncovered]
        if sum(len(f["Equals"]) for f in fixed) + len(values) <= MAX_ADVANCED_VALUES:
            fixed.append({"Field": "resources.ARN", "StartsWith": values})
        return {"Name": "dsse-remediation: S3 object writes", "FieldSelectors": fixed}

    def answer(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "scope": self.scope,
            "writeEvents": list(WRITE_EVENTS),
            "trails": [trail.answer(self.region) for trail in self.trails],
            "buckets": [bucket.answer() for bucket in self.buckets],
            "uncovered": len(self.uncovered),
            "summary": self.summary,
            "suggestedSelector": self.suggestion,
        }


def coverage(
    buckets: Iterable[str], trails: Sequence[Trail], region: str, partition: str, account: str | None, scope: str
) -> Coverage:
    assessed = tuple(assess(bucket, trails, region, partition) for bucket in sorted(buckets))
    return Coverage(region, account, scope, tuple(trails), assessed, partition)
