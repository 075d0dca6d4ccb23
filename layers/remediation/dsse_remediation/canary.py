"""The canary: proof, on a schedule, that the event path makes a new write DSSE-KMS within its SLO.

A test of the whole chain as it runs in the account (the trail logging the write, CloudTrail delivering it to
EventBridge, the object rule, the queue, the object function, its permissions and the key), not of any one part. The
stack owns its bucket (CANARY_BUCKET, default encryption SSE-S3, in the object path's scope and no other path's:
template.yaml), and the canary writes, reads and deletes only under `canary/` there.

Each tick (the CanarySchedule schedule) runs two phases, so no invocation waits for the event path:

1. Judge every canary object earlier ticks wrote (ListObjectsV2 under `canary/`, one HeadObject each). Its key names
   the second it was written (`canary/20261120T091502Z`).
   - DSSE-KMS under the bucket's key: passed. Its latency is the LastModified of that DSSE version (the event path's
     copy) less the write time, in seconds (metric CanaryLatency); a heartbeat goes to the security account
     (FORWARD_RESULTS: put on the default bus, never published to the topic: no alert noise when it passes). The
     object is deleted: nothing is judged twice.
   - Not yet, and younger than the SLO (CANARY_SLO_SECONDS): pending, judged again at the next tick.
   - Not yet, and as old as the SLO or older: missed (metric CanaryMissed, alarmed) and one high alert (resourceType
     `canary`), also forwarded. The object is deleted once its alert is delivered; an alert that could not be
     delivered leaves it, so the next tick alerts again.
2. Write the next canary object: a small PutObject with no encryption headers, which the bucket's SSE-S3 default
   encrypts, so the event path must remediate it.

A retried or doubled tick judges nothing twice (judged objects are gone) and writes one more object. Objects left by
a tick that stopped, or anything else under the prefix, are expired by the bucket's lifecycle after a day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .alerts import Alerts, Context, TextAlert, envelope, subject
from .aws.kms import KeyRing
from .aws.s3_canary import CanaryObject, CanaryObjects
from .config import CANARY_PREFIX, Settings
from .exceptions import AwsFailure, InvalidEvent
from .model import DSSE, Clock, Encryption, Failure, Outcome, answer, utc_now

log = logging.getLogger(__name__)

KEY_TIME = "%Y%m%dT%H%M%SZ"  # canary/<write time>, to the second: keys sort by it
# Where a missed write can have been lost, in the order the write travels (README: "The canary").
CHECKS = (
    "a trail logs S3 write data events for the canary bucket (CloudTrail GetEventSelectors; a trail whose selectors "
    "name buckets must name it), and is logging (GetTrailStatus)",
    "the object rule (ObjectWritesRule) is enabled, and EventDeliveryDLQ is empty",
    "ObjectEventsQueue delivers to the object function, and ObjectEventsDLQ is empty",
    "the object function's errors and logs (its role, the DSSE key's policy, the key's state)",
)


class ProbeOutcome(StrEnum):
    PASSED = "passed"
    PENDING = "pending"
    MISSED = "missed"


@dataclass(frozen=True, kw_only=True)
class Probe:
    """One canary object judged at a tick."""

    bucket: str
    key: str
    written_at: datetime
    outcome: ProbeOutcome
    reason: str
    age_seconds: float
    slo_seconds: int
    encryption: Encryption
    expected_key_arn: str
    latency_seconds: float | None = None  # passed: from the write to its DSSE-KMS version
    alert_error: str | None = None  # the alert or heartbeat could not be delivered

    @property
    def passed(self) -> bool:
        return self.outcome is ProbeOutcome.PASSED

    @property
    def missed(self) -> bool:
        return self.outcome is ProbeOutcome.MISSED

    def answer(self) -> dict[str, Any]:
        found = {
            "key": self.key,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "writtenAt": self.written_at.isoformat(),
            "ageSeconds": self.age_seconds,
            "latencySeconds": self.latency_seconds,
            "encryption": answer(self.encryption),
        }
        return found | ({"alertError": self.alert_error} if self.alert_error else {})


@dataclass(frozen=True)
class Tick:
    """What one tick did: the objects it judged, and the object it wrote (with the encryption S3 reported for it)."""

    bucket: str
    probes: tuple[Probe, ...]
    written: str
    written_encryption: Encryption

    def answer(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "checked": [probe.answer() for probe in self.probes],
            "written": self.written,
            "writtenEncryption": answer(self.written_encryption),
        }


def parse_canary_event(event: Any) -> None:
    """The one payload: {"canary": {}} (the EventBridge Scheduler schedule, or by hand); else InvalidEvent."""
    if not isinstance(event, Mapping) or set(event) != {"canary"} or event["canary"] != {}:
        raise InvalidEvent('expected {"canary": {}} (the canary schedule\'s payload, events/canary-scheduled.json)')


def canary_key(written_at: datetime) -> str:
    return f"{CANARY_PREFIX}{written_at.astimezone(UTC):{KEY_TIME}}"


def written_at(key: str) -> datetime | None:
    """The write time a canary key names; None for any other key under the prefix (left to the lifecycle)."""
    if not key.startswith(CANARY_PREFIX):
        return None
    try:
        return datetime.strptime(key.removeprefix(CANARY_PREFIX), KEY_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


class Canary:
    """Ticks of the canary; one instance per container."""

    def __init__(
        self, settings: Settings, objects: CanaryObjects, keys: KeyRing, alerts: Alerts, clock: Clock = utc_now
    ) -> None:
        self.slo_seconds = settings.canary.slo_seconds
        self.objects = objects
        self.key_arn = keys.arn(settings.key_for(objects.bucket))
        self.alerts = alerts
        self.clock = clock

    def tick(self) -> Tick:
        """Judge what earlier ticks wrote, then write the next object. AwsFailure when S3 refuses a call (the
        invocation fails: the function's error alarm)."""
        probes = []
        for key in self.objects.listed():
            probe = self._judge(key)
            if probe is not None:
                probes.append(probe)
        now = self.clock().replace(microsecond=0)
        key = canary_key(now)
        body = (
            f"dsse-remediation canary, written {now.isoformat()}: the event path must make it DSSE-KMS within "
            f"{self.slo_seconds} s. Deleted by the canary once judged; expired after a day otherwise.\n"
        )
        encryption = self.objects.write(key, body.encode())
        if encryption.algorithm == DSSE:
            log.warning(
                "the canary's write is already DSSE-KMS: the canary bucket's default encryption is no longer "
                "SSE-S3, so the canary no longer tests the event path",
                extra={"bucket": self.objects.bucket, "key": key},
            )
        return Tick(self.objects.bucket, tuple(probes), key, encryption)

    def _judge(self, key: str) -> Probe | None:
        written = written_at(key)
        if written is None:
            log.info("not a canary object, left to the lifecycle", extra={"key": key})
            return None
        try:
            found = self.objects.head(key)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:  # deleted since the listing (another tick, the lifecycle)
                return None
            raise
        now = self.clock()
        age = round((now - written).total_seconds(), 3)
        if found.encryption == Encryption(DSSE, self.key_arn):
            return self._passed(found, written, age)
        if age < self.slo_seconds:
            reason = f"not DSSE-KMS yet ({found.encryption}) after {age:.0f} s, within the {self.slo_seconds}-s SLO"
            return self._probe(found, written, age, ProbeOutcome.PENDING, reason)
        return self._missed(found, written, age)

    def _passed(self, found: CanaryObject, written: datetime, age: float) -> Probe:
        latency = max(0.0, (found.last_modified - written).total_seconds())
        reason = f"DSSE-KMS under {self.key_arn} {latency:.0f} s after it was written (SLO {self.slo_seconds} s)"
        probe = self._probe(found, written, age, ProbeOutcome.PASSED, reason, latency)
        error = self.alerts.forward(canary_alert(probe, self.alerts.context))  # the heartbeat
        self.objects.delete(found.key)
        return _with_error(probe, error)

    def _missed(self, found: CanaryObject, written: datetime, age: float) -> Probe:
        reason = (
            f"still {found.encryption} {age:.0f} s after it was written: the event path did not make it DSSE-KMS "
            f"under {self.key_arn} within the {self.slo_seconds}-s SLO"
        )
        probe = self._probe(found, written, age, ProbeOutcome.MISSED, reason)
        error = self.alerts.publish(canary_alert(probe, self.alerts.context))
        if error is None:
            self.objects.delete(found.key)  # else kept: the next tick alerts again
        return _with_error(probe, error)

    def _probe(
        self,
        found: CanaryObject,
        written: datetime,
        age: float,
        outcome: ProbeOutcome,
        reason: str,
        latency: float | None = None,
    ) -> Probe:
        return Probe(
            bucket=self.objects.bucket,
            key=found.key,
            written_at=written,
            outcome=outcome,
            reason=reason,
            age_seconds=age,
            slo_seconds=self.slo_seconds,
            encryption=found.encryption,
            expected_key_arn=self.key_arn,
            latency_seconds=latency,
        )


def _with_error(probe: Probe, error: str | None) -> Probe:
    return replace(probe, alert_error=error) if error else probe


def canary_alert(probe: Probe, context: Context) -> TextAlert:
    """A missed probe's alert (outcome failed, severity high), or a passed probe's heartbeat (outcome compliant,
    severity info), in the alert schema: the security account counts both per account and Region, and a member whose
    heartbeats stop shows as silenced."""
    outcome = Outcome.COMPLIANT if probe.passed else Outcome.FAILED
    resource = f"s3://{probe.bucket}/{probe.key}"
    head = envelope(
        context,
        severity=outcome.severity,
        outcome=outcome,
        resource_type="canary",
        resource=resource,
        dry_run=False,
        reason=probe.reason,
    )
    body = {
        **head,
        "bucket": probe.bucket,
        "key": probe.key,
        "writtenAt": probe.written_at.isoformat(),
        "ageSeconds": probe.age_seconds,
        "sloSeconds": probe.slo_seconds,
        "latencySeconds": probe.latency_seconds,
        "encryption": answer(probe.encryption),
        "expectedKmsKeyId": probe.expected_key_arn,
    }
    if probe.passed:
        text = probe.reason
        title = "DSSE-KMS canary passed"
    else:
        checks = [f"  - {check}" for check in CHECKS]
        text = "\n".join([probe.reason + ".", "", "Check, in the order the write travels:", *checks])
        title = "DSSE-KMS canary missed its SLO"
        body["check"] = list(CHECKS)
    attributes = {
        "severity": outcome.severity,
        "outcome": outcome.value,
        "resourceType": "canary",
        "bucket": probe.bucket,
    }
    return TextAlert(subject=subject(title, resource), body=body, attributes=attributes, text=text)
