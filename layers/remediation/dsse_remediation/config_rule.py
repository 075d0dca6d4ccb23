"""The AWS Config custom rule: each in-scope bucket is COMPLIANT when its default encryption is DSSE-KMS under the key
and its latest posture is 100 % DSSE under the key, so conformance packs and Audit Manager see it beside the managed
rules.

AWS Config invokes the rule's function (a custom Lambda rule) with an event whose `invokingEvent` says why: a
configuration change of one bucket (ConfigurationItemChangeNotification, or OversizedConfigurationItemChangeNotification
with the item's summary), or the rule's period (ScheduledNotification: every bucket of the account in the Region is
evaluated); the function answers with PutEvaluations and the event's `resultToken`
(https://docs.aws.amazon.com/config/latest/developerguide/evaluate-config_develop-rules_lambda-functions.html,
https://docs.aws.amazon.com/config/latest/developerguide/evaluate-config_develop-rules_example-events.html).
PutEvaluations takes at most 100 evaluations a call, and ComplianceType COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE
("AWS Config does not support the INSUFFICIENT_DATA value" for an Evaluation,
https://docs.aws.amazon.com/config/latest/APIReference/API_Evaluation.html); an Annotation holds at most 256 characters.

Per bucket:
- outside the stack's scope, deleted (configurationItemStatus ResourceDeleted / ResourceDeletedNotRecorded), or
  `eventLeftScope`: NOT_APPLICABLE;
- default encryption not DSSE-KMS under the bucket's key (or Bucket Key on): NON_COMPLIANT, naming what it is;
- no posture measured for it (the stack's scheduled posture writes `posture/latest.json` to the report bucket), or one
  older than `max_age`: NON_COMPLIANT — an unmeasured bucket is not shown compliant;
- posture below 100 % of objects or bytes: NON_COMPLIANT with the share and what is left;
- otherwise COMPLIANT, with the inventory date the posture reflects.

Read-only but for PutEvaluations (Config's own store): the rule writes nothing to a bucket or an object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from .buckets import is_dsse
from .exceptions import AwsFailure, InvalidRequest
from .model import Clock, Failure, utc_now

if TYPE_CHECKING:
    from .config import Settings

BUCKET_TYPE = "AWS::S3::Bucket"
MAX_ANNOTATION = 256
MAX_EVALUATIONS = 100  # per PutEvaluations call
POSTURE_KEY = "posture/latest.json"  # in the report bucket: the scheduled posture's latest document (posture/v1)
DELETED = ("ResourceDeleted", "ResourceDeletedNotRecorded")
CHANGE_TYPES = ("ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification")


class Compliance(StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


@dataclass(frozen=True)
class RuleRequest:
    """What Config asks: every bucket (`bucket` None, its period) or one bucket's change."""

    result_token: str
    ordering: datetime  # when Config captured the item or sent the notification: the evaluation's OrderingTimestamp
    bucket: str | None = None
    gone: bool = False  # the bucket was deleted, or it left the rule's scope
    test_mode: bool = False  # PutEvaluations TestMode: nothing is recorded (a hand-run check)


@dataclass(frozen=True)
class Evaluation:
    bucket: str
    compliance: Compliance
    annotation: str
    ordering: datetime

    def answer(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "compliance": self.compliance.value, "annotation": self.annotation}


