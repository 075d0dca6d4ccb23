"""The object function's cold start loads and builds only what its event path needs (issue 15: cold start near the
floor, a fresh interpreter with boto3 and one S3 client). `make bench` times it (benchmarks/imports.py); these tests
catch a regression without timing anything: a module import or a client moved back onto the cold start fails them.

s3transfer is not on the list: `import boto3` imports it (boto3.compat imports s3transfer.manager), so the floor
pays for it too, and no handler built on boto3 can leave it out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers import ACCOUNT_ID, AWS_UNSET, FAKE_AWS_ENV, PLACEHOLDER_KEY, PLACEHOLDER_QUEUE_URL, REGION, Wiring

ROOT = Path(__file__).resolve().parents[2]
OBJECT_FUNCTION = ROOT / "functions" / "object_remediation"

NOT_AT_COLD_START = {
    # The bucket path, the key guard and the prevention policy: other functions' paths.
    "dsse_remediation.buckets",
    "dsse_remediation.keyguard",
    "dsse_remediation.prevention",
    # A sweep's listing and queueing adapters: built only when the sweep is on (SWEEP_AFTER_BUCKET_RESET).
    "dsse_remediation.aws.s3_buckets",
    "dsse_remediation.aws.sqs",
    # S3 Batch Operations, backfill, completion, the backstop, Security Hub, the results forwarder, the CLI and its
    # coverage report (CloudTrail).
    "dsse_remediation.aws.batch_jobs",
    "dsse_remediation.aws.cloudtrail",
    "dsse_remediation.aws.events",
    "dsse_remediation.aws.organization",
    "dsse_remediation.aws.securityhub",
    "dsse_remediation.aws.cloudwatch",
    "dsse_remediation.aws.report_files",
    "dsse_remediation.aws.s3_inventory",
    "dsse_remediation.batch",
    "dsse_remediation.batch.backfill",
    "dsse_remediation.batch.backstop",
    "dsse_remediation.batch.events",
    "dsse_remediation.batch.tasks",
    "dsse_remediation.batch.completion",
    "dsse_remediation.cli",
    "dsse_remediation.coverage",
    "dsse_remediation.coverage_check",
    "dsse_remediation.findings",
    # The canary: its own function's.
    "dsse_remediation.canary",
    "dsse_remediation.aws.s3_canary",
}


def imported_by_the_object_handler(**env: str) -> set[str]:
    """sys.modules after `import app` in a fresh interpreter, as Lambda imports the handler (benchmarks/imports.py's
    environment: fake credentials, LAMBDA_TASK_ROOT, so Powertools keeps tracing on)."""
    code = "import json, sys; import app; print(json.dumps(sorted(sys.modules)))"
    child = {name: value for name, value in os.environ.items() if name not in AWS_UNSET}
    child |= FAKE_AWS_ENV | env
    child |= {
        "DSSE_KMS_KEY": PLACEHOLDER_KEY,
        "ACCOUNT_ID": ACCOUNT_ID,  # as the template sets it for every function
        "LAMBDA_TASK_ROOT": str(OBJECT_FUNCTION),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "remediation"), str(OBJECT_FUNCTION)]),
    }
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=OBJECT_FUNCTION, env=child, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    modules: list[str] = json.loads(run.stdout.splitlines()[-1])
    return set(modules)


def loaded(modules: set[str], packages: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_the_object_handler_imports_nothing_its_event_path_does_not_run() -> None:
    modules = imported_by_the_object_handler()

    assert "dsse_remediation.remediation" in modules  # the import did what a cold start does
    assert loaded(modules, NOT_AT_COLD_START) == []


def test_with_the_sweep_on_it_still_imports_no_other_functions_path() -> None:
    """The sweeper is built at cold start when the sweep is on: its adapters come in, nothing else does."""
    modules = imported_by_the_object_handler(SWEEP_AFTER_BUCKET_RESET="true", OBJECT_QUEUE_URL=PLACEHOLDER_QUEUE_URL)
    adapters = {"dsse_remediation.aws.s3_buckets", "dsse_remediation.aws.sqs"}

    assert adapters <= modules
    assert loaded(modules, NOT_AT_COLD_START - adapters) == []


def test_the_cold_start_creates_the_s3_client_only_even_with_the_sweep_on(
    offline: Wiring, offline_handler: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each client costs about what the floor's S3 client does (its service model is read then): the SQS client
    waits for a sweep step to send, the SNS client for an alert, the KMS client for an alias to resolve."""
    created: list[tuple[str, str | None]] = []
    client = offline.client

    def recorded(service: str, region: str | None = None) -> Any:
        created.append((service, region))
        return client(service, region)

    monkeypatch.setattr(offline, "client", recorded)
    monkeypatch.setenv("SWEEP_AFTER_BUCKET_RESET", "true")
    monkeypatch.setenv("OBJECT_QUEUE_URL", PLACEHOLDER_QUEUE_URL)
    monkeypatch.setenv("AWS_REGION", REGION)

    handler: Any = offline_handler("object_remediation")

    assert handler.sweeper is not None
    assert created == [("s3", REGION)]
