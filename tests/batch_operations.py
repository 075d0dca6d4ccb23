"""A LOCAL STAND-IN for S3 Batch Operations. It is not AWS and not moto: moto 5.2.5 runs no Batch Operations jobs,
so the demo and the tests play the service's part with this, on whatever fake S3 they use (mock_aws, or the demo's
moto server). It follows the documented behaviour that the product relies on, and nothing more:

- The manifest, as the manifest generator builds it (`ManifestGenerator.S3JobManifestGenerator`): the source
  bucket's current objects are listed and each is read with HeadObject; an object is kept when its encryption is the
  filter's one type (`MatchAnyObjectEncryption`: NOTSSE, SSES3, SSEKMS, DSSEKMS, SSEC, each with an optional
  KmsKeyArn) and its creation time is inside `CreatedAfter` / `CreatedBefore`. Other filter fields are refused
  (NotImplementedError), not ignored. Or a CSV manifest (`S3BatchOperations_CSV_20180820`, `Bucket, Key[, VersionId]`,
  keys URL-encoded), read at its ETag. https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_S3JobManifestGenerator.html
- LambdaInvoke, invocation schema 2.0: one task per invocation, `{invocationSchemaVersion: "2.0", invocationId,
  job {id, userArguments}, tasks [{taskId, s3Bucket, s3Key, s3VersionId}]}`, the key URL-encoded (`quote_plus`,
  '/' kept, as AWS's own sample function decodes it with `unquote_plus`). The answer's one result per task:
  Succeeded; TemporaryFailure is invoked again, at most `max_attempts` times in all, then counts as failed;
  PermanentFailure; a missing result is `treatMissingKeysAs`; a function error fails the task ("Lambda returned
  function error"). https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html
- The failure threshold: once at least 1,000 tasks have run, more than 50% of them failed → the job stops, Failed.
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html
- The completion report (`<Report.Prefix>/job-<id>/manifest.json` and `results/*.csv`, rows of Bucket, Key
  (URL-encoded), VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage), written through the s3control
  double (`S3ControlDouble.finish(report=...)`), which also makes DescribeJob answer the job's final status and
  counters. No report when no task ran (S3 writes one once at least one task was invoked); `ReportScope
  FailedTasksOnly` keeps only failed rows. https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html

Not played: job priorities and concurrency (tasks run one after another, in manifest order), the generated manifest's
own output files (`EnableManifestOutput`), confirmation, pausing and cancelling.

Usage (tests, on mock_aws; the demo, on its moto server — `s3` is then a client of that server):

    double = S3ControlDouble(ACCOUNT_ID, s3=s3)                       # tests/s3control_double.py
    app = App(settings, double.factory(client_factory))                # the product creates jobs on the double
    job_id = app.backfill.start(spec)
    stand_in = BatchOperations(double, s3, task_function.lambda_handler)
    run = stand_in.run(job_id)                     # or stand_in.run_pending(): every job created and not yet run
    run.status, run.succeeded, run.failed          # DescribeJob now answers the same
    batch_jobs.lambda_handler(run.status_event(), context)   # the JobStatusChanged event the completion rule gets
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from botocore.exceptions import ClientError

from tests.lambda_context import LambdaContext
from tests.s3control_double import ReportRow, S3ControlDouble

TaskFunction = Callable[[dict[str, Any], Any], Mapping[str, Any]]  # a Lambda handler: (event, context) -> answer

FAILURE_THRESHOLD_TASKS = 1_000  # "after at least 1,000 tasks have run"
FAILURE_THRESHOLD_RATE = 0.5  # "more than 50% of the tasks failed"
# HeadObject's x-amz-server-side-encryption → the generator's filter type (no header: not encrypted, NOTSSE).
_ENCRYPTION_TYPES = {None: "NOTSSE", "AES256": "SSES3", "aws:kms": "SSEKMS", "aws:kms:dsse": "DSSEKMS"}
_SUPPORTED_FILTERS = frozenset({"MatchAnyObjectEncryption", "CreatedAfter", "CreatedBefore"})


@dataclass(frozen=True)
class Task:
    task_id: str
    bucket: str
    key: str  # URL-encoded, as the task carries it and the report lists it
    version_id: str | None = None


@dataclass(frozen=True)
class TaskRun:
    task: Task
    succeeded: bool
    result_code: str  # Succeeded | TemporaryFailure | PermanentFailure
    result_string: str
    attempts: int


@dataclass(frozen=True)
class JobRun:
    job_id: str
    job_arn: str
    status: str  # Complete | Failed
    tasks: tuple[TaskRun, ...]
    manifest_size: int  # tasks the manifest listed (a failed job may not have run them all)
    invocations: int
    report_manifest_key: str | None
    account_id: str
    region: str
    failure_reasons: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def succeeded(self) -> int:
        return sum(run.succeeded for run in self.tasks)

    @property
    def failed(self) -> int:
        return len(self.tasks) - self.succeeded

    def status_event(self) -> dict[str, Any]:
        """The EventBridge event S3 delivers for the job's final status (CloudTrail JobStatusChanged), as the batch
        jobs function's rule forwards it. https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-event-bridge-cloud-trail.html"""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "AWS Service Event via CloudTrail",
            "source": "aws.s3",
            "account": self.account_id,
            "time": now,
            "region": self.region,
            "resources": [],
            "detail": {
                "eventVersion": "1.05",
                "userIdentity": {"accountId": self.account_id, "invokedBy": "s3.amazonaws.com"},
                "eventTime": now,
                "eventSource": "s3.amazonaws.com",
                "eventName": "JobStatusChanged",
                "awsRegion": self.region,
                "sourceIPAddress": "s3.amazonaws.com",
                "userAgent": "s3.amazonaws.com",
                "requestParameters": None,
                "responseElements": None,
                "eventID": str(uuid.uuid4()),
                "readOnly": False,
                "eventType": "AwsServiceEvent",
                "recipientAccountId": self.account_id,
                "serviceEventDetails": {
                    "jobId": self.job_id,
                    "jobArn": self.job_arn,
                    "status": self.status,
                    "jobEventId": uuid.uuid4().hex,
                    "failureCodes": [code for code, _ in self.failure_reasons],
                    "statusChangeReason": [],
                },
            },
        }


