"""AWS Config rule handler: the custom Lambda rule <stack name>-bucket-dsse (dsse_remediation/config_rule.py).

AWS Config invokes it on a bucket's configuration change and on the rule's period; it answers Config with
PutEvaluations (COMPLIANT when the bucket's default is DSSE-KMS under the key and its latest posture is 100 %) and the
invocation with {"configRule": {"counts", "evaluations", "failed", ...}}. By hand: the same event with "testMode":
true evaluates and asks PutEvaluations in TestMode, which records nothing. Anything else answers {"error": {...},
"results": []} and changes nothing. An AWS call that fails raises, so Config's invocation counts as the function's error
(alarmed) and the next change or period evaluates again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.config_rule import parse_config_event
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.reporting import HandlerFailed, powertools
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
app = App.from_env(on_alert_error=report.alert_failed)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_config_event(event)
    except InvalidRequest as exc:
        return report.invalid(exc)
    try:
        run = app.bucket_rule.run(request)
    except AwsFailure as exc:
        metrics.add_metric(name="AwsFailure", unit=MetricUnit.Count, value=1)
        raise HandlerFailed(f"config rule: {type(exc).__name__}: {exc}") from exc
    for evaluation in run.evaluations:
        logger.info("evaluated", **evaluation.answer())
    metrics.add_metric(
        name="NonCompliantBuckets", unit=MetricUnit.Count, value=run.answer()["counts"].get("NON_COMPLIANT", 0)
    )
    if run.failed:
        logger.error("evaluations failed", failed=list(run.failed))
        if not request.test_mode:
            raise HandlerFailed(f"config rule: {len(run.failed)} evaluation(s) failed, first {run.failed[0]}")
    return {"configRule": run.answer()}
