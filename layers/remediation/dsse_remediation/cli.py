"""`dsse-remediate`: check and fix the DSSE-KMS encryption of S3 objects and buckets from a terminal.

The same library as the Lambdas, with the caller's AWS credentials: the standard boto3 chain, `--profile`,
`--region`; boto3 honours `AWS_ENDPOINT_URL`, so it runs against a local fake too.

    dsse-remediate check s3://bucket/key                  one object; report only
    dsse-remediate check s3://bucket                      the bucket's default encryption
    dsse-remediate check s3://bucket/prefix/ --recursive  every object under the prefix (S3 prefix semantics)
    dsse-remediate fix   <same targets> [--dry-run]       remediate; --dry-run reports what it would do
    dsse-remediate key   alias/dsse-data                  the key's state and the bucket scopes that depend on it

Options go after the command: `--key`, `--include`, `--exclude` (else DSSE_KMS_KEY, PROTECTED_BUCKETS,
EXCLUDED_BUCKETS), `--profile`, `--region`, `--all-versions`, `--concurrency N`, `--output text|json`,
`--report file.csv`, `--no-alerts`. The other settings the Lambdas read (BUCKET_KEY_MAP, ENCRYPTION_CONTEXT, MODE,
MULTIPART_*, PURGE_NONCURRENT_VERSIONS, ACCOUNT_ID, ...) come from the environment as well. `fix` publishes alerts
only when ALERT_TOPIC_ARN is set (and `--no-alerts` is not given); `check` never does.

Exit codes: 0 when everything in scope is compliant afterwards (compliant or remediated; out-of-scope and gone do
not count against it); 1 when anything failed, is unremediable or would be remediated (`check` or `--dry-run`
finding non-compliance); 2 for usage errors; 130 on Ctrl-C, which starts no new work, lets running single copies
finish, makes running multipart copies abort at their next part, and prints the partial summary.

A recursive run lists the keys first (ListObjectsV2, or ListObjectVersions with `--all-versions`), page by page,
then works through them in a bounded thread pool; only the list of keys and the small results are kept in memory.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from . import USER_AGENT, __version__
from .aws import clients, errors
from .config import Settings
from .exceptions import AwsFailure, ConfigError, InvalidRequest
from .model import BucketRequest, BucketResult, KeyEvent, KeyResult, ObjectRequest, ObjectResult, Outcome, answer
from .remediation import ObjectRemediator, validate
from .scope import BUCKET_NAME_RULES, is_valid_bucket_name
from .wiring import App

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PROG = "dsse-remediate"
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
EXIT_OK, EXIT_ATTENTION, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
NEEDS_ATTENTION = frozenset({Outcome.FAILED, Outcome.UNREMEDIABLE, Outcome.WOULD_REMEDIATE})
REPORT_FIELDS = ("bucket", "key", "versionId", "outcome", "reason", "encryptionBefore", "encryptionAfter")

Result = ObjectResult | BucketResult | KeyResult


class UsageError(ValueError):
    """The command line asks for something impossible; nothing was read or changed."""


# The command line.


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    config = common.add_argument_group("configuration (flags, else the environment variables the Lambdas read)")
    config.add_argument("--key", metavar="KEY", help="the DSSE KMS key: key ARN or alias (else DSSE_KMS_KEY)")
    config.add_argument(
        "--include", metavar="PATTERNS", help="protected bucket patterns, comma-separated (else PROTECTED_BUCKETS; *)"
    )
    config.add_argument(
        "--exclude", metavar="PATTERNS", help="excluded bucket patterns, comma-separated (else EXCLUDED_BUCKETS)"
    )
    config.add_argument(
        "--bucket-key-map",
        metavar="MAP",
        help="a key per bucket category: pattern=keyArn,pattern=keyArn; first match wins, else --key "
        "(else BUCKET_KEY_MAP)",
    )
    config.add_argument(
        "--no-alerts", action="store_true", help="publish no SNS alert even when ALERT_TOPIC_ARN is set"
    )
    config.add_argument("--profile", help="AWS profile (else the standard boto3 credential chain)")
    config.add_argument("--region", help="AWS Region (else AWS_REGION / the profile's; else the key ARN's)")
    config.add_argument(
        "--output", choices=("text", "json"), default="text", help="json: one JSON document on stdout, nothing else"
    )

    resources = argparse.ArgumentParser(add_help=False)
    resources.add_argument("target", metavar="S3_URI", help="s3://bucket/key, s3://bucket, or s3://bucket/prefix/")
    what = resources.add_argument_group("what to look at")
    what.add_argument("-r", "--recursive", action="store_true", help="every object under the prefix (ListObjectsV2)")
    what.add_argument(
        "--all-versions",
        action="store_true",
        help="every version (ListObjectVersions). Noncurrent versions are only reported, never copied: "
        "copying one in place would put old data over newer data",
    )
    what.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"objects handled at once, 1-{MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY}). Every copy makes S3 "
        "call KMS (GenerateDataKey, and Decrypt for a KMS-encrypted source) on the account's per-Region KMS "
        "request quota, which the remediation Lambdas and every other KMS user share: the default stays well below "
        "it; raise it with care. Objects above MULTIPART_THRESHOLD_BYTES copy COPY_CONCURRENCY parts each on top",
    )
    what.add_argument(
        "--report",
        metavar="FILE.csv",
        help="write one CSV row per resource: " + ", ".join(REPORT_FIELDS) + " (encryptionAfter is the encryption "
        "after the run: the same as before when nothing was changed)",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check and fix DSSE-KMS encryption of S3 objects and buckets under your KMS key.",
        epilog="exit codes: 0 everything in scope compliant afterwards; 1 something failed, is unremediable or "
        "would be remediated; 2 usage error; 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "check", parents=[resources, common], help="report only (a dry run): what is not DSSE-KMS under the key"
    )
    fix = commands.add_parser(
        "fix", parents=[resources, common], help="remediate: copy objects in place, reset defaults"
    )
    fix.add_argument("--dry-run", action="store_true", help="change nothing; print what would be done (as check)")
    fix.add_argument(
        "--remediate-restored-archives",
        action="store_true",
        help="also copy restored GLACIER / DEEP_ARCHIVE objects: the copy is a new archived version, which ends "
        "the restore (else REMEDIATE_RESTORED_ARCHIVES; off: they are reported, not copied)",
    )
    key = commands.add_parser("key", parents=[common], help="a key's state and the bucket scopes that depend on it")
    key.add_argument("key_ref", metavar="KEY", help="key ARN, alias (alias/name), alias ARN or key id")
    return parser


def _concurrency(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{value} is outside 1-{MAX_CONCURRENCY}")
    return value


@dataclass(frozen=True)
class Target:
    """An s3:// URI: a bucket (`key` empty), an object, or a prefix (with --recursive)."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"


