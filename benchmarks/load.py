"""Load benchmark: object events through the object handler's SQS batch path, in-process on moto.

What runs: moto with the `tests/aws_fidelity.py` patches holds one DSSE key, the alert topic and a protected bucket
with `--objects` objects written with SSE-S3 (the default encryption). Each object gets the CloudTrail PutObject event
its write produces (events/put-object-sse-s3.json with the object's key and its own event ids), `--duplicates` of them
twice (at-least-once delivery: the same event in a second SQS message). The events are shuffled with a fixed seed and
fed to the real handler (`functions/object_remediation/app.py`, imported as a cold start does) in SQS batches of
`--batch-size` records, shaped as Lambda's event source mapping delivers them. Records the handler reports in
batchItemFailures (or whole batches, when it raises) are delivered again, up to the queue's maxReceiveCount (5, as in
template.yaml), then counted as dead letters.

What is reported: events in; results out (one per object evaluation, read from the handler's remediator); lost
(objects not DSSE-KMS under the key at the end, by HeadObject: must be 0); duplicates handled idempotently (the second
delivery found the object compliant) and extra copies (CopyObject calls beyond one per object: must be 0); objects and
events per second over the time spent in lambda_handler (setup and building the records excluded, the wall time is
shown too); peak RSS of the process (getrusage). The handler's own log lines and metrics go to /dev/null while it
runs, as they would go to CloudWatch.

Run from the repository root:

    PYTHONPATH=layers/remediation:. python -m benchmarks.load                       # 10,000 objects, 1,000 twice
    PYTHONPATH=layers/remediation:. python -m benchmarks.load --objects 2000 --duplicates 200 --json

The exit status is 1 when an object is lost, a copy is made twice, or a record ends in the dead-letter queue; else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import random
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws

from benchmarks.common import AWS_UNSET, FAKE_AWS_ENV, aws_fidelity_applied, table
from dsse_remediation.aws import clients

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parent.parent
HANDLER = ROOT / "functions" / "object_remediation" / "app.py"
SAMPLE = ROOT / "events" / "put-object-sse-s3.json"
PLACEHOLDER_BUCKET = "example-protected-bucket"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:dsse-remediation-object-events"
MAX_RECEIVE_COUNT = 5  # template.yaml: the object queue's redrive policy
BODY = b"load benchmark object\n"
SEED = 20261120


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "dsse-remediation-ObjectRemediation"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:dsse-remediation-ObjectRemediation"
    aws_request_id: str = "load-benchmark"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass(frozen=True)
class Delivery:
    """One SQS message: the event of one object's write, delivered for the first time or again (a duplicate)."""

    message_id: str
    bucket: str
    key: str
    duplicate: bool
    receive_count: int = 1

    def record(self, template: dict[str, Any]) -> dict[str, Any]:
        """The record as Lambda delivers it; its body is built now, so the queue holds no bodies meanwhile."""
        body = event_body(template, self.bucket, self.key)
        return {
            "messageId": self.message_id,
            "receiptHandle": f"AQEB{self.message_id}",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": str(self.receive_count),
                "SentTimestamp": "1795166103843",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1795166103902",
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": QUEUE_ARN,
            "awsRegion": REGION,
        }

    def again(self) -> Delivery:
        return Delivery(self.message_id, self.bucket, self.key, self.duplicate, self.receive_count + 1)


@dataclass(frozen=True)
class Report:
    objects: int
    duplicates: int
    batch_size: int
    events_in: int
    invocations: int
    results_out: int
    outcomes: dict[str, int]
    lost: int
    duplicates_found_compliant: int
    copy_object_calls: int
    extra_copies: int
    batch_item_failures: int
    redeliveries: int
    dead_letters: int
    s3_calls: dict[str, int]
    alerts_published: int
    setup_s: float
    wall_s: float  # feeding the queue, invocations included
    in_handler_s: float  # inside lambda_handler
    objects_per_s: float
    events_per_s: float
    peak_rss_mib: float

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.extra_copies == 0 and self.dead_letters == 0


