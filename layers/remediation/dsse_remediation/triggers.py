"""Lambda event shapes → ObjectRequests. The one module of the library that knows Lambda payloads.

Accepted (see events/ for a sample of each):
- EventBridge "AWS API Call via CloudTrail" S3 data events: PutObject, CopyObject, CompleteMultipartUpload.
  Failed calls (errorCode) are ignored. The key is tried as logged, then `unquote_plus`-decoded on 404.
- EventBridge "Object Created" events sent by S3: the key is URL-encoded; tried decoded, then as delivered.
- The manual payload {"bucket": "...", "key": "...", "versionId": "optional", "dryRun": false}.
SQS batches are unwrapped by the handler; each body is one of the EventBridge events above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.event_bridge_event import EventBridgeEvent

from .exceptions import InvalidEvent
from .model import ObjectRequest, Trigger

OBJECT_WRITES = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})
CLOUDTRAIL = "AWS API Call via CloudTrail"
OBJECT_CREATED = "Object Created"
MANUAL_FIELDS = {"bucket": str, "key": str, "versionId": str, "dryRun": bool}


@dataclass(frozen=True)
class Parsed:
    requests: tuple[ObjectRequest, ...]
    ignored: str | None = None  # why a well-formed event asks for nothing (e.g. the write failed)


def parse_object_event(event: Any) -> Parsed:
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"expected a JSON object, got {type(event).__name__}")
    if "detail-type" in event:
        bridge = EventBridgeEvent(dict(event))
        if bridge.detail_type == CLOUDTRAIL:
            return _cloudtrail(bridge)
        if bridge.detail_type == OBJECT_CREATED and bridge.source == "aws.s3":
            return _object_created(bridge)
        raise InvalidEvent(
            f"unsupported EventBridge event (source {bridge.source!r}, detail-type {bridge.detail_type!r}): "
            f"expected {CLOUDTRAIL!r} S3 data events or S3 {OBJECT_CREATED!r}"
        )
    if "Records" in event:
        raise InvalidEvent("S3 event notifications (Records) are not accepted: route S3 writes through EventBridge")
    return Parsed((manual_request(event),))


def manual_request(payload: Mapping[str, Any]) -> ObjectRequest:
    bucket = payload.get("bucket")
    if isinstance(bucket, str) and (bucket.startswith("s3://") or "/" in bucket):
        raise InvalidEvent(
            f"field 'bucket' must be a bare bucket name, got {bucket!r}: split an s3://bucket/key URI into "
            '{"bucket": "bucket", "key": "key"}'
        )
    unknown = sorted(set(payload) - set(MANUAL_FIELDS))
    if unknown:
        raise InvalidEvent(f"unknown field(s) {unknown}: a manual payload has {_manual_shape()}")
    for name in ("bucket", "key"):
        if name not in payload:
            raise InvalidEvent(f"missing field {name!r}: a manual payload has {_manual_shape()}")
    for name, kind in MANUAL_FIELDS.items():
        if name in payload and not isinstance(payload[name], kind):
            raise InvalidEvent(f"field {name!r} must be a {kind.__name__}, got {type(payload[name]).__name__}")
    return ObjectRequest(
        bucket=payload["bucket"],
        keys=(payload["key"],),
        version_id=payload.get("versionId"),
        dry_run=payload.get("dryRun", False),
    )


def _cloudtrail(bridge: EventBridgeEvent) -> Parsed:
    detail = bridge.detail
    if not isinstance(detail, Mapping) or detail.get("eventSource") != "s3.amazonaws.com":
        raise InvalidEvent("CloudTrail event is not from s3.amazonaws.com (detail.eventSource)")
    name = detail.get("eventName")
    if name not in OBJECT_WRITES:
        raise InvalidEvent(f"CloudTrail eventName {name!r} is not an object write ({', '.join(sorted(OBJECT_WRITES))})")
    if detail.get("errorCode"):
        return Parsed((), ignored=f"{name} failed ({detail['errorCode']}): nothing was written")
    params = detail.get("requestParameters")
    if not isinstance(params, Mapping):
        raise InvalidEvent("CloudTrail event has no detail.requestParameters")
    bucket = params.get("bucketName")
    # The S3-on-Outposts sample in the S3 guide logs "Key": read the key case-insensitively.
    key = next((v for k, v in params.items() if k.lower() == "key"), None)
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise InvalidEvent("CloudTrail event lacks detail.requestParameters.bucketName or .key")
    identity = detail.get("userIdentity")
    if not isinstance(identity, Mapping):
        identity = {}
    trigger = Trigger(
        source="cloudtrail",
        event_name=name,
        event_id=detail.get("eventID"),
        event_time=detail.get("eventTime"),
        actor=identity.get("arn") or identity.get("invokedBy") or identity.get("principalId"),
        source_ip=detail.get("sourceIPAddress"),
    )
    return Parsed((ObjectRequest(bucket=bucket, keys=(key, unquote_plus(key)), trigger=trigger),))


def _object_created(bridge: EventBridgeEvent) -> Parsed:
    detail = bridge.detail
    try:
        bucket = detail["bucket"]["name"]
        raw_key = detail["object"]["key"]
    except (KeyError, TypeError):
        raise InvalidEvent("S3 'Object Created' event lacks detail.bucket.name or detail.object.key") from None
    if not isinstance(bucket, str) or not isinstance(raw_key, str):
        raise InvalidEvent("S3 'Object Created' event has a non-string bucket name or key")
    trigger = Trigger(
        source="s3-notification",
        event_name=detail.get("reason"),
        event_id=bridge.get_id,
        event_time=bridge.time,
        actor=detail.get("requester"),
        source_ip=detail.get("source-ip-address"),
    )
    return Parsed((ObjectRequest(bucket=bucket, keys=(unquote_plus(raw_key), raw_key), trigger=trigger),))


def correlation_id(event: Any) -> str | None:
    """CloudTrail eventID when there is one, else the EventBridge event id."""
    if isinstance(event, Mapping):
        detail = event.get("detail")
        found = detail.get("eventID") if isinstance(detail, Mapping) else None
        found = found if isinstance(found, str) else event.get("id")
        return found if isinstance(found, str) else None
    return None


def _manual_shape() -> str:
    return '{"bucket": "<name>", "key": "<object key>", "versionId": "<optional>", "dryRun": false}'
