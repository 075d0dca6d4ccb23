"""S3 Batch Operations adapter: CreateJob, DescribeJob, ListJobs (s3control), the task function's version (GetAlias).

Jobs are created with a version-qualified task function ARN: S3 Batch Operations invokes exactly the function ARN the
job names for every task, so a version pins the code for the job's whole life, while an alias would follow a redeploy
mid-job. https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_LambdaInvokeOperation.html ,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html ,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_DescribeJob.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..exceptions import InvalidRequest
from . import errors

# Job statuses after which nothing changes any more (batch-ops-job-status.md, "Job statuses").
FINAL_STATUSES = frozenset({"Complete", "Failed", "Cancelled"})

# arn:<partition>:lambda:<region>:<account>:function:<name>[:<version or alias>], the whole value (fullmatch: `$`
# would pass a trailing newline) and ASCII only (a Unicode `\d` would pass other scripts' digits).
_FUNCTION_ARN = re.compile(
    r"(?P<base>arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[A-Za-z0-9$_-]+))?",
    re.ASCII,
)


@dataclass(frozen=True)
class JobStatus:
    """What DescribeJob says about a job, as the completion reader and the CLI's `--wait` need it."""

    job_id: str
    arn: str
    status: str  # New | Preparing | Ready | Active | ... | Complete | Failed | Cancelled
    description: str
    role_arn: str
    total: int
    succeeded: int
    failed: int
    report_bucket: str | None  # the bucket's name (DescribeJob gives its ARN); None: no completion report
    report_prefix: str | None
    user_arguments: Mapping[str, str] = field(default_factory=dict)  # LambdaInvoke.UserArguments (schema 2.0)
    failure_reasons: tuple[str, ...] = ()  # "<FailureCode>: <FailureReason>" of a failed job
    created: datetime | None = None
    finished: datetime | None = None  # TerminationDate

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES


class BatchJobs:
    """The S3 Batch Operations calls. Jobs belong to an account (s3control's AccountId), not to a bucket."""

    def __init__(self, s3control: Any, lambda_: Any, account_id: str) -> None:
        self._s3control = s3control
        self._lambda = lambda_
        self._account_id = account_id

    @errors.translated
    def pinned_version(self, function_arn: str) -> str:
        """The version ARN a job must invoke: an alias ARN resolved with GetAlias, a version ARN as it is.

        An unqualified ARN or `$LATEST` would run whatever is deployed when each task runs: refused (InvalidRequest).
        """
        found = _FUNCTION_ARN.fullmatch(function_arn)
        if not found:
            raise InvalidRequest(
                f"{function_arn!r} is not a Lambda function ARN (arn:<partition>:lambda:<region>:<account>:...)"
            )
        base, qualifier = found["base"], found["qualifier"]
        if qualifier is None or qualifier == "$LATEST":
            raise InvalidRequest(
                f"{function_arn!r} names no published version or alias: a job must pin the task function's code "
                "(give the alias ARN, e.g. ...:function:<name>:live, or a version ARN)"
            )
        if qualifier.isdigit():
            return function_arn
        alias = self._lambda.get_alias(FunctionName=base, Name=qualifier)
        return f"{base}:{alias['FunctionVersion']}"

    @errors.translated
    def create(self, request: Mapping[str, Any]) -> str:
        """CreateJob; the job's id. The same ClientRequestToken with the same parameters returns the same job."""
        answer = self._s3control.create_job(**request)
        return str(answer["JobId"])

    @errors.translated
    def ids_described(self, prefix: str) -> list[str]:
        """The ids of the account's jobs whose Description starts with `prefix` (ListJobs: jobs still running and
        those that ended within the last 90 days), oldest first. How the jobs of one backfill run find each other.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_ListJobs.html"""
        found: list[tuple[Any, str]] = []
        params: dict[str, Any] = {"AccountId": self._account_id, "MaxResults": 1000}
        while True:
            page = self._s3control.list_jobs(**params)
            for job in page.get("Jobs") or ():
                if str(job.get("Description", "")).startswith(prefix) and job.get("JobId"):
                    found.append((job.get("CreationTime") or datetime.min, str(job["JobId"])))
            token = page.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        return [job_id for _, job_id in sorted(found, key=lambda pair: str(pair[0]))]

    @errors.translated
    def describe(self, job_id: str) -> JobStatus:
        job = self._s3control.describe_job(AccountId=self._account_id, JobId=job_id)["Job"]
        return job_status(job)


def job_status(job: Mapping[str, Any]) -> JobStatus:
    """DescribeJob's `Job` as a JobStatus (absent counters are 0: a job still preparing has no progress yet)."""
    progress: Mapping[str, Any] = job.get("ProgressSummary") or {}
    report: Mapping[str, Any] = job.get("Report") or {}
    enabled = bool(report.get("Enabled")) and bool(report.get("Bucket"))
    invoke: Mapping[str, Any] = (job.get("Operation") or {}).get("LambdaInvoke") or {}
    reasons = tuple(
        f"{reason.get('FailureCode', 'Unknown')}: {reason.get('FailureReason', '')}".rstrip(": ")
        for reason in job.get("FailureReasons") or ()
    )
    return JobStatus(
        job_id=str(job["JobId"]),
        arn=str(job.get("JobArn", "")),
        status=str(job.get("Status", "")),
        description=str(job.get("Description", "")),
        role_arn=str(job.get("RoleArn", "")),
        total=int(progress.get("TotalNumberOfTasks") or 0),
        succeeded=int(progress.get("NumberOfTasksSucceeded") or 0),
        failed=int(progress.get("NumberOfTasksFailed") or 0),
        report_bucket=bucket_name(str(report["Bucket"])) if enabled else None,
        report_prefix=(report.get("Prefix") or None) if enabled else None,
        user_arguments=dict(invoke.get("UserArguments") or {}),
        failure_reasons=reasons,
        created=job.get("CreationTime"),
        finished=job.get("TerminationDate"),
    )


def bucket_name(bucket_arn: str) -> str:
    """`arn:<partition>:s3:::name` -> `name` (a bare name is returned as it is)."""
    return bucket_arn.split(":::", 1)[1] if ":::" in bucket_arn else bucket_arn
