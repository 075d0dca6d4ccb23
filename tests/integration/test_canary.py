"""The canary end to end on fake AWS: ticks of functions/canary/app.py, and between them the event path as the stack
runs it (functions/object_remediation/app.py on the canary write's CloudTrail event), configured as template.yaml
configures both. One clock: the test's, pinned, moved by the test alone; S3 dates what it writes by it too, since a
canary's latency is S3's LastModified of the DSSE copy less the write time its key names.

Heartbeats and missed SLOs reach the security account's view (the forwarding rule's pattern, read from template.yaml,
on the default bus); alerts reach the team's topic (the inbox).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, timedelta
from types import ModuleType
from typing import Any

import moto.s3.models
import pytest

from dsse_remediation.canary import written_at
from dsse_remediation.reporting import HandlerFailed
from tests.clock import PinnedClock
from tests.helpers import ACCOUNT_ID, REGION, Inbox, inject_error, invoke, load_event, put
from tests.integration.test_forwarding import SecurityView
from tests.lambda_context import load_function

CANARY_BUCKET = "dsse-remediation-canarybucket-1a2b3c4d5e6f"  # named as CloudFormation names it
SLO = timedelta(seconds=300)  # CanarySloSeconds' default
TICK = timedelta(minutes=15)  # CanarySchedule rate(15 minutes)
Metrics = dict[str, list[float]]
# A tick that judged nothing (the first, or one with a write still pending) emits no metric, which Powertools notes.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def s3_dates_by_the_test_clock(clock: PinnedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's S3 takes every time it records (LastModified among them) from moto.s3.models.utcnow, naive UTC."""
    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: clock().astimezone(UTC).replace(tzinfo=None))


