"""KMS key guard handler.

Accepts CloudTrail KMS events (DisableKey, ScheduleKeyDeletion, PutKeyPolicy, DisableKeyRotation,
DeleteImportedKeyMaterial, UpdateAlias, DeleteAlias) from EventBridge, and the manual payload {"keyArn", "dryRun"?}
that reports a key's state. Events on a configured DSSE key raise a critical alert (and, opt-in, are reverted);
events on other keys are ignored. Answers {"results": [one result]}; a malformed payload answers
{"error": {...}, "results": []} and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.reporting import powertools
from dsse_remediation.triggers import correlation_id, parse_key_event
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
app = App.from_env(on_alert_error=report.alert_failed)
guard = app.key_guard


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event))
    try:
        parsed = parse_key_event(event)
    except InvalidRequest as exc:
        return report.invalid(exc)
    if parsed.ignored:
        return report.ignored(parsed.ignored)
    [key_event] = parsed.requests
    result = guard.handle(key_event)
    logger.append_keys(key_arn=result.key_arn)
    report.result(result.outcome, "key event evaluated", event_name=result.event_name, reason=result.reason)
    return report.finish([result])
