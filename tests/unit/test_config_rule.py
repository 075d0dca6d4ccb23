"""The AWS Config custom rule's decision (config_rule.py): a bucket is COMPLIANT only when its default is DSSE-KMS under
the key and its latest posture is 100 %; out of scope or deleted is NOT_APPLICABLE; everything else NON_COMPLIANT
with the reason, in calls of at most 100 evaluations, never INSUFFICIENT_DATA (which PutEvaluations refuses)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dsse_remediation.config import BatchSettings, Settings
from dsse_remediation.config_rule import (
    MAX_ANNOTATION,
    POSTURE_KEY,
    BucketRule,
    Compliance,
    Evaluation,
    RuleRequest,
    evaluation_requests,
    parse_config_event,
)
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.model import BucketEncryption, Failure
from dsse_remediation.scope import Scope
from tests.clock import PinnedClock
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY, REGION, load_event

NOW = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
REPORT = "dsse-remediation-reportbucket-1a2b3c"
DSSE = BucketEncryption("aws:kms:dsse", PLACEHOLDER_KEY)
STATES = ("dsse-key", "dsse-other-key", "sse-kms", "sse-s3", "sse-c", "not-encrypted")


def counts(**values: int) -> dict[str, int]:
    return {state: values.get(state.replace("-", "_"), 0) for state in STATES}


def entry(bucket: str, objects: float = 100.0, size: float = 100.0, **left: int) -> dict[str, Any]:
    """A bucket's posture/v1 entry: 10 objects of 100 bytes DSSE under the key, plus `left` (state=count)."""
    return {
        "bucket": bucket,
        "source": {"kind": "inventory", "inventoryDate": "2026-11-19T01:00:00+00:00"},
        "current": {"objects": counts(dsse_key=10, **left), "bytes": counts(dsse_key=1000, **left)},
        "noncurrent": {"objects": counts(), "bytes": counts()},
        "percentDsseUnderKey": {"objects": objects, "bytes": size},
        "error": None,
    }


class Buckets:
    def __init__(self, defaults: dict[str, BucketEncryption]) -> None:
        self.defaults = defaults
        self.read: list[str] = []

    def owned_buckets(self, region: str | None = None) -> list[tuple[str, str | None]]:
        return [(name, region) for name in self.defaults]

    def bucket_encryption(self, bucket: str) -> BucketEncryption:
        self.read.append(bucket)
        if bucket == "unreadable-bucket":
            raise AwsFailure(Failure.DENIED, "GetBucketEncryption: AccessDenied")
        return self.defaults[bucket]


class Reports:
    def __init__(self, document: Any = None) -> None:
        self.document = document

    def read_json(self, bucket: str, key: str) -> Any:
        assert (bucket, key) == (REPORT, POSTURE_KEY)
        if self.document is None:
            raise AwsFailure(Failure.GONE, "NoSuchKey")
        return self.document


class Config:
    def __init__(self, refused: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, list[Evaluation], bool]] = []
        self.refused = refused

    def put(self, token: str, evaluations: list[Evaluation], test_mode: bool) -> list[str]:
        self.calls.append((token, evaluations, test_mode))
        return [f"{e.bucket}: refused" for e in evaluations if e.bucket in self.refused]


class Keys:
    def arn(self, key: str) -> str:
        return key


def rule(defaults: dict[str, BucketEncryption], document: Any = None, config: Config | None = None) -> BucketRule:
    settings = Settings(
        key=PLACEHOLDER_KEY,
        scope=Scope.parse("*", "example-excluded-*"),
        account_id=ACCOUNT_ID,
        region=REGION,
        batch=BatchSettings(report_bucket=REPORT),
    )
    return BucketRule(settings, Buckets(defaults), Reports(document), config or Config(), Keys(), PinnedClock(NOW))


def posture(*entries: dict[str, Any], generated: datetime = NOW - timedelta(hours=6)) -> dict[str, Any]:
    return {"schema": "dsse-remediation.posture/v1", "generatedAt": generated.isoformat(), "buckets": list(entries)}