@pytest.fixture
def stack(
    monkeypatch: pytest.MonkeyPatch, s3: Any, dsse_key: str, inbox: Inbox, s3_dates_by_the_test_clock: None
) -> None:
    """The canary bucket (SSE-S3 by default) and the environment template.yaml gives the two functions: the canary
    bucket excluded for every path (Globals), and CANARY_BUCKET putting it back in the object function's scope."""
    s3.create_bucket(Bucket=CANARY_BUCKET)
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
    s3.put_bucket_encryption(Bucket=CANARY_BUCKET, ServerSideEncryptionConfiguration={"Rules": [rule]})
    for name, value in {
        "DSSE_KMS_KEY": dsse_key,
        "ALERT_TOPIC_ARN": inbox.topic_arn,
        "ACCOUNT_ID": ACCOUNT_ID,
        "EXCLUDED_BUCKETS": f"example-excluded-*,{CANARY_BUCKET}",
        "CANARY_BUCKET": CANARY_BUCKET,
        "CANARY_SLO_SECONDS": str(int(SLO.total_seconds())),
        "FORWARD_RESULTS": "true",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def canary(stack: None, clock: PinnedClock, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function("canary")
    monkeypatch.setattr(module.canary, "clock", clock)
    return module


@pytest.fixture
def object_function(stack: None, clock: PinnedClock, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function("object_remediation")
    monkeypatch.setattr(module.remediator, "clock", clock)
    return module


@pytest.fixture
def view(aws: None) -> SecurityView:
    return SecurityView()


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str]) -> Callable[[], Metrics]:
    """The EMF metrics the handlers printed since the last call, by name (Powertools prints them at each flush)."""

    def read() -> Metrics:
        found: Metrics = {}
        for line in capsys.readouterr().out.splitlines():
            document = json.loads(line) if line.startswith("{") else {}
            for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    found.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
        found.pop("ColdStart", None)
        return found

    return read


def tick(canary: ModuleType) -> dict[str, Any]:
    answer: dict[str, Any] = invoke(canary, load_event("canary-scheduled.json"))["canary"]
    return answer


def cloudtrail_write(key: str, written: str) -> dict[str, Any]:
    """The PutObject event CloudTrail delivers for a canary write: no encryption headers sent, the bucket's SSE-S3
    default applied (responseElements AES256), made by the canary's role."""
    event: dict[str, Any] = load_event("put-object-sse-s3.json")
    detail = event["detail"]
    detail["eventTime"] = event["time"] = written
    detail["requestParameters"] |= {"bucketName": CANARY_BUCKET, "key": key}
    detail["resources"] = [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{CANARY_BUCKET}/{key}"},
        {"accountId": ACCOUNT_ID, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{CANARY_BUCKET}"},
    ]
    return event


def remediate(object_function: ModuleType, key: str) -> dict[str, Any]:
    """The event path on one canary write: the object function on its CloudTrail event (through the rule and the
    queue, as tests/template/test_routing.py checks the rule delivers it)."""
    written = written_at(key)
    assert written is not None
    (result,) = invoke(object_function, cloudtrail_write(key, f"{written:%Y-%m-%dT%H:%M:%SZ}"))["results"]
    return dict(result)


def listed(s3: Any, bucket: str = CANARY_BUCKET) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_the_event_path_remediates_the_canarys_write_and_the_next_tick_measures_its_latency(
    canary: ModuleType,
    object_function: ModuleType,
    clock: PinnedClock,
    s3: Any,
    dsse_key: str,
    inbox: Inbox,
    view: SecurityView,
    emitted: Callable[[], Metrics],
) -> None:
    first = tick(canary)  # tick 1: nothing to judge yet; writes canary/20261120T091502Z
    assert (first["checked"], first["written"]) == ([], "canary/20261120T091502Z")
    assert first["writtenEncryption"] == {"algorithm": "AES256", "kmsKeyId": None}
    assert emitted() == {}

    clock.advance(timedelta(seconds=37))  # the event path: CloudTrail, EventBridge, the queue, the copy
    remediated = remediate(object_function, first["written"])
    assert (remediated["outcome"], remediated["latencySeconds"]) == ("remediated", 37.0)
    assert emitted() == {"Remediated": [1.0], "RemediationLatency": [37.0]}

    clock.advance(TICK - timedelta(seconds=37))
    second = tick(canary)  # tick 2: judges the first write, then writes the next

    (judged,) = second["checked"]
    assert (judged["key"], judged["outcome"], judged["latencySeconds"]) == (first["written"], "passed", 37.0)
    assert judged["encryption"] == {"algorithm": "aws:kms:dsse", "kmsKeyId": dsse_key}
    assert emitted() == {"CanaryLatency": [37.0], "CanaryMissed": [0.0]}
    assert listed(s3) == [second["written"]] == ["canary/20261120T093002Z"]  # the judged one deleted
    assert inbox.messages() == []  # no alert noise when it passes: neither the remediation nor the pass
    (heartbeat,) = view.events()
    assert {k: heartbeat["detail"][k] for k in ("resourceType", "outcome", "severity", "latencySeconds")} == {
        "resourceType": "canary",
        "outcome": "compliant",
        "severity": "info",
        "latencySeconds": 37.0,
    }


def test_a_broken_chain_is_a_miss_after_the_slo_with_the_alarm_metric_and_one_alert(
    canary: ModuleType,
    clock: PinnedClock,
    s3: Any,
    inbox: Inbox,
    view: SecurityView,
    emitted: Callable[[], Metrics],
) -> None:
    first = tick(canary)
    clock.advance(TICK)  # nothing remediated the write: the chain is broken somewhere

    second = tick(canary)

    (judged,) = second["checked"]
    assert (judged["key"], judged["outcome"], judged["ageSeconds"]) == (first["written"], "missed", 900.0)
    assert emitted() == {"CanaryMissed": [1.0]}
    (alert,) = inbox.messages()
    assert alert["subject"].startswith(f"DSSE-KMS canary missed its SLO: s3://{CANARY_BUCKET}/")  # cut to SNS's 100
    assert alert["attributes"] == {
        "severity": "high",
        "outcome": "failed",
        "resourceType": "canary",
        "bucket": CANARY_BUCKET,
    }
    body = alert["body"]
    assert (body["ageSeconds"], body["sloSeconds"], body["encryption"]) == (
        900.0,
        300,
        {"algorithm": "AES256", "kmsKeyId": None},
    )
    assert body["check"][0].startswith("a trail logs S3 write data events for the canary bucket")
    assert [event["detail"] for event in view.events()] == [body]  # the security account hears of it too
    assert listed(s3) == [second["written"]]  # the missed one deleted once alerted; the next one written


def test_a_write_within_the_slo_is_left_for_the_next_tick_to_judge(
    canary: ModuleType,
    object_function: ModuleType,
    clock: PinnedClock,
    s3: Any,
    inbox: Inbox,
    emitted: Callable[[], Metrics],
) -> None:
    """A tick sooner than the SLO (a manual tick, or a schedule faster than the SLO) leaves a pending write alone;
    the next judges every write before it."""
    first = tick(canary)
    clock.advance(timedelta(minutes=2))
    second = tick(canary)
    assert [j["outcome"] for j in second["checked"]] == ["pending"]
    assert emitted() == {}
    assert listed(s3) == [first["written"], second["written"]]

    clock.advance(timedelta(minutes=1))
    remediate(object_function, first["written"])  # 3 minutes after it was written; the second never
    clock.advance(TICK)
    third = tick(canary)

    assert [(j["key"], j["outcome"], j["latencySeconds"]) for j in third["checked"]] == [
        (first["written"], "passed", 180.0),
        (second["written"], "missed", None),
    ]
    assert emitted() == {
        "RemediationLatency": [180.0],
        "Remediated": [1.0],
        "CanaryLatency": [180.0],
        "CanaryMissed": [0.0, 1.0],
    }
    assert [m["body"]["resource"] for m in inbox.messages()] == [f"s3://{CANARY_BUCKET}/{second['written']}"]


def test_the_canary_touches_nothing_outside_its_prefix(
    canary: ModuleType, clock: PinnedClock, s3: Any, bucket: str
) -> None:
    """Every S3 request of the canary names its bucket and a key (or listing prefix) under canary/, and whatever
    else is there, or under the prefix but no canary key, stays as it was."""
    requests: list[tuple[str, dict[str, Any]]] = []
    client = canary.app.client("s3")
    client.meta.events.register(
        "provide-client-params.s3", lambda params, model, **_: requests.append((model.name, dict(params)))
    )
    put(s3, CANARY_BUCKET, "notes/readme.txt")
    put(s3, CANARY_BUCKET, "canary/not-a-tick.txt")
    put(s3, bucket, "canary/20261120T000000Z")  # another bucket's object named like a canary write
    before = {key: s3.head_object(Bucket=CANARY_BUCKET, Key=key)["ETag"] for key in listed(s3)}

    for _ in range(3):  # a write, a miss, a write
        tick(canary)
        clock.advance(TICK)

    assert {name for name, _ in requests} == {"ListObjectsV2", "HeadObject", "PutObject", "DeleteObject"}
    for name, params in requests:
        assert params["Bucket"] == CANARY_BUCKET, (name, params)
        assert params.get("Key", params.get("Prefix", "")).startswith("canary/"), (name, params)
        assert params["ExpectedBucketOwner"] == ACCOUNT_ID
    assert {key: s3.head_object(Bucket=CANARY_BUCKET, Key=key)["ETag"] for key in before} == before
    assert listed(s3, bucket) == ["canary/20261120T000000Z"]


def test_a_miss_whose_alert_is_lost_stays_and_is_alerted_at_the_next_tick(
    canary: ModuleType, clock: PinnedClock, s3: Any, inbox: Inbox, emitted: Callable[[], Metrics]
) -> None:
    first = tick(canary)
    clock.advance(TICK)
    inject_error(canary.app.client("sns", REGION), "Publish", "AccessDenied", 403)  # the topic policy, say

    second = tick(canary)

    (judged,) = second["checked"]
    assert judged["outcome"] == "missed"
    assert judged["alertError"].startswith("the alert could not be published")
    assert emitted() == {"CanaryMissed": [1.0], "AlertPublishFailed": [1.0]}
    assert listed(s3) == [first["written"], second["written"]]  # kept: the next tick alerts it again
    clock.advance(TICK)
    third = tick(canary)
    assert [(j["key"], j["outcome"]) for j in third["checked"]] == [
        (first["written"], "missed"),
        (second["written"], "missed"),
    ]
    assert len(inbox.messages()) == 2
    assert listed(s3) == [third["written"]]


def test_anything_but_a_tick_is_answered_with_an_error_and_changes_nothing(canary: ModuleType, s3: Any) -> None:
    answer = invoke(canary, {"backstop": {}})

    assert answer["results"] == []
    assert answer["error"]["type"] == "InvalidEvent"
    assert listed(s3) == []


def test_a_write_s3_refuses_fails_the_tick_so_the_functions_error_alarm_hears_of_it(canary: ModuleType) -> None:
    inject_error(canary.app.client("s3"), "PutObject", "AccessDenied", 403)

    with pytest.raises(HandlerFailed, match="canary: AwsFailure"):
        invoke(canary, load_event("canary-scheduled.json"))


def test_the_object_function_fixes_the_canary_bucket_though_the_stack_excludes_it_for_every_other_path(
    stack: None,
    canary: ModuleType,
    clock: PinnedClock,
    s3: Any,
    inbox: Inbox,
    dsse_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CANARY_BUCKET puts the bucket back in the object function's scope; the remediated canary write is routine (no
    alert, no Security Hub call), but anything there that fails, or is not the canary's, is reported like any object."""
    monkeypatch.setenv("SECURITY_HUB_FINDINGS", "true")
    object_function = load_function("object_remediation")
    monkeypatch.setattr(object_function.remediator, "clock", clock)
    hub: list[str] = []
    object_function.app.client("securityhub").meta.events.register(
        "provide-client-params.securityhub", lambda model, **_: hub.append(model.name)
    )
    written = tick(canary)["written"]
    put(s3, CANARY_BUCKET, "notes/cold.csv", StorageClass="GLACIER")
    cold = cloudtrail_write("notes/cold.csv", "2026-11-20T09:15:02Z")

    assert remediate(object_function, written)["outcome"] == "remediated"
    assert hub == []
    assert [r["outcome"] for r in invoke(object_function, cold)["results"]] == ["unremediable"]
    assert "BatchImportFindings" in hub
    assert [m["body"]["resource"] for m in inbox.messages()] == [f"s3://{CANARY_BUCKET}/notes/cold.csv"]
    head = s3.head_object(Bucket=CANARY_BUCKET, Key=written)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms:dsse", dsse_key)
