"""`dsse-remediate backfill`: bring the objects already in buckets to DSSE-KMS with S3 Batch Operations jobs.

The CLI only plans, prices and starts the jobs (and, with `--wait`, follows them): S3 lists each bucket (the manifest
generator, one job per encryption type that is not compliant) and invokes the stack's task function per object, so
a bucket of a billion objects takes the same one command as a bucket of ten. The estimated fees are printed before
anything is created; `--estimate-only` stops there. Each job ends with one summary alert from the stack, and
`--wait` prints the same summary.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..batch.requests import JobSpec, plan
from ..exceptions import AwsFailure
from ..model import Clock, utc_now
from ..scope import BUCKET_NAME_RULES, is_valid_bucket_name
from ..wiring import App
from .arguments import EXIT_ATTENTION, EXIT_INTERRUPTED, EXIT_OK, PROG, UsageError
from .console import Console, job_progress_line
from .session import connect, load_settings, stack_environment
from .summary import NEEDS_ATTENTION

if TYPE_CHECKING:
    from ..aws.batch_jobs import JobStatus
    from ..batch.summary import JobSummary


@dataclass(frozen=True)
class Polling:
    """How `--wait` polls DescribeJob; tests replace `sleep` so that they never sleep."""

    interval: float = 5.0
    sleep: Callable[[float], None] = time.sleep


POLLING = Polling()


@dataclass(frozen=True)
class Started:
    """A job created, or the CreateJob that failed for it (`error`)."""

    spec: JobSpec
    job_id: str = ""
    error: str = ""

    @property
    def label(self) -> str:
        return f"s3://{self.spec.bucket} {self.spec.encryption_filter}"

    def answer(self, report_bucket: str | None) -> dict[str, str]:
        answer = {"bucket": self.spec.bucket, "encryption": self.spec.encryption_filter}  # the JSON document's name
        if self.error:
            return answer | {"error": self.error}
        return answer | {
            "jobId": self.job_id,
            "report": report_location(report_bucket, self.spec.campaign, self.job_id),
        }


def bucket_of(uri: str) -> str:
    """`s3://bucket`: backfill works on whole buckets (the manifest generator lists one bucket per job)."""
    if not uri.startswith("s3://"):
        raise UsageError(f"{uri!r} is not an S3 URI: expected s3://bucket")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if key:
        raise UsageError(f"{uri}: backfill takes whole buckets (s3://bucket); for a prefix use `{PROG} fix -r`")
    if not is_valid_bucket_name(bucket):
        raise UsageError(f"{uri!r}: {bucket!r} is not a valid S3 bucket name ({BUCKET_NAME_RULES})")
    return bucket


def check_request(args: argparse.Namespace, now: datetime) -> list[str]:
    """The buckets named, once each; a UsageError for any combination that cannot be meant (nothing read yet)."""
    sources = sum((bool(args.buckets), args.all, args.from_inventory is not None))
    if sources != 1:
        raise UsageError("name the objects one way: s3://bucket [s3://bucket ...], --all, or --from-inventory URI")
    if args.from_inventory is not None:
        if not args.from_inventory.startswith("s3://") or "/" not in args.from_inventory.removeprefix("s3://"):
            raise UsageError(f"--from-inventory {args.from_inventory!r}: expected s3://bucket/.../manifest.json")
        if args.created_after:
            raise UsageError("--from-inventory takes the objects its report lists: --created-after does not apply")
    if args.created_after and args.created_after > now:
        raise UsageError(f"--created-after {args.created_after.isoformat()} is in the future: no object matches")
    if args.wait and args.estimate_only:
        raise UsageError("--estimate-only creates no job: there is nothing to --wait for")
    return list(dict.fromkeys(bucket_of(uri) for uri in args.buckets))


@dataclass
class BackfillRun:
    """What a backfill did, for its exit code and the `--output json` document (text mode prints as it goes)."""

    campaign: str
    dry_run: bool
    estimate: str | None = None
    jobs: list[Started] = field(default_factory=list)
    summaries: list[JobSummary] = field(default_factory=list)

    def answer(self, report_bucket: str | None, code: int) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "dryRun": self.dry_run,
            "estimate": self.estimate,
            "jobs": [job.answer(report_bucket) for job in self.jobs],
            "summaries": [summary.answer() for summary in self.summaries],
            "exitCode": code,
        }


def run_backfill(args: argparse.Namespace, console: Console, clock: Clock = utc_now) -> int:
    started_at = clock()
    named = check_request(args, started_at)
    env = dict(os.environ) | (stack_environment(args) if args.stack else {})
    settings = load_settings(args, env)
    batch = settings.batch
    require_stack_parts(batch.task_function, batch.job_role_arn, batch.report_bucket, args)
    app = connect(args, settings, 10, clock=clock)
    run = BackfillRun(args.campaign or f"backfill-{started_at:%Y-%m-%d}", args.dry_run)
    try:
        code = backfill(args, app, named, run, console)
    except KeyboardInterrupt:
        created = sum(1 for job in run.jobs if job.job_id)
        console.notice(
            f"interrupted: no further job is created; the {created} created go on in S3 Batch Operations, "
            "each ends with its summary alert"
        )
        code = EXIT_INTERRUPTED
    except AwsFailure as exc:  # the jobs created before it are still reported (the JSON document lists them)
        console.notice(str(exc))
        code = EXIT_ATTENTION
    if console.json_mode:
        console.document(run.answer(app.settings.batch.report_bucket, code))
    return code


def backfill(args: argparse.Namespace, app: App, named: Sequence[str], run: BackfillRun, console: Console) -> int:
    """Plan, estimate (printed before anything is created), start and, with --wait, follow and summarise."""
    specs = plan_jobs(args, app, named, run.campaign, console)
    if not specs:
        console.notice("nothing to do: no job created")
        return EXIT_OK
    run.estimate = str(app.backfill.estimate(specs))
    console.line(f"campaign {run.campaign}" + (" (dry run: the jobs change nothing)" if run.dry_run else ""))
    console.line(run.estimate)
    if args.estimate_only:
        return EXIT_OK
    for job in start_jobs(app, specs, console):
        run.jobs.append(job)
    running = [job for job in run.jobs if job.job_id]
    code = EXIT_ATTENTION if len(running) < len(run.jobs) else EXIT_OK
    if running:
        where = report_location(app.settings.batch.report_bucket, run.campaign, "<job id>")
        console.line(f"completion reports under {where}; each job ends with one summary alert")
    if not args.wait or not running:
        return code
    statuses = follow(app, running, console)
    by_bucket: dict[str, list[str]] = {}
    for job in running:  # one summary per bucket's jobs, as the run's one alert says it
        by_bucket.setdefault(job.spec.bucket, []).append(job.job_id)
    run.summaries = [app.completions.summarize_run(job_ids) for job_ids in by_bucket.values()]
    for summary in run.summaries:
        console.line("\n" + summary.text())
    if any(status.status != "Complete" for status in statuses) or any(map(needs_attention, run.summaries)):
        return EXIT_ATTENTION
    return code


def require_stack_parts(function: str | None, role: str | None, bucket: str | None, args: argparse.Namespace) -> None:
    """Creating jobs needs the stack's task function, job role and report bucket; an estimate needs none of them
    (except an inventory's, whose CSV manifest is written to the report bucket)."""
    needed: dict[str, str | None] = {}
    if not args.estimate_only:
        needed = {"--task-function ARN (BATCH_TASK_FUNCTION)": function, "--job-role ARN (BATCH_JOB_ROLE_ARN)": role}
    if not args.estimate_only or args.from_inventory:
        needed["--report-bucket NAME (REPORT_BUCKET)"] = bucket
    missing = [flag for flag, value in needed.items() if not value]
    if missing:
        raise UsageError(f"the stack's parts are needed: pass --stack NAME, or {', '.join(missing)}")


def plan_jobs(
    args: argparse.Namespace, app: App, named: Sequence[str], campaign: str, console: Console
) -> list[JobSpec]:
    """The jobs to create: one per encryption type per in-scope bucket, or one over an inventory's non-DSSE rows (and,
    with --include-dsse-other-keys, its DSSE rows: the inventory names no key)."""
    settings = app.settings
    if args.from_inventory:
        spec = app.backfill.from_inventory(
            args.from_inventory,
            campaign=campaign,
            dry_run=args.dry_run,
            include_dsse_other_keys=args.include_dsse_other_keys,
        )
        if spec is None:
            what = "object a job must read" if args.include_dsse_other_keys else "object that is not DSSE-KMS"
            console.notice(f"{args.from_inventory} lists no {what}")
            return []
        return [spec]
    buckets = list(named) if named else list(in_scope_buckets(app))
    for bucket in [b for b in buckets if not settings.scope.contains(b)]:
        console.notice(f"s3://{bucket} is outside the protected scope ({settings.scope.describe()}): no job")
        buckets.remove(bucket)
    return [
        spec
        for bucket in buckets
        for spec in plan(
            bucket,
            campaign=campaign,
            dry_run=args.dry_run,
            include_dsse_other_keys=args.include_dsse_other_keys,
            created_after=args.created_after,
            priority=settings.batch.job_priority,
        )
    ]


def in_scope_buckets(app: App) -> Iterator[str]:
    """`--all`: the account's general purpose buckets in the Region (a job runs in its bucket's Region) that are in
    scope, except the stack's report bucket."""
    for name, _ in app.bucket_store.owned_buckets(app.settings.region):
        if app.settings.scope.contains(name) and name != app.settings.batch.report_bucket:
            yield name


def start_jobs(app: App, specs: Sequence[JobSpec], console: Console) -> Iterator[Started]:
    """Each job in turn, its id printed as soon as it exists (a Ctrl-C then leaves no job unreported); a CreateJob
    refused is reported and the next job is still tried."""
    for spec in specs:
        try:
            job = Started(spec, job_id=app.backfill.start(spec))
        except AwsFailure as exc:
            job = Started(spec, error=f"CreateJob failed: {exc}")
            console.notice(f"{job.label}: {job.error}")
        else:
            console.line(f"started  {job.job_id}  {job.label}")
        yield job


def follow(app: App, jobs: Sequence[Started], console: Console, polling: Polling | None = None) -> list[JobStatus]:
    """DescribeJob for each job until every one has ended: a progress bar per job on a terminal, a notice at each
    status change (what a log shows). A job runs for hours: a throttled or failed poll is told and asked again at
    the next round (botocore has retried it already); any other error ends the wait, not the jobs."""
    polling = polling or POLLING
    latest: dict[str, JobStatus] = {}
    while True:
        for job in jobs:
            previous = latest.get(job.job_id)
            if previous is not None and previous.done:
                continue
            try:
                status = app.batch_jobs.describe(job.job_id)
            except AwsFailure as exc:
                if not exc.failure.retryable:
                    raise
                console.notice(f"job {job.job_id}: DescribeJob failed ({exc}); asking again in {polling.interval:g}s")
                continue
            if previous is None or previous.status != status.status:
                console.notice(f"job {job.job_id} ({job.label}): {status.status}")
            latest[job.job_id] = status
        console.draw([progress(job, latest[job.job_id]) for job in jobs if job.job_id in latest])
        if len(latest) == len(jobs) and all(status.done for status in latest.values()):
            console.draw([])
            return [latest[job.job_id] for job in jobs]
        polling.sleep(polling.interval)


def progress(job: Started, status: JobStatus) -> str:
    done = status.succeeded + status.failed
    return job_progress_line(f"{job.job_id} {job.label}", status.status, done, status.total, status.failed)


def needs_attention(summary: JobSummary) -> bool:
    """Exit 1 as `fix` does: anything failed or unremediable, or (a dry run) anything that would be remediated."""
    return summary.outcome in NEEDS_ATTENTION


def report_location(report_bucket: str | None, campaign: str, job_id: str) -> str:
    """Where S3 writes a job's completion report (Backfill.request: Report Prefix `reports/<campaign>`)."""
    return f"s3://{report_bucket}/reports/{campaign}/job-{job_id}/"