def periodic(test_mode: bool = False) -> RuleRequest:
    return RuleRequest("token-1", NOW, test_mode=test_mode)


def judged(run: Any) -> dict[str, tuple[str, str]]:
    return {e.bucket: (e.compliance.value, e.annotation) for e in run.evaluations}


def test_a_bucket_with_a_dsse_default_and_a_complete_posture_is_compliant() -> None:
    run = rule({"payments": DSSE}, posture(entry("payments"))).run(periodic())

    compliance, annotation = judged(run)["payments"]
    assert compliance == "COMPLIANT"
    assert "100 % of its objects as of 2026-11-19T01:00:00+00:00" in annotation


@pytest.mark.parametrize(
    ("default", "words"),
    [
        (BucketEncryption("AES256"), "default encryption is AES256, not DSSE-KMS under"),
        (BucketEncryption("aws:kms", PLACEHOLDER_KEY), "default encryption is aws:kms"),
        (BucketEncryption("aws:kms:dsse", PLACEHOLDER_KEY, bucket_key_enabled=True), "Bucket Key on"),
        (BucketEncryption("aws:kms:dsse", PLACEHOLDER_KEY.replace("1111aaaa", "2222bbbb")), "2222bbbb"),
    ],
)
def test_a_default_that_is_not_dsse_under_the_key_is_non_compliant_whatever_the_posture(
    default: BucketEncryption, words: str
) -> None:
    run = rule({"payments": default}, posture(entry("payments"))).run(periodic())

    compliance, annotation = judged(run)["payments"]
    assert (compliance, words in annotation) == ("NON_COMPLIANT", True)


def test_objects_left_make_a_dsse_bucket_non_compliant_with_the_share_and_what_is_left() -> None:
    document = posture(entry("payments", objects=83.33, size=99.996, sse_s3=2))
    run = rule({"payments": DSSE}, document).run(periodic())

    compliance, annotation = judged(run)["payments"]
    assert compliance == "NON_COMPLIANT"
    assert "99.99 % of bytes and 83.33 % of objects" in annotation  # rounded down: never 100 % while any is left
    assert "2 object(s), 2 byte(s) left" in annotation


def test_an_unmeasured_bucket_is_not_shown_compliant() -> None:
    run = rule({"payments": DSSE, "media": DSSE}, posture(entry("payments"))).run(periodic())
    no_posture = rule({"media": DSSE}).run(periodic())

    assert judged(run)["media"][0] == judged(no_posture)["media"][0] == "NON_COMPLIANT"
    assert "no posture measured" in judged(run)["media"][1]


def test_a_posture_older_than_eight_days_is_not_trusted() -> None:
    document = posture(entry("payments"), generated=NOW - timedelta(days=9))
    run = rule({"payments": DSSE}, document).run(periodic())

    assert judged(run)["payments"] == (
        "NON_COMPLIANT",
        "default DSSE-KMS under the key; its latest posture is 9 days old (2026-11-11)",
    )


def test_out_of_scope_and_the_report_bucket_are_not_applicable_and_their_encryption_is_not_read() -> None:
    buckets = {"example-excluded-logs": BucketEncryption("AES256"), REPORT: DSSE, "payments": DSSE}
    evaluator = rule(buckets, posture(entry("payments")))
    run = evaluator.run(periodic())

    assert judged(run)["example-excluded-logs"][0] == judged(run)[REPORT][0] == "NOT_APPLICABLE"
    assert evaluator.buckets.read == ["payments"]  # type: ignore[attr-defined]


def test_a_deleted_bucket_is_not_applicable_without_a_call() -> None:
    evaluator = rule({"payments": DSSE})
    run = evaluator.run(RuleRequest("token-1", NOW, "payments", gone=True))

    assert judged(run) == {"payments": ("NOT_APPLICABLE", "the bucket was deleted or left the rule's scope")}
    assert evaluator.buckets.read == []  # type: ignore[attr-defined]


