"""Benchmark: the object remediation handler's cold-start import cost and its AWS API calls per object.

What is measured, in one run:

1. Cold-start import cost. Fresh interpreters (`sys.executable`) time, with `time.perf_counter()` around the import
   statement only, (a) `import boto3` and (b) `import app`, the handler, which imports boto3, Powertools and the
   X-Ray SDK and builds its clients at import. The handler runs with tracing disabled (POWERTOOLS_TRACE_DISABLED=1)
   and, when aws_xray_sdk is importable, enabled (POWERTOOLS_TRACE_DISABLED unset). Both handler variants set
   LAMBDA_TASK_ROOT as Lambda does: without it Powertools turns tracing off by itself. Each variant runs `--runs`
   times, interleaved in rotating order after one discarded warm-up each; the report gives median and min, the median
   ratio handler/boto3 against the target of 1.5, then, from `python -X importtime`, the handler's 10 slowest imports
   by cumulative time and its direct imports. The children share a bytecode cache in the temp directory
   (PYTHONPYCACHEPREFIX), so every timed run reads cached bytecode, whatever PYTHONDONTWRITEBYTECODE says, and
   nothing is written into the source tree.
2. API calls per object. On moto with the `tests.aws_fidelity` patches (so moto answers like real S3), an
   ObjectRemediator built from the library's classes handles objects of each verdict; botocore `before-call` handlers
   on its S3 and SNS clients count S3 calls and SNS Publish calls (alerts) per object. Each case gets a fresh
   remediator, as a cold container would, so once-per-bucket lookups show on the first object; the ACL cases run
   10 objects in one bucket to show them amortised.

Run from the repository root (about 20 seconds with the default 15 runs):

    PYTHONPATH=layers/remediation:. python -m benchmarks.measure            # readable report
    PYTHONPATH=layers/remediation:. python -m benchmarks.measure --json     # one JSON document instead
    PYTHONPATH=layers/remediation:. python -m benchmarks.measure --runs 30  # more import samples

The exit status is 1 when an API-call case misses its expected outcome or call count, else 0; the import ratio is
reported, never enforced.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

from dsse_remediation.aws.s3_objects import OWNERSHIP_TTL_SECONDS
from dsse_remediation.config import MIB, Settings
from dsse_remediation.model import ObjectRequest, Outcome, SweepStep
from dsse_remediation.remediation import ObjectRemediator
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = ROOT / "functions" / "object_remediation"
IMPORT_PATHS = (ROOT / "layers" / "remediation", ROOT, FUNCTION_DIR)
PYCACHE = Path(tempfile.gettempdir()) / "dsse-remediation-benchmarks-pycache"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PLACEHOLDER_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
AWS_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL")  # would send clients to a real account or another endpoint
UNSET_ENV = (*AWS_UNSET, "POWERTOOLS_TRACE_DISABLED", "PYTHONDONTWRITEBYTECODE")
TARGET_RATIO = 1.5
TOP_IMPORTS = 10
ACL_OBJECTS = 10
SWEEP_PAGE_OBJECTS = 1000  # one ListObjectsV2 page
BODY = b"benchmark object\n"
MARKER = "BENCHMARK"


# --- 1. cold-start import cost -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportVariant:
    name: str
    statement: str
    env: Mapping[str, str] = field(default_factory=dict)
    probe_tracing: bool = False  # after the timed import, ask the X-Ray SDK whether tracing ended up enabled


@dataclass(frozen=True)
class Sample:
    seconds: float
    tracing_enabled: bool | None


@dataclass(frozen=True)
class ImportStats:
    variant: str
    median_s: float
    min_s: float
    tracing_enabled: bool | None  # what the X-Ray SDK reported in the child; None when not asked
    samples_s: list[float]


@dataclass(frozen=True)
class ImportTime:
    module: str
    self_us: int
    cumulative_us: int
    depth: int  # 0: the handler module itself, 1: what it imports directly, ...


@dataclass(frozen=True)
class ImportReport:
    runs: int
    xray_available: bool
    stats: list[ImportStats]
    ratios: dict[str, float]  # handler variant -> median handler / median boto3
    target_ratio: float
    importtime_variant: str
    slowest: list[ImportTime]  # by cumulative time
    direct: list[ImportTime]  # the handler's slowest direct imports, by cumulative time
    bytecode_cache: str


REFERENCE = "boto3 + one S3 client (floor)"


def import_variants(xray_available: bool) -> list[ImportVariant]:
    handler_env = {"DSSE_KMS_KEY": PLACEHOLDER_KEY, "LAMBDA_TASK_ROOT": str(FUNCTION_DIR)}
    variants = [
        ImportVariant("boto3", "import boto3"),
        ImportVariant(REFERENCE, "import boto3; boto3.client('s3', region_name='us-east-1')"),
        ImportVariant(
            "handler, tracing disabled",
            "import app",
            {**handler_env, "POWERTOOLS_TRACE_DISABLED": "1"},
            probe_tracing=xray_available,
        ),
    ]
    if xray_available:
        variants.append(ImportVariant("handler, tracing enabled", "import app", handler_env, probe_tracing=True))
    return variants


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without AWS profiles or tracing switches, plus fake credentials and the import path."""
    env = {name: value for name, value in os.environ.items() if name not in UNSET_ENV}
    paths = [str(path) for path in IMPORT_PATHS]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env.update(FAKE_AWS_ENV)
    env.update({"PYTHONPATH": os.pathsep.join(paths), "PYTHONPYCACHEPREFIX": str(PYCACHE)})
    env.update(extra)
    return env


