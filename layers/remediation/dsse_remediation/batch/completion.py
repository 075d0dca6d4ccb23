"""Job completion: one summary per S3 Batch Operations job this stack started, and one alert.

Per-object alerts are suppressed for batch work (a backfill of a billion objects must not send a billion e-mails);
this is where a human hears about the job instead. S3 records each job status change in CloudTrail; the batch jobs
function's rule forwards Complete, Failed and Cancelled, and `Completions.on_status_change` answers each:

1. DescribeJob. A job whose role is not BATCH_JOB_ROLE_ARN was not started by this stack: ignored, nothing read.
2. The completion report (`<Report.Prefix>/job-<id>/manifest.json`, which lists CSV result files of rows
   `Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage`) is streamed row by row. The task
   function answers every task with a `resultString` of `"<outcome>: <reason>"`, which S3 writes as ResultMessage, so
   each row is counted under its outcome; a failed row without that prefix (S3's own errors: the function timed out,
   could not be invoked) counts as `failed`, with its ErrorCode and HTTP status. At most 50 failed and 50
   unremediable objects are kept as examples (keys decoded); the rest are in the report, whose location the summary
   names. A report too large to read in one invocation is read up to a row budget and says so.
3. One alert per backfill run of a bucket: the jobs a run starts for one bucket (one per encryption type, created
   together, sharing the description `dsse-remediation <campaign> s3://<bucket> `) are found with ListJobs; the job
   that ends while another of them still runs alerts nothing (its answer names the jobs it waits for); the event of
   the job that ended last (TerminationDate, then id) publishes the run's summary, every job's report read
   (`combine`). Every status change is delivered, so that event comes; a second delivery of it (EventBridge is at
   least once) would publish the summary twice: a duplicate, never a loss.
4. The alert (`dsse-remediation.alert/v1`, resourceType `batch-job`): outcome `failed` when the job failed or was
   cancelled or any task failed, `unremediable` when objects cannot be fixed, `would-remediate` for a dry run that
   found objects to fix, else `remediated`. Its e-mail rendering is `JobSummary.text()`, what `--wait` prints.

The completion report format: https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html
(its manifest.json declares `ErrorCode, HTTPStatusCode` while its example rows put the HTTP status first: the reader
tells the two apart by content).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from ..alerts import Alert, Alerts, Context, envelope, subject
from ..aws import errors
from ..aws.batch_jobs import FINAL_STATUSES, BatchJobs, JobStatus, bucket_name
from ..config import Settings
from ..exceptions import AwsFailure, InvalidRequest
from ..model import MANUAL, OMITTED, Failure, Outcome, Trigger, answer

log = logging.getLogger(__name__)

MAX_EXAMPLES = 50  # failed and unremediable objects kept per job (each); the report has them all
# Rows of "succeeded" result files read per summary: about a minute of streaming. Failed result files are always
# read whole (the 50% rule keeps them small). A bigger job's outcome counts are those of the rows read, and say so.
MAX_SUCCEEDED_ROWS = 2_000_000
_REASON_LIMIT = 300  # characters of a reason an alert carries per object (SNS messages stop at 256 KiB)
_ALERT_BUDGET = 64 * 1024  # the JSON body's size; the message carries it twice (JSON and e-mail text)
_TITLES = {
    Outcome.REMEDIATED: "DSSE-KMS batch job done",
    Outcome.WOULD_REMEDIATE: "DSSE-KMS batch job (dry run) found objects to fix",
    Outcome.UNREMEDIABLE: "DSSE-KMS batch job: unremediable objects",
    Outcome.FAILED: "DSSE-KMS batch job failed",
}
_OUTCOMES = frozenset(o.value for o in Outcome)
UNKNOWN = "unknown"  # a succeeded row without an outcome prefix (not written by this product's task function)
# The jobs of one run are created within seconds of each other; an older run of the same campaign and bucket (a rerun
# with another window) is not part of this one.
RUN_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class TaskExample:
    """One object of the report a human should look at."""

    bucket: str
    key: str
    outcome: str
    reason: str
    version_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class JobSummary:
    job_id: str
    job_arn: str
    status: str
    campaign: str | None = None
    bucket: str | None = None
    encryption_filter: str | None = None
    dry_run: bool = False
    counts: Mapping[str, int] = field(default_factory=dict)  # outcome -> tasks, from the completion report
    total_tasks: int = 0  # DescribeJob's progress summary
    succeeded_tasks: int = 0
    failed_task_count: int = 0
    failed_tasks: tuple[TaskExample, ...] = ()  # at most MAX_EXAMPLES
    unremediable: tuple[TaskExample, ...] = ()  # at most MAX_EXAMPLES
    report_location: str | None = None
    report_note: str | None = None  # why the counts are missing or partial
    failure_reasons: tuple[str, ...] = ()  # the job's own (DescribeJob FailureReasons)
    job_ids: tuple[str, ...] = ()  # a run's summary: every job it covers (job_id is the first)
    waiting_for: tuple[str, ...] = ()  # jobs of the same run still running: the run's alert comes when they end
    alert_with: str | None = None  # the run's job that ended last, whose event publishes the run's one alert
    alert_error: str | None = None
    trigger: Trigger = field(default=MANUAL, metadata=OMITTED)

    @property
    def outcome(self) -> Outcome:
        if self.status in ("Failed", "Cancelled") or self.counts.get(Outcome.FAILED.value, 0) > 0:
            return Outcome.FAILED
        if self.counts.get(Outcome.UNREMEDIABLE.value, 0) > 0:
            return Outcome.UNREMEDIABLE
        if self.counts.get(Outcome.WOULD_REMEDIATE.value, 0) > 0:
            return Outcome.WOULD_REMEDIATE
        return Outcome.REMEDIATED

    @property
    def target(self) -> str:
        """What the job worked on: `s3://bucket (NOTSSE)`, or the job id when the description is not ours."""
        if not self.bucket:
            return f"job {self.job_id}"
        return f"s3://{self.bucket}" + (f" ({self.encryption_filter})" if self.encryption_filter else "")

    @property
    def reason(self) -> str:
        """One line: the job's status, its tasks and its outcome counts."""
        jobs = f"{len(self.job_ids)} jobs" if len(self.job_ids) > 1 else "job"
        text = f"{jobs} {self.status}{' (dry run)' if self.dry_run else ''}: {self.total_tasks:,} task(s)"
        if self.counts:
            text += "; " + ", ".join(f"{name} {count:,}" for name, count in _ordered(self.counts))
        if self.report_note:
            text += f" ({self.report_note})"
        if self.waiting_for:
            text += f"; the run's alert waits for job(s) {', '.join(self.waiting_for)}"
        if self.alert_with:
            text += f"; the run's alert comes with job {self.alert_with}, which ended last"
        return text

    def answer(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "reason": self.reason, **answer(self)}

    def text(self) -> str:
        """The human rendering: what `dsse-remediate backfill --wait` prints and the alert's e-mail shows."""
        jobs = f"jobs {', '.join(self.job_ids)}" if len(self.job_ids) > 1 else f"job {self.job_id}"
        lines = [
            f"S3 Batch Operations {jobs} on {self.target}: {self.status}"
            + (" (dry run: nothing was changed)" if self.dry_run else ""),
            f"Campaign:  {self.campaign or '-'}",
            f"Tasks:     {self.total_tasks:,} ({self.succeeded_tasks:,} succeeded, {self.failed_task_count:,} failed)",
            "Outcomes:  " + (", ".join(f"{n} {c:,}" for n, c in _ordered(self.counts)) or "-"),
            f"Report:    {self.report_location or '-'}",
        ]
        if self.report_note:
            lines.append(f"Note:      {self.report_note}")
        for reason in self.failure_reasons:
            lines.append(f"Job error: {reason}")
        for title, examples, total in (
            ("Unremediable", self.unremediable, self.counts.get(Outcome.UNREMEDIABLE.value, 0)),
            ("Failed", self.failed_tasks, self.counts.get(Outcome.FAILED.value, 0)),
        ):
            if examples:
                more = f", first {len(examples)} listed" if total > len(examples) else ""
                lines += ["", f"{title} ({total:,}{more}):"]
                lines += [f"  s3://{e.bucket}/{e.key}: {e.reason}" for e in examples]
        return "\n".join(lines)


