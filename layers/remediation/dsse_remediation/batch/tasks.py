"""S3 Batch Operations tasks: each task is one object, remediated exactly as the event path does it.

A job (LambdaInvoke, invocation schema 2.0) sends one task per invocation; the answer holds one result per task:

- `Succeeded` for every expected outcome: remediated, compliant, would-remediate (dry run, alert-only), gone,
  out-of-scope, and unremediable objects (SSE-C, archived, noncurrent version, annotations above the multipart
  threshold, an SSE-KMS source under a key of its own that the role may not use: Failure.SOURCE_KEY). A job fails
  once more than 50% of its tasks fail after 1,000 tasks, so a bucket full of compliant, SSE-C or undecryptable
  objects must not look like a failure: the result string names the outcome instead.
- `TemporaryFailure` for what a retry can fix (throttling, a service fault or timeout, a newer write that kept
  racing the copy, a copy not started or stopped between parts, its upload aborted, because the invocation's time was
  running out: deadline.py): Batch Operations redrives it before the job ends. An object too large for any
  invocation is `unremediable` (Succeeded), its result string naming the `dsse-remediate fix` command that can copy it.
- `PermanentFailure` for the rest, among them the environment problems that would fail every task alike (access
  denied, the DSSE key unusable): the 50% rule then stops a misconfigured job early instead of billing every object.
  Only such job-wide conditions may stop a job; a condition of one object never does.

The result string is "<outcome>: <reason>" (the completion report's ResultMessage), so the job's summary counts
outcomes from the report alone. No per-object alert is published for batch work: the job's summary alert lists the
objects that failed or are unremediable (completion.py).
https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, unquote_plus

from ..deadline import NO_DEADLINE, Deadline
from ..exceptions import InvalidEvent, InvalidRequest
from ..model import Failure, ObjectRequest, ObjectResult, Outcome, Source, Trigger, truncate
from ..remediation import ObjectRemediator
from .requests import CAMPAIGN_RULES, is_campaign

log = logging.getLogger(__name__)

RESULT_STRING_LIMIT = 1000  # the report's ResultMessage column; keep a row readable
ARGUMENTS = {"dryRun": "'true' or 'false'", "campaign": f"a label for the job's logs and summary ({CAMPAIGN_RULES})"}
BATCH_ACTOR = "batchoperations.s3.amazonaws.com"


class ResultCode(StrEnum):
    SUCCEEDED = "Succeeded"
    TEMPORARY_FAILURE = "TemporaryFailure"
    PERMANENT_FAILURE = "PermanentFailure"


@dataclass(frozen=True)
class JobArguments:
    """The job's UserArguments: string values only (the CreateJob model), at most 10 of them."""

    dry_run: bool = False
    campaign: str | None = None


@dataclass(frozen=True)
class BatchTask:
    task_id: str
    bucket: str
    s3_key: str  # as Batch Operations sent it: URL-encoded
    version_id: str | None = None
    problem: str | None = None  # why this task cannot be read (answered PermanentFailure, nothing called)


@dataclass(frozen=True)
class BatchInvocation:
    schema_version: str
    invocation_id: str
    job_id: str
    tasks: tuple[BatchTask, ...]
    arguments: JobArguments
    arguments_problem: str | None = None  # bad UserArguments fail every task of the job, before any call


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    code: ResultCode
    text: str
    result: ObjectResult | None = None


def parse_arguments(raw: object) -> JobArguments:
    """UserArguments → JobArguments, or InvalidRequest naming what is wrong (unknown names are refused: a typo such
    as "dryrun" must not turn a dry run into a remediation)."""
    if raw is None:
        return JobArguments()
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise InvalidRequest("job.userArguments must be an object of strings")
    unknown = sorted(set(raw) - set(ARGUMENTS))
    if unknown:
        known = ", ".join(f"{name} ({what})" for name, what in ARGUMENTS.items())
        raise InvalidRequest(f"unknown job.userArguments {unknown}: this function takes {known}")
    dry_run = raw.get("dryRun", "false").strip().lower()
    if dry_run not in ("true", "false"):
        raise InvalidRequest(f"job.userArguments.dryRun must be 'true' or 'false', got {raw['dryRun']!r}")
    campaign = raw.get("campaign")
    if campaign is not None and not is_campaign(campaign):
        raise InvalidRequest(f"job.userArguments.campaign must be {CAMPAIGN_RULES}")
    return JobArguments(dry_run=dry_run == "true", campaign=campaign)


def result_code(result: ObjectResult) -> ResultCode:
    """What Batch Operations should do with the task: see the module docstring."""
    if result.outcome is Outcome.FAILED:
        retry = result.failure is not None and (result.failure.retryable or result.failure is Failure.RACE)
        return ResultCode.TEMPORARY_FAILURE if retry else ResultCode.PERMANENT_FAILURE
    if result.outcome is Outcome.UNREMEDIABLE and result.failure in (Failure.DENIED, Failure.KEY_UNUSABLE):
        return ResultCode.PERMANENT_FAILURE
    if result.outcome is Outcome.HELD:  # a job is one bucket, and the gate holds it: the whole job should stop
        return ResultCode.PERMANENT_FAILURE
    return ResultCode.SUCCEEDED


