"""The coverage check's decision (coverage_check.py): uncovered buckets → one alert naming each, high on schedule and
critical after a trail change; a covered account publishes nothing."""

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


def check(logging: bool, topic: Topic) -> CoverageCheck:
    settings = Settings(
        key=PLACEHOLDER_KEY, scope=Scope.parse("*", "example-excluded-*"), account_id=ACCOUNT_ID, region=REGION
    )
    trail = Trail("data-events", ARN, REGION, logging=logging, selectors=parse_selectors(EVERY_WRITE))
    alerts = Alerts(topic, Context(mode="remediate", account=ACCOUNT_ID, region=REGION))
    buckets: Any = Buckets("analytics-raw", "media-uploads", "example-excluded-logs")
    return CoverageCheck(settings, buckets, Trails(trail), alerts)  # type: ignore[arg-type]


def test_a_covered_account_publishes_nothing() -> None:
    topic = Topic()
    run = check(True, topic).run(CoverageRequest())

    assert run.report.uncovered == []
    assert (run.severity, topic.alerts) == (None, [])
    assert run.answer()["uncoveredBuckets"] == []


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
