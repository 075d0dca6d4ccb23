"""Lambda event shapes → requests. The one module of the library that knows Lambda payloads.

Object handler (see events/ for a sample of each):
- EventBridge "AWS API Call via CloudTrail" S3 data events: PutObject, PostObject, CopyObject,
  CompleteMultipartUpload. Failed calls (errorCode) are ignored. The key is tried as logged, then
  `unquote_plus`-decoded on 404. The bucket owner's account (detail.resources) is kept on the trigger, and whether
  the write set an ACL (`ObjectRequest.write_set_acl`, from the request headers CloudTrail logs).
- EventBridge "Object Created" and "Object Restore Completed" events sent by S3: the key is URL-encoded; tried
  decoded, then as delivered.
- A bucket sweep's messages ({"sweep": {...}}, see sweep.py): an object task, or the next listing step.
- The manual payload {"bucket": "...", "key": "...", "versionId": "optional", "dryRun": false}.
SQS batches are unwrapped by the handler; each body is one of the payloads above.

Bucket handler: CloudTrail CreateBucket, Put/DeleteBucketEncryption, Put/DeleteBucketPolicy;
{"bucket": "...", "dryRun": false}.
Key guard: CloudTrail KMS events (model.KEY_EVENTS); {"keyArn": "...", "dryRun": false}.
(The batch task function's invocations are read by batch.tasks.parse_batch_invocation, the batch jobs function's
payloads by batch.events: neither is on the event paths' cold start.)
Failed calls (errorCode) are ignored everywhere: they changed nothing. Anything else, whatever its JSON type or
shape, is an InvalidEvent with a message saying what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.event_bridge_event import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent

from .config import is_key_arn
from .exceptions import InvalidEvent
from .model import (
    BUCKET_CHANGES,
    KEY_EVENTS,
    OBJECT_WRITES,
    BucketRequest,
    KeyEvent,
    ObjectRequest,
    Parsed,
    Source,
    SweepStep,
    Trigger,
)
from .sweep import SWEEP, sweep_trigger

CLOUDTRAIL = "AWS API Call via CloudTrail"
OBJECT_CREATED = "Object Created"
RESTORE_COMPLETED = "Object Restore Completed"
S3_NOTIFICATIONS = frozenset({OBJECT_CREATED, RESTORE_COMPLETED})
# The request headers that give a new object an ACL, which CloudTrail logs in requestParameters under their header
# names, as it logs x-amz-server-side-encryption (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
# lists them; x-amz-grant-write applies to buckets only). The S3 on Outposts example in the S3 User Guide
# (cloudtrail-logging-understanding-s3-entries) logs a canned ACL as "ObjectCannedACL": "BucketOwnerFullControl":
# that spelling is read too, and every name case-insensitively. A multipart upload's ACL rides on its
# CreateMultipartUpload, so its CompleteMultipartUpload carries none.
ACL_HEADERS = frozenset(
    {"x-amz-acl", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control"}
)
CANNED_ACL_PARAMETERS = frozenset({"x-amz-acl", "objectcannedacl"})
_ACL_PARAMETERS = ACL_HEADERS | CANNED_ACL_PARAMETERS
# The one ACL a bucket with ACLs disabled (BucketOwnerEnforced) still accepts on a write: it proves nothing.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html
_OWNER_FULL_CONTROL = frozenset({"bucket-owner-full-control", "bucketownerfullcontrol"})
MANUAL_FIELDS = {"bucket": str, "key": str, "versionId": str, "dryRun": bool}
MANUAL_BUCKET_FIELDS = {"bucket": str, "dryRun": bool}
MANUAL_KEY_FIELDS = {"keyArn": str, "dryRun": bool}


def parse_object_event(event: Any) -> Parsed[ObjectRequest]:
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"expected a JSON object, got {type(event).__name__}")
    if SWEEP in event:
        return _sweep(event)
    if "detail-type" in event:
        bridge = _bridge(event)
        if bridge.detail_type == CLOUDTRAIL:
            return _cloudtrail(bridge)
        if bridge.detail_type in S3_NOTIFICATIONS and bridge.source == "aws.s3":
            return _s3_notification(S3EventBridgeNotificationEvent(dict(event)))
        raise InvalidEvent(
            f"unsupported EventBridge event (source {bridge.source!r}, detail-type {bridge.detail_type!r}): "
            f"expected {CLOUDTRAIL!r} S3 data events, or S3 {OBJECT_CREATED!r} / {RESTORE_COMPLETED!r}"
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
    _check_manual(payload, MANUAL_FIELDS, ("bucket", "key"))
    return ObjectRequest(
        bucket=payload["bucket"],
        keys=(payload["key"],),
        version_id=payload.get("versionId"),
        dry_run=payload.get("dryRun", False),
    )


def _cloudtrail(bridge: EventBridgeEvent) -> Parsed[ObjectRequest]:
    detail, name = _cloudtrail_detail(bridge, "s3.amazonaws.com", OBJECT_WRITES, "an object write")
    if detail.get("errorCode"):
        return Parsed((), ignored=f"{name} failed ({detail['errorCode']}): nothing was written")
    params = request_parameters(detail)
    bucket = params.get("bucketName")
    # The S3-on-Outposts sample in the S3 guide logs "Key": read the key case-insensitively.
    key = next((v for k, v in params.items() if k.lower() == "key"), None)
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise InvalidEvent("CloudTrail event lacks detail.requestParameters.bucketName or .key")
    request = ObjectRequest(
        bucket=bucket,
        keys=(key, unquote_plus(key)),
        trigger=cloudtrail_trigger(detail),
        write_set_acl=_sets_acl(params),
    )
    return Parsed((request,))


def _sets_acl(params: Mapping[str, Any]) -> bool:
    """Whether the logged request gave the object an ACL that S3 takes only while the bucket has ACLs enabled: any
    canned ACL but bucket-owner-full-control, any x-amz-grant-* header (a grant of full control to the bucket owner
    too: the event does not say who owns the bucket, and reading the ownership again costs one call)."""
    for name, value in params.items():
        header = name.lower() if isinstance(name, str) else ""
        if header not in _ACL_PARAMETERS:
            continue
        # CloudTrail logs some request parameters as lists of values (e.g. "host": ["..."]).
        values = [v.strip().lower() for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
        values = [v for v in values if v]
        if header in CANNED_ACL_PARAMETERS:
            values = [v for v in values if v not in _OWNER_FULL_CONTROL]
        if values:
            return True
    return False


def parse_bucket_event(event: Any) -> Parsed[BucketRequest]:
    if _is_manual(event, MANUAL_BUCKET_FIELDS, "bucket"):
        return Parsed((BucketRequest(bucket=event["bucket"], dry_run=event.get("dryRun", False)),))
    detail, name = management_event(event, "s3.amazonaws.com", BUCKET_CHANGES, "a bucket encryption change")
    if detail.get("errorCode"):
        return Parsed(ignored=f"{name} failed ({detail['errorCode']}): nothing changed")
    params = request_parameters(detail)
    bucket = params.get("bucketName")
    if not isinstance(bucket, str) or not bucket:
        raise InvalidEvent("CloudTrail event lacks detail.requestParameters.bucketName")
    if name == "PutBucketLogging":  # the bucket that receives the logs is the one whose writers change
        status = params.get("BucketLoggingStatus")
        enabled = status.get("LoggingEnabled") if isinstance(status, Mapping) else None
        target = enabled.get("TargetBucket") if isinstance(enabled, Mapping) else None
        if not isinstance(target, str) or not target:
            return Parsed(ignored=f"PutBucketLogging on {bucket} turned its logging off: no bucket receives logs")
        bucket = target
    return Parsed((BucketRequest(bucket=bucket, trigger=cloudtrail_trigger(detail)),))


def parse_key_event(event: Any) -> Parsed[KeyEvent]:
    if _is_manual(event, MANUAL_KEY_FIELDS, "keyArn"):
        if not is_key_arn(event["keyArn"]):
            raise InvalidEvent(
                "field 'keyArn' must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), "
                f"got {event['keyArn']!r}"
            )
        return Parsed((KeyEvent(key_arns=(event["keyArn"],), dry_run=event.get("dryRun", False)),))
    detail, name = management_event(event, "kms.amazonaws.com", KEY_EVENTS, "a guarded KMS change")
    if detail.get("errorCode"):
        return Parsed(ignored=f"{name} failed ({detail['errorCode']}): nothing changed")
    resources = detail.get("resources")
    resources = resources if isinstance(resources, list) else []
    # detail.resources[].ARN is always the key ARN; requestParameters.keyId may be an id, ARN or alias.
    arns = tuple(r["ARN"] for r in resources if isinstance(r, Mapping) and isinstance(r.get("ARN"), str))
    params = request_parameters(detail)
    response = detail.get("responseElements") if isinstance(detail.get("responseElements"), Mapping) else {}
    alias = params.get("aliasName") if isinstance(params.get("aliasName"), str) else None
    key_event = KeyEvent(
        key_arns=arns,
        event_name=name,
        alias_name=alias,
        request=dict(params),
        response=dict(response or {}),
        trigger=cloudtrail_trigger(detail),
    )
    return Parsed((key_event,))


def _is_manual(event: Any, fields: Mapping[str, type], required: str) -> bool:
    """True for a valid manual payload, False for an EventBridge event; InvalidEvent for anything else."""
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"expected a JSON object, got {type(event).__name__}")
    if "detail-type" in event:
        return False
    _check_manual(event, fields, (required,))
    return True


def _bridge(event: Mapping[str, Any]) -> EventBridgeEvent:
    """The EventBridge envelope, checked before Powertools reads it (its properties index the dict directly)."""
    for name in ("source", "detail-type"):
        if not isinstance(event.get(name), str):
            raise InvalidEvent(f"EventBridge event without a string {name!r}: expected an EventBridge event")
    if not isinstance(event.get("detail"), Mapping):
        raise InvalidEvent("EventBridge event without a 'detail' object")
    for name in ("id", "time"):
        if name in event and not isinstance(event[name], str | None):
            raise InvalidEvent(f"EventBridge event whose {name!r} is not a string")
    return EventBridgeEvent(dict(event))


def management_event(
    event: Mapping[str, Any], source: str, names: frozenset[str], what: str
) -> tuple[Mapping[str, Any], str]:
    bridge = _bridge(event)
    if bridge.detail_type != CLOUDTRAIL:
        raise InvalidEvent(
            f"unsupported EventBridge event (detail-type {bridge.detail_type!r}): expected {CLOUDTRAIL!r}"
        )
    return _cloudtrail_detail(bridge, source, names, what)


def _cloudtrail_detail(
    bridge: EventBridgeEvent, source: str, names: frozenset[str], what: str
) -> tuple[Mapping[str, Any], str]:
    detail = bridge.detail
    if not isinstance(detail, Mapping) or detail.get("eventSource") != source:
        raise InvalidEvent(f"CloudTrail event is not from {source} (detail.eventSource)")
    name = detail.get("eventName")
    if not isinstance(name, str) or name not in names:
        raise InvalidEvent(f"CloudTrail eventName {name!r} is not {what} ({', '.join(sorted(names))})")
    return detail, name


def request_parameters(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    params = detail.get("requestParameters")
    if not isinstance(params, Mapping):
        raise InvalidEvent("CloudTrail event has no detail.requestParameters")
    return params


def cloudtrail_trigger(detail: Mapping[str, Any]) -> Trigger:
    """Who did what, when, from where: a CloudTrail event's fields kept for attribution (alerts, findings)."""
    identity = detail.get("userIdentity")
    if not isinstance(identity, Mapping):
        identity = {}
    return Trigger(
        source=Source.CLOUDTRAIL,
        event_name=_text(detail.get("eventName")),
        event_id=_text(detail.get("eventID")),
        event_time=_text(detail.get("eventTime")),
        actor=_text(identity.get("arn") or identity.get("invokedBy") or identity.get("principalId")),
        source_ip=_text(detail.get("sourceIPAddress")),
        bucket_owner=_bucket_owner(detail),
    )


