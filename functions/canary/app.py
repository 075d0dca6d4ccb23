"""Canary handler: one tick of the canary (dsse_remediation/canary.py), on the CanarySchedule schedule.

Accepts {"canary": {}} (the EventBridge Scheduler schedule, or by hand): judges the canary objects earlier ticks wrote
(CanaryLatency when one became DSSE-KMS in time, CanaryMissed and one high alert when one did not within the SLO, a
heartbeat to the security account for each that passed), then writes the next one. Answers {"canary": {"bucket",
"checked": [...], "written", "writtenEncryption"}}; anything else answers {"error": {...}, "results": []} and changes
nothing. An S3 call the canary could not make raises, so the tick counts as the function's error (alarmed); the next
tick picks up what this one left.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.canary import parse_canary_event
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.reporting import HandlerFailed, powertools
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
app = App.from_env(on_alert_error=report.alert_failed)
canary = app.canary  # built at cold start: its bucket and key read, the S3 client created


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        parse_canary_event(event)
    except InvalidRequest as exc:
        return report.invalid(exc)
    try:
        tick = canary.tick()
    except AwsFailure as exc:
        metrics.add_metric(name="AwsFailure", unit=MetricUnit.Count, value=1)
        raise HandlerFailed(f"canary: {type(exc).__name__}: {exc}") from exc
    report.canary(tick)
    return {"canary": tick.answer()}
