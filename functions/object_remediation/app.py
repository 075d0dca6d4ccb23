"""Object remediation handler.

Accepts CloudTrail S3 data events and S3 "Object Created" events from EventBridge, SQS batches of them, and the
manual payload {"bucket", "key", "versionId"?, "dryRun"?}. Answers {"results": [one per object]} (SQS batches:
{"batchItemFailures": [...]}); a malformed payload answers {"error": {...}, "results": []} and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation import service
from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.model import ObjectResult, Outcome
from dsse_remediation.triggers import correlation_id, parse_object_event

logger = Logger()
copy_config_to_registered_loggers(source_logger=logger, include={"dsse_remediation"})  # library logs: JSON too
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))  # trace AWS calls only: patching every library costs cold start
processor = BatchProcessor(event_type=EventType.SQS)
remediator = service.object_remediator(
    on_alert_error=lambda _exc: metrics.add_metric(name="AlertPublishFailed", unit=MetricUnit.Count, value=1)
)
METRIC_NAMES = {outcome: outcome.value.title().replace("-", "") for outcome in Outcome}  # e.g. WouldRemediate


class RemediationFailed(Exception):
    """An event-driven object failed: raised so Lambda retries it (SQS redrive, async retries) and it ends in a DLQ.

    Manual invocations get their answer instead.
    """


def remediate(event: Any) -> dict[str, Any]:
    parsed = parse_object_event(event)
    results: list[ObjectResult] = []
    for request in parsed.requests:
        logger.append_keys(bucket=request.bucket, key=request.key)
        result = remediator.handle(request)
        metrics.add_metric(name=METRIC_NAMES[result.outcome], unit=MetricUnit.Count, value=1)
        logger.info("object evaluated", outcome=result.outcome.value, reason=result.reason, action=result.action)
        results.append(result)
    answer: dict[str, Any] = {"results": [r.to_dict() for r in results]}
    if parsed.ignored:
        logger.info("event ignored", reason=parsed.ignored)
        metrics.add_metric(name="Ignored", unit=MetricUnit.Count, value=1)
        answer["ignored"] = parsed.ignored
    failed = [r for r in results if r.outcome is Outcome.FAILED and r.trigger.source != "manual"]
    if failed:
        raise RemediationFailed(f"{len(failed)} object(s) failed, to be retried: {failed[0].reason}")
    return answer


def record_handler(record: SQSRecord) -> None:
    event = record.json_body
    logger.set_correlation_id(correlation_id(event) or record.message_id)
    remediate(event)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _is_sqs_batch(event):
        batch = process_partial_response(event, record_handler, processor, context)
        return dict(batch)
    logger.set_correlation_id(correlation_id(event))
    try:
        return remediate(event)
    except InvalidRequest as exc:
        logger.warning("invalid payload, nothing changed", error=str(exc))
        metrics.add_metric(name="InvalidEvent", unit=MetricUnit.Count, value=1)
        return {"error": {"type": type(exc).__name__, "message": str(exc)}, "results": []}


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        bool(records)
        and isinstance(records, list)
        and isinstance(records[0], dict)
        and (records[0].get("eventSource") == "aws:sqs")
    )