def run_python(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    process = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False
    )
    if process.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)!r} exited {process.returncode}:\n{process.stderr[-3000:]}")
    return process


def timing_code(variant: ImportVariant) -> str:
    lines = ["import time", "start = time.perf_counter()", variant.statement, "elapsed = time.perf_counter() - start"]
    probe = "None"
    if variant.probe_tracing:
        lines.append("import aws_xray_sdk")
        probe = "aws_xray_sdk.global_sdk_config.sdk_enabled()"
    lines.append(f"print({MARKER!r}, repr(elapsed), {probe})")
    return "\n".join(lines)


def time_import(variant: ImportVariant) -> Sample:
    stdout = run_python(["-c", timing_code(variant)], child_env(variant.env)).stdout
    line = next(line for line in stdout.splitlines() if line.startswith(MARKER + " "))
    _, seconds, tracing = line.split()
    return Sample(float(seconds), None if tracing == "None" else tracing == "True")


def rotated(variants: Sequence[ImportVariant], run: int) -> list[ImportVariant]:
    start = run % len(variants)
    return [*variants[start:], *variants[:start]]


def sample_imports(variants: Sequence[ImportVariant], runs: int) -> dict[str, list[Sample]]:
    for variant in variants:
        time_import(variant)  # warm-up, discarded: fills the bytecode cache
    samples: dict[str, list[Sample]] = {variant.name: [] for variant in variants}
    for run in range(runs):
        for variant in rotated(variants, run):
            samples[variant.name].append(time_import(variant))
    return samples


def summarise(name: str, samples: Sequence[Sample]) -> ImportStats:
    seconds = [sample.seconds for sample in samples]
    states = {sample.tracing_enabled for sample in samples}
    tracing = states.pop() if len(states) == 1 else None
    return ImportStats(name, statistics.median(seconds), min(seconds), tracing, seconds)


def parse_importtime(line: str) -> ImportTime | None:
    """One `-X importtime` line: "import time:  <self us> | <cumulative us> | <module, indented 2 per level>"."""
    prefix = "import time:"
    if not line.startswith(prefix):
        return None
    parts = line[len(prefix) :].split("|")
    if len(parts) != 3 or not parts[0].strip().isdigit():
        return None  # the header line
    name = parts[2].rstrip()
    depth = (len(name) - len(name.lstrip()) - 1) // 2
    return ImportTime(name.strip(), int(parts[0]), int(parts[1]), depth)


def import_times(variant: ImportVariant) -> list[ImportTime]:
    """The imported module and everything it imports, slowest (cumulative) first; the module itself is at depth 0.

    `-X importtime` prints a module after the modules it imports, so its subtree is the run of deeper lines just
    before it; interpreter start-up imports (site, encodings) fall outside it.
    """
    stderr = run_python(["-X", "importtime", "-c", variant.statement], child_env(variant.env)).stderr
    rows = [row for row in map(parse_importtime, stderr.splitlines()) if row is not None]
    own = variant.statement.split()[-1]
    end = max(i for i, row in enumerate(rows) if row.module == own)
    start = end
    while start > 0 and rows[start - 1].depth > rows[end].depth:
        start -= 1
    base = rows[end].depth
    subtree = [ImportTime(r.module, r.self_us, r.cumulative_us, r.depth - base) for r in rows[start : end + 1]]
    return sorted(subtree, key=lambda row: row.cumulative_us, reverse=True)


