"""Batch Operations task benchmark: tasks per second of the task function, in-process on moto.

What runs: moto with the `tests/aws_fidelity.py` patches holds one DSSE key and a protected bucket of `--objects`
small objects written before the deployment: `--compliant` percent of them already DSSE-KMS under the key, the rest
SSE-S3 (S3's default). The real task function (`functions/batch_task/app.py`, imported as a cold start does) gets one
schema 2.0 LambdaInvoke invocation per object, as Batch Operations sends them (one task each, URL-encoded keys).

What is reported: tasks per second over the time spent in lambda_handler, per outcome (remediated / compliant) and in
all; S3 calls per task; result codes; lost (objects not DSSE-KMS under the key at the end: must be 0); peak RSS.
On AWS the job's rate is set by the function's reserved concurrency (template BatchTaskConcurrency) times this
per-invocation rate, within the KMS request quota (README, "Backfill").

    PYTHONPATH=layers/remediation:. python -m benchmarks.batch_tasks                  # 2,000 objects, 50% compliant
    PYTHONPATH=layers/remediation:. python -m benchmarks.batch_tasks --objects 500 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3
from moto import mock_aws

from benchmarks.common import ROOT, aws_fidelity_applied, table, use_fake_aws
from benchmarks.load import Calls, LambdaContext, load_handler, quiet_stdout

HANDLER = ROOT / "functions" / "batch_task" / "app.py"
BUCKET = "example-protected-backfill"
BODY = b"an object written before the deployment\n"


@dataclass(frozen=True)
class Report:
    objects: int
    compliant_before: int
    result_codes: dict[str, int]
    outcomes: dict[str, int]
    lost: int
    s3_calls_per_task: float
    s3_calls: dict[str, int]
    in_handler_s: float
    tasks_per_s: float
    remediated_per_s: float
    compliant_per_s: float
    peak_rss_mib: float


def invocation(number: int, key: str) -> dict[str, Any]:
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": f"invocation-{number}",
        "job": {"id": "benchmark-job", "userArguments": {"dryRun": "false", "campaign": "benchmark"}},
        "tasks": [{"taskId": f"task-{number}", "s3Bucket": BUCKET, "s3Key": quote_plus(key), "s3VersionId": None}],
    }


def run(objects: int, compliant_percent: int) -> Report:
    with mock_aws(), aws_fidelity_applied():
        kms: Any = boto3.client("kms")
        s3: Any = boto3.client("s3")
        key_arn = kms.create_key(KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=BUCKET)
        compliant = objects * compliant_percent // 100
        keys = [f"before-deployment/{n // 1000:03d}/object {n:06d}.csv" for n in range(objects)]
        for n, key in enumerate(keys):
            extra = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": key_arn} if n < compliant else {}
            s3.put_object(Bucket=BUCKET, Key=key, Body=BODY, **extra)

        os.environ.update(
            DSSE_KMS_KEY=key_arn,
            ACCOUNT_ID="123456789012",
            POWERTOOLS_TRACE_DISABLED="1",
            POWERTOOLS_SERVICE_NAME="dsse-remediation",
            POWERTOOLS_METRICS_NAMESPACE="DsseRemediationBatch",
        )
        handler = load_handler(HANDLER)
        calls = Calls()
        handler.app.client("s3").meta.events.register("before-parameter-build.s3", calls)
        codes: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        spent = {"remediated": 0.0, "compliant": 0.0}
        in_handler = 0.0
        context = LambdaContext()
        with quiet_stdout():
            for n, key in enumerate(keys):
                started = time.perf_counter()
                answer = handler.lambda_handler(invocation(n, key), context)
                took = time.perf_counter() - started
                in_handler += took
                [result] = answer["results"]
                outcome = result["resultString"].split(":", 1)[0]
                codes[result["resultCode"]] += 1
                outcomes[outcome] += 1
                if outcome in spent:
                    spent[outcome] += took
        lost = sum(
            1
            for key in keys
            if (head := s3.head_object(Bucket=BUCKET, Key=key)).get("ServerSideEncryption") != "aws:kms:dsse"
            or head.get("SSEKMSKeyId") != key_arn
        )
    total_calls = sum(calls.counts.values())
    return Report(
        objects=objects,
        compliant_before=compliant,
        result_codes=dict(codes),
        outcomes=dict(outcomes),
        lost=lost,
        s3_calls_per_task=round(total_calls / objects, 2),
        s3_calls=dict(calls.counts),
        in_handler_s=round(in_handler, 2),
        tasks_per_s=round(objects / in_handler, 1),
        remediated_per_s=round(outcomes["remediated"] / spent["remediated"], 1) if spent["remediated"] else 0.0,
        compliant_per_s=round(outcomes["compliant"] / spent["compliant"], 1) if spent["compliant"] else 0.0,
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--compliant", type=int, default=50, help="percent of objects already DSSE-KMS")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    use_fake_aws()
    report = run(args.objects, args.compliant)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        rows = [[name, str(value)] for name, value in asdict(report).items()]
        print("\n".join(table(["measure", "value"], rows)))
    return 0 if report.lost == 0 and set(report.result_codes) == {"Succeeded"} else 1


if __name__ == "__main__":
    raise SystemExit(main())
