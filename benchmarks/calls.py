"""Benchmark: the AWS API calls each path makes, per object and per bucket or key event.

On moto with the `tests.aws_fidelity` patches (so moto answers like real S3), the composition root (`wiring.App`, as
the handlers build it) runs on clients whose calls are recorded in order (botocore `before-call`):

2. API calls per object. An ObjectRemediator handles objects of each verdict; the report counts S3 calls and SNS
   Publish calls (alerts) per object. Each case gets a fresh App, as a cold container would, so once-per-bucket
   lookups show on the first object; the ACL cases run 10 objects in one bucket to show them amortised.
3. API calls of the bucket and key paths: one request per case (bucket resets, a sweep step, key guard events), every
   S3, KMS, SQS and SNS call in order.

Run from the repository root (a few seconds):

    PYTHONPATH=layers/remediation:. python -m benchmarks.calls            # readable report
    PYTHONPATH=layers/remediation:. python -m benchmarks.calls --json     # one JSON document instead

The exit status is 1 when a per-object case misses its expected outcome or S3 call count, else 0.
benchmarks/imports.py measures the cold-start import cost (section 1 of `make bench`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

from benchmarks.common import ACCOUNT_ID, REGION, aws_fidelity_applied, describe_calls, table, use_fake_aws
from dsse_remediation.aws.bucket_access import OPERATIONS as GATE_OPERATIONS
from dsse_remediation.aws.s3_objects import OWNERSHIP_TTL_SECONDS
from dsse_remediation.config import MIB, Settings
from dsse_remediation.model import BucketRequest, KeyEvent, ObjectRequest, Outcome, SweepStep
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACL_OBJECTS = 10
SWEEP_PAGE_OBJECTS = 1000  # one ListObjectsV2 page
BODY = b"benchmark object\n"


@dataclass(frozen=True)
class World:
    """The fake account every case shares: an admin S3 client (not counted), the DSSE key and the alert topic."""

    s3: S3Client
    key_arn: str
    topic_arn: str


class Recorder:
    """The client factory of an App: fresh clients whose calls are recorded as "service:Operation", in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def client(self, service: str, region: str | None) -> Any:
        made = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        made.meta.events.register(
            f"before-call.{service}", lambda model, **_: self.calls.append(f"{service}:{model.name}")
        )
        return made

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


def recorded_app(world: World, recorder: Recorder, **overrides: Any) -> App:
    """The composition root as a deployment configures it (the world's key and topic, the account), on `recorder`."""
    defaults = {"key": world.key_arn, "alert_topic_arn": world.topic_arn, "account_id": ACCOUNT_ID, "region": REGION}
    return App(Settings(**(defaults | overrides)), recorder.client)


def create_world() -> World:
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key(Description="benchmark DSSE key")["KeyMetadata"]["Arn"]
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="dsse-alerts")["TopicArn"]
    return World(boto3.client("s3", region_name=REGION), key_arn, topic_arn)


# --- 2. API calls per object ---------------------------------------------------------------------------------------


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
    gate_reads: int  # the reader-safety gate's reads of the bucket, over all the case's objects
    first_object_calls: list[str]
    last_object_calls: list[str]
    expected_outcome: str
    expected_calls: int | None
    ok: bool


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


def run_case(world: World, case: Case) -> CaseResult:
    requests = case.setup(world)
    recorder = Recorder()
    remediator = recorded_app(world, recorder, **case.settings).objects
    now = [0.0]
    remediator.s3._clock = lambda: now[0]
    outcomes: list[str] = []
    s3_calls: list[list[str]] = []
    publishes: list[int] = []
    gate_reads = 0
    for request in requests:
        outcomes.append(remediator.handle(request).outcome.value)
        now[0] += case.seconds_apart
        calls = recorder.take()
        gate = [call for call in calls if call.split(":", 1)[1] in GATE_OPERATIONS]  # once per bucket per TTL
        gate_reads += len(gate)
        s3_calls.append([call.removeprefix("s3:") for call in calls if call.startswith("s3:") and call not in gate])
        publishes.append(calls.count("sns:Publish"))
    outcome = "/".join(dict.fromkeys(outcomes))
    ok = outcome == case.expected_outcome.value and case.expected_calls in (None, len(s3_calls[-1]))
    return CaseResult(
        case=case.name,
        outcome=outcome,
        objects=len(requests),
        s3_calls_per_object=sum(map(len, s3_calls)) / len(requests),
        sns_publishes_per_object=sum(publishes) / len(requests),
        gate_reads=gate_reads,
        first_object_calls=s3_calls[0],
        last_object_calls=s3_calls[-1],
        expected_outcome=case.expected_outcome.value,
        expected_calls=case.expected_calls,
        ok=ok,
    )


