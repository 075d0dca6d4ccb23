"""Object remediation handler.

Accepts CloudTrail S3 data events and S3 "Object Created" / "Object Restore Completed" events from EventBridge, a
bucket sweep's messages, SQS batches of them, and the manual payload {"bucket", "key", "versionId"?, "dryRun"?}.
Answers {"results": [one per object]} (SQS batches: {"batchItemFailures": [...]}); a malformed payload answers
{"error": {...}, "results": []} and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.reporting import powertools
from dsse_remediation.triggers import correlation_id, parse_object_event, sqs_records
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
processor = BatchProcessor(event_type=EventType.SQS)
app = App.from_env(on_alert_error=report.alert_failed)
remediator = app.objects  # built at cold start: the key resolved, the S3 client created
sweeper = app.sweeper


def remediate(event: Any) -> dict[str, Any]:
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
        result = remediator.handle(request)
        report.result(result.outcome, "object evaluated", reason=result.reason, action=result.action.value)
        results.append(result)
    return report.finish(results)


def record_handler(record: SQSRecord) -> None:
    event = record.json_body
    logger.set_correlation_id(correlation_id(event) or record.message_id)
    remediate(event)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = sqs_records(event)
    if batch is not None:
        return dict(process_partial_response(batch, record_handler, processor, context))
    logger.set_correlation_id(correlation_id(event))
    try:
        return remediate(event)
    except InvalidRequest as exc:
        return report.invalid(exc)