def measure_imports(runs: int) -> ImportReport:
    xray_available = importlib.util.find_spec("aws_xray_sdk") is not None
    variants = import_variants(xray_available)
    samples = sample_imports(variants, runs)
    stats = [summarise(name, found) for name, found in samples.items()]
    boto3_median = stats[0].median_s
    ratios = {s.variant: s.median_s / boto3_median for s in stats[1:]}
    default_handler = variants[-1]  # tracing enabled when available: what a deployment gets by default
    times = import_times(default_handler)
    return ImportReport(
        runs=runs,
        xray_available=xray_available,
        stats=stats,
        ratios=ratios,
        target_ratio=TARGET_RATIO,
        importtime_variant=default_handler.name,
        slowest=times[:TOP_IMPORTS],
        direct=[row for row in times if row.depth == 1][:TOP_IMPORTS],
        bytecode_cache=str(PYCACHE),
    )


# --- 2. API calls per object ---------------------------------------------------------------------------------------


class CallLog:
    """Records the operation names a client calls (botocore `before-call` events)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: OperationModel, **_: Any) -> None:
        self.calls.append(model.name)

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


@dataclass(frozen=True)
class World:
    """The fake account every case shares: an admin S3 client (not counted), the DSSE key and the alert topic."""

    s3: S3Client
    key_arn: str
    topic_arn: str


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[World], list[ObjectRequest]]
    expected_outcome: Outcome
    expected_calls: int | None = None  # S3 calls for the last object (per-bucket cache warm); None: not stated
    settings: Mapping[str, Any] = field(default_factory=dict)
    seconds_apart: float = 0.0  # the remediator's clock moves this much between objects (the ownership TTL)


@dataclass(frozen=True)
class CaseResult:
    case: str
    outcome: str
    objects: int
    s3_calls_per_object: float
    sns_publishes_per_object: float
    first_object_calls: list[str]
    last_object_calls: list[str]
    expected_outcome: str
    expected_calls: int | None
    ok: bool


def create_world() -> World:
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key(Description="benchmark DSSE key")["KeyMetadata"]["Arn"]
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="dsse-alerts")["TopicArn"]
    return World(boto3.client("s3", region_name=REGION), key_arn, topic_arn)


def put_default(world: World, bucket: str, key: str) -> ObjectRequest:
    """An object written without encryption headers: SSE-S3, the S3 default (fidelity patch 1)."""
    world.s3.put_object(Bucket=bucket, Key=key, Body=BODY)
    return ObjectRequest(bucket, (key,))


def compliant(world: World) -> list[ObjectRequest]:
    world.s3.create_bucket(Bucket="bench-compliant")
    world.s3.put_object(
        Bucket="bench-compliant",
        Key="dsse.txt",
        Body=BODY,
        ServerSideEncryption="aws:kms:dsse",
        SSEKMSKeyId=world.key_arn,
    )
    return [ObjectRequest("bench-compliant", ("dsse.txt",))]


def acls_disabled(world: World) -> list[ObjectRequest]:
    world.s3.create_bucket(Bucket="bench-acls-disabled")  # BucketOwnerEnforced (fidelity patch 6)
    return [put_default(world, "bench-acls-disabled", f"object-{i:02d}.txt") for i in range(ACL_OBJECTS)]


def acls_enabled(world: World) -> list[ObjectRequest]:
    world.s3.create_bucket(Bucket="bench-acls-enabled", ObjectOwnership="ObjectWriter")
    return [put_default(world, "bench-acls-enabled", f"object-{i:02d}.txt") for i in range(ACL_OBJECTS)]


def acls_enabled_minutes_apart(world: World) -> list[ObjectRequest]:
    """Object Ownership can change at any time, so it is read again once it is OWNERSHIP_TTL_SECONDS old."""
    world.s3.create_bucket(Bucket="bench-acls-ttl", ObjectOwnership="ObjectWriter")
    return [put_default(world, "bench-acls-ttl", f"object-{i:02d}.txt") for i in range(3)]


def multipart(world: World) -> list[ObjectRequest]:
    world.s3.create_bucket(Bucket="bench-multipart")
    world.s3.put_object(
        Bucket="bench-multipart", Key="large.bin", Body=b"\0" * (12 * MIB), Tagging="team=finance&retention=7y"
    )
    return [ObjectRequest("bench-multipart", ("large.bin",))]


def glacier(world: World) -> list[ObjectRequest]:
    world.s3.create_bucket(Bucket="bench-glacier")
    world.s3.put_object(Bucket="bench-glacier", Key="archived.txt", Body=BODY, StorageClass="GLACIER")
    return [ObjectRequest("bench-glacier", ("archived.txt",))]


def out_of_scope(world: World) -> list[ObjectRequest]:
    world.s3.create_bucket(Bucket="bench-excluded")
    return [put_default(world, "bench-excluded", "object.txt")]


def gone(world: World) -> list[ObjectRequest]:
    world.s3.create_bucket(Bucket="bench-gone")
    # As an S3 notification delivers a key (URL-encoded), then decoded: neither exists.
    return [ObjectRequest("bench-gone", ("reports/q3+2026.csv", "reports/q3 2026.csv"))]


CASES = (
    Case("compliant (DSSE, right key)", compliant, Outcome.COMPLIANT, 1),
    Case("remediated, ACLs disabled", acls_disabled, Outcome.REMEDIATED, 2),
    Case("remediated, ACLs enabled", acls_enabled, Outcome.REMEDIATED),
    Case(
        "remediated, multipart (12 MiB, 2 tags)",
        multipart,
        Outcome.REMEDIATED,
        settings={"multipart_threshold": 5 * MIB, "part_size": 5 * MIB},
    ),
    Case(
        "remediated, ACLs enabled, a minute apart",
        acls_enabled_minutes_apart,
        Outcome.REMEDIATED,
        4,
        seconds_apart=OWNERSHIP_TTL_SECONDS,
    ),
    Case("unremediable (GLACIER)", glacier, Outcome.UNREMEDIABLE, 1),
    Case("out of scope", out_of_scope, Outcome.OUT_OF_SCOPE, 0, {"scope": Scope(exclude=("bench-excluded",))}),
    Case("gone (2 candidate keys)", gone, Outcome.GONE, 2),
)


def build_remediator(world: World, overrides: Mapping[str, Any]) -> tuple[ObjectRemediator, CallLog, CallLog]:
    """A remediator on fresh clients, as at cold start, with its S3 and SNS calls recorded."""
    settings = Settings(
        key=world.key_arn, alert_topic_arn=world.topic_arn, account_id=ACCOUNT_ID, region=REGION, **overrides
    )
    logs = {"s3": CallLog(), "sns": CallLog()}

    def client(service: str, region: str | None) -> Any:
        made = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        if service in logs:
            made.meta.events.register(f"before-call.{service}", logs[service])
        return made

    return App(settings, client).objects, logs["s3"], logs["sns"]


def run_case(world: World, case: Case) -> CaseResult:
    requests = case.setup(world)
    remediator, s3_log, sns_log = build_remediator(world, case.settings)
    now = [0.0]
    remediator.s3._clock = lambda: now[0]
    outcomes: list[str] = []
    s3_calls: list[list[str]] = []
    publishes: list[int] = []
    for request in requests:
        outcomes.append(remediator.handle(request).outcome.value)
        now[0] += case.seconds_apart
        s3_calls.append(s3_log.take())
        publishes.append(sns_log.take().count("Publish"))
    outcome = "/".join(dict.fromkeys(outcomes))
    ok = outcome == case.expected_outcome.value and case.expected_calls in (None, len(s3_calls[-1]))
    return CaseResult(
        case=case.name,
        outcome=outcome,
        objects=len(requests),
        s3_calls_per_object=sum(map(len, s3_calls)) / len(requests),
        sns_publishes_per_object=sum(publishes) / len(requests),
        first_object_calls=s3_calls[0],
        last_object_calls=s3_calls[-1],
        expected_outcome=case.expected_outcome.value,
        expected_calls=case.expected_calls,
        ok=ok,
    )


@contextmanager
def aws_fidelity_applied() -> Iterator[None]:
    """`tests.aws_fidelity.applied()`. Imported by name: mypy's scope excludes tests/, so it must not follow it."""
    fidelity: Any = importlib.import_module("tests.aws_fidelity")
    with fidelity.applied():
        yield