class BatchOperations:
    """Runs the jobs created on an `S3ControlDouble`, invoking `task_function` per task (see the module docstring)."""

    def __init__(
        self,
        double: S3ControlDouble,
        s3: Any,
        task_function: TaskFunction,
        *,
        max_attempts: int = 3,
        context: Any = None,
    ) -> None:
        self.double = double
        self.s3 = s3
        self.task_function = task_function
        self.max_attempts = max_attempts
        self.context = context or LambdaContext(
            function_name="dsse-remediation-BatchTask",
            invoked_function_arn=f"arn:aws:lambda:{double.region}:{double.account_id}:function:dsse-remediation-BatchTask",
        )
        self.done: dict[str, JobRun] = {}

    def run_pending(self) -> list[JobRun]:
        """Every job created on the double and not run yet, in creation order."""
        return [self.run(job_id) for job_id in list(self.double.jobs) if job_id not in self.done]

    def run(self, job_id: str) -> JobRun:
        request = self.double.jobs[job_id]
        invoke = request["Operation"].get("LambdaInvoke")
        if not invoke or invoke.get("InvocationSchemaVersion") != "2.0":
            raise NotImplementedError("the stand-in plays LambdaInvoke jobs of invocation schema 2.0 only")
        tasks = list(self.manifest(request))
        self.double.progress(job_id, "Active", total=len(tasks))
        runs: list[TaskRun] = []
        invocations = 0
        status = "Complete"
        for task in tasks:
            run = self._task(job_id, invoke, task)
            invocations += run.attempts
            runs.append(run)
            failed = sum(not r.succeeded for r in runs)
            if len(runs) >= FAILURE_THRESHOLD_TASKS and failed > FAILURE_THRESHOLD_RATE * len(runs):
                status = "Failed"
                break
        reasons: tuple[tuple[str, str], ...] = ()
        if status == "Failed":
            reasons = (("TaskFailureThresholdExceeded", f"{failed} of {len(runs)} tasks failed (more than 50%)"),)
        report = self._report(request, runs)
        succeeded = sum(r.succeeded for r in runs)
        key = self.double.finish(job_id, status, succeeded, len(runs) - succeeded, report=report, reasons=reasons)
        # TotalNumberOfTasks is the manifest's size, also for a job the threshold stopped early
        self.double.progress(job_id, status, succeeded=succeeded, failed=len(runs) - succeeded, total=len(tasks))
        result = JobRun(
            job_id=job_id,
            job_arn=f"arn:aws:s3:{self.double.region}:{self.double.account_id}:job/{job_id}",
            status=status,
            tasks=tuple(runs),
            manifest_size=len(tasks),
            invocations=invocations,
            report_manifest_key=key,
            account_id=self.double.account_id,
            region=self.double.region,
            failure_reasons=reasons,
        )
        self.done[job_id] = result
        return result

    # --- the manifest ---------------------------------------------------------------------------------------------

    def manifest(self, request: Mapping[str, Any]) -> Iterator[Task]:
        """The job's tasks, from its manifest generator or its CSV manifest."""
        generator = (request.get("ManifestGenerator") or {}).get("S3JobManifestGenerator")
        if generator:
            yield from self._generated(generator)
        else:
            yield from self._csv_manifest(request["Manifest"])

    def _generated(self, generator: Mapping[str, Any]) -> Iterator[Task]:
        bucket = _bucket_name(generator["SourceBucket"])
        wanted: Mapping[str, Any] = generator.get("Filter") or {}
        unsupported = sorted(set(wanted) - _SUPPORTED_FILTERS)
        if unsupported:
            raise NotImplementedError(f"the stand-in's manifest generator does not play the filter(s) {unsupported}")
        types = wanted.get("MatchAnyObjectEncryption") or [{}]
        if len(types) != 1:
            raise ValueError(f"MatchAnyObjectEncryption holds exactly one type (the s3control model), got {types}")
        encryption = types[0]
        after, before = _utc(wanted.get("CreatedAfter")), _utc(wanted.get("CreatedBefore"))
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                created = listed["LastModified"]
                if (after and created <= after) or (before and created >= before):
                    continue
                head = self._head(bucket, listed["Key"])
                if encryption and not _matches(encryption, head):
                    continue
                version = head.get("VersionId")
                yield Task(
                    task_id=_task_id(),
                    bucket=bucket,
                    key=quote_plus(listed["Key"], safe="/"),
                    version_id=version if version and version != "null" else None,
                )

    def _head(self, bucket: str, key: str) -> Mapping[str, Any]:
        """HeadObject; an SSE-C object answers 400 without its key, which is how the stand-in knows it is SSE-C."""
        try:
            head: Mapping[str, Any] = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 400:
                return {"SSECustomerAlgorithm": "AES256"}
            raise
        return head

    def _csv_manifest(self, manifest: Mapping[str, Any]) -> Iterator[Task]:
        spec, location = manifest["Spec"], manifest["Location"]
        if spec.get("Format") != "S3BatchOperations_CSV_20180820":
            raise NotImplementedError(f"the stand-in reads CSV manifests only, not {spec.get('Format')}")
        fields = list(spec.get("Fields") or ["Bucket", "Key"])
        bucket, _, key = location["ObjectArn"].split(":::", 1)[1].partition("/")
        body = self.s3.get_object(Bucket=bucket, Key=key, IfMatch=f'"{location["ETag"].strip(chr(34))}"')["Body"]
        for row in csv.reader(io.TextIOWrapper(body, encoding="utf-8", newline="")):
            if not row:
                continue
            values = dict(zip(fields, row, strict=False))
            yield Task(_task_id(), values["Bucket"], values["Key"], values.get("VersionId") or None)

    # --- the tasks ------------------------------------------------------------------------------------------------

    def _task(self, job_id: str, invoke: Mapping[str, Any], task: Task) -> TaskRun:
        attempts = 0
        while True:
            attempts += 1
            code, text = self._invoke(job_id, invoke, task)
            if code != "TemporaryFailure" or attempts >= self.max_attempts:
                return TaskRun(task, code == "Succeeded", code, text, attempts)

    def _invoke(self, job_id: str, invoke: Mapping[str, Any], task: Task) -> tuple[str, str]:
        event = {
            "invocationSchemaVersion": "2.0",
            "invocationId": uuid.uuid4().hex,
            "job": {"id": job_id, "userArguments": dict(invoke.get("UserArguments") or {})},
            "tasks": [
                {"taskId": task.task_id, "s3Bucket": task.bucket, "s3Key": task.key, "s3VersionId": task.version_id}
            ],
        }
        try:
            answer = json.loads(json.dumps(self.task_function(event, self.context)))  # as Lambda serialises it
        except Exception as exc:  # the function raised: Lambda reports a function error for the task
            error = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
            return "PermanentFailure", f"Lambda returned function error: {error}"
        results = answer.get("results") if isinstance(answer, Mapping) else None
        for result in results or []:
            if isinstance(result, Mapping) and result.get("taskId") == task.task_id:
                return str(result.get("resultCode")), str(result.get("resultString") or "")
        missing = answer.get("treatMissingKeysAs") if isinstance(answer, Mapping) else None
        return str(missing or "PermanentFailure"), "the function's answer has no result for this task"

    # --- the report -----------------------------------------------------------------------------------------------

    def _report(self, request: Mapping[str, Any], runs: list[TaskRun]) -> list[ReportRow] | None:
        report = request.get("Report") or {}
        if not report.get("Enabled") or not runs:
            return None
        only_failed = report.get("ReportScope") == "FailedTasksOnly"
        return [
            ReportRow(
                key=run.task.key,
                bucket=run.task.bucket,
                version_id=run.task.version_id or "",
                task_status="succeeded" if run.succeeded else "failed",
                error_code="" if run.succeeded else run.result_code,
                http_status="200",
                result=run.result_string,
            )
            for run in runs
            if not (only_failed and run.succeeded)
        ]