def parse_target(uri: str, recursive: bool, all_versions: bool) -> Target:
    if not uri.startswith("s3://"):
        raise UsageError(f"{uri!r} is not an S3 URI: expected s3://bucket, s3://bucket/key or s3://bucket/prefix/")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not is_valid_bucket_name(bucket):
        raise UsageError(f"{uri!r}: {bucket!r} is not a valid S3 bucket name ({BUCKET_NAME_RULES})")
    if not recursive and key.endswith("/"):
        raise UsageError(f"{uri} ends in '/': add --recursive to take every object under the prefix")
    if not recursive and not key and all_versions:
        raise UsageError("--all-versions needs an object key or --recursive (a bucket's default has no versions)")
    if key and not recursive:
        validate(ObjectRequest(bucket, (key,)))  # the key length limit: InvalidRequest, exit 2
    return Target(bucket, key)


# Configuration and AWS clients, built from the flags and the caller's session (not the Lambdas' cached clients).


def load_settings(args: argparse.Namespace, environ: Mapping[str, str], fallback_key: str | None = None) -> Settings:
    env = dict(environ)
    if args.key:
        env["DSSE_KMS_KEY"] = args.key
    if not env.get("DSSE_KMS_KEY", "").strip():
        if fallback_key is None:
            raise UsageError("no DSSE key: pass --key <key ARN or alias> or set DSSE_KMS_KEY")
        env["DSSE_KMS_KEY"] = fallback_key
    if args.include is not None:
        env["PROTECTED_BUCKETS"] = args.include
    if args.exclude is not None:
        env["EXCLUDED_BUCKETS"] = args.exclude
    if args.bucket_key_map is not None:
        env["BUCKET_KEY_MAP"] = args.bucket_key_map
    if getattr(args, "remediate_restored_archives", False):
        env["REMEDIATE_RESTORED_ARCHIVES"] = "true"
    if args.no_alerts or getattr(args, "command", None) == "check":  # check only reports: it never alerts
        env.pop("ALERT_TOPIC_ARN", None)
    return Settings.from_env(env)