def test_evaluations_go_to_config_in_calls_of_at_most_100_under_the_token() -> None:
    config = Config()
    buckets = {f"bucket-{n:03}": BucketEncryption("AES256") for n in range(230)}
    rule(buckets, config=config).run(periodic(test_mode=True))

    assert [len(evaluations) for _, evaluations, _ in config.calls] == [100, 100, 30]
    assert {(token, test_mode) for token, _, test_mode in config.calls} == {("token-1", True)}


def test_one_unreadable_bucket_is_named_and_the_others_are_still_evaluated() -> None:
    run = rule({"unreadable-bucket": DSSE, "payments": DSSE}, posture(entry("payments"))).run(periodic())

    assert set(judged(run)) == {"payments"}
    assert run.failed == ("unreadable-bucket: GetBucketEncryption: AccessDenied",)


def test_what_config_refuses_is_reported() -> None:
    run = rule({"payments": DSSE}, config=Config(refused=("payments",))).run(periodic())

    assert run.failed == ("payments: refused",)


def test_the_request_is_what_put_evaluations_takes_with_annotations_cut_to_256() -> None:
    long = Evaluation("b", Compliance.NON_COMPLIANT, "x" * 300, NOW)
    run = rule({"a" * 63: BucketEncryption("aws:kms", "k" * 300)}).run(periodic())

    [request] = evaluation_requests([long])
    assert request == {
        "ComplianceResourceType": "AWS::S3::Bucket",
        "ComplianceResourceId": "b",
        "ComplianceType": "NON_COMPLIANT",
        "Annotation": "x" * 300,
        "OrderingTimestamp": NOW,
    }
    assert len(run.evaluations[0].annotation) == MAX_ANNOTATION
    assert {e.compliance for e in run.evaluations} <= set(Compliance)  # never INSUFFICIENT_DATA


def test_the_change_event_names_its_bucket_and_its_capture_time() -> None:
    request = parse_config_event(load_event("config-rule-bucket-changed.json"))

    assert (request.bucket, request.ordering) == (
        "example-protected-bucket",
        datetime(2026, 11, 20, 9, 15, 3, 43000, tzinfo=UTC),
    )


def test_an_oversized_change_is_read_from_its_summary() -> None:
    event = load_event("config-rule-bucket-changed.json")
    invoking = json.loads(event["invokingEvent"])
    summary = {k: invoking["configurationItem"][k] for k in ("resourceType", "resourceName", "configurationItemStatus")}
    summary["configurationItemCaptureTime"] = "2026-11-20T09:15:03.043Z"
    oversized = {"configurationItemSummary": summary, "messageType": "OversizedConfigurationItemChangeNotification"}

    request = parse_config_event(event | {"invokingEvent": json.dumps(oversized)})

    assert request.bucket == "example-protected-bucket"


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (None, "not an AWS Config rule event"),
        ([], "not an AWS Config rule event"),
        ({"resultToken": "t"}, "resultToken and invokingEvent"),
        ({"resultToken": "t", "invokingEvent": "{"}, "invokingEvent is not JSON"),
        ({"resultToken": "t", "invokingEvent": "[]"}, "not a JSON object"),
        ({"resultToken": "t", "invokingEvent": '{"messageType": "ConfigurationSnapshotDeliveryCompleted"}'}, "only"),
        (
            {
                "resultToken": "t",
                "invokingEvent": json.dumps(
                    {
                        "messageType": "ConfigurationItemChangeNotification",
                        "configurationItem": {"resourceType": "AWS::EC2::Instance", "resourceId": "i-1"},
                    }
                ),
            },
            "AWS::S3::Bucket only",
        ),
        ({"resultToken": "t", "invokingEvent": '{"messageType": "ScheduledNotification"}'}, "not a time"),
    ],
)
def test_anything_else_is_a_clear_invalid_request(event: Any, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        parse_config_event(event)