def _matches(encryption: Mapping[str, Any], head: Mapping[str, Any]) -> bool:
    """Whether HeadObject's encryption is the filter's one type (and its key, when the filter names one)."""
    [(kind, options)] = encryption.items()
    found = "SSEC" if head.get("SSECustomerAlgorithm") else _ENCRYPTION_TYPES.get(head.get("ServerSideEncryption"))
    key = (options or {}).get("KmsKeyArn")
    return found == kind and (key is None or head.get("SSEKMSKeyId") == key)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bucket_name(arn: str) -> str:
    return arn.split(":::", 1)[1] if ":::" in arn else arn


def _task_id() -> str:
    return uuid.uuid4().hex[:20]


# --- what a deployment with batch jobs is configured with, for tests and the demo ---------------------------------

TASK_FUNCTION_VERSION = "arn:aws:lambda:us-east-1:123456789012:function:dsse-remediation-BatchTask:7"
JOB_ROLE_ARN = "arn:aws:iam::123456789012:role/dsse-remediation-BatchJob"
REPORT_BUCKET = "example-dsse-reports"
BATCH_SETTINGS: dict[str, Any] = {
    "task_function": TASK_FUNCTION_VERSION,  # a version ARN is used as it is (no GetAlias)
    "job_role_arn": JOB_ROLE_ARN,
    "report_bucket": REPORT_BUCKET,
}