def _bucket_owner(detail: Mapping[str, Any]) -> str | None:
    """The accountId of the AWS::S3::Bucket entry of detail.resources: the bucket owner's account."""
    resources = detail.get("resources")
    for entry in resources if isinstance(resources, list) else []:
        if isinstance(entry, Mapping) and entry.get("type") == "AWS::S3::Bucket":
            owner = entry.get("accountId")
            return owner if isinstance(owner, str) and owner else None
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _check_manual(payload: Mapping[str, Any], fields: Mapping[str, type], required: tuple[str, ...]) -> None:
    shape = "{" + ", ".join(f'"{name}": <{kind.__name__}>' for name, kind in fields.items()) + "}"
    unknown = sorted(set(payload) - set(fields))
    if unknown:
        raise InvalidEvent(f"unknown field(s) {unknown}: a manual payload here is {shape}")
    for name in required:
        if name not in payload:
            raise InvalidEvent(f"missing field {name!r}: a manual payload here is {shape}")
    for name, kind in fields.items():
        if name in payload and not isinstance(payload[name], kind):
            raise InvalidEvent(f"field {name!r} must be a {kind.__name__}, got {type(payload[name]).__name__}")


def _s3_notification(event: S3EventBridgeNotificationEvent) -> Parsed[ObjectRequest]:
    """S3's own "Object Created" / "Object Restore Completed" events (Powertools' data class; same detail shape)."""
    detail = event.detail
    what = event.detail_type
    bucket, raw_key = detail.get("bucket"), detail.get("object")
    if not isinstance(bucket, Mapping) or not isinstance(raw_key, Mapping):
        raise InvalidEvent(f"S3 {what!r} event lacks detail.bucket.name or detail.object.key")
    if not isinstance(bucket.get("name"), str) or not isinstance(raw_key.get("key"), str):
        raise InvalidEvent(f"S3 {what!r} event has a non-string bucket name or key")
    trigger = Trigger(
        source=Source.S3_NOTIFICATION,
        event_name=_text(detail.reason) or what,
        event_id=_text(event.get("id")),
        event_time=_text(event.get("time")),
        actor=_text(detail.get("requester")),
        source_ip=_text(detail.source_ip_address),
    )
    # The key arrives URL-encoded (the data class decodes it): tried decoded, then as delivered.
    keys = (detail.object.key, raw_key["key"])
    return Parsed((ObjectRequest(bucket=detail.bucket.name, keys=keys, trigger=trigger),))