def connect(
    args: argparse.Namespace,
    settings: Settings,
    pool_size: int,
    on_alert_error: Callable[[Exception], None] | None = None,
) -> App:
    """The App on the caller's session (standard retries); the configured key references resolved to ARNs."""
    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound as exc:
        raise UsageError(str(exc)) from None
    region = args.region or session.region_name or settings.region or _arn_region(settings.key)
    if not region:
        raise UsageError("no AWS Region: pass --region, set AWS_REGION, or give the key as a key ARN")
    settings = dataclasses.replace(settings, region=region)
    config = clients.config(f"{USER_AGENT} cli", max(10, min(pool_size, 256)))

    def client(service: str, in_region: str | None) -> Any:
        return session.client(service, region_name=in_region, config=config)  # type: ignore[call-overload]

    app = App(settings, client, on_alert_error)
    app.keys  # noqa: B018 (resolves the configured key references now: a bad one fails before any work)
    return app


def _arn_region(reference: str) -> str | None:
    parts = reference.split(":")
    return parts[3] if reference.startswith("arn:") and len(parts) > 4 and parts[3] else None


# Listing.


@dataclass(frozen=True)
class Item:
    """One object (or one noncurrent version) to evaluate."""

    bucket: str
    key: str
    version_id: str | None = None  # set only for noncurrent versions


def list_items(
    client: S3Client, target: Target, recursive: bool, all_versions: bool, owner: str | None
) -> Iterator[Item]:
    """The objects a target names, page by page. Current versions carry no version id: they are what a fix copies."""
    extra: dict[str, Any] = {"ExpectedBucketOwner": owner} if owner else {}
    if all_versions:
        yield from _list_versions(client, target, recursive, extra)
    elif recursive:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=target.key, **extra):
            yield from (Item(target.bucket, entry["Key"]) for entry in page.get("Contents", []))
    else:
        yield Item(target.bucket, target.key)


