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

from dsse_remediation import service
from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.reporting import powertools
from dsse_remediation.triggers import correlation_id, parse_key_event

logger, metrics, tracer, report = powertools()
guard = service.key_guard(on_alert_error=report.alert_failed)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event))
    try:
        key_event, ignored = parse_key_event(event)
    except InvalidRequest as exc:
        return report.invalid(exc)
    if key_event is None:
        return report.ignored(ignored or "")
    result = guard.handle(key_event)
    logger.append_keys(key_arn=result.key_arn)
    report.result(result.outcome, "key event evaluated", event_name=result.event_name, reason=result.reason)
    report.raise_if_failed([result], event_driven=key_event.trigger.event_driven)
    return {"results": [result.to_dict()]}