class Calls:
    """Operation names the handler's clients call (botocore `before-parameter-build`: one per call, not per retry)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, model: OperationModel, **_: Any) -> None:
        self.counts[model.name] += 1


def load_handler(path: Path = HANDLER) -> ModuleType:
    """A handler (functions/<name>/app.py; the object handler by default), imported afresh on fresh library
    clients: a cold start."""
    clients.client.cache_clear()
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_app", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def event_body(template: dict[str, Any], bucket: str, key: str) -> str:
    """The CloudTrail PutObject event of one write, as the compact JSON EventBridge puts on the queue. Its ids are
    derived from the object, so both deliveries of a duplicate carry the very same event."""
    event = json.loads(json.dumps(template))
    event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"eventbridge/{bucket}/{key}"))
    detail = event["detail"]
    detail["eventID"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cloudtrail/{bucket}/{key}"))
    detail["requestParameters"].update(bucketName=bucket, key=key)
    detail["resources"][0]["ARN"] = f"arn:aws:s3:::{bucket}/{key}"
    return json.dumps(event, separators=(",", ":"))


def deliveries(bucket: str, objects: int, duplicates: int, rng: random.Random) -> tuple[list[str], list[Delivery]]:
    keys = [f"load/{number // 1000:03d}/object-{number:06d}.csv" for number in range(objects)]
    first = [Delivery(f"m-{n}", bucket, key, False) for n, key in enumerate(keys)]
    twice = rng.sample(first, duplicates)
    queue = first + [Delivery(f"{d.message_id}-again", bucket, d.key, True) for d in twice]
    rng.shuffle(queue)
    return keys, queue


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """The handler's JSON logs and EMF metrics (file descriptor 1) go to /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def run(objects: int, duplicates: int, batch_size: int) -> Report:
    for name in AWS_UNSET:
        os.environ.pop(name, None)
    os.environ.update(FAKE_AWS_ENV)
    os.environ.update(
        {
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_SERVICE_NAME": "dsse-remediation",
            "POWERTOOLS_METRICS_NAMESPACE": "DsseRemediationLoad",
        }
    )
    rng = random.Random(SEED)
    with mock_aws(), aws_fidelity_applied():
        started = time.perf_counter()
        s3: S3Client = boto3.client("s3", region_name=REGION)
        key_arn = boto3.client("kms", region_name=REGION).create_key(Description="DSSE key")["KeyMetadata"]["Arn"]
        topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="dsse-alerts")["TopicArn"]
        bucket = PLACEHOLDER_BUCKET
        s3.create_bucket(Bucket=bucket)
        keys, queue = deliveries(bucket, objects, duplicates, rng)
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=BODY, ServerSideEncryption="AES256")
        os.environ.update({"DSSE_KMS_KEY": key_arn, "ALERT_TOPIC_ARN": topic_arn, "ACCOUNT_ID": ACCOUNT_ID})
        handler = load_handler()
        s3_calls, sns_calls = Calls(), Calls()
        handler.remediator.s3.client.meta.events.register("before-parameter-build.s3", s3_calls)
        clients.sns(REGION).meta.events.register("before-parameter-build.sns", sns_calls)
        outcomes: list[tuple[str, str]] = []  # (key, outcome) per evaluation
        evaluate = handler.remediator.handle

        def recorded(request: Any, **kwargs: Any) -> Any:
            result = evaluate(request, **kwargs)
            outcomes.append((request.key, result.outcome.value))
            return result

        handler.remediator.handle = recorded
        setup_s = time.perf_counter() - started

        template = json.loads(SAMPLE.read_text(encoding="utf-8"))
        context = LambdaContext()
        invocations = failures = redeliveries = dead = 0
        in_handler_s = 0.0  # the invocations only: building the records is the harness's work, not the handler's
        started = time.perf_counter()
        with quiet_stdout():
            while queue:
                batch, queue = queue[:batch_size], queue[batch_size:]
                invocations += 1
                event = {"Records": [d.record(template) for d in batch]}
                called = time.perf_counter()
                try:
                    answer = handler.lambda_handler(event, context)
                    failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
                except Exception:  # the invocation failed: every message of the batch becomes visible again
                    failed = {d.message_id for d in batch}
                in_handler_s += time.perf_counter() - called
                failures += len(failed)
                for delivery in batch:
                    if delivery.message_id not in failed:
                        continue
                    if delivery.receive_count >= MAX_RECEIVE_COUNT:
                        dead += 1
                    else:
                        redeliveries += 1
                        queue.append(delivery.again())
        wall_s = time.perf_counter() - started

        lost = 0
        for key in keys:
            head = s3.head_object(Bucket=bucket, Key=key)
            if (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")) != ("aws:kms:dsse", key_arn):
                lost += 1
    seen: Counter[str] = Counter()
    found_compliant_again = 0
    for key, outcome in outcomes:
        seen[key] += 1
        if seen[key] > 1 and outcome == "compliant":
            found_compliant_again += 1
    copies = s3_calls.counts["CopyObject"]
    events_in = objects + duplicates
    return Report(
        objects=objects,
        duplicates=duplicates,
        batch_size=batch_size,
        events_in=events_in,
        invocations=invocations,
        results_out=len(outcomes),
        outcomes=dict(Counter(outcome for _, outcome in outcomes)),
        lost=lost,
        duplicates_found_compliant=found_compliant_again,
        copy_object_calls=copies,
        extra_copies=max(0, copies - objects),
        batch_item_failures=failures,
        redeliveries=redeliveries,
        dead_letters=dead,
        s3_calls=dict(s3_calls.counts),
        alerts_published=sns_calls.counts["Publish"],
        setup_s=round(setup_s, 1),
        wall_s=round(wall_s, 1),
        in_handler_s=round(in_handler_s, 1),
        objects_per_s=round(objects / in_handler_s, 1),
        events_per_s=round(events_in / in_handler_s, 1),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


def format_report(report: Report) -> list[str]:
    lines = [
        f"Load: {report.objects:,} objects, {report.duplicates:,} of them delivered twice, through the SQS batch path "
        f"(batches of {report.batch_size}), in-process on moto + tests.aws_fidelity",
        "",
    ]
    outcomes = ", ".join(f"{name} {count:,}" for name, count in sorted(report.outcomes.items()))
    rows = [
        ["events in", f"{report.events_in:,}", f"{report.invocations:,} invocations"],
        ["results out", f"{report.results_out:,}", outcomes],
        ["lost (not DSSE-KMS under the key at the end)", f"{report.lost:,}", "must be 0"],
        [
            "duplicates handled idempotently",
            f"{report.duplicates_found_compliant:,} of {report.duplicates:,}",
            "the second delivery found the object compliant",
        ],
        ["extra copies", f"{report.extra_copies:,}", f"{report.copy_object_calls:,} CopyObject calls, must be 0"],
        [
            "batch item failures / redeliveries / dead letters",
            f"{report.batch_item_failures:,} / {report.redeliveries:,} / {report.dead_letters:,}",
            f"maxReceiveCount {MAX_RECEIVE_COUNT}",
        ],
        ["alerts published", f"{report.alerts_published:,}", "one low-severity alert per remediated object"],
        [
            "objects per second",
            f"{report.objects_per_s:,.1f}",
            f"{report.in_handler_s:,.1f} s in lambda_handler ({report.wall_s:,.1f} s wall, setup not counted)",
        ],
        ["events per second", f"{report.events_per_s:,.1f}", f"setup {report.setup_s:,.1f} s"],
        ["peak RSS", f"{report.peak_rss_mib:,.1f} MiB", "getrusage(RUSAGE_SELF).ru_maxrss"],
    ]
    lines += table(["measure", "value", "note"], rows)
    calls = ", ".join(f"{name} {count:,}" for name, count in sorted(report.s3_calls.items()))
    lines += ["", f"S3 calls by the handler: {calls}", "", "RESULT: " + ("ok" if report.ok else "FAILED")]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=10_000, help="distinct objects, one event each (10,000)")
    parser.add_argument("--duplicates", type=int, default=1_000, help="of those, delivered twice (1,000)")
    parser.add_argument("--batch-size", type=int, default=10, help="SQS records per invocation (10)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args(argv)
    if not 0 <= args.duplicates <= args.objects or args.objects < 1 or not 1 <= args.batch_size <= 10_000:
        parser.error("need --objects >= 1, 0 <= --duplicates <= --objects and 1 <= --batch-size <= 10000")
    report = run(args.objects, args.duplicates, args.batch_size)
    if args.json:
        print(json.dumps(asdict(report) | {"ok": report.ok}, indent=2))
    else:
        print("\n".join(format_report(report)))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
