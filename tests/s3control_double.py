"""A test double for S3 Batch Operations jobs (s3control CreateJob, DescribeJob, ListJobs), absent from moto 5.2.5.

`S3ControlDouble.client` is a real boto3 s3control client: every call goes through botocore's own request path,
whose parameter validation (`botocore.validate`, the check botocore's Stubber relies on) rejects a request that breaks
the service model with ParamValidationError before anything is sent. botocore checks types, required members and
minimum lengths only; the double adds what the model also states and botocore leaves to the service: enum values,
maximum lengths, list sizes (MatchAnyObjectEncryption holds exactly one filter) and patterns (ARNs, AccountId),
raising `ModelViolation`. Its answers are validated against the output shapes the same way, so a reader of
DescribeJob is tested on what the model allows. Nothing is sent: a `before-call` handler answers, after validation.

Behaviour follows the API reference:
- CreateJob https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html : answers a new JobId; the
  same ClientRequestToken with the same parameters answers the same job, with other parameters IdempotencyException.
- DescribeJob https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_DescribeJob.html : the job as created
  (Operation, Report, Priority, RoleArn, Description, Manifest or ManifestGenerator), its Status (a new job is
  `New`), ProgressSummary, FailureReasons, CreationTime and, once final, TerminationDate; an unknown id is
  NotFoundException.
- ListJobs https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_ListJobs.html : every job as a
  JobListDescriptor (JobId, Description, Operation, Priority, Status, CreationTime, TerminationDate,
  ProgressSummary), filtered by JobStatuses, in one page.
- The completion report `finish(report=...)` writes
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html):
  `<Prefix>/job-<id>/manifest.json` (Format Report_CSV_20180820, Results [{TaskExecutionStatus, Bucket,
  MD5Checksum, Key}], ReportSchema) and `<Prefix>/job-<id>/results/<hash>.csv` rows of Bucket, Key, VersionId,
  TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage, one file for succeeded and one for failed tasks, each object
  SSE-S3 whatever the bucket's default ("Completion reports are always encrypted with Amazon S3 managed keys
  (SSE-S3)", same page).

Usage:
    double = S3ControlDouble(ACCOUNT_ID, s3=boto3.client("s3"))   # s3: where finish(report=...) writes
    app = App(settings, double.factory(wiring.client))             # s3control (and lambda, if aliases) from the double
    job_id = app.backfill.start(spec)
    double.jobs[job_id]                                            # the CreateJob parameters as sent
    double.progress(job_id, "Active", succeeded=3, total=10)      # what DescribeJob says meanwhile
    double.finish(job_id, "Complete", report=[ReportRow("a%20b.txt", result="remediated: ...")])
Offline (tests/unit), `S3ControlDouble(aliases={alias_arn: "7"})` also answers lambda GetAlias; on fake AWS, moto's
Lambda has aliases (publish_version, create_alias) and `factory` leaves lambda to the fallback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape
from botocore.validate import validate_parameters

from tests.helpers import ACCOUNT_ID, REGION, Response

FINAL = ("Complete", "Failed", "Cancelled")
REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"


class ModelViolation(AssertionError):
    """A request or answer breaks a constraint of the service model that botocore does not check itself."""


@dataclass(frozen=True)
class ReportRow:
    """One task of a completion report. `bucket` None: the job's source bucket (or the manifest's first)."""

    key: str
    task_status: str = "succeeded"  # succeeded | failed
    result: str = ""  # ResultMessage: the task function's resultString
    bucket: str | None = None
    version_id: str = ""
    error_code: str = ""  # e.g. PermanentFailure, TemporaryFailure
    http_status: str = "200"


class S3ControlDouble:
    def __init__(
        self,
        account_id: str = ACCOUNT_ID,
        region: str = REGION,
        *,
        s3: Any = None,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.s3 = s3
        self.jobs: dict[str, dict[str, Any]] = {}  # job id -> the CreateJob parameters as sent
        self.calls: list[str] = []  # every operation asked, in order (s3control and lambda)
        self.aliases: dict[str, str] = dict(aliases or {})  # alias ARN -> version (offline GetAlias)
        self._state: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, str] = {}
        self._faults: dict[str, list[tuple[str, int, str]]] = {}
        self.client = boto3.client("s3control", region_name=region)
        # The account's Block Public Access (s3control GetPublicAccessBlock), which the reader-safety gate reads;
        # None: never set (S3 answers NoSuchPublicAccessBlockConfiguration, API_control_GetPublicAccessBlock).
        self.account_block: dict[str, bool] | None = None
        self._answer_on(
            self.client,
            {
                "CreateJob": self._create_job,
                "DescribeJob": self._describe_job,
                "ListJobs": self._list_jobs,
                "GetPublicAccessBlock": self._get_public_access_block,
            },
        )
        self._lambda: Any = None

    # --- what tests use ------------------------------------------------------------------------------------------

    @property
    def lambda_client(self) -> Any:
        """A real lambda client whose GetAlias is answered from `aliases` (offline tests); other calls fail."""
        if self._lambda is None:
            self._lambda = boto3.client("lambda", region_name=self.region)
            self._answer_on(self._lambda, {"GetAlias": self._get_alias})
        return self._lambda

    def factory(self, fallback: Callable[[str, str | None], Any]) -> Callable[[str, str | None], Any]:
        """A client factory for `App`: s3control from the double, lambda too when `aliases` are set, else `fallback`."""

        def client(service: str, region: str | None = None) -> Any:
            if service == "s3control":
                return self.client
            if service == "lambda" and self.aliases:
                return self.lambda_client
            return fallback(service, region)

        return client

    def fail(self, operation: str, code: str, status: int, message: str = "", times: int = 1) -> None:
        """Make the next `times` calls of `operation` (after validation) fail with this AWS error."""
        self._faults.setdefault(operation, []).extend([(code, status, message or f"injected {code}")] * times)

    def progress(
        self, job_id: str, status: str = "Active", *, succeeded: int = 0, failed: int = 0, total: int = 0
    ) -> None:
        """What DescribeJob answers from now on: a status and its ProgressSummary counters."""
        state = self._job(job_id)
        state.update(status=status, succeeded=succeeded, failed=failed, total=max(total, succeeded + failed))
        if status in FINAL:
            state["finished"] = datetime.now(UTC)

    def finish(
        self,
        job_id: str,
        status: str = "Complete",
        succeeded: int | None = None,
        failed: int | None = None,
        *,
        report: Iterable[ReportRow] | None = None,
        reasons: Iterable[tuple[str, str]] = (),
    ) -> str | None:
        """End a job. With `report` rows, the counters default to theirs and the completion report is written to
        the job's report location through `s3`; the manifest.json key is returned."""
        rows = list(report) if report is not None else None
        if rows is not None:
            succeeded = sum(row.task_status == "succeeded" for row in rows) if succeeded is None else succeeded
            failed = sum(row.task_status != "succeeded" for row in rows) if failed is None else failed
        succeeded, failed = succeeded or 0, failed or 0
        self.progress(job_id, status, succeeded=succeeded, failed=failed, total=succeeded + failed)
        self._job(job_id)["reasons"] = [{"FailureCode": code, "FailureReason": text} for code, text in reasons]
        return self._write_report(job_id, rows) if rows is not None else None

    def report_location(self, job_id: str) -> tuple[str, str]:
        """(bucket, `<Prefix>/job-<id>`) where the job's completion report goes."""
        report = self.jobs[job_id]["Report"]
        bucket = report["Bucket"].split(":::", 1)[1]
        prefix = report.get("Prefix")
        return bucket, f"{prefix}/job-{job_id}" if prefix else f"job-{job_id}"

    # --- answering -----------------------------------------------------------------------------------------------

    def _answer_on(self, client: Any, handlers: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
        service = client.meta.service_model.service_id.hyphenize()

        def remember(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            check_request(model, params)
            context["double_params"] = dict(params)

        def answer(model: Any, context: dict[str, Any], **_: Any) -> Any:
            name = model.name
            self.calls.append(name)
            faults = self._faults.get(name)
            if faults:
                code, status, text = faults.pop(0)
                return Response(status), {"Error": {"Code": code, "Message": text}, "ResponseMetadata": {}}
            handler = handlers.get(name)
            if handler is None:
                raise NotImplementedError(f"the s3control double does not answer {name}")
            result = handler(context["double_params"])
            if "Error" in result:
                return Response(result.pop("status")), result
            check_answer(model, result)
            return Response(200), {**result, "ResponseMetadata": {"HTTPStatusCode": 200}}

        client.meta.events.register(f"before-parameter-build.{service}", remember)
        client.meta.events.register_first(f"before-call.{service}", answer)

    def _create_job(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params["ClientRequestToken"]
        if token in self._tokens:
            existing = self._tokens[token]
            if self.jobs[existing] != params:
                return _error("IdempotencyException", 409, "ClientRequestToken reused with other parameters")
            return {"JobId": existing}
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = params
        self._tokens[token] = job_id
        self._state[job_id] = {"status": "New", "succeeded": 0, "failed": 0, "total": 0, "reasons": []}
        self._state[job_id]["created"] = datetime.now(UTC)
        return {"JobId": job_id}

    def _describe_job(self, params: dict[str, Any]) -> dict[str, Any]:
        job_id = params["JobId"]
        if job_id not in self.jobs or params["AccountId"] != self.account_id:
            return _error("NotFoundException", 404, f"Job {job_id} not found")
        request, state = self.jobs[job_id], self._state[job_id]
        job: dict[str, Any] = {
            "JobId": job_id,
            "ConfirmationRequired": request.get("ConfirmationRequired", False),
            "JobArn": f"arn:aws:s3:{self.region}:{self.account_id}:job/{job_id}",
            "Status": state["status"],
            "Operation": request["Operation"],
            "Priority": request["Priority"],
            "ProgressSummary": {
                "TotalNumberOfTasks": state["total"],
                "NumberOfTasksSucceeded": state["succeeded"],
                "NumberOfTasksFailed": state["failed"],
            },
            "Report": request["Report"],
            "CreationTime": state["created"],
            "RoleArn": request["RoleArn"],
        }
        for name in ("Description", "Manifest", "ManifestGenerator"):
            if name in request:
                job[name] = request[name]
        if state["reasons"]:
            job["FailureReasons"] = state["reasons"]
        if "finished" in state:
            job["TerminationDate"] = state["finished"]
        return {"Job": job}

    def _list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every job of the account (JobStatuses filters them), in one page, as JobListDescriptors.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_ListJobs.html"""
        wanted = set(params.get("JobStatuses") or ())
        jobs = []
        for job_id, request in self.jobs.items():
            state = self._state[job_id]
            if params["AccountId"] != self.account_id or (wanted and state["status"] not in wanted):
                continue
            descriptor: dict[str, Any] = {
                "JobId": job_id,
                "Operation": "LambdaInvoke",
                "Priority": request["Priority"],
                "Status": state["status"],
                "CreationTime": state["created"],
                "ProgressSummary": {
                    "TotalNumberOfTasks": state["total"],
                    "NumberOfTasksSucceeded": state["succeeded"],
                    "NumberOfTasksFailed": state["failed"],
                },
            }
            if "Description" in request:
                descriptor["Description"] = request["Description"]
            if "finished" in state:
                descriptor["TerminationDate"] = state["finished"]
            jobs.append(descriptor)
        return {"Jobs": jobs}

    def _get_public_access_block(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.account_block is None:
            return _error(
                "NoSuchPublicAccessBlockConfiguration", 404, "The public access block configuration was not found"
            )
        return {"PublicAccessBlockConfiguration": dict(self.account_block)}

    def _get_alias(self, params: dict[str, Any]) -> dict[str, Any]:
        function = params["FunctionName"]
        if not function.startswith("arn:"):
            function = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function}"
        alias_arn = f"{function}:{params['Name']}"
        if alias_arn not in self.aliases:
            return _error("ResourceNotFoundException", 404, f"Alias not found: {alias_arn}")
        return {"AliasArn": alias_arn, "Name": params["Name"], "FunctionVersion": self.aliases[alias_arn]}

    def _job(self, job_id: str) -> dict[str, Any]:
        if job_id not in self._state:
            raise KeyError(f"no job {job_id} was created through the double (created: {list(self.jobs)})")
        return self._state[job_id]

    def _write_report(self, job_id: str, rows: list[ReportRow]) -> str:
        if self.s3 is None:
            raise ValueError("S3ControlDouble(s3=...) is needed to write a completion report")
        bucket, prefix = self.report_location(job_id)
        default_bucket = _source_bucket(self.jobs[job_id])
        results = []
        for status in ("succeeded", "failed"):
            chosen = [row for row in rows if (row.task_status == "succeeded") == (status == "succeeded")]
            if not chosen:
                continue
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            for row in chosen:
                writer.writerow(
                    (
                        row.bucket or default_bucket,
                        row.key,
                        row.version_id,
                        row.task_status,
                        row.error_code,
                        row.http_status,
                        row.result,
                    )
                )
            body = text.getvalue().encode()
            key = f"{prefix}/results/{hashlib.sha1(body).hexdigest()}.csv"
            self.s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="AES256")
            results.append(
                {
                    "TaskExecutionStatus": status,
                    "Bucket": bucket,
                    "MD5Checksum": hashlib.md5(body).hexdigest(),
                    "Key": key,
                }
            )
        manifest = {
            "Format": "Report_CSV_20180820",
            "ReportCreationDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "Results": results,
            "ReportSchema": REPORT_SCHEMA,
        }
        manifest_key = f"{prefix}/manifest.json"
        self.s3.put_object(
            Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode(), ServerSideEncryption="AES256"
        )
        return manifest_key


def _error(code: str, status: int, message: str) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        "status": status,
    }


def _source_bucket(request: Mapping[str, Any]) -> str:
    generator = request.get("ManifestGenerator", {}).get("S3JobManifestGenerator")
    if generator:
        return str(generator["SourceBucket"]).split(":::", 1)[1]
    return ""


# --- the service model's constraints ---------------------------------------------------------------------------


def check_request(operation: Any, params: Mapping[str, Any]) -> None:
    """botocore's validation of the input shape, then the constraints it leaves out (`ModelViolation`)."""
    validate_parameters(params, operation.input_shape)
    problems = list(model_violations(params, operation.input_shape, operation.name))
    if problems:
        raise ModelViolation(f"{operation.name} request breaks the service model: " + "; ".join(problems))


def check_answer(operation: Any, answer: Mapping[str, Any]) -> None:
    """What Stubber checks of a canned response: it fits the output shape."""
    if operation.output_shape is not None:
        validate_parameters(answer, operation.output_shape)


def model_violations(value: Any, shape: Shape, path: str) -> Iterable[str]:
    """Enum, max length / size and pattern violations (AWS patterns are searched, not anchored, as Smithy reads them;
    Java-only classes such as \\p{L} are skipped)."""
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                yield from model_violations(value[name], member, f"{path}.{name}")
        return
    if isinstance(shape, ListShape) and isinstance(value, list | tuple):
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path} has {len(value)} elements (at most {meta['max']})"
        for n, item in enumerate(value):
            yield from model_violations(item, shape.member, f"{path}[{n}]")
        return
    if isinstance(shape, MapShape) and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path} has {len(value)} entries (at most {meta['max']})"
        for key, item in value.items():
            yield from model_violations(key, shape.key, f"{path} key {key!r}")
            yield from model_violations(item, shape.value, f"{path}[{key!r}]")
        return
    if isinstance(shape, StringShape) and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            yield f"{path}={value!r} is not one of {shape.enum}"
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path} is {len(value)} characters (at most {meta['max']})"
        pattern = meta.get("pattern")
        if pattern and "\\p{" not in pattern and not re.search(pattern, value):
            yield f"{path}={value!r} does not match {pattern}"
    if shape.type_name in ("integer", "long") and isinstance(value, int) and "max" in meta and value > meta["max"]:
        yield f"{path}={value} is above {meta['max']}"
