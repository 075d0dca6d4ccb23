"""Job completion: one summary per S3 Batch Operations job this stack started, and one alert.

Per-object alerts are suppressed for batch work (a backfill of a billion objects must not send a billion e-mails);
this is where a human hears about the job instead. S3 records each job status change in CloudTrail; the batch jobs
function's rule forwards Complete, Failed and Cancelled, and `Completions.on_status_change` answers each:

1. DescribeJob. A job whose role is not BATCH_JOB_ROLE_ARN was not started by this stack: ignored, nothing read.
2. The completion report (`<Report.Prefix>/job-<id>/manifest.json`, which lists CSV result files) is streamed row by
   row, each row counted under the outcome the task function wrote (report.py). At most 50 failed and 50
   unremediable objects are kept as examples (keys decoded); the rest are in the report, whose location the summary
   names. A report too large to read in one invocation is read up to a row budget and says so.
3. One alert per backfill run of a bucket: the jobs a run starts for one bucket (one per encryption type, created
   together, sharing the description `dsse-remediation <campaign> s3://<bucket> `) are found with ListJobs; the job
   that ends while another of them still runs alerts nothing (its answer names the jobs it waits for); the event of
   the job that ended last (TerminationDate, then id) publishes the run's summary, every job's report read
   (`combine`). Every status change is delivered, so that event comes; a second delivery of it (EventBridge is at
   least once) would publish the summary twice: a duplicate, never a loss.
4. The alert (`dsse-remediation.alert/v1`, resourceType `batch-job`) and its text: summary.py.

The report's files are read through aws/report_files.py (ReportFiles), DescribeJob and ListJobs through
aws/batch_jobs.py (BatchJobs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..alerts import Alerts
from ..aws.batch_jobs import FINAL_STATUSES, BatchJobs, JobStatus, bucket_name
from ..aws.report_files import ReportFiles
from ..config import BatchSettings
from ..exceptions import AwsFailure, InvalidRequest
from ..model import MANUAL, Failure, Trigger
from .report import Tally
from .requests import described
from .summary import JobSummary, combine, summary_alert

log = logging.getLogger(__name__)

# Rows of "succeeded" result files read per summary: about a minute of streaming. Failed result files are always
# read whole (the 50% rule keeps them small). A bigger job's outcome counts are those of the rows read, and say so.
MAX_SUCCEEDED_ROWS = 2_000_000
# The jobs of one run are created within seconds of each other; an older run of the same campaign and bucket (a rerun
# with another window) is not part of this one.
RUN_WINDOW = timedelta(minutes=15)


class Completions:
    """Summaries of this stack's jobs, from DescribeJob and the completion report, and their one alert each."""

    def __init__(
        self,
        settings: BatchSettings,
        jobs: BatchJobs,
        files: ReportFiles,
        alerts: Alerts,
        *,
        max_succeeded_rows: int = MAX_SUCCEEDED_ROWS,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.files = files
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
        named = described(job.description)
        if named is None or named.bucket is None:
            return [job]
        run = []
        for job_id in self.jobs.ids_described(named.run_prefix):
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
                f"BATCH_JOB_ROLE_ARN is {self.settings.job_role_arn})"
            )
        return self._summary(job, MANUAL)

    def alert(self, summary: JobSummary) -> JobSummary:
        """Publish the summary's one alert; the summary again, with `alert_error` when a required alert was lost."""
        error = self.alerts.publish(summary_alert(summary, self.alerts.context))
        return replace(summary, alert_error=error) if error else summary

    def _ours(self, job: JobStatus) -> bool:
        role = self.settings.job_role_arn
        return role is not None and job.role_arn == role

    def _summary(self, job: JobStatus, trigger: Trigger) -> JobSummary:
        named = described(job.description)
        summary = JobSummary(
            job_id=job.job_id,
            job_arn=job.arn,
            status=job.status,
            campaign=job.user_arguments.get("campaign"),
            bucket=named.bucket if named else None,
            encryption_filter=named.encryption_filter if named else None,
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
            manifest = self.files.read_json(job.report_bucket, f"{folder}manifest.json")
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
        tally = Tally()
        budget_hit = False
        for entry in files:
            bucket = _bucket_name(entry.get("Bucket")) or report_bucket
            failed_file = entry.get("TaskExecutionStatus") == "failed"
            for row in self.files.rows(bucket, entry["Key"]):
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


def _ended(job: JobStatus) -> tuple[bool, datetime, str]:
    """Order of ending: by TerminationDate (a job without one sorts first), then by id, so exactly one job of a run
    is the last."""
    finished = job.finished if isinstance(job.finished, datetime) else None
    moment = finished.astimezone(UTC) if finished and finished.tzinfo else (finished or datetime.min)
    return finished is not None, moment.replace(tzinfo=None), job.job_id


def _bucket_name(value: Any) -> str | None:
    """A report manifest's Bucket: a name in AWS's example; an ARN is accepted too."""
    return bucket_name(value) if isinstance(value, str) and value else None