def measure_api_calls() -> tuple[list[CaseResult], list[PathCall]]:
    for name in AWS_UNSET:
        os.environ.pop(name, None)
    os.environ.update(FAKE_AWS_ENV)  # before any client exists
    with mock_aws(), aws_fidelity_applied():
        world = create_world()
        return [run_case(world, case) for case in CASES], measure_bucket_and_key_paths(world)


# --- 3. API calls of the bucket and key paths -------------------------------------------------------------------


@dataclass(frozen=True)
class PathCall:
    case: str
    outcome: str
    calls: list[str]  # service:Operation, in order


def measure_bucket_and_key_paths(world: World) -> list[PathCall]:
    """One request per case on fresh, recorded S3/KMS/SNS clients: what each bucket and key outcome costs."""
    from dsse_remediation.model import BucketRequest, KeyEvent

    def recorded(log: list[str], **overrides: Any) -> App:
        """An App on fresh clients that log every call, in order."""

        def client(service: str, region: str | None) -> Any:
            made = boto3.client(service, region_name=region)  # type: ignore[call-overload]
            made.meta.events.register(
                f"before-call.{service}", lambda model, **_: log.append(f"{service}:{model.name}")
            )
            return made

        return App(
            Settings(**{"key": world.key_arn, "alert_topic_arn": world.topic_arn, "region": REGION} | overrides), client
        )

    def bucket_case(name: str, bucket: str, dry_run: bool = False, **overrides: Any) -> PathCall:
        log: list[str] = []
        outcome = recorded(log, **overrides).buckets.handle(BucketRequest(bucket, dry_run=dry_run)).outcome
        return PathCall(name, outcome.value, log)

    def sweep_step_case(name: str, bucket: str) -> PathCall:
        log: list[str] = []
        app = recorded(log, sweep_after_reset=True, object_queue_url=queue, sweep_max_objects=10**5)
        assert app.sweeper is not None
        progress = app.sweeper.step(SweepStep(bucket, "bench"))
        return PathCall(name, f"{progress['status']}: {progress['listed']} queued", log)

    def key_case(name: str, event: KeyEvent, **overrides: Any) -> PathCall:
        log: list[str] = []
        return PathCall(name, recorded(log, **overrides).key_guard.handle(event).outcome.value, log)

    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="object-events")["QueueUrl"]
    s3 = world.s3
    dsse_rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": world.key_arn}
    }
    for bucket in ("bench-b-compliant", "bench-b-sse-s3", "bench-b-prevent", "bench-b-dry", "bench-b-sweep"):
        s3.create_bucket(Bucket=bucket)
    for number in range(SWEEP_PAGE_OBJECTS + 1):
        s3.put_object(Bucket="bench-b-sweep", Key=f"object-{number:05d}", Body=b"")
    config: Any = {"Rules": [dsse_rule]}
    s3.put_bucket_encryption(Bucket="bench-b-compliant", ServerSideEncryptionConfiguration=config)
    kms = boto3.client("kms", region_name=REGION)
    other = kms.create_key(Description="not configured")["KeyMetadata"]["Arn"]
    results = [
        bucket_case("bucket compliant", "bench-b-compliant"),
        bucket_case("bucket SSE-S3 -> DSSE", "bench-b-sse-s3"),
        bucket_case("bucket SSE-S3 -> DSSE + prevention policy", "bench-b-prevent", prevention_policy=True),
        bucket_case("bucket dry run", "bench-b-dry", dry_run=True),
        bucket_case("bucket SSE-S3 -> DSSE + sweep", "bench-b-sweep", sweep_after_reset=True, object_queue_url=queue),
        sweep_step_case(f"sweep step, {SWEEP_PAGE_OBJECTS + 1} objects in the bucket", "bench-b-sweep"),
        bucket_case("bucket out of scope", "bench-b-dry", scope=Scope(exclude=("bench-b-*",))),
        key_case("key event on another key", KeyEvent((other,), "DisableKey")),
    ]
    kms.disable_key(KeyId=world.key_arn)
    results.append(key_case("DisableKey, revert off", KeyEvent((world.key_arn,), "DisableKey")))
    results.append(key_case("DisableKey, revert on", KeyEvent((world.key_arn,), "DisableKey"), key_guard_revert=True))
    kms.schedule_key_deletion(KeyId=world.key_arn, PendingWindowInDays=7)
    event = KeyEvent((world.key_arn,), "ScheduleKeyDeletion")
    results.append(key_case("ScheduleKeyDeletion, revert on", event, key_guard_revert=True))
    results.append(key_case("PutKeyPolicy", KeyEvent((world.key_arn,), "PutKeyPolicy")))
    results.append(key_case("manual key report", KeyEvent((world.key_arn,))))
    return results


