"""Bucket remediation handler.

Accepts CloudTrail CreateBucket, PutBucketEncryption and DeleteBucketEncryption events from EventBridge, and the
manual payload {"bucket", "dryRun"?}. Reads the bucket's default encryption and resets it to DSSE-KMS under the
configured key when it is anything else. Answers {"results": [one result]}; a malformed payload answers
{"error": {...}, "results": []} and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.reporting import powertools
from dsse_remediation.triggers import correlation_id, parse_bucket_event
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
app = App.from_env(on_alert_error=report.alert_failed)
remediator = app.buckets


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event))
    try:
        parsed = parse_bucket_event(event)
        if parsed.ignored:
            return report.ignored(parsed.ignored)
        [request] = parsed.requests
        logger.append_keys(bucket=request.bucket)
        result = remediator.handle(request)
    except InvalidRequest as exc:
        return report.invalid(exc)
    report.result(result.outcome, "bucket evaluated", reason=result.reason, sweep=result.sweep)
    return report.finish([result])