def parse_config_event(event: Any) -> RuleRequest:
    """A Config rule invocation, as the Config Developer Guide shows it; anything else is InvalidRequest."""
    if not isinstance(event, Mapping):
        raise InvalidRequest("not an AWS Config rule event: expected a JSON object with invokingEvent and resultToken")
    token, invoking = event.get("resultToken"), event.get("invokingEvent")
    if not isinstance(token, str) or not token or not isinstance(invoking, str):
        raise InvalidRequest("not an AWS Config rule event: resultToken and invokingEvent (a JSON string) required")
    try:
        message = json.loads(invoking)
    except ValueError:
        raise InvalidRequest("invokingEvent is not JSON") from None
    if not isinstance(message, Mapping):
        raise InvalidRequest("invokingEvent is not a JSON object")
    kind = message.get("messageType")
    test_mode = event.get("testMode") is True
    if kind == "ScheduledNotification":
        return RuleRequest(token, _time(message.get("notificationCreationTime")), test_mode=test_mode)
    if kind not in CHANGE_TYPES:
        raise InvalidRequest(f"messageType {kind!r}: the rule evaluates bucket changes and its period only")
    item = message.get("configurationItem") or message.get("configurationItemSummary")
    if not isinstance(item, Mapping):
        raise InvalidRequest(f"{kind} without a configuration item")
    if item.get("resourceType") != BUCKET_TYPE:
        raise InvalidRequest(f"resourceType {item.get('resourceType')!r}: the rule evaluates {BUCKET_TYPE} only")
    bucket = item.get("resourceName") or item.get("resourceId")
    if not isinstance(bucket, str) or not bucket:
        raise InvalidRequest("the configuration item names no bucket")
    gone = item.get("configurationItemStatus") in DELETED or event.get("eventLeftScope") is True
    return RuleRequest(token, _time(item.get("configurationItemCaptureTime")), bucket, gone, test_mode)


def _time(value: Any) -> datetime:
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidRequest(f"not a time with its zone: {value!r}")
    return at


class Buckets(Protocol):
    def owned_buckets(self, region: str | None = None) -> list[tuple[str, str | None]]: ...

    def bucket_encryption(self, bucket: str) -> Any: ...


class Postures(Protocol):
    def read_json(self, bucket: str, key: str) -> Any: ...


class Evaluations(Protocol):
    def put(self, token: str, evaluations: list[Evaluation], test_mode: bool) -> list[str]: ...


class KeyArns(Protocol):
    def arn(self, key: str) -> str: ...


