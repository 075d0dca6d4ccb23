"""The batch jobs function's payloads → one request. The one module that knows their shapes (triggers.py has the
remediation functions').

- S3 Batch Operations job status changes, which S3 records in CloudTrail and EventBridge delivers as
  "AWS Service Event via CloudTrail" (source aws.s3, detail.eventName JobStatusChanged,
  detail.serviceEventDetails {jobId, jobArn, status, failureCodes, statusChangeReason}).
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-event-bridge-cloud-trail.html
- The backstop, from its EventBridge Scheduler schedule or by hand: {"backstop": {"dryRun"?: bool}}.
- A manual summary of one job: {"job": "<job id>", "alert"?: bool} (no alert unless asked: a person is reading).
- The coverage check, from its EventBridge Scheduler schedule or by hand: {"coverage": {}}.
- The scheduled posture, from its EventBridge Scheduler schedule or by hand: {"posture": {}}.
- A CloudTrail management event that can blind the object path (source aws.cloudtrail, "AWS API Call via CloudTrail",
  eventName in TRAIL_CHANGES, no errorCode): the coverage check at once, naming the event, its actor and the trail.

Anything else, whatever its JSON type or shape, is an InvalidEvent whose message says what was expected; nothing is
read or changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidEvent
from ..model import Source, Trigger
from ..triggers import cloudtrail_trigger, management_event, request_parameters

SERVICE_EVENT = "AWS Service Event via CloudTrail"
JOB_STATUS_CHANGED = "JobStatusChanged"
# s3control's JobId shape: 5 to 36 characters of [a-zA-Z0-9\-\_] (botocore's s3control model).
_JOB_ID = re.compile(r"[a-zA-Z0-9_-]{5,36}", re.ASCII)  # the whole value (fullmatch: `$` passes a trailing newline)
# The calls that stop a trail recording the object writes (or remove it): the coverage is read again at once.
TRAIL_CHANGES = ("StopLogging", "DeleteTrail", "PutEventSelectors", "UpdateTrail")
_EXPECTED = (
    "expected a JobStatusChanged event (EventBridge, source aws.s3), a trail change (source aws.cloudtrail), "
    '{"backstop": {"dryRun": <bool, optional>}}, {"coverage": {}}, {"posture": {}} or {"job": "<job id>", "alert": '
    "<bool, optional>}"
)


@dataclass(frozen=True)
class JobStatusChange:
    """A job reached a status (the rule forwards only Complete, Failed and Cancelled)."""

    job_id: str
    status: str
    trigger: Trigger


@dataclass(frozen=True)
class BackstopRequest:
    dry_run: bool = False


@dataclass(frozen=True)
class SummaryRequest:
    """A person asks how a job went; `alert` also publishes the summary alert."""

    job_id: str
    alert: bool = False


@dataclass(frozen=True)
class CoverageRequest:
    """Check the coverage: on schedule (`trigger` None), or because a trail changed (the event, and the trail's name
    or ARN as the call named it)."""

    trigger: Trigger | None = None
    trail: str | None = None


@dataclass(frozen=True)
class PostureRequest:
    """Measure the posture of the buckets in scope (posture_run.py): on schedule, or by hand."""


BatchJobsRequest = JobStatusChange | BackstopRequest | SummaryRequest | CoverageRequest | PostureRequest


def parse_batch_jobs_event(event: Any) -> BatchJobsRequest:
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"expected a JSON object, got {type(event).__name__}: {_EXPECTED}")
    if "detail-type" in event:
        return _trail_change(event) if event.get("source") == "aws.cloudtrail" else _status_change(event)
    if "backstop" in event:
        return _backstop(event)
    if "coverage" in event:
        if len(event) != 1 or event["coverage"] != {}:
            raise InvalidEvent('a coverage check is {"coverage": {}}')
        return CoverageRequest()
    if "posture" in event:
        if len(event) != 1 or event["posture"] != {}:
            raise InvalidEvent('a posture run is {"posture": {}}')
        return PostureRequest()
    if "job" in event:
        return _summary(event)
    raise InvalidEvent(f"unknown payload with fields {sorted(map(str, event))}: {_EXPECTED}")


def _status_change(event: Mapping[str, Any]) -> JobStatusChange:
    if event.get("source") != "aws.s3" or event.get("detail-type") != SERVICE_EVENT:
        raise InvalidEvent(
            f"unsupported EventBridge event (source {event.get('source')!r}, detail-type "
            f"{event.get('detail-type')!r}): expected {SERVICE_EVENT!r} from aws.s3"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEvent("EventBridge event without a 'detail' object")
    if detail.get("eventSource") != "s3.amazonaws.com" or detail.get("eventName") != JOB_STATUS_CHANGED:
        raise InvalidEvent(
            f"CloudTrail service event {detail.get('eventName')!r} from {detail.get('eventSource')!r} is not "
            f"s3.amazonaws.com {JOB_STATUS_CHANGED}"
        )
    job = detail.get("serviceEventDetails")
    if not isinstance(job, Mapping):
        raise InvalidEvent("JobStatusChanged event without detail.serviceEventDetails")
    job_id, status = job.get("jobId"), job.get("status")
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id) or not isinstance(status, str) or not status:
        raise InvalidEvent("JobStatusChanged event lacks a valid serviceEventDetails.jobId or .status")
    identity = detail.get("userIdentity")
    trigger = Trigger(
        source=Source.BATCH,
        event_name=JOB_STATUS_CHANGED,
        event_id=_text(detail.get("eventID")),
        event_time=_text(detail.get("eventTime")),
        actor=_text(identity.get("invokedBy")) if isinstance(identity, Mapping) else None,
        source_ip=_text(detail.get("sourceIPAddress")),
    )
    return JobStatusChange(job_id=job_id, status=status, trigger=trigger)


def _trail_change(event: Mapping[str, Any]) -> CoverageRequest:
    """A CloudTrail management event of cloudtrail.amazonaws.com, read as the other paths read theirs (triggers.py)."""
    detail, name = management_event(event, "cloudtrail.amazonaws.com", frozenset(TRAIL_CHANGES), "a trail change")
    if detail.get("errorCode") is not None:
        raise InvalidEvent(f"{name} failed ({detail.get('errorCode')}): nothing changed")
    parameters = request_parameters(detail)  # StopLogging, DeleteTrail, UpdateTrail: name; PutEventSelectors: trailName
    trail = _text(parameters.get("name")) or _text(parameters.get("trailName"))
    return CoverageRequest(trigger=cloudtrail_trigger(detail), trail=trail)


def _backstop(event: Mapping[str, Any]) -> BackstopRequest:
    body = event["backstop"]
    shape = '{"backstop": {"dryRun": <bool, optional>}}'
    if len(event) != 1 or not isinstance(body, Mapping):
        raise InvalidEvent(f"a backstop request is {shape}")
    unknown = sorted(set(map(str, body)) - {"dryRun"})
    if unknown:
        raise InvalidEvent(f"unknown field(s) {unknown}: a backstop request is {shape}")
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise InvalidEvent(f"field 'dryRun' must be a bool, got {type(dry_run).__name__}")
    return BackstopRequest(dry_run=dry_run)


def _summary(event: Mapping[str, Any]) -> SummaryRequest:
    shape = '{"job": "<job id>", "alert": <bool, optional>}'
    unknown = sorted(set(map(str, event)) - {"job", "alert"})
    if unknown:
        raise InvalidEvent(f"unknown field(s) {unknown}: a job summary request is {shape}")
    job_id, alert = event["job"], event.get("alert", False)
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise InvalidEvent(f"field 'job' must be a Batch Operations job id (5-36 of a-z A-Z 0-9 - _), got {job_id!r}")
    if not isinstance(alert, bool):
        raise InvalidEvent(f"field 'alert' must be a bool, got {type(alert).__name__}")
    return SummaryRequest(job_id=job_id, alert=alert)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
