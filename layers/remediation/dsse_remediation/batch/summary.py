"""A job's summary, a run's summary (`combine`), and the one alert that tells a human about them.

The alert (`dsse-remediation.alert/v1`, resourceType `batch-job`): outcome `failed` when the job failed or was
cancelled or any task failed, `unremediable` when objects cannot be fixed, `would-remediate` for a dry run that found
objects to fix, else `remediated`. Its e-mail rendering is `JobSummary.text()`, what `backfill --wait` prints.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..alerts import Context, TextAlert, envelope, subject
from ..model import MANUAL, OMITTED, Outcome, Trigger, answer, truncate
from .report import MAX_EXAMPLES, UNKNOWN, TaskExample

_REASON_LIMIT = 300  # characters of a reason an alert carries per object (SNS messages stop at 256 KiB)
_ALERT_BUDGET = 64 * 1024  # the JSON body's size; the message carries it twice (JSON and e-mail text)
_TITLES = {
    Outcome.REMEDIATED: "DSSE-KMS batch job done",
    Outcome.WOULD_REMEDIATE: "DSSE-KMS batch job (dry run) found objects to fix",
    Outcome.UNREMEDIABLE: "DSSE-KMS batch job: unremediable objects",
    Outcome.FAILED: "DSSE-KMS batch job failed",
}


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


def summary_alert(summary: JobSummary, context: Context) -> TextAlert:
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
    return TextAlert(subject=subject(title, summary.target), body=body, attributes=attributes, text=trimmed.text())


def _alerted(example: TaskExample) -> dict[str, Any]:
    reason = truncate(example.reason, _REASON_LIMIT)
    return {"bucket": example.bucket, "key": example.key, "outcome": example.outcome, "reason": reason}


def _common_folder(locations: Sequence[str]) -> str | None:
    """`s3://b/reports/c/job-1/` and `s3://b/reports/c/job-2/` -> `s3://b/reports/c/`."""
    common: list[str] = []
    for parts in zip(*(location.split("/") for location in locations), strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common) + "/" if locations else None


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Outcomes in Outcome's order (remediated first), then anything else."""
    order = [o.value for o in Outcome] + [UNKNOWN]
    return sorted(((n, c) for n, c in counts.items() if c), key=lambda nc: order.index(nc[0]) if nc[0] in order else 99)