def _sweep(event: Mapping[str, Any]) -> Parsed[ObjectRequest]:
    """A bucket sweep's message (sweep.task_message / sweep.step_message)."""
    body = event[SWEEP]
    if len(event) != 1 or not isinstance(body, Mapping):
        raise InvalidEvent('a sweep message is {"sweep": {"id", "bucket", "key" | "continuationToken", "queued"}}')
    sweep_id, bucket = body.get("id"), body.get("bucket")
    if not isinstance(sweep_id, str) or not sweep_id or not isinstance(bucket, str):
        raise InvalidEvent("a sweep message needs string 'id' and 'bucket'")
    if "key" in body:
        key = body["key"]
        if not isinstance(key, str):
            raise InvalidEvent("a sweep task's 'key' must be a string")
        return Parsed((ObjectRequest(bucket=bucket, keys=(key,), trigger=sweep_trigger(sweep_id)),))
    token, queued = body.get("continuationToken"), body.get("queued", 0)
    if not isinstance(token, str | None) or isinstance(queued, bool) or not isinstance(queued, int) or queued < 0:
        raise InvalidEvent("a sweep step needs a string or null 'continuationToken' and a whole 'queued' >= 0")
    return Parsed((), steps=(SweepStep(bucket=bucket, sweep_id=sweep_id, continuation_token=token, queued=queued),))


def sqs_records(event: Any) -> dict[str, Any] | None:
    """An SQS batch as Lambda delivers it, for Powertools' batch processing; None when `event` is not one.

    Records without a string messageId and body cannot be reported as batch item failures (nor can SQS have sent
    them): they are left out, so one of them cannot fail the good records around it.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        return None
    if not isinstance(records[0], Mapping) or records[0].get("eventSource") != "aws:sqs":
        return None
    usable = [
        r
        for r in records
        if isinstance(r, Mapping) and isinstance(r.get("messageId"), str) and isinstance(r.get("body"), str)
    ]
    return {"Records": usable} if usable else None


def correlation_id(event: Any) -> str | None:
    """CloudTrail eventID when there is one, else the EventBridge event id."""
    if isinstance(event, Mapping):
        detail = event.get("detail")
        found = detail.get("eventID") if isinstance(detail, Mapping) else None
        found = found if isinstance(found, str) else event.get("id")
        return found if isinstance(found, str) else None
    return None