def format_paths(results: Sequence[PathCall]) -> list[str]:
    lines = ["3. AWS API calls of the bucket and key paths (moto + tests.aws_fidelity, one request per case)", ""]
    rows = [[r.case, r.outcome, str(len(r.calls)), describe_calls(r.calls)] for r in results]
    return lines + table(["case", "outcome", "calls", "calls in order"], rows)


# --- report ----------------------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def yes_no(value: bool | None) -> str:
    return "-" if value is None else ("enabled" if value else "disabled")


def describe_calls(calls: Sequence[str]) -> str:
    """Call names in order, runs of one name collapsed: "UploadPartCopy x3"."""
    if not calls:
        return "(none)"
    runs = [(name, len(list(group))) for name, group in itertools.groupby(calls)]
    return ", ".join(name if count == 1 else f"{name} x{count}" for name, count in runs)


def format_imports(report: ImportReport) -> list[str]:
    lines = [f"1. Cold-start import cost: a fresh interpreter per sample, {report.runs} runs per variant", ""]
    rows = [[s.variant, ms(s.median_s), ms(s.min_s), yes_no(s.tracing_enabled)] for s in report.stats]
    lines += table(["variant", "median", "min", "X-Ray SDK after import"], rows)
    lines.append("")
    if not report.xray_available:
        lines.append("aws_xray_sdk is not installed: only the tracing-disabled handler was measured.")
    for variant, ratio in report.ratios.items():
        verdict = "meets" if ratio <= report.target_ratio else "MISSES"
        note = f"{verdict} the target of <= {report.target_ratio}"
        if variant == REFERENCE:
            note = "reference: the least a handler that builds its S3 client at init can pay"
        lines.append(f"{variant} / boto3 (median): {ratio:.2f}  ({note})")
    title = f"{len(report.slowest)} slowest imports of the handler ({report.importtime_variant}), by cumulative time:"
    lines += ["", title, ""]
    lines += import_table(report.slowest)
    lines += ["", "The handler's direct imports (each counts only what earlier imports had not loaded yet):", ""]
    lines += import_table(report.direct)
    lines += ["", "(self time includes the code a module's body runs: app's builds the S3 client and the Tracer)"]
    return lines