@dataclass(frozen=True)
class RuleRun:
    request: RuleRequest
    evaluations: tuple[Evaluation, ...]
    failed: tuple[str, ...] = ()  # what Config refused (FailedEvaluations), or why a bucket could not be read
    posture_at: str | None = None

    def answer(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for evaluation in self.evaluations:
            counts[evaluation.compliance.value] = counts.get(evaluation.compliance.value, 0) + 1
        return {
            "bucket": self.request.bucket,
            "testMode": self.request.test_mode,
            "postureGeneratedAt": self.posture_at,
            "counts": counts,
            "evaluations": [evaluation.answer() for evaluation in self.evaluations],
            "failed": list(self.failed),
        }


class BucketRule:
    def __init__(
        self,
        settings: Settings,
        buckets: Buckets,
        postures: Postures,
        evaluations: Evaluations,
        keys: KeyArns,
        clock: Clock = utc_now,
        max_age: timedelta = timedelta(days=8),
    ) -> None:
        self.settings = settings
        self.buckets = buckets
        self.postures = postures
        self.evaluations = evaluations
        self.keys = keys
        self.clock = clock
        self.max_age = max_age

    def run(self, request: RuleRequest) -> RuleRun:
        posture, generated = self._posture()
        names = [request.bucket] if request.bucket else self._every_bucket()
        evaluations = []
        problems = []
        for name in names:
            try:
                evaluations.append(self.evaluate(name, request, posture, generated))
            except AwsFailure as exc:  # one unreadable bucket is named; the others are still evaluated
                problems.append(f"{name}: {exc}")
        failed = []
        for start in range(0, len(evaluations), MAX_EVALUATIONS):
            batch = evaluations[start : start + MAX_EVALUATIONS]
            failed += self.evaluations.put(request.result_token, batch, request.test_mode)
        at = generated.isoformat() if generated else None
        return RuleRun(request, tuple(evaluations), tuple(problems + failed), at)

    def _every_bucket(self) -> list[str]:
        return sorted(name for name, _ in self.buckets.owned_buckets(self.settings.region))

    def _posture(self) -> tuple[dict[str, Mapping[str, Any]], datetime | None]:
        """The latest posture per bucket, and when it was generated; nothing when none was written yet."""
        report = self.settings.batch.report_bucket
        if not report:
            return {}, None
        try:
            document = self.postures.read_json(report, POSTURE_KEY)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:
                return {}, None
            raise
        except ValueError:
            return {}, None
        if not isinstance(document, Mapping):
            return {}, None
        generated = document.get("generatedAt")
        try:
            at = datetime.fromisoformat(generated) if isinstance(generated, str) else None
        except ValueError:
            at = None
        entries = document.get("buckets")
        by_bucket = {
            entry["bucket"]: entry
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, Mapping) and isinstance(entry.get("bucket"), str)
        }
        return by_bucket, at

    def evaluate(
        self, bucket: str, request: RuleRequest, posture: Mapping[str, Mapping[str, Any]], generated: datetime | None
    ) -> Evaluation:
        compliance, annotation = self._judge(bucket, request, posture.get(bucket), generated)
        return Evaluation(bucket, compliance, annotation[:MAX_ANNOTATION], request.ordering)

    def _judge(
        self, bucket: str, request: RuleRequest, entry: Mapping[str, Any] | None, generated: datetime | None
    ) -> tuple[Compliance, str]:
        if request.gone:
            return Compliance.NOT_APPLICABLE, "the bucket was deleted or left the rule's scope"
        if not self.settings.scope.contains(bucket) or bucket == self.settings.batch.report_bucket:
            return Compliance.NOT_APPLICABLE, f"outside the stack's scope ({self.settings.scope.describe()})"
        key_arn = self.keys.arn(self.settings.key_for(bucket))
        default = self.buckets.bucket_encryption(bucket)
        if not is_dsse(default, key_arn):
            return Compliance.NON_COMPLIANT, f"default encryption is {default}, not DSSE-KMS under {key_arn}"
        return self._posture_of(entry, generated)

    def _posture_of(self, entry: Mapping[str, Any] | None, generated: datetime | None) -> tuple[Compliance, str]:
        if entry is None or generated is None:
            return (
                Compliance.NON_COMPLIANT,
                "default DSSE-KMS under the key; no posture measured for its objects yet (the stack's scheduled "
                "posture needs an S3 Inventory with EncryptionStatus)",
            )
        age = self.clock() - generated
        if age > self.max_age:
            return (
                Compliance.NON_COMPLIANT,
                f"default DSSE-KMS under the key; its latest posture is {age.days} days old ({generated:%Y-%m-%d})",
            )
        if entry.get("error"):
            return Compliance.NON_COMPLIANT, f"posture could not be measured: {entry['error']}"
        share = entry.get("percentDsseUnderKey") or {}
        objects, size = share.get("objects"), share.get("bytes")
        source = entry.get("source") or {}
        as_of = source.get("inventoryDate") or generated.isoformat()
        left = not_dsse(entry)
        if left == (0, 0) and objects == 100 and size == 100:
            return Compliance.COMPLIANT, f"default DSSE-KMS under the key; 100 % of its objects as of {as_of}"
        return (
            Compliance.NON_COMPLIANT,
            f"{_percent(size)} of bytes and {_percent(objects)} of objects DSSE-KMS under the key as of {as_of}; "
            f"{left[0]} object(s), {left[1]} byte(s) left",
        )


def not_dsse(entry: Mapping[str, Any]) -> tuple[int, int]:
    """Objects and bytes of a posture entry (current and noncurrent) that are not DSSE under the key."""
    objects = size = 0
    for part in ("current", "noncurrent"):
        counts = entry.get(part) or {}
        objects += _sum_but_key(counts.get("objects"))
        size += _sum_but_key(counts.get("bytes"))
    return objects, size


def _sum_but_key(counts: Any) -> int:
    if not isinstance(counts, Mapping):
        return 0
    return sum(value for state, value in counts.items() if state != "dsse-key" and isinstance(value, int))


def _percent(value: Any) -> str:
    """Rounded down: 99.996 % never reads 100 %."""
    if not isinstance(value, int | float):
        return "an unknown share"
    return f"{int(value * 100) / 100:g} %"


def evaluation_requests(evaluations: Iterable[Evaluation]) -> list[dict[str, Any]]:
    """PutEvaluations' Evaluations for these."""
    return [
        {
            "ComplianceResourceType": BUCKET_TYPE,
            "ComplianceResourceId": evaluation.bucket,
            "ComplianceType": evaluation.compliance.value,
            "Annotation": evaluation.annotation,
            "OrderingTimestamp": evaluation.ordering,
        }
        for evaluation in evaluations
    ]
