"""Object remediation handler.

Accepts CloudTrail S3 data events and S3 "Object Created" events from EventBridge, SQS batches of them, and the
manual payload {"bucket", "key", "versionId"?, "dryRun"?}. Answers {"results": [one per object]} (SQS batches:
{"batchItemFailures": [...]}); a malformed payload answers {"error": {...}, "results": []} and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation import service
from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.model import Outcome
from dsse_remediation.reporting import powertools
from dsse_remediation.triggers import correlation_id, parse_object_event

logger, metrics, tracer, report = powertools()
processor = BatchProcessor(event_type=EventType.SQS)
remediator = service.object_remediator(on_alert_error=report.alert_failed)


def remediate(event: Any) -> dict[str, Any]:
    parsed = parse_object_event(event)
    if parsed.ignored:
        return report.ignored(parsed.ignored)
    results = []
    for request in parsed.requests:
        logger.append_keys(bucket=request.bucket, key=request.key)
        result = remediator.handle(request)
        report.result(result.outcome, "object evaluated", reason=result.reason, action=result.action)
        results.append(result)
    failed = [r.reason for r in results if r.outcome is Outcome.FAILED]
    report.raise_if_failed(failed, event_driven=any(r.trigger.source != "manual" for r in results))
    return {"results": [r.to_dict() for r in results]}


def record_handler(record: SQSRecord) -> None:
    event = record.json_body
    logger.set_correlation_id(correlation_id(event) or record.message_id)
    remediate(event)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _is_sqs_batch(event):
        return dict(process_partial_response(event, record_handler, processor, context))
    logger.set_correlation_id(correlation_id(event))
    try:
        return remediate(event)
    except InvalidRequest as exc:
        return report.invalid(exc)


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        bool(records)
        and isinstance(records, list)
        and isinstance(records[0], dict)
        and (records[0].get("eventSource") == "aws:sqs")
    )
