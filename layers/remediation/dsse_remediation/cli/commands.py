"""The commands: `check` / `fix` on a bucket, an object or a prefix, `key` on a KMS key, and `main`, which maps every
way a run can end to its exit code (and sends `backfill`, `org-status` and `coverage` to their modules)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable, Sequence

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from ..aws import errors
from ..exceptions import AwsFailure, ConfigError, InvalidRequest
from ..model import BucketRequest, Clock, KeyEvent, KeyResult, ObjectRequest, ObjectResult, Outcome, utc_now
from ..remediation import ObjectRemediator
from ..wiring import App
from .arguments import (
    EXIT_ATTENTION,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    Target,
    UsageError,
    build_parser,
    check_account,
    parse_target,
)
from .console import AlertErrors, Console
from .listing import Item, Listing
from .pool import Tally, run_pool
from .report import report_file
from .session import connect, load_settings
from .summary import Results, Run, key_report


def run_resources(args: argparse.Namespace, console: Console, clock: Clock = utc_now) -> int:
    target = parse_target(args.target, args.recursive, args.all_versions)
    dry_run = args.command == "check" or args.dry_run
    settings = load_settings(args, os.environ)
    alert_errors = AlertErrors(console.notice)
    app = connect(args, settings, args.concurrency * settings.copy_concurrency, alert_errors, clock=clock)
    with report_file(args.report) as report:
        results = Results(keep=console.json_mode, report=report)
        if target.key or args.recursive or args.all_versions:
            run = check_objects(args, target, dry_run, app, console, results)
        else:
            console.tally = Tally(taken=1, complete=True)
            result = app.buckets.handle(BucketRequest(target.bucket, dry_run=dry_run))
            console.result(result)
            results.add(result)
            run = Run(args.command, str(target), dry_run, results.counts, 1, console_elapsed(console), results.kept)
    run = dataclasses.replace(run, alert_errors=alert_errors.count)
    console.finish(run)
    return run.exit_code


def check_objects(
    args: argparse.Namespace, target: Target, dry_run: bool, app: App, console: Console, results: Results
) -> Run:
    """The objects a target names, worked on while they are listed; a listing that breaks off ends the work there
    and adds a failed result for the target."""
    settings = app.settings
    if args.recursive and not settings.scope.contains(target.bucket):  # no listing for an out-of-scope bucket
        reason = f"bucket {target.bucket} is outside the protected scope ({settings.scope.describe()})"
        result = ObjectResult(bucket=target.bucket, key=target.key, outcome=Outcome.OUT_OF_SCOPE, reason=reason)
        console.result(result)
        results.add(result)
        return Run(args.command, str(target), dry_run, results.counts, 1, console_elapsed(console), results.kept)
    store = app.object_store
    listing = Listing.of(
        store.client, target, args.recursive, args.all_versions, settings.account_id, limit=args.max_objects
    )
    console.tally = Tally()
    batch = run_pool(
        listing,
        object_worker(app.objects, dry_run),
        failed=unexpected_error,
        concurrency=args.concurrency,
        on_done=console.result,
        in_order=results.add,
        on_interrupt=lambda running: console.notice(
            f"interrupted: starting nothing new; waiting for {running} running object(s) (Ctrl-C again: stop waiting)"
        ),
        stop=store.stopping.set,
        tally=console.tally,
        thread_name=PROG,
    )
    if args.recursive and not listing.count and listing.failed is None and not batch.interrupted:
        console.notice(f"no objects under {target}")
    if listing.failed is not None:
        console.result(listing.failed)
        results.add(listing.failed)
    return Run(
        args.command,
        str(target),
        dry_run,
        results.counts,
        listing.count + (listing.failed is not None),
        console_elapsed(console),
        results.kept,
        interrupted=batch.interrupted,
        still_running=batch.still_running,
        listing_complete=console.tally.complete,
    )


def object_worker(remediator: ObjectRemediator, dry_run: bool) -> Callable[[Item], ObjectResult]:
    def handle(item: Item) -> ObjectResult:
        request = ObjectRequest(item.bucket, (item.key,), version_id=item.version_id, dry_run=dry_run)
        return remediator.handle(request)

    return handle


def unexpected_error(item: Item, exc: Exception) -> ObjectResult:
    """One object's surprise must not stop the run: it is reported as failed."""
    reason = f"unexpected error: {type(exc).__name__}: {exc}"
    return ObjectResult(
        bucket=item.bucket, key=item.key, version_id=item.version_id, outcome=Outcome.FAILED, reason=reason
    )


def console_elapsed(console: Console) -> float:
    return time.monotonic() - console.started


def run_key(args: argparse.Namespace, console: Console, clock: Clock = utc_now) -> int:
    settings = load_settings(args, os.environ, fallback_key=args.key_ref)
    app = connect(args, dataclasses.replace(settings, alert_topic_arn=None), 1, clock=clock)  # a report: no alert
    try:
        facts = app.kms.facts(args.key_ref)
    except AwsFailure as exc:
        result = KeyResult(key_arn=args.key_ref, outcome=Outcome.FAILED, reason=f"DescribeKey failed: {exc}")
    else:
        result = app.key_guard.handle(KeyEvent(key_arns=(facts.arn,)))
        if result.outcome is Outcome.OUT_OF_SCOPE:
            result = dataclasses.replace(result, key_state=facts.state)
    results = Results()
    results.add(result)
    run = Run(args.command, args.key_ref, True, results.counts, 1, console_elapsed(console), results.kept)
    if console.json_mode:
        console.finish(run)
    else:
        console.out.write(key_report(result))
    return run.exit_code


def main(argv: Sequence[str] | None = None, *, clock: Clock = utc_now) -> int:
    """The command line; `clock` is the wall clock every command reads (campaign labels, windows, alert times)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, and usage errors argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    console = Console(json_mode=args.output == "json", show_versions=getattr(args, "all_versions", False))
    try:
        check_account(args)
        if args.command == "key":
            return run_key(args, console, clock)
        if args.command == "backfill":
            from .backfill import run_backfill  # the batch parts load only for this command

            return run_backfill(args, console, clock)
        if args.command == "org-status":
            from .org_status import run_org_status

            return run_org_status(args, console, clock)
        if args.command == "coverage":
            from .coverage import run_coverage

            return run_coverage(args, console, clock)
        if args.command == "posture":
            from .posture import run_posture

            return run_posture(args, console, clock)
        return run_resources(args, console, clock)
    except (UsageError, ConfigError, InvalidRequest) as exc:
        console.notice(str(exc))
        return EXIT_USAGE
    except (NoCredentialsError, ProfileNotFound) as exc:
        console.notice(f"{exc}: configure credentials (aws configure, --profile, or AWS_* variables)")
        return EXIT_USAGE
    except ClientError as exc:
        console.notice(errors.message(exc))
        return EXIT_ATTENTION
    except AwsFailure as exc:
        console.notice(str(exc))
        return EXIT_ATTENTION
    except BotoCoreError as exc:
        console.notice(str(exc))
        return EXIT_ATTENTION
    except KeyboardInterrupt:
        console.notice("interrupted")
        return EXIT_INTERRUPTED
