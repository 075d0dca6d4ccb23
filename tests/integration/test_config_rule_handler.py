"""The AWS Config rule's function on fake AWS (functions/config_rule/app.py): the events Config sends, the buckets as S3
reports them, the posture the stack wrote to its report bucket, and what PutEvaluations keeps (tests/config_double.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from dsse_remediation.model import utc_now
from dsse_remediation.reporting import HandlerFailed
from tests import config_double
from tests.config_double import ConfigDouble
from tests.helpers import ACCOUNT_ID, REGION, invoke, load_event
from tests.lambda_context import load_function

REPORT = "dsse-remediation-reportbucket-1a2b3c"
PROTECTED = "example-protected-bucket"
STATES = ("dsse-key", "dsse-other-key", "sse-kms", "sse-s3", "sse-c", "not-encrypted")
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def config(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConfigDouble]:
    with config_double.applied(monkeypatch) as double:
        yield double


def dsse_default(s3: Any, bucket: str, key: str) -> None:
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": key}}
    s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule | {"BucketKeyEnabled": False}]}
    )


@pytest.fixture
def function(s3: Any, dsse_key: str, config: ConfigDouble, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A protected bucket (SSE-S3 by default), a DSSE one measured complete, an excluded one, the report bucket."""
    for bucket in (PROTECTED, "example-dsse-bucket", "example-excluded-bucket", REPORT):
        s3.create_bucket(Bucket=bucket)
    dsse_default(s3, "example-dsse-bucket", dsse_key)
    zero = dict.fromkeys(STATES, 0)
    entry = {
        "bucket": "example-dsse-bucket",
        "source": {"kind": "inventory", "inventoryDate": "2026-11-19T01:00:00+00:00"},
        "current": {"objects": zero | {"dsse-key": 4}, "bytes": zero | {"dsse-key": 4096}},
        "noncurrent": {"objects": zero, "bytes": zero},
        "percentDsseUnderKey": {"objects": 100.0, "bytes": 100.0},
        "error": None,
    }
    posture = {"schema": "dsse-remediation.posture/v1", "generatedAt": utc_now().isoformat(), "buckets": [entry]}
    s3.put_object(Bucket=REPORT, Key="posture/latest.json", Body=json.dumps(posture).encode())
    for name, value in {
        "DSSE_KMS_KEY": dsse_key,
        "ACCOUNT_ID": ACCOUNT_ID,
        "EXCLUDED_BUCKETS": "example-excluded-*",
        "REPORT_BUCKET": REPORT,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    return load_function("config_rule")


def test_the_period_evaluates_every_bucket_and_config_keeps_the_evaluations(
    function: ModuleType, config: ConfigDouble, s3: Any
) -> None:
    before = {b["Name"]: s3.get_bucket_encryption(Bucket=b["Name"]) for b in s3.list_buckets()["Buckets"]}

    answer = invoke(function, load_event("config-rule-periodic.json"))["configRule"]

    kept = {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.delivered["example-result-token"]}
    assert kept == {
        "example-dsse-bucket": "COMPLIANT",
        PROTECTED: "NON_COMPLIANT",
        "example-excluded-bucket": "NOT_APPLICABLE",
        REPORT: "NOT_APPLICABLE",
    }
    assert answer["counts"] == {"COMPLIANT": 1, "NON_COMPLIANT": 1, "NOT_APPLICABLE": 2}
    assert answer["failed"] == []
    after = {b["Name"]: s3.get_bucket_encryption(Bucket=b["Name"]) for b in s3.list_buckets()["Buckets"]}
    assert [a["ServerSideEncryptionConfiguration"] for a in after.values()] == [
        b["ServerSideEncryptionConfiguration"] for b in before.values()
    ]  # the rule writes nothing to a bucket


def test_a_bucket_change_evaluates_that_bucket_with_its_capture_time(
    function: ModuleType, config: ConfigDouble
) -> None:
    invoke(function, load_event("config-rule-bucket-changed.json"))

    [evaluation] = config.delivered["example-result-token"]
    assert evaluation["ComplianceResourceId"] == PROTECTED
    assert evaluation["ComplianceType"] == "NON_COMPLIANT"
    assert evaluation["Annotation"].startswith("default encryption is AES256, not DSSE-KMS under arn:aws:kms:")


def test_a_hand_run_in_test_mode_evaluates_and_config_keeps_nothing(function: ModuleType, config: ConfigDouble) -> None:
    answer = invoke(function, load_event("manual-config-rule-test-mode.json"))["configRule"]

    assert answer["testMode"] is True
    assert answer["counts"]["COMPLIANT"] == 1
    assert config.delivered == {}
    assert config.calls == [(4, True)]


@pytest.mark.parametrize("event", [None, [], "x", 1, {}, {"resultToken": "t", "invokingEvent": "{}"}])
def test_anything_else_is_answered_with_an_error_and_reaches_no_aws(
    function: ModuleType, config: ConfigDouble, event: Any
) -> None:
    answer = invoke(function, event)

    assert answer["results"] == []
    assert answer["error"]["type"] == "InvalidRequest"
    assert config.calls == []


def test_an_evaluation_config_refuses_fails_the_invocation_so_it_is_alarmed(
    function: ModuleType, config: ConfigDouble
) -> None:
    config.refused.add(PROTECTED)

    with pytest.raises(HandlerFailed, match="1 evaluation\\(s\\) failed"):
        invoke(function, load_event("config-rule-bucket-changed.json"))