def result_string(result: ObjectResult) -> str:
    return truncate(f"{result.outcome.value}: {result.reason}", RESULT_STRING_LIMIT)


class BatchTasks:
    """Runs a job's tasks through the object remediation; per-object alerts are left to the job's summary."""

    def __init__(self, objects: ObjectRemediator) -> None:
        self.objects = objects

    def run(self, invocation: BatchInvocation, deadline: Deadline = NO_DEADLINE) -> list[TaskResult]:
        """Each task's result; a task the deadline leaves no time for is a TemporaryFailure, not started."""
        return [self.run_task(invocation, task, deadline) for task in invocation.tasks]

    def run_task(self, invocation: BatchInvocation, task: BatchTask, deadline: Deadline = NO_DEADLINE) -> TaskResult:
        problem = invocation.arguments_problem or task.problem
        if problem:
            return TaskResult(
                task.task_id, ResultCode.PERMANENT_FAILURE, f"invalid task: {problem}"[:RESULT_STRING_LIMIT]
            )
        try:
            result = self.objects.handle(self.request(invocation, task), alert=False, deadline=deadline)
        except InvalidRequest as exc:  # a key S3 cannot hold, a bad bucket name: nothing was called
            return TaskResult(task.task_id, ResultCode.PERMANENT_FAILURE, f"invalid task: {exc}"[:RESULT_STRING_LIMIT])
        return TaskResult(task.task_id, result_code(result), result_string(result), result)

    @staticmethod
    def request(invocation: BatchInvocation, task: BatchTask) -> ObjectRequest:
        """Keys arrive URL-encoded; which decoding is not certain (a literal '+' versus an encoded space), so the
        object is looked up decoded with unquote_plus, then with unquote, then as sent, as the event path does."""
        keys = tuple(dict.fromkeys((unquote_plus(task.s3_key), unquote(task.s3_key), task.s3_key)))
        trigger = Trigger(
            source=Source.BATCH,
            event_name=f"BatchOperations:{invocation.arguments.campaign}" if invocation.arguments.campaign else None,
            event_id=invocation.job_id,
            actor=BATCH_ACTOR,
        )
        return ObjectRequest(
            bucket=task.bucket,
            keys=keys,
            version_id=task.version_id,
            dry_run=invocation.arguments.dry_run,
            trigger=trigger,
        )


def parse_batch_invocation(event: Any) -> BatchInvocation:
    """An S3 Batch Operations LambdaInvoke payload. The envelope must be right (else InvalidEvent: there is no task
    to answer); a task or UserArguments that cannot be read is answered PermanentFailure, task by task.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html"""
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"expected an S3 Batch Operations invocation (a JSON object), got {type(event).__name__}")
    version, invocation_id, job, tasks = (
        event.get(name) for name in ("invocationSchemaVersion", "invocationId", "job", "tasks")
    )
    if version not in ("1.0", "2.0") or not isinstance(invocation_id, str) or not invocation_id:
        raise InvalidEvent(
            "not an S3 Batch Operations invocation: expected invocationSchemaVersion '2.0' (or '1.0'), "
            "invocationId, job {id, userArguments} and tasks [{taskId, s3Bucket, s3Key, s3VersionId}]"
        )
    if not isinstance(job, Mapping) or not isinstance(job.get("id"), str):
        raise InvalidEvent("S3 Batch Operations invocation without job.id")
    if not isinstance(tasks, list) or not tasks:
        raise InvalidEvent("S3 Batch Operations invocation without tasks")
    arguments, problem = JobArguments(), None
    try:
        arguments = parse_arguments(job.get("userArguments"))
    except InvalidRequest as exc:
        problem = str(exc)
    return BatchInvocation(
        schema_version=version,
        invocation_id=invocation_id,
        job_id=job["id"],
        tasks=tuple(_batch_task(task, index) for index, task in enumerate(tasks)),
        arguments=arguments,
        arguments_problem=problem,
    )


def _batch_task(task: Any, index: int) -> BatchTask:
    if not isinstance(task, Mapping) or not isinstance(task.get("taskId"), str):
        # No taskId, nothing to answer it with: Batch Operations treats missing results as treatMissingKeysAs.
        return BatchTask(task_id=f"missing-task-id-{index}", bucket="", s3_key="", problem="task without a taskId")
    task_id = task["taskId"]
    bucket = task.get("s3Bucket")
    arn = task.get("s3BucketArn")  # schema 1.0
    if bucket is None and isinstance(arn, str) and arn.startswith("arn:") and ":::" in arn:
        bucket = arn.split(":::", 1)[1]
    key, version = task.get("s3Key"), task.get("s3VersionId")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        return BatchTask(task_id, "", "", problem="task without a string s3Bucket (or s3BucketArn) and s3Key")
    if version is not None and not isinstance(version, str):
        return BatchTask(task_id, bucket, key, problem="task whose s3VersionId is not a string or null")
    return BatchTask(task_id, bucket, key, version or None)
