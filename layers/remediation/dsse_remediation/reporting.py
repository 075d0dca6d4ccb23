"""What the handlers share: one EMF metric per outcome, one log line per result, the error answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from .model import ObjectResult, Outcome, Result, answer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import S3BatchOperationResponse

    from .batch.tasks import TaskResult
    from .canary import Tick

METRIC_NAMES = {outcome: outcome.value.title().replace("-", "") for outcome in Outcome}  # e.g. WouldRemediate


class HandlerFailed(Exception):
    """An event-driven resource failed: raised so Lambda retries it (SQS redrive, async retries) into a DLQ.

    Manual invocations get their answer instead.
    """


class Reporter:
    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self.logger = logger
        self.metrics = metrics

    def alert_failed(self, exc: Exception) -> None:
        """Each failure to deliver what the App reports (its `on_alert_error`), counted by kind: AlertPublishFailed
        (SNS), AlertForwardFailed (the event for the security account), FindingImportFailed (Security Hub). The kind
        is the exception's `metric` (alerts.ForwardFailed, findings.FindingImportFailed)."""
        name = str(getattr(exc, "metric", "AlertPublishFailed"))
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    def result(self, outcome: Outcome, message: str, **fields: Any) -> None:
        self.metrics.add_metric(name=METRIC_NAMES[outcome], unit=MetricUnit.Count, value=1)
        self.logger.info(message, outcome=outcome.value, **fields)

    def latency(self, result: ObjectResult) -> None:
        """RemediationLatency: seconds from a remediated object's write (its event's time) to its remediation, the
        metric whose p50/p90/p99 the dashboard shows beside EventBridge's own ingestion-to-invocation latency."""
        if result.latency_seconds is not None:
            self.metrics.add_metric(name="RemediationLatency", unit=MetricUnit.Seconds, value=result.latency_seconds)

    def canary(self, tick: Tick) -> None:
        """One tick of the canary: each object it judged (a log line; CanaryLatency and CanaryMissed 0 when it passed,
        CanaryMissed 1 when it missed its SLO, nothing while it is pending) and the object it wrote."""
        for probe in tick.probes:
            self.logger.info("canary judged", **probe.answer())
            if probe.passed and probe.latency_seconds is not None:
                self.metrics.add_metric(name="CanaryLatency", unit=MetricUnit.Seconds, value=probe.latency_seconds)
            if probe.passed or probe.missed:
                self.metrics.add_metric(name="CanaryMissed", unit=MetricUnit.Count, value=1 if probe.missed else 0)
        self.logger.info("canary written", key=tick.written, encryption=str(tick.written_encryption))

    def sweep_step(self, progress: dict[str, Any]) -> dict[str, Any]:
        """One step of a bucket sweep: how many objects it queued (a metric), where the sweep stands (a log line)."""
        self.metrics.add_metric(name="SweepObjectsQueued", unit=MetricUnit.Count, value=progress.get("listed", 0))
        self.logger.info("sweep step", **progress)
        return progress

    def task(self, done: TaskResult) -> None:
        """One Batch Operations task: its outcome's metric and log line, and a metric per failure result code."""
        if done.code.value != "Succeeded":
            self.metrics.add_metric(name=f"BatchTask{done.code.value}", unit=MetricUnit.Count, value=1)
        if done.result is None:
            self.logger.warning("batch task refused, nothing changed", task_id=done.task_id, result=done.text)
            return
        r = done.result
        self.logger.append_keys(bucket=r.bucket, key=r.key)
        fields = {"task_id": done.task_id, "result_code": done.code.value, "action": r.action.value}
        self.result(r.outcome, "batch task evaluated", reason=r.reason, **fields)

    @staticmethod
    def batch_response(response: S3BatchOperationResponse) -> dict[str, Any]:
        """The invocation's answer. Batch Operations sends one task per invocation, which is all Powertools' asdict()
        accepts; an invocation with several tasks gets the same shape with a result for each."""
        if len(response.results) == 1:
            return dict(response.asdict())
        return {
            "invocationSchemaVersion": response.invocation_schema_version,
            "treatMissingKeysAs": response.treat_missing_keys_as,
            "invocationId": response.invocation_id,
            "results": [record.asdict() for record in response.results],
        }

    def ignored(self, reason: str) -> dict[str, Any]:
        self.logger.info("event ignored", reason=reason)
        self.metrics.add_metric(name="Ignored", unit=MetricUnit.Count, value=1)
        return {"results": [], "ignored": reason}

    def invalid(self, exc: Exception) -> dict[str, Any]:
        self.logger.warning("invalid payload, nothing changed", error=str(exc))
        self.metrics.add_metric(name="InvalidEvent", unit=MetricUnit.Count, value=1)
        return {"error": {"type": type(exc).__name__, "message": str(exc)}, "results": []}

    @staticmethod
    def finish(results: Sequence[Result]) -> dict[str, Any]:
        """The answer; but event-driven work that failed, or whose required alert was not delivered, raises instead,
        so its delivery is retried (SQS redrive, async retries) into a DLQ. A manual call always gets its answer."""
        problems = [r.reason if r.outcome is Outcome.FAILED else r.alert_error for r in results]
        problems = [p for r, p in zip(results, problems, strict=True) if r.outcome is Outcome.FAILED or r.alert_error]
        if problems and any(not r.trigger.manual for r in results):
            raise HandlerFailed(f"{len(problems)} resource(s) failed, to be retried: {problems[0]}")
        return {"results": [answer(r) for r in results]}


def powertools() -> tuple[Logger, Metrics, Tracer, Reporter]:
    """Each handler's Logger (library logs as JSON too), Metrics, Tracer (AWS calls only: patching every library
    costs cold start) and Reporter."""
    logger = Logger()
    copy_config_to_registered_loggers(source_logger=logger, include={"dsse_remediation"})
    metrics = Metrics()
    return logger, metrics, Tracer(patch_modules=("botocore",)), Reporter(logger, metrics)
