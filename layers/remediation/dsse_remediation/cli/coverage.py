"""`dsse-remediate coverage`: per in-scope bucket of the account and Region, whether a trail that is logging delivers
its object writes (PutObject, CopyObject, CompleteMultipartUpload, PostObject) to EventBridge.

The buckets: the account's general purpose buckets in the Region (ListBuckets with BucketRegion), in the protected
scope (`--include` / `--exclude`, else PROTECTED_BUCKETS / EXCLUDED_BUCKETS, as `check` and `fix` read them), the
stack's report bucket (REPORT_BUCKET) excepted as `backfill --all` does. The trails: aws/cloudtrail.py; the verdicts:
coverage/. Text: one line per trail, one per bucket (`covered` or `uncovered` with the reason), a summary, and for
uncovered buckets an advanced event selector that would cover them. `--output json`: one document whose `buckets`
list holds `bucket`, `covered`, `trails`, `missing`, `partial` and `reason`. Exit 0 when every in-scope bucket is
covered (or there is none), 1 otherwise.

It reads no KMS key and sends no alert: DSSE_KMS_KEY, BUCKET_KEY_MAP and ALERT_TOPIC_ARN are neither needed nor read.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping

from ..config import BatchSettings, Settings
from ..coverage.report import Coverage
from ..coverage_check import account_coverage
from ..model import Clock, utc_now
from ..scope import Scope
from .arguments import EXIT_ATTENTION, EXIT_OK, PROG
from .console import Console
from .session import connect

# Settings needs a key reference; coverage never resolves or uses one (connect(resolve_keys=False)).
NO_KEY = "unused-by-coverage"


def coverage_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The scope (the flags, else PROTECTED_BUCKETS / EXCLUDED_BUCKETS), ACCOUNT_ID, the Region, the report bucket."""
    include = args.include if args.include is not None else environ.get("PROTECTED_BUCKETS", "*")
    exclude = args.exclude if args.exclude is not None else environ.get("EXCLUDED_BUCKETS", "")
    return Settings(
        key=NO_KEY,
        scope=Scope.parse(include, exclude),
        account_id=environ.get("ACCOUNT_ID") or None,
        region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
        batch=BatchSettings(report_bucket=environ.get("REPORT_BUCKET", "").strip() or None),
    )


def run_coverage(args: argparse.Namespace, console: Console, clock: Clock = utc_now) -> int:
    app = connect(args, coverage_settings(args, os.environ), 10, clock=clock, resolve_keys=False)
    report = account_coverage(app.settings, app.bucket_store, app.trails)  # as the batch jobs function's check
    code = EXIT_ATTENTION if report.uncovered else EXIT_OK
    if console.json_mode:
        console.document(report.answer() | {"exitCode": code})
    else:
        console.out.write(text(report, code))
        console.out.flush()
    return code


def text(report: Coverage, code: int) -> str:
    lines = [f"trails that log in {report.region} ({report.account or 'this account'}):"]
    for trail in report.trails:
        if trail.problem:
            state = f"unreadable: {trail.problem}"
        else:
            values = f"{trail.values} value{'' if trail.values == 1 else 's'}"
            kind = f"{trail.kind} selectors ({values})" if trail.selectors else "no event selectors"
            state = f"{'logging' if trail.logging else 'NOT logging'}, {kind}"
        lines.append(f"  {trail.name}  {trail.arn}  ({trail.describe(report.region)})  {state}")
    if not report.trails:
        lines.append("  none")
    lines.append("")
    for bucket in report.buckets:
        if bucket.covered:
            names = ", ".join(arn.rsplit("/", 1)[-1] for arn in bucket.trails)
            lines.append(f"{'covered':<10} s3://{bucket.bucket}  by {names}")
        else:
            lines.append(f"{'uncovered':<10} s3://{bucket.bucket}  {bucket.reason}")
    lines.append("")
    if not report.buckets:
        lines.append(f"no in-scope bucket in {report.region} ({report.scope}) (exit {code})")
    elif report.uncovered:
        lines.append(
            f"{len(report.uncovered)} of {len(report.buckets)} in-scope bucket(s) not covered in {report.region}: "
            f"their object writes reach the object path only through the backstop (exit {code})"
        )
        lines.append(
            f"an advanced event selector that covers them (add it to a logging trail's selectors; see `{PROG} "
            "coverage --help` and the README's Coverage section for CloudTrail's limits):"
        )
        lines.append(json.dumps(report.suggestion, indent=2))
    else:
        lines.append(f"all {len(report.buckets)} in-scope bucket(s) covered in {report.region} (exit {code})")
    return "\n".join(lines) + "\n"
