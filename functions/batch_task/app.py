"""S3 Batch Operations task handler (backfill and backstop jobs).

Invoked by a LambdaInvoke job (invocation schema 2.0, `UserArguments` {"dryRun": "true"|"false", "campaign"}), one
task per invocation; each task is one object, judged and remediated exactly as the event path does it. Answers one
result per task: Succeeded (the outcome in the result string), TemporaryFailure (retry helps) or PermanentFailure
(see dsse_remediation/batch/tasks.py). Anything that is not an invocation answers {"error": {...}, "results": []}.
The invocation's remaining time (less a safety margin) bounds the copy: one that cannot finish in it is not started
or is stopped between parts, its upload aborted, and answered TemporaryFailure (dsse_remediation/deadline.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3BatchOperationResponse, S3BatchOperationResponseRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.batch.tasks import parse_batch_invocation
from dsse_remediation.deadline import Deadline
from dsse_remediation.exceptions import InvalidEvent
from dsse_remediation.reporting import powertools
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
app = App.from_env(on_alert_error=report.alert_failed)
tasks = app.batch_tasks  # built at cold start: the key resolved, the S3 client created


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    deadline = Deadline.of(context)
    try:
        invocation = parse_batch_invocation(event)
    except InvalidEvent as exc:
        return report.invalid(exc)
    logger.append_keys(job_id=invocation.job_id, campaign=invocation.arguments.campaign)
    logger.set_correlation_id(invocation.invocation_id)
    response = S3BatchOperationResponse(invocation.schema_version, invocation.invocation_id, "PermanentFailure")
    for done in tasks.run(invocation, deadline):
        report.task(done)
        response.add_result(S3BatchOperationResponseRecord(done.task_id, done.code.value, done.text))
    return report.batch_response(response)
