"""The bucket sweep: after a bucket's default is reset, every object already in it is queued for the object function.

A sweep never runs in one long invocation that a timeout could cut short. It is a chain of small steps carried by the
object queue: the bucket function queues the first step; each step lists one page (at most 1,000 keys) from its
continuation token, queues one object task per key (SendMessageBatch) and then the next step. The object function
runs the steps and the tasks under the queue's concurrency limit, retries and DLQ (alarmed). A failed step is retried
from its own token: keys it had already queued are queued again, and remediation is idempotent (a compliant object
costs one HeadObject). A sweep stops at SWEEP_MAX_OBJECTS and says so in a high-severity alert naming where it
stopped: larger buckets are for the backfill on S3 Batch Operations (`dsse-remediate backfill`, batch/backfill.py).

Queue messages (JSON bodies), read back by `triggers.parse_object_event`:
    object task: {"sweep": {"id": <sweep id>, "bucket": <bucket>, "key": <key>}}
    step:        {"sweep": {"id": <sweep id>, "bucket": <bucket>, "continuationToken": <token or null>, "queued": n}}
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC
from typing import TYPE_CHECKING, Any

from .alerts import Alerts
from .config import Mode, Settings
from .exceptions import AwsFailure
from .model import BucketResult, Clock, Failure, Outcome, Source, SweepStep, Trigger, utc_now
from .scope import require_bucket_name

if TYPE_CHECKING:  # every event path imports this module (triggers reads sweep messages); few run a sweep
    from .aws.s3_buckets import BucketStore
    from .aws.sqs import QueueSender

log = logging.getLogger(__name__)

PAGE = 1000  # ListObjectsV2's largest page
SWEEP = Source.SWEEP.value  # the key of a sweep's queue messages


class AlertNotDelivered(Exception):
    """An alert a human must read could not be published: the step fails, so its delivery is retried."""


def task_message(step: SweepStep, key: str) -> dict[str, Any]:
    return {SWEEP: {"id": step.sweep_id, "bucket": step.bucket, "key": key}}


def step_message(step: SweepStep) -> dict[str, Any]:
    return {
        SWEEP: {
            "id": step.sweep_id,
            "bucket": step.bucket,
            "continuationToken": step.continuation_token,
            "queued": step.queued,
        }
    }


def sweep_trigger(sweep_id: str) -> Trigger:
    """The trigger of a sweep's object tasks: event-driven (a failure is retried), alerts only when a human must act."""
    return Trigger(source=Source.SWEEP, event_name="BucketSweep", event_id=sweep_id)


class Sweeper:
    def __init__(
        self, settings: Settings, s3: BucketStore, queue: QueueSender, alerts: Alerts, clock: Clock = utc_now
    ) -> None:
        self.clock = clock
        self.settings = settings
        self.s3 = s3
        self.queue = queue
        self.alerts = alerts

    def start(self, bucket: str, trigger: Trigger) -> dict[str, Any]:
        """Queue the first step (one SendMessage); the bucket function does nothing else for the sweep."""
        sweep_id = f"{self.clock().astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"
        self.queue.send(step_message(SweepStep(bucket, sweep_id)))
        log.info("sweep queued", extra={"bucket": bucket, "sweep_id": sweep_id, "event_id": trigger.event_id})
        return {
            "id": sweep_id,
            "status": "queued",
            "maxObjects": self.settings.sweep_max_objects,
            "how": "the object function lists the bucket page by page and remediates each object; objects it "
            "cannot fix are alerted one by one",
        }

    def step(self, step: SweepStep) -> dict[str, Any]:
        """List one page, queue its objects, queue the next step (or stop at the limit, loudly)."""
        require_bucket_name(step.bucket)
        if self.settings.mode is Mode.ALERT_ONLY:  # a step left on the queue from before a switch to alert-only
            return {"id": step.sweep_id, "bucket": step.bucket, "status": "not continued: alert-only mode"}
        if not self.settings.scope.contains(step.bucket):
            return {"id": step.sweep_id, "bucket": step.bucket, "status": "out-of-scope"}
        room = max(self.settings.sweep_max_objects - step.queued, 1)
        try:
            keys, token = self.s3.list_page(step.bucket, step.continuation_token, min(PAGE, room))
        except AwsFailure as exc:
            if exc.failure is not Failure.GONE:
                raise  # retried by the queue, then dead-lettered (alarmed) with the step that failed
            return {"id": step.sweep_id, "bucket": step.bucket, "status": "the bucket was deleted"}
        self.queue.send_batch([task_message(step, key) for key in keys])
        queued = step.queued + len(keys)
        progress = {"id": step.sweep_id, "bucket": step.bucket, "listed": len(keys), "queued": queued}
        if token and queued < self.settings.sweep_max_objects:
            self.queue.send(step_message(SweepStep(step.bucket, step.sweep_id, token, queued)))
            return progress | {"status": "listing"}
        if token:
            self._stopped(step, queued, keys[-1] if keys else None)
            return progress | {"status": "stopped at SWEEP_MAX_OBJECTS"}
        log.info("sweep listed the whole bucket", extra=progress)
        return progress | {"status": "listed"}

    def _stopped(self, step: SweepStep, queued: int, last_key: str | None) -> None:
        after = f" after the key {last_key!r}" if last_key else ""
        reason = (
            f"the sweep {step.sweep_id} queued {queued} objects (SWEEP_MAX_OBJECTS) and stopped: the objects{after} "
            f"were not looked at and may not be DSSE-KMS. Backfill this bucket on S3 Batch Operations: "
            f"`dsse-remediate backfill s3://{step.bucket} --stack <stack> --wait` (README, Backfill), or raise "
            "SWEEP_MAX_OBJECTS (up to 1,000,000) and reset the bucket's default again"
        )
        result = BucketResult(
            bucket=step.bucket,
            outcome=Outcome.UNREMEDIABLE,
            reason=reason,
            sweep={"id": step.sweep_id, "queued": queued},
            trigger=sweep_trigger(step.sweep_id),
        )
        if error := self.alerts.send(result):
            raise AlertNotDelivered(error)