# --- 3. API calls of the bucket and key paths ----------------------------------------------------------------------


@dataclass(frozen=True)
class PathCall:
    case: str
    outcome: str
    calls: list[str]  # service:Operation, in order


def measure_bucket_and_key_paths(world: World) -> list[PathCall]:
    """One request per case on a fresh App whose S3/KMS/SQS/SNS calls are recorded: what each outcome costs."""

    def bucket_case(name: str, bucket: str, dry_run: bool = False, **overrides: Any) -> PathCall:
        recorder = Recorder()
        result = recorded_app(world, recorder, **overrides).buckets.handle(BucketRequest(bucket, dry_run=dry_run))
        return PathCall(name, result.outcome.value, recorder.calls)

    def sweep_step_case(name: str, bucket: str) -> PathCall:
        recorder = Recorder()
        app = recorded_app(world, recorder, sweep_after_reset=True, object_queue_url=queue, sweep_max_objects=10**5)
        assert app.sweeper is not None
        progress = app.sweeper.step(SweepStep(bucket, "bench"))
        return PathCall(name, f"{progress['status']}: {progress['listed']} queued", recorder.calls)

    def key_case(name: str, event: KeyEvent, **overrides: Any) -> PathCall:
        recorder = Recorder()
        result = recorded_app(world, recorder, **overrides).key_guard.handle(event)
        return PathCall(name, result.outcome.value, recorder.calls)

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


def measure_api_calls() -> tuple[list[CaseResult], list[PathCall]]:
    use_fake_aws()  # before any client exists
    with mock_aws(), aws_fidelity_applied():
        world = create_world()
        return [run_case(world, case) for case in CASES], measure_bucket_and_key_paths(world)


# --- report ----------------------------------------------------------------------------------------------------------


def format_calls(results: Sequence[CaseResult]) -> list[str]:
    lines = ["2. AWS API calls per object (moto + tests.aws_fidelity, a fresh remediator per case)", ""]
    rows = [
        [
            r.case,
            r.outcome,
            str(r.objects),
            f"{r.s3_calls_per_object:g}",
            f"{r.sns_publishes_per_object:g}",
            str(r.gate_reads),
            check_cell(r),
            calls_cell(r),
        ]
        for r in results
    ]
    header = ["case", "outcome", "objects", "S3/object", "SNS Publish/object", "gate/bucket", "check", "S3 calls"]
    lines += table(header, rows)
    lines += [
        "",
        "(check: outcome, and S3 calls on the last object where the issue states a number; S3/object and the S3 calls"
        " are the object path's own; gate/bucket: the reader-safety gate's reads of the bucket (S3, S3 Control, KMS"
        " GetKeyPolicy, Organizations), once per bucket per TTL, not per object)",
    ]
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


def format_paths(results: Sequence[PathCall]) -> list[str]:
    lines = ["3. AWS API calls of the bucket and key paths (moto + tests.aws_fidelity, one request per case)", ""]
    rows = []
    for r in results:
        own = [call for call in r.calls if call.split(":", 1)[1] not in GATE_OPERATIONS]
        rows.append([r.case, r.outcome, str(len(own)), str(len(r.calls) - len(own)), describe_calls(own)])
    return lines + table(["case", "outcome", "calls", "gate reads", "calls in order (the gate's left out)"], rows)


def exit_status(results: Sequence[CaseResult]) -> int:
    return 0 if all(r.ok for r in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the report")
    args = parser.parse_args(argv)
    calls, paths = measure_api_calls()
    python = sys.version.split()[0]
    if args.json:
        document = {
            "python": python,
            "api_calls": list(map(asdict, calls)),
            "bucket_and_key_paths": list(map(asdict, paths)),
        }
        print(json.dumps(document, indent=2))
    else:
        print("\n".join([f"Python {python}", "", *format_calls(calls), "", *format_paths(paths)]))
    return exit_status(calls)


if __name__ == "__main__":
    sys.exit(main())
