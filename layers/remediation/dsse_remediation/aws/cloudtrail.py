"""CloudTrail reads for `dsse-remediate coverage`: the trails that apply in a Region, whether each is logging, and its
event selectors (basic or advanced). Read-only.

Why it matters: the object path acts on CloudTrail data events that EventBridge receives ("AWS API Call via
CloudTrail"), and EventBridge receives the data events that a trail logs: no trail logging a bucket's object writes,
no event, no remediation until the backstop. Nothing beyond the trail is to configure: the events a trail logs "are
available in Amazon EventBridge" (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html).
Even then, EventBridge delivers events that come from CloudTrail on a best-effort basis, unlike S3's own guaranteed
ones (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-delivery-level.html): coverage is
necessary, not sufficient, and the backstop stays.

- DescribeTrails with includeShadowTrails=True (the default, sent anyway): this Region's trails, the multi-Region
  trails homed in other Regions and the Organization trails of the account's organization, which appear here as
  "shadow trails" (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DescribeTrails.html).
- GetTrailStatus, by the trail's ARN ("To get the status of a shadow trail ... you must specify its ARN"; "If the
  trail is an organization trail and you are a member account ... you must provide the full ARN",
  API_GetTrailStatus.html), in the trail's home Region.
- GetEventSelectors, by the trail's ARN in its home Region: outside it CloudTrail answers TrailNotFoundException for
  a shadow trail (https://github.com/aws/aws-sdk-go-v2/issues/1957). No page documents that a member account may read
  an Organization trail's selectors; if CloudTrail refuses, the trail's coverage is reported unknown, not guessed.

A trail whose status or selectors cannot be read is kept with the reason (one refusal does not hide the others);
DescribeTrails failing is an AwsFailure for the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..coverage.report import Trail
from ..coverage.selectors import parse_selectors
from ..exceptions import AwsFailure
from . import errors


class TrailReader:
    """`client(region)`: a CloudTrail client in that Region (the trails' home Regions may differ from `region`)."""

    def __init__(self, client: Callable[[str], Any], region: str) -> None:
        self._client = client
        self._region = region

    @errors.translated
    def described(self) -> list[Mapping[str, Any]]:
        """DescribeTrails in this Region, shadow trails included (it has no pagination)."""
        answer = self._client(self._region).describe_trails(includeShadowTrails=True)
        trails: list[Mapping[str, Any]] = answer.get("trailList", [])
        return trails

    def trails(self) -> list[Trail]:
        """Every trail DescribeTrails names here, each with its status and selectors, by name."""
        return sorted((self.read(entry) for entry in self.described()), key=lambda trail: (trail.name, trail.arn))

    def read(self, entry: Mapping[str, Any]) -> Trail:
        arn = str(entry.get("TrailARN", ""))
        home = str(entry.get("HomeRegion") or arn.split(":")[3])
        trail = Trail(
            name=str(entry.get("Name", arn.rsplit("/", 1)[-1])),
            arn=arn,
            home_region=home,
            multi_region=bool(entry.get("IsMultiRegionTrail")),
            organization=bool(entry.get("IsOrganizationTrail")),
        )
        try:
            logging = self.is_logging(arn, home)
        except AwsFailure as exc:
            return replace(trail, problem=f"GetTrailStatus failed ({exc})")
        try:
            selectors = parse_selectors(self.event_selectors(arn, home))
        except AwsFailure as exc:
            return replace(trail, logging=logging, problem=f"GetEventSelectors failed ({exc})")
        return replace(trail, logging=logging, selectors=selectors)

    @errors.translated
    def is_logging(self, arn: str, home: str) -> bool:
        return bool(self._client(home).get_trail_status(Name=arn).get("IsLogging"))

    @errors.translated
    def event_selectors(self, arn: str, home: str) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = self._client(home).get_event_selectors(TrailName=arn)
        return answer