def import_table(times: Sequence[ImportTime]) -> list[str]:
    rows = [[ms(t.cumulative_us / 1e6), ms(t.self_us / 1e6), t.module] for t in times]
    return table(["cumulative", "self", "module"], rows)


def format_calls(results: Sequence[CaseResult]) -> list[str]:
    lines = ["2. AWS API calls per object (moto + tests.aws_fidelity, a fresh remediator per case)", ""]
    rows = [
        [
            r.case,
            r.outcome,
            str(r.objects),
            f"{r.s3_calls_per_object:g}",
            f"{r.sns_publishes_per_object:g}",
            check_cell(r),
            calls_cell(r),
        ]
        for r in results
    ]
    lines += table(["case", "outcome", "objects", "S3/object", "SNS Publish/object", "check", "S3 calls"], rows)
    lines += ["", "(check: outcome, and S3 calls on the last object where the issue states a number)"]
    return lines


def check_cell(result: CaseResult) -> str:
    if result.ok:
        return "ok"
    calls = "" if result.expected_calls is None else f", {result.expected_calls} S3 calls"
    return f"EXPECTED {result.expected_outcome}{calls}"


def calls_cell(result: CaseResult) -> str:
    first = describe_calls(result.first_object_calls)
    if result.objects == 1:
        return first
    return f"first object: {first}; last object: {describe_calls(result.last_object_calls)}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="import samples per variant (default 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the report")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    imports = measure_imports(args.runs)
    calls, paths = measure_api_calls()
    if args.json:
        document = {
            "python": sys.version.split()[0],
            "imports": asdict(imports),
            "api_calls": list(map(asdict, calls)),
            "bucket_and_key_paths": list(map(asdict, paths)),
        }
        print(json.dumps(document, indent=2))
    else:
        report = [f"Python {sys.version.split()[0]}", "", *format_imports(imports), "", *format_calls(calls)]
        print("\n".join([*report, "", *format_paths(paths)]))
    return 0 if all(r.ok for r in calls) else 1


if __name__ == "__main__":
    sys.exit(main())
