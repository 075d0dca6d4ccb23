"""The coverage check's decision (coverage_check.py): uncovered buckets → one alert naming each, high on schedule
(medium when every one is only unknown) and critical after a trail change; a covered account alerts nobody and
forwards a heartbeat with its counts to the security account."""

from __future__ import annotations

from typing import Any

from dsse_remediation.alerts import Alert, Alerts, Context
from dsse_remediation.batch.events import CoverageRequest, parse_batch_jobs_event
from dsse_remediation.config import Settings
from dsse_remediation.coverage.report import Trail
from dsse_remediation.coverage.selectors import parse_selectors
from dsse_remediation.coverage_check import CoverageCheck
from dsse_remediation.scope import Scope
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY, REGION, load_event

ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/data-events"
EVERY_WRITE = {
    "AdvancedEventSelectors": [
        {
            "Name": "writes",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ]
}


class Buckets:
    def __init__(self, *names: str) -> None:
        self.names = names

    def owned_buckets(self, region: str | None = None) -> list[tuple[str, str | None]]:
        return [(name, region) for name in self.names]


class Trails:
    def __init__(self, *trails: Trail) -> None:
        self.read = list(trails)

    def trails(self) -> list[Trail]:
        return self.read


class Topic:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def publish(self, alert: Alert) -> str:
        self.alerts.append(alert)
        return "message-id"


def check(logging: bool, topic: Topic, bus: Topic | None = None, trail: Trail | None = None) -> CoverageCheck:
    settings = Settings(
        key=PLACEHOLDER_KEY, scope=Scope.parse("*", "example-excluded-*"), account_id=ACCOUNT_ID, region=REGION
    )
    trail = trail or Trail("data-events", ARN, REGION, logging=logging, selectors=parse_selectors(EVERY_WRITE))
    alerts = Alerts(topic, Context(mode="remediate", account=ACCOUNT_ID, region=REGION), forwarder=bus)
    buckets: Any = Buckets("analytics-raw", "media-uploads", "example-excluded-logs")
    return CoverageCheck(settings, buckets, Trails(trail), alerts)  # type: ignore[arg-type]


ORGANIZATION_TRAIL = Trail(
    "org-trail",
    "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-trail",
    "us-east-1",
    multi_region=True,
    organization=True,
    logging=True,
    problem="GetEventSelectors failed (access denied)",
)


class Bus(Topic):
    def forward(self, alert: Alert) -> str:
        return self.publish(alert)


def test_a_covered_account_publishes_nothing() -> None:
    topic = Topic()
    run = check(True, topic).run(CoverageRequest())

    assert run.report.uncovered == []
    assert (run.severity, topic.alerts) == (None, [])
    assert run.answer()["uncoveredBuckets"] == []


def test_a_covered_account_forwards_a_heartbeat_with_its_counts_to_the_security_account_only() -> None:
    topic, bus = Topic(), Bus()
    run = check(True, topic, bus).run(CoverageRequest())

    assert topic.alerts == []
    [heartbeat] = bus.alerts
    body = heartbeat.body
    assert (body["severity"], body["outcome"], body["resourceType"]) == ("info", "compliant", "coverage")
    assert body["coverage"] == {"inScope": 2, "covered": 2, "uncovered": 0, "unknown": 0}
    assert body["trails"] == [ARN]
    assert run.alert_error is None


def test_an_uncovered_account_s_alert_carries_the_same_counts_to_topic_and_bus() -> None:
    topic, bus = Topic(), Bus()
    check(False, topic, bus).run(CoverageRequest())

    [alert] = topic.alerts
    assert bus.alerts == [alert]
    assert alert.body["coverage"] == {"inScope": 2, "covered": 0, "uncovered": 2, "unknown": 0}


def test_buckets_left_uncovered_only_by_an_unreadable_organization_trail_are_unknown_and_medium() -> None:
    topic = Topic()
    run = check(True, topic, trail=ORGANIZATION_TRAIL).run(CoverageRequest())

    [alert] = topic.alerts
    assert run.severity == alert.body["severity"] == "medium"
    assert alert.body["coverage"] == {"inScope": 2, "covered": 0, "uncovered": 2, "unknown": 2}
    assert all(bucket["unknown"] for bucket in alert.body["uncoveredBuckets"])
    assert "coverage unknown" in alert.body["reason"]
    assert alert.subject.startswith("DSSE-KMS coverage: unknown")


def test_a_bucket_a_readable_trail_would_cover_but_for_stopped_logging_is_not_unknown_and_stays_high() -> None:
    stopped = Trail("data-events", ARN, REGION, logging=False, selectors=parse_selectors(EVERY_WRITE))
    settings = Settings(key=PLACEHOLDER_KEY, scope=Scope.parse("*", ""), account_id=ACCOUNT_ID, region=REGION)
    topic = Topic()
    alerts = Alerts(topic, Context(mode="remediate", account=ACCOUNT_ID, region=REGION))
    buckets: Any = Buckets("analytics-raw")
    run = CoverageCheck(settings, buckets, Trails(stopped), alerts).run(CoverageRequest())  # type: ignore[arg-type]

    assert run.severity == "high"
    assert run.report.uncovered[0].unknown is False


def test_on_schedule_the_uncovered_buckets_are_one_high_alert() -> None:
    topic = Topic()
    run = check(False, topic).run(CoverageRequest())

    [alert] = topic.alerts
    assert [b["bucket"] for b in alert.body["uncoveredBuckets"]] == ["analytics-raw", "media-uploads"]
    assert (alert.body["severity"], alert.body["resourceType"], alert.body["trigger"]) == ("high", "coverage", None)
    assert alert.attributes == {"severity": "high", "outcome": "failed", "resourceType": "coverage"}
    assert "s3://analytics-raw" in alert.text_body
    assert "s3://media-uploads" in alert.text_body
    assert run.answer()["uncoveredBuckets"] == ["analytics-raw", "media-uploads"]


def test_after_a_trail_change_it_is_critical_and_names_the_event_the_actor_and_the_trail() -> None:
    topic = Topic()
    request = parse_batch_jobs_event(load_event("cloudtrail-stop-logging.json"))
    assert isinstance(request, CoverageRequest)
    run = check(False, topic).run(request)

    [alert] = topic.alerts
    assert alert.body["severity"] == "critical"
    assert alert.body["trail"] == ARN
    assert alert.body["trigger"]["eventName"] == "StopLogging"
    assert alert.body["trigger"]["actor"] == "arn:aws:iam::123456789012:user/alice"
    assert "StopLogging" in alert.body["reason"]
    assert "user/alice" in alert.body["reason"]
    assert run.severity == "critical"


def test_a_covered_account_after_a_trail_change_publishes_nothing_either() -> None:
    topic = Topic()
    check(True, topic).run(parse_batch_jobs_event(load_event("cloudtrail-stop-logging.json")))  # type: ignore[arg-type]

    assert topic.alerts == []