def _list_versions(client: S3Client, target: Target, recursive: bool, extra: dict[str, Any]) -> Iterator[Item]:
    """Every version (delete markers have no encryption); for one object, only that key's versions."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=target.bucket, Prefix=target.key, **extra):
        for version in page.get("Versions", []):
            if recursive or version["Key"] == target.key:
                noncurrent = None if version.get("IsLatest") else version.get("VersionId")
                yield Item(target.bucket, version["Key"], noncurrent)


# Running the work: a bounded pool, results in listing order, Ctrl-C stops cleanly.


@dataclass
class Batch:
    results: list[ObjectResult] = field(default_factory=list)
    interrupted: bool = False
    still_running: int = 0  # copies left running when a second Ctrl-C stopped the wait (they finish before exit)


def run_batch(
    items: Sequence[Item],
    handle: Callable[[Item], ObjectResult],
    concurrency: int,
    on_result: Callable[[ObjectResult], None],
    notice: Callable[[str], None],
    stop: Callable[[], None] = lambda: None,
) -> Batch:
    """At most 2 x concurrency submitted at a time. On Ctrl-C: nothing new starts, queued work is cancelled, `stop`
    makes running multipart copies abort at their next part, and the running work is waited for."""
    batch = Batch()
    finished: dict[int, ObjectResult] = {}
    pending: dict[Future[ObjectResult], int] = {}

    def collect(done: set[Future[ObjectResult]]) -> None:
        for future in done:
            index = pending.pop(future)
            if not future.cancelled():
                finished[index] = future.result()
                on_result(finished[index])

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=PROG)
    try:
        for index, item in enumerate(items):
            while len(pending) >= 2 * concurrency:
                collect(wait(pending, return_when=FIRST_COMPLETED).done)
            pending[pool.submit(handle, item)] = index
        while pending:
            collect(wait(pending, return_when=FIRST_COMPLETED).done)
    except KeyboardInterrupt:
        batch.interrupted = True
        stop()
        running = len(pending) - sum(future.cancel() for future in list(pending))
        notice(
            f"interrupted: starting nothing new; waiting for {running} running object(s) (Ctrl-C again: stop waiting)"
        )
        try:
            while pending:
                collect(wait(pending, return_when=FIRST_COMPLETED).done)
        except KeyboardInterrupt:
            batch.still_running = sum(1 for future in pending if not future.done())
    finally:
        pool.shutdown(wait=not batch.still_running, cancel_futures=True)
    batch.results = [finished[index] for index in sorted(finished)]
    return batch


def object_worker(remediator: ObjectRemediator, dry_run: bool) -> Callable[[Item], ObjectResult]:
    def handle(item: Item) -> ObjectResult:
        request = ObjectRequest(item.bucket, (item.key,), version_id=item.version_id, dry_run=dry_run)
        try:
            return remediator.handle(request)
        except Exception as exc:  # one object's surprise must not stop the run; it is reported as failed
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
            return ObjectResult(
                bucket=item.bucket, key=item.key, version_id=item.version_id, outcome=Outcome.FAILED, reason=reason
            )

    return handle


# Output: result lines and the summary (text) or one JSON document (json); progress and notes on stderr.


class AlertErrors:
    def __init__(self, notice: Callable[[str], None]) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._notice = notice

    def __call__(self, exc: Exception) -> None:
        with self._lock:
            self.count += 1
            first = self.count == 1
        if first:
            self._notice(f"an alert could not be published ({exc}); the run goes on")


def progress_line(done: int, total: int, elapsed: float, counts: Mapping[Outcome, int]) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    percent = 100 * done // total if total else 100
    return (
        f"{done}/{total} objects ({percent}%)  {rate:.1f}/s  "
        f"remediated {counts.get(Outcome.REMEDIATED, 0)}  failed {counts.get(Outcome.FAILED, 0)}"
    )


class Console:
    """stdout: result lines and the summary table (text), or nothing until the JSON document (json).
    stderr: notes, and a progress line that redraws in place, only when stderr is a terminal."""

    REDRAW_SECONDS = 0.2

    def __init__(self, json_mode: bool, show_versions: bool) -> None:
        self.json_mode = json_mode
        self.show_versions = show_versions
        self.out: TextIO = sys.stdout
        self.err: TextIO = sys.stderr
        self.progress_enabled = self.err.isatty()
        self.counts: Counter[Outcome] = Counter()
        self.total = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._progress_visible = False

    def notice(self, text: str) -> None:
        self._clear_progress()
        print(f"{PROG}: {text}", file=self.err, flush=True)

    def result(self, result: Result) -> None:
        self.counts[result.outcome] += 1
        if not self.json_mode:
            self._clear_progress()
            print(f"{result.outcome.value:<16} {self.resource(result)}  {result.reason}", file=self.out, flush=True)
        self.progress()

    def progress(self) -> None:
        now = time.monotonic()
        if not self.progress_enabled or not self.total or now - self._drawn < self.REDRAW_SECONDS:
            return
        self._drawn = now
        done = sum(self.counts.values())
        self.err.write("\r\x1b[K" + progress_line(done, self.total, now - self.started, self.counts))
        self.err.flush()
        self._progress_visible = True

    def _clear_progress(self) -> None:
        if self._progress_visible:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._progress_visible = False

    def resource(self, result: Result) -> str:
        if isinstance(result, BucketResult):
            return f"s3://{result.bucket} (default encryption)"
        if isinstance(result, KeyResult):
            return result.key_arn
        text = f"s3://{result.bucket}/{result.key}"
        if self.show_versions and result.version_id not in (None, "null"):
            text += f" (version {result.version_id})"
        return text

    def finish(self, run: Run) -> None:
        self._clear_progress()
        if self.json_mode:
            document = {"results": [answer(r) for r in run.results], "summary": run.summary()}
            print(json.dumps(document, indent=2, default=str), file=self.out, flush=True)
            return
        self.out.write(summary_table(run))
        self.out.flush()


@dataclass
class Run:
    command: str
    target: str
    dry_run: bool
    results: list[Result]
    total: int
    elapsed: float
    interrupted: bool = False
    still_running: int = 0
    alert_errors: int = 0

    @property
    def counts(self) -> Counter[Outcome]:
        return Counter(result.outcome for result in self.results)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_ATTENTION if any(r.outcome in NEEDS_ATTENTION for r in self.results) else EXIT_OK

    def summary(self) -> dict[str, Any]:
        counts = self.counts
        return {
            "command": self.command,
            "target": self.target,
            "dryRun": self.dry_run,
            "total": self.total,
            "processed": len(self.results),
            "outcomes": {outcome.value: counts.get(outcome, 0) for outcome in Outcome},
            "interrupted": self.interrupted,
            "stillRunning": self.still_running,
            "alertErrors": self.alert_errors,
            "elapsedSeconds": round(self.elapsed, 3),
            "exitCode": self.exit_code,
        }


def summary_table(run: Run) -> str:
    counts = run.counts
    width = max(len(outcome.value) for outcome in Outcome)
    rows = [f"{outcome.value:<{width}}  {counts[outcome]:>7}" for outcome in Outcome if counts[outcome]]
    title = f"{run.command} {run.target}" + (" (dry run: nothing changed)" if run.dry_run else "")
    lines = ["", f"Summary: {title}", f"{'outcome':<{width}}  {'count':>7}", *rows]
    lines += [f"{'-' * width}  {'-' * 7}", f"{'total':<{width}}  {len(run.results):>7}"]
    rate = len(run.results) / run.elapsed if run.elapsed > 0 else 0.0
    lines.append(f"{len(run.results)} of {run.total} in {run.elapsed:.1f}s ({rate:.1f}/s); {verdict(run)}")
    return "\n".join(lines) + "\n"


def verdict(run: Run) -> str:
    attention = sum(n for outcome, n in run.counts.items() if outcome in NEEDS_ATTENTION)
    if run.interrupted:
        running = f", {run.still_running} still running" if run.still_running else ""
        return f"interrupted: {run.total - len(run.results)} not processed{running} (exit 130)"
    if not attention:
        return "everything in scope is DSSE-KMS under its key (exit 0)"
    if run.dry_run and attention == run.counts[Outcome.WOULD_REMEDIATE]:
        return f"{attention} not compliant; run `{PROG} fix` to remediate (exit 1)"
    return f"{attention} need attention: see the reasons above (exit 1)"


def report_row(result: ObjectResult | BucketResult) -> dict[str, str]:
    before = str(result.before) if result.before else ""
    after = result.after or (result.before if result.outcome is not Outcome.REMEDIATED else None)
    return {
        "bucket": result.bucket,
        "key": _cell(result.key) if isinstance(result, ObjectResult) else "",
        "versionId": (result.version_id or "") if isinstance(result, ObjectResult) else "",
        "outcome": result.outcome.value,
        "reason": result.reason,
        "encryptionBefore": before,
        "encryptionAfter": str(after) if after else "",
    }


def _cell(text: str) -> str:
    """A key opened in a spreadsheet must not run as a formula (keys may start with = + - @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@contextlib.contextmanager
def report_file(path: str | None) -> Iterator[csv.DictWriter[str] | None]:
    """Opened before any work, so a bad path fails first (exit 2)."""
    if path is None:
        yield None
        return
    try:
        handle = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise UsageError(f"cannot write the report {path}: {exc.strerror}") from None
    with handle:
        writer = csv.DictWriter(handle, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        yield writer


# The commands.


def run_resources(args: argparse.Namespace, console: Console) -> int:
    target = parse_target(args.target, args.recursive, args.all_versions)
    dry_run = args.command == "check" or args.dry_run
    settings = load_settings(args, os.environ)
    alert_errors = AlertErrors(console.notice)
    app = connect(args, settings, args.concurrency * settings.copy_concurrency, alert_errors)
    with report_file(args.report) as report:
        if target.key or args.recursive or args.all_versions:
            run = check_objects(args, target, dry_run, app, console)
        else:
            result = app.buckets.handle(BucketRequest(target.bucket, dry_run=dry_run))
            console.total = 1
            console.result(result)
            run = Run(args.command, str(target), dry_run, [result], 1, time.monotonic() - console.started)
        run.alert_errors = alert_errors.count
        if report is not None:
            for row in run.results:
                if isinstance(row, ObjectResult | BucketResult):
                    report.writerow(report_row(row))
    console.finish(run)
    return run.exit_code


def check_objects(
    args: argparse.Namespace,
    target: Target,
    dry_run: bool,
    app: App,
    console: Console,
) -> Run:
    settings = app.settings
    if args.recursive and not settings.scope.contains(target.bucket):  # no listing for an out-of-scope bucket
        reason = f"bucket {target.bucket} is outside the protected scope ({settings.scope.describe()})"
        result = ObjectResult(bucket=target.bucket, key=target.key, outcome=Outcome.OUT_OF_SCOPE, reason=reason)
        console.result(result)
        return Run(args.command, str(target), dry_run, [result], 1, time.monotonic() - console.started)
    store = app.object_store
    items, listing_failed = collect_items(store.client, target, args, settings.account_id)
    console.total = len(items)
    if args.recursive and not items and listing_failed is None:
        console.notice(f"no objects under {target}")
    worker = object_worker(app.objects, dry_run)
    batch = run_batch(items, worker, args.concurrency, console.result, console.notice, store.stopping.set)
    results: list[Result] = [*batch.results]
    if listing_failed is not None:
        results.append(listing_failed)
        console.result(listing_failed)
    return Run(
        args.command,
        str(target),
        dry_run,
        results,
        len(items) + (listing_failed is not None),
        time.monotonic() - console.started,
        interrupted=batch.interrupted,
        still_running=batch.still_running,
    )


def collect_items(
    client: S3Client, target: Target, args: argparse.Namespace, owner: str | None
) -> tuple[list[Item], ObjectResult | None]:
    """The listing, and a failed result for the target when the listing broke off (what was listed is still run)."""
    items: list[Item] = []
    operation = "ListObjectVersions" if args.all_versions else "ListObjectsV2"
    try:
        for item in list_items(client, target, args.recursive, args.all_versions, owner):
            items.append(item)
    except ClientError as exc:
        reason = f"{operation} failed after {len(items)} object(s): {errors.message(exc)}"
        return items, ObjectResult(bucket=target.bucket, key=target.key, outcome=Outcome.FAILED, reason=reason)
    except BotoCoreError as exc:
        reason = f"{operation} failed after {len(items)} object(s): {exc}"
        return items, ObjectResult(bucket=target.bucket, key=target.key, outcome=Outcome.FAILED, reason=reason)
    return items, None


def run_key(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings(args, os.environ, fallback_key=args.key_ref)
    app = connect(args, dataclasses.replace(settings, alert_topic_arn=None), 1)  # a report: it never alerts
    try:
        facts = app.kms.facts(args.key_ref)
    except AwsFailure as exc:
        result = KeyResult(key_arn=args.key_ref, outcome=Outcome.FAILED, reason=f"DescribeKey failed: {exc}")
    else:
        result = app.key_guard.handle(KeyEvent(key_arns=(facts.arn,)))
        if result.outcome is Outcome.OUT_OF_SCOPE:
            result = dataclasses.replace(result, key_state=facts.state)
    run = Run(args.command, args.key_ref, True, [result], 1, time.monotonic() - console.started)
    if console.json_mode:
        console.finish(run)
    else:
        console.out.write(key_report(result))
    return run.exit_code


def key_report(result: KeyResult) -> str:
    rotation = {True: "on", False: "off", None: "-"}[result.rotation_enabled]
    protects = result.protects or ("no configured bucket scope",)
    lines = [
        f"key       {result.key_arn}",
        f"outcome   {result.outcome.value}: {result.reason}",
        f"state     {result.key_state or '-'}",
        f"rotation  {rotation}",
        f"deletion  {result.deletion_date or '-'}",
        *(f"{'protects' if i == 0 else '':<8}  {scope}" for i, scope in enumerate(protects)),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, and usage errors argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    console = Console(json_mode=args.output == "json", show_versions=getattr(args, "all_versions", False))
    try:
        if args.command == "key":
            return run_key(args, console)
        return run_resources(args, console)
    except (UsageError, ConfigError, InvalidRequest) as exc:
        console.notice(str(exc))
        return EXIT_USAGE
    except (NoCredentialsError, ProfileNotFound) as exc:
        console.notice(f"{exc}: configure credentials (aws configure, --profile, or AWS_* variables)")
        return EXIT_USAGE
    except ClientError as exc:
        console.notice(errors.message(exc))
        return EXIT_ATTENTION
    except BotoCoreError as exc:
        console.notice(str(exc))
        return EXIT_ATTENTION
    except KeyboardInterrupt:
        console.notice("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
