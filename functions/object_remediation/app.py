"""Object remediation handler.

Accepts CloudTrail S3 data events and S3 "Object Created" / "Object Restore Completed" events from EventBridge, a
bucket sweep's messages, SQS batches of them, and the manual payload {"bucket", "key", "versionId"?, "dryRun"?}.
Answers {"results": [one per object]} (SQS batches: {"batchItemFailures": [...]}); a malformed payload answers
{"error": {...}, "results": []} and changes nothing.

The invocation's remaining time (less a safety margin) bounds the work (dsse_remediation/deadline.py): a copy that
cannot finish in it is not started or is stopped between parts, its upload aborted, and fails to be retried; an SQS
batch takes no new record once the time is up, and reports the records it did not start as batch item failures.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.deadline import NO_DEADLINE, Deadline
from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.reporting import HandlerFailed, powertools
from dsse_remediation.triggers import correlation_id, parse_object_event, sqs_records
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
processor = BatchProcessor(event_type=EventType.SQS)
app = App.from_env(on_alert_error=report.alert_failed)
remediator = app.objects  # built at cold start: the key resolved, the S3 client created
sweeper = app.sweeper


def remediate(event: Any, deadline: Deadline = NO_DEADLINE) -> dict[str, Any]:
    parsed = parse_object_event(event)
    if parsed.ignored:
        return report.ignored(parsed.ignored)
    if parsed.steps:
        if sweeper is None:
            return report.ignored("a sweep step, but the sweep is off (SWEEP_AFTER_BUCKET_RESET, OBJECT_QUEUE_URL)")
        return {"results": [], "sweep": [report.sweep_step(sweeper.step(step)) for step in parsed.steps]}
    results = []
    for request in parsed.requests:
        logger.append_keys(bucket=request.bucket, key=request.key)
        result = remediator.handle(request, deadline=deadline)
        report.result(
            result.outcome,
            "object evaluated",
            reason=result.reason,
            action=result.action.value,
            latency_seconds=result.latency_seconds,
        )
        report.latency(result)
        results.append(result)
    return report.finish(results)


def record_handler(record: SQSRecord, deadline: Deadline = NO_DEADLINE) -> None:
    """One record; none is started once the time is up: its failure returns it to the queue untouched."""
    if deadline.expired():
        logger.warning("record not started: the invocation's time is up", message_id=record.message_id)
        raise HandlerFailed(f"not started: the invocation's time is up; record {record.message_id} is redelivered")
    event = record.json_body
    logger.set_correlation_id(correlation_id(event) or record.message_id)
    remediate(event, deadline)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = Deadline.of(context)
    batch = sqs_records(event)
    if batch is not None:
        handle = partial(record_handler, deadline=deadline)
        return dict(process_partial_response(batch, handle, processor, context))
    logger.set_correlation_id(correlation_id(event))
    try:
        return remediate(event, deadline)
    except InvalidRequest as exc:
        return report.invalid(exc)
