"""RemediationLatency: how long each real write waited for its remediation, from CloudTrail's eventTime of the write
to the remediation (the App's clock), in the object's result, its alert, and the object handler's EMF metric (whose
p50/p90/p99 the dashboard shows). Manual requests, and objects that needed nothing, have none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from tests.clock import PinnedClock
from tests.helpers import ACCOUNT_ID, Inbox, invoke, load_event, put
from tests.lambda_context import load_function

WRITTEN = datetime(2026, 11, 20, 9, 15, 2, tzinfo=UTC)  # the eventTime of events/put-object-sse-s3.json
Q3 = "reports/2026/q3-summary.csv"


@pytest.fixture
def handler(
    monkeypatch: pytest.MonkeyPatch, bucket: str, dsse_key: str, inbox: Inbox, clock: PinnedClock
) -> ModuleType:
    for name, value in {"DSSE_KMS_KEY": dsse_key, "ALERT_TOPIC_ARN": inbox.topic_arn, "ACCOUNT_ID": ACCOUNT_ID}.items():
        monkeypatch.setenv(name, value)
    module = load_function("object_remediation")
    monkeypatch.setattr(module.remediator, "clock", clock)
    return module


def latency_metrics(capsys: pytest.CaptureFixture[str]) -> list[float]:
    found: list[float] = []
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        if "_aws" in document and "RemediationLatency" in document:
            value = document["RemediationLatency"]
            found.extend(value if isinstance(value, list) else [value])
    return found


def test_a_remediated_writes_latency_is_the_clock_less_its_cloudtrail_event_time(
    handler: ModuleType, s3: Any, bucket: str, clock: PinnedClock, inbox: Inbox, capsys: pytest.CaptureFixture[str]
) -> None:
    put(s3, bucket, Q3)
    clock.now = WRITTEN + timedelta(seconds=42.5)

    (result,) = invoke(handler, load_event("put-object-sse-s3.json"))["results"]

    assert (result["outcome"], result["latencySeconds"]) == ("remediated", 42.5)
    assert latency_metrics(capsys) == [42.5]
    (alert,) = inbox.messages()
    assert alert["body"]["latencySeconds"] == 42.5


def test_a_manual_request_has_no_latency_and_no_metric(
    handler: ModuleType, s3: Any, bucket: str, clock: PinnedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    put(s3, bucket, Q3)
    clock.now = WRITTEN + timedelta(hours=1)

    (result,) = invoke(handler, load_event("manual-object.json"))["results"]

    assert (result["outcome"], result["latencySeconds"]) == ("remediated", None)
    assert latency_metrics(capsys) == []


def test_a_write_that_needed_nothing_has_no_latency(
    handler: ModuleType, s3: Any, bucket: str, dsse_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(s3, bucket, Q3, ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)

    (result,) = invoke(handler, load_event("put-object-sse-s3.json"))["results"]

    assert (result["outcome"], result["latencySeconds"]) == ("compliant", None)
    assert latency_metrics(capsys) == []