@dataclass(frozen=True)
class SummaryAlert(Alert):
    """An alert whose e-mail rendering is the job summary's text (then the JSON body), not the per-object layout."""

    text: str = ""

    @property
    def text_body(self) -> str:
        return "\n".join([self.subject, "", self.text, "", "Machine-readable body:", json.dumps(self.body, indent=2)])


class Completions:
    """Summaries of this stack's jobs, from DescribeJob and the completion report, and their one alert each."""

    def __init__(
        self,
        settings: Settings,
        jobs: BatchJobs,
        s3: Any,
        alerts: Alerts,
        *,
        max_succeeded_rows: int = MAX_SUCCEEDED_ROWS,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.reports = ReportReader(s3)
        self.alerts = alerts
        self.max_succeeded_rows = max_succeeded_rows

    def on_status_change(self, job_id: str, status: str, trigger: Trigger | None = None) -> JobSummary | None:
        """The summary of a job that just ended, alerted once (`alert_error` says why a required alert was lost).
        None, having read no report, for a status that is not final or a job this stack did not start."""
        if status not in FINAL_STATUSES:
            log.info("job status is not final: nothing to summarise", extra={"jobId": job_id, "status": status})
            return None
        job = self.jobs.describe(job_id)
        if not self._ours(job):
            log.info("job not started by this stack: ignored", extra={"jobId": job_id, "roleArn": job.role_arn})
            return None
        if not job.done:  # the event and DescribeJob disagree: the next status change will come
            return None
        trigger = trigger or MANUAL
        others = [other for other in self._run_of(job) if other.job_id != job.job_id]
        waiting = tuple(other.job_id for other in others if not other.done)
        if waiting:
            log.info("the run's other jobs still run: its alert comes with the last", extra={"waitingFor": waiting})
            return replace(self._summary(job, trigger), waiting_for=waiting)
        last = max((job, *others), key=_ended)
        if last.job_id != job.job_id:  # every job's event comes: the one of the job that ended last alerts
            log.info("the run's alert comes with the job that ended last", extra={"alertWith": last.job_id})
            return replace(self._summary(job, trigger), alert_with=last.job_id)
        return self.alert(combine([self._summary(one, trigger) for one in (*others, job)]))

    def summarize_run(self, job_ids: Sequence[str]) -> JobSummary:
        """One summary of several jobs (a run's), as its alert says it: what `backfill --wait` prints per bucket."""
        return combine([self.summarize(job_id) for job_id in job_ids])

    def _run_of(self, job: JobStatus) -> list[JobStatus]:
        """This stack's jobs of the same run: same campaign and bucket, created within RUN_WINDOW of this one, dry
        runs with dry runs only (a dry run followed by the real run, same day, same default campaign)."""
        bucket, _ = _described(job.description)
        words = job.description.split()
        if bucket is None or len(words) < 3:
            return [job]
        prefix = " ".join(words[:3]) + " "
        run = []
        for job_id in self.jobs.ids_described(prefix):
            other = job if job_id == job.job_id else self.jobs.describe(job_id)
            close = job.created is None or other.created is None or abs(other.created - job.created) <= RUN_WINDOW
            same_kind = other.user_arguments.get("dryRun") == job.user_arguments.get("dryRun")  # a dry run, then real
            if self._ours(other) and close and same_kind:
                run.append(other)
        return run or [job]

    def summarize(self, job_id: str) -> JobSummary:
        """A job's summary (no alert). A job still running has no report yet: its progress only.
        InvalidRequest for a job this stack did not start (its report is not ours to read)."""
        job = self.jobs.describe(job_id)
        if not self._ours(job):
            raise InvalidRequest(
                f"job {job_id} was not started by this stack (its role is {job.role_arn}, "
                f"BATCH_JOB_ROLE_ARN is {self.settings.batch_job_role_arn})"
            )
        return self._summary(job, MANUAL)

    def alert(self, summary: JobSummary) -> JobSummary:
        """Publish the summary's one alert; the summary again, with `alert_error` when a required alert was lost."""
        error = self.alerts.publish(summary_alert(summary, self.alerts.context))
        return replace(summary, alert_error=error) if error else summary

    def _ours(self, job: JobStatus) -> bool:
        role = self.settings.batch_job_role_arn
        return role is not None and job.role_arn == role

    def _summary(self, job: JobStatus, trigger: Trigger) -> JobSummary:
        bucket, encryption = _described(job.description)
        summary = JobSummary(
            job_id=job.job_id,
            job_arn=job.arn,
            status=job.status,
            campaign=job.user_arguments.get("campaign"),
            bucket=bucket,
            encryption_filter=encryption,
            dry_run=job.user_arguments.get("dryRun") == "true",
            total_tasks=job.total,
            succeeded_tasks=job.succeeded,
            failed_task_count=job.failed,
            failure_reasons=tuple(job.failure_reasons),
            trigger=trigger,
        )
        if not job.done:
            return replace(summary, report_note="the job is still running: no completion report yet")
        if job.total == 0:
            return replace(summary, report_note="no object matched the job's manifest: no task ran, no report")
        if not job.report_bucket:
            return replace(summary, report_note="the job was created without a completion report")
        prefix = f"{job.report_prefix.rstrip('/')}/" if job.report_prefix else ""
        folder = f"{prefix}job-{job.job_id}/"
        summary = replace(summary, report_location=f"s3://{job.report_bucket}/{folder}")
        try:
            manifest = self.reports.json(job.report_bucket, f"{folder}manifest.json")
        except AwsFailure as exc:
            if exc.failure is not Failure.GONE:
                raise  # the event-driven path fails and is retried: the alert is sent once the report can be read
            return replace(summary, report_note="no completion report (S3 writes one once at least one task has run)")
        except ValueError:
            return replace(summary, report_note=f"the completion report's manifest.json is not JSON ({folder})")
        return self._read(summary, job.report_bucket, manifest)

    def _read(self, summary: JobSummary, report_bucket: str, manifest: Any) -> JobSummary:
        results = manifest.get("Results") if isinstance(manifest, Mapping) else None
        files = [r for r in results if isinstance(r, Mapping) and isinstance(r.get("Key"), str)] if results else []
        # Failed result files first: read whole, they hold what a human must see. Then succeeded, up to the budget.
        files.sort(key=lambda r: r.get("TaskExecutionStatus") != "failed")
        tally = _Tally()
        budget_hit = False
        for entry in files:
            bucket = _bucket_name(entry.get("Bucket")) or report_bucket
            failed_file = entry.get("TaskExecutionStatus") == "failed"
            for row in self.reports.rows(bucket, entry["Key"]):
                if not failed_file and tally.succeeded_rows >= self.max_succeeded_rows:
                    budget_hit = True
                    break
                tally.add(row)
        note = None
        if budget_hit:
            note = (
                f"outcome counts are from the first {tally.rows:,} rows of the report; "
                f"the job ran {summary.total_tasks:,} tasks"
            )
        return replace(
            summary,
            counts=dict(tally.counts),
            failed_tasks=tuple(tally.failed),
            unremediable=tuple(tally.unremediable),
            report_note=note,
        )


class _Tally:
    """Outcome counts and the first examples, over rows streamed once."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failed: list[TaskExample] = []
        self.unremediable: list[TaskExample] = []
        self.rows = 0
        self.succeeded_rows = 0

    def add(self, row: list[str]) -> None:
        example = parse_row(row)
        if example is None:
            return
        self.rows += 1
        self.succeeded_rows += row[3].strip().lower() != "failed"
        self.counts[example.outcome] += 1
        kept = {Outcome.FAILED.value: self.failed, Outcome.UNREMEDIABLE.value: self.unremediable}.get(example.outcome)
        if kept is not None and len(kept) < MAX_EXAMPLES:
            kept.append(example)


def parse_row(row: list[str]) -> TaskExample | None:
    """One completion report row as (bucket, decoded key, outcome, reason); None for a row too short to be one.

    The outcome is the ResultMessage's `<outcome>: ` prefix that the task function writes. A failed row without it
    is S3's own failure (a timeout, an invocation error): `failed`, with its ErrorCode and HTTP status."""
    if len(row) < 4:
        return None
    bucket, raw_key, version, status = (cell.strip() for cell in row[:4])
    first, second = (row[4].strip() if len(row) > 4 else ""), (row[5].strip() if len(row) > 5 else "")
    # ReportSchema says ErrorCode, HTTPStatusCode; the documented example rows say 200, PermanentFailure.
    http, code = (first, second) if first.isdigit() else (second, first)
    message = ",".join(row[6:]).strip()
    head, sep, rest = message.partition(": ")
    if sep and head in _OUTCOMES:
        outcome, reason = head, rest
    elif status.lower() == "failed":
        what = " ".join(part for part in (code, f"(HTTP {http})" if http else "") if part) or "task failed"
        outcome, reason = Outcome.FAILED.value, f"{what}: {message}" if message else what
    else:
        outcome, reason = UNKNOWN, message
    return TaskExample(
        bucket=bucket, key=unquote_plus(raw_key), outcome=outcome, reason=reason, version_id=version or None
    )


def combine(summaries: Sequence[JobSummary]) -> JobSummary:
    """The jobs of one run as one summary: outcome counts and tasks added up, examples merged (at most
    MAX_EXAMPLES each), the worst status, every job's failure reasons and notes, the folder of their reports."""
    if len(summaries) == 1:
        return summaries[0]
    first = summaries[0]
    counts: Counter[str] = Counter()
    for one in summaries:
        counts.update(one.counts)
    statuses = {one.status for one in summaries}
    status = next((worst for worst in ("Failed", "Cancelled") if worst in statuses), first.status)
    locations = [one.report_location for one in summaries if one.report_location]
    folder = _common_folder(locations)
    filters = [one.encryption_filter for one in summaries if one.encryption_filter]
    return replace(
        first,
        job_ids=tuple(one.job_id for one in summaries),
        status=status,
        encryption_filter=", ".join(filters) or None,
        dry_run=any(one.dry_run for one in summaries),
        counts=dict(counts),
        total_tasks=sum(one.total_tasks for one in summaries),
        succeeded_tasks=sum(one.succeeded_tasks for one in summaries),
        failed_task_count=sum(one.failed_task_count for one in summaries),
        failed_tasks=tuple(e for one in summaries for e in one.failed_tasks)[:MAX_EXAMPLES],
        unremediable=tuple(e for one in summaries for e in one.unremediable)[:MAX_EXAMPLES],
        report_location=folder if len(locations) > 1 else (locations[0] if locations else None),
        report_note="; ".join(f"{one.job_id}: {one.report_note}" for one in summaries if one.report_note) or None,
        failure_reasons=tuple(f"{one.job_id}: {r}" for one in summaries for r in one.failure_reasons),
    )


def _ended(job: JobStatus) -> tuple[bool, datetime, str]:
    """Order of ending: by TerminationDate (a job without one sorts first), then by id, so exactly one job of a run
    is the last."""
    finished = job.finished if isinstance(job.finished, datetime) else None
    moment = finished.astimezone(UTC) if finished and finished.tzinfo else (finished or datetime.min)
    return finished is not None, moment.replace(tzinfo=None), job.job_id


def _common_folder(locations: Sequence[str]) -> str | None:
    """`s3://b/reports/c/job-1/` and `s3://b/reports/c/job-2/` -> `s3://b/reports/c/`."""
    common: list[str] = []
    for parts in zip(*(location.split("/") for location in locations), strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common) + "/" if locations else None


def summary_alert(summary: JobSummary, context: Context) -> SummaryAlert:
    """The job's one alert: schema dsse-remediation.alert/v1, resourceType batch-job, resource the job ARN."""
    outcome = summary.outcome
    head = envelope(
        context,
        severity=outcome.severity,
        outcome=outcome,
        resource_type="batch-job",
        resource=summary.job_arn,
        dry_run=summary.dry_run,
        reason=summary.reason,
    )
    trimmed = summary
    while True:
        body: dict[str, Any] = {
            **head,
            "jobId": summary.job_id,
            "jobIds": list(summary.job_ids or (summary.job_id,)),
            "campaign": summary.campaign,
            "bucket": summary.bucket,
            "encryptionFilter": summary.encryption_filter,
            "status": summary.status,
            "counts": dict(summary.counts),
            "totalTasks": summary.total_tasks,
            "failedTasks": [_alerted(e) for e in trimmed.failed_tasks],
            "unremediable": [_alerted(e) for e in trimmed.unremediable],
            "reportLocation": summary.report_location,
            "jobFailureReasons": list(summary.failure_reasons),
            "trigger": answer(summary.trigger),
        }
        small = len(json.dumps(body)) <= _ALERT_BUDGET
        if small or not (trimmed.failed_tasks or trimmed.unremediable):
            break
        # Keys of up to 1,024 bytes: fewer examples until the body fits; the report lists them all.
        trimmed = replace(
            trimmed,
            failed_tasks=trimmed.failed_tasks[: len(trimmed.failed_tasks) // 2],
            unremediable=trimmed.unremediable[: len(trimmed.unremediable) // 2],
        )
    attributes = {
        "severity": outcome.severity,
        "outcome": outcome.value,
        "resourceType": "batch-job",
        "bucket": summary.bucket or "",
    }
    title = _TITLES.get(outcome, f"DSSE-KMS batch job {outcome.value}")
    return SummaryAlert(subject=subject(title, summary.target), body=body, attributes=attributes, text=trimmed.text())


def _alerted(example: TaskExample) -> dict[str, Any]:
    reason = example.reason if len(example.reason) <= _REASON_LIMIT else example.reason[: _REASON_LIMIT - 3] + "..."
    return {"bucket": example.bucket, "key": example.key, "outcome": example.outcome, "reason": reason}


def _described(description: str | None) -> tuple[str | None, str | None]:
    """(bucket, encryption filter) of a description `dsse-remediation <campaign> s3://<bucket> <ENCTYPE>`."""
    words = (description or "").split()
    if len(words) >= 3 and words[0] == "dsse-remediation" and words[2].startswith("s3://"):
        return words[2].removeprefix("s3://").rstrip("/") or None, words[3] if len(words) > 3 else None
    return None, None


def _bucket_name(value: Any) -> str | None:
    """A report manifest's Bucket: a name in AWS's example; an ARN is accepted too."""
    return bucket_name(value) if isinstance(value, str) and value else None


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Outcomes in Outcome's order (remediated first), then anything else."""
    order = [o.value for o in Outcome] + [UNKNOWN]
    return sorted(((n, c) for n, c in counts.items() if c), key=lambda nc: order.index(nc[0]) if nc[0] in order else 99)


class ReportReader:
    """The S3 reads of a completion report (the adapter part of this module): errors arrive as AwsFailure, during
    the streaming of a result file too."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @errors.translated
    def json(self, bucket: str, key: str) -> Any:
        body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
        return json.loads(body.read())

    def rows(self, bucket: str, key: str) -> Iterator[list[str]]:
        """A CSV result file's rows, streamed (a file may hold millions)."""
        try:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                yield from csv.reader(io.TextIOWrapper(body, encoding="utf-8", newline=""))
            finally:
                body.close()  # also when the reader stops early (the row budget)
        except (ClientError, BotoCoreError) as exc:
            raise errors.failure(exc) from exc
