"""Batch jobs handler: the summary of each S3 Batch Operations job this stack started, and the scheduled backstop.

Accepts S3 Batch Operations JobStatusChanged events (EventBridge, via CloudTrail; the rule forwards Complete, Failed
and Cancelled) → one summary alert per job of this stack; {"backstop": {"dryRun"?}} (the EventBridge Scheduler
schedule, or by hand) → backstop jobs only for buckets with candidates; {"job": "<id>", "alert"?} → one job's summary;
{"coverage": {}} (the CoverageSchedule) or a trail change (StopLogging, DeleteTrail, PutEventSelectors, UpdateTrail,
routed from the default bus) → the coverage report (coverage_check.py), the metric UncoveredBuckets and, when a bucket
is uncovered, one alert naming each (high on schedule, critical after a trail change); answers {"coverage": {...}};
{"posture": {}} (the PostureSchedule) → each in-scope bucket's posture from its S3 Inventory (posture_run.py): the
posture/v1 document and its HTML in the report bucket, metrics PercentDsseUnderKey and BytesNotDsse per bucket
(dimension Bucket), the summary forwarded to the security account; answers {"posture": {...}}.
Answers {"results": [summary]} or {"backstop": {...}} (every bucket's action and reason, and `staleInventories`: the
S3 Inventory configurations whose reports stopped, alerted once per run); anything else answers {"error": {...},
"results": []} and changes nothing. A summary or a backstop run whose alert was lost, an AWS error and a backstop
bucket that failed raise, so the event is retried (then the DLQ, alarmed); the backstop's jobs are idempotent
(ClientRequestToken) and its record follows them.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from dsse_remediation.batch.events import (
    BackstopRequest,
    CoverageRequest,
    JobStatusChange,
    PostureRequest,
    SummaryRequest,
    parse_batch_jobs_event,
)
from dsse_remediation.deadline import Deadline
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.reporting import HandlerFailed, powertools
from dsse_remediation.triggers import correlation_id
from dsse_remediation.wiring import App

logger, metrics, tracer, report = powertools()
app = App.from_env(on_alert_error=report.alert_failed)


def job_ended(request: JobStatusChange) -> dict[str, Any]:
    logger.append_keys(job_id=request.job_id)
    summary = app.completions.on_status_change(request.job_id, request.status, request.trigger)
    if summary is None:
        return report.ignored(f"job {request.job_id} ({request.status}): not final, or not started by this stack")
    report.result(summary.outcome, "job summarised", reason=summary.reason, report=summary.report_location)
    if summary.alert_error:
        raise HandlerFailed(f"job {request.job_id}: {summary.alert_error}")
    return {"results": [summary.answer()]}


def job_summary(request: SummaryRequest) -> dict[str, Any]:
    try:
        summary = app.completions.summarize(request.job_id)
    except AwsFailure as exc:  # a person asked: the answer says what AWS refused
        metrics.add_metric(name="AwsFailure", unit=MetricUnit.Count, value=1)
        return {"error": {"type": "AwsFailure", "message": str(exc)}, "results": []}
    summary = app.completions.alert(summary) if request.alert else summary
    report.result(summary.outcome, "job summarised", reason=summary.reason, report=summary.report_location)
    return {"results": [summary.answer()]}


def backstop(request: BackstopRequest) -> dict[str, Any]:
    run = app.backstop.run(dry_run=request.dry_run)
    for bucket in run.buckets:
        logger.info("backstop", bucket=bucket.bucket, action=bucket.action.value, reason=bucket.reason)
    metrics.add_metric(name="BackstopJobsStarted", unit=MetricUnit.Count, value=len(run.job_ids))
    if run.failed:
        first = run.failed[0]
        raise HandlerFailed(f"backstop: {len(run.failed)} bucket(s) failed, first {first.bucket}: {first.reason}")
    if run.alert_error:
        raise HandlerFailed(f"backstop: {len(run.stale_inventories)} stale S3 Inventory(ies): {run.alert_error}")
    return {"backstop": run.answer()}


def coverage(request: CoverageRequest) -> dict[str, Any]:
    run = app.coverage_check.run(request)
    metrics.add_metric(name="UncoveredBuckets", unit=MetricUnit.Count, value=len(run.report.uncovered))
    for bucket in run.report.uncovered:
        logger.warning("uncovered", bucket=bucket.bucket, reason=bucket.reason)
    # A lost heartbeat (every bucket covered) is counted (AlertForwardFailed, alarmed) as the canary's is: no retry.
    if run.alert_error and run.report.uncovered:
        raise HandlerFailed(f"coverage: {len(run.report.uncovered)} uncovered bucket(s): {run.alert_error}")
    return {"coverage": run.answer()}


def posture(context: LambdaContext) -> dict[str, Any]:
    run = app.posture.run(Deadline.of(context), context.invoked_function_arn, context.memory_limit_in_mb)
    # One metric set per bucket and figure (its own Bucket dimension), flushed at once: the function's other metrics
    # share the service dimension only.
    for figure in run.figures:
        with single_metric(
            name="PercentDsseUnderKey", unit=MetricUnit.Percent, value=figure.percent_bytes, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="Bucket", value=figure.bucket)
        with single_metric(
            name="BytesNotDsse", unit=MetricUnit.Bytes, value=figure.bytes_not_dsse, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="Bucket", value=figure.bucket)
    unmeasured = [entry for entry in run.document["buckets"] if entry["error"]]
    for entry in unmeasured:
        logger.warning("posture not measured", bucket=entry["bucket"], reason=entry["error"])
    metrics.add_metric(name="PostureUnmeasuredBuckets", unit=MetricUnit.Count, value=len(unmeasured))
    # A lost summary is counted (AlertForwardFailed, alarmed), not retried: the document is written.
    return {"posture": run.answer()}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event))
    try:
        request = parse_batch_jobs_event(event)
        if isinstance(request, JobStatusChange):
            return job_ended(request)
        if isinstance(request, BackstopRequest):
            return backstop(request)
        if isinstance(request, CoverageRequest):
            return coverage(request)
        if isinstance(request, PostureRequest):
            return posture(context)
        return job_summary(request)
    except InvalidRequest as exc:
        return report.invalid(exc)
    except AwsFailure as exc:  # event-driven: retried, then the DLQ
        metrics.add_metric(name="AwsFailure", unit=MetricUnit.Count, value=1)
        raise HandlerFailed(f"{type(exc).__name__}: {exc}") from exc
