"""Forwarding results (FORWARD_RESULTS=true): every alert the topic receives is also put, as the same JSON body, on
this account's default bus, where the stack's forwarding rule takes it to the security account. A required alert
that cannot be forwarded fails its event like one that cannot be published (retried, then dead-lettered); a lost
low-severity notice is only logged and counted.

The default bus here has the forwarding rule's pattern with an SQS queue as its target: what the security account's
bus would receive, as moto delivers it.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dsse_remediation.alerts import ForwardFailed
from dsse_remediation.aws.events import DETAIL_TYPE, SOURCE
from dsse_remediation.config import Mode
from dsse_remediation.model import BucketRequest, KeyEvent, ObjectRequest, Outcome
from dsse_remediation.reporting import HandlerFailed, Reporter
from dsse_remediation.wiring import App
from tests.cfn import Resolved
from tests.helpers import ACCOUNT_ID, REGION, WRITER, Inbox, Response, Wiring, inject_error, put

BUS = "arn:aws:events:us-east-1:999988887777:event-bus/dsse-remediation-results"


class SecurityView:
    """What the forwarding rule sends on: the events on the default bus that its pattern (read from template.yaml)
    matches, collected in a queue."""

    def __init__(self) -> None:
        template = Resolved({"SecurityBusArn": BUS})
        pattern = template.value(template.resource("ForwardResultsRule")["Properties"]["EventPattern"])
        events = boto3.client("events", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.create_queue(QueueName="forwarded-results")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="forward-results", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="forward-results", Targets=[{"Id": "security", "Arn": arn}])

    def events(self) -> list[dict[str, Any]]:
        found = []
        while batch := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def view(aws: None) -> SecurityView:
    return SecurityView()


@pytest.fixture
def errors() -> list[Exception]:
    return []


@pytest.fixture
def app(wiring: Wiring, errors: list[Exception]) -> Any:
    return lambda **overrides: App(
        wiring.settings(**({"forward_results": True} | overrides)), wiring.client, errors.append
    )


def test_each_alert_reaches_the_security_view_as_the_same_body_with_its_account_and_region(
    s3: Any, kms: Any, bucket: str, dsse_key: str, app: Any, inbox: Inbox, view: SecurityView
) -> None:
    put(s3, bucket, "remediated.csv")
    put(s3, bucket, "cold.csv", StorageClass="GLACIER")
    s3.create_bucket(Bucket="team-data")
    remediating = app()
    remediating.objects.handle(ObjectRequest(bucket, ("remediated.csv",), trigger=WRITER))
    remediating.objects.handle(ObjectRequest(bucket, ("cold.csv",), trigger=WRITER))
    app(mode=Mode.ALERT_ONLY).buckets.handle(BucketRequest("team-data"))
    kms.disable_key(KeyId=dsse_key)
    remediating.key_guard.handle(KeyEvent((dsse_key,), "DisableKey"))

    published = [m["body"] for m in inbox.messages()]
    forwarded = view.events()

    assert sorted((b["resourceType"], b["severity"]) for b in published) == [
        ("bucket", "medium"),
        ("kms-key", "critical"),
        ("object", "high"),
        ("object", "low"),
    ]
    assert sorted(json.dumps(e["detail"], sort_keys=True) for e in forwarded) == sorted(
        json.dumps(b, sort_keys=True) for b in published
    )
    for event in forwarded:
        # moto's SQS delivery leaves the envelope's "account" out (EventTemplateParser's default template); EventBridge
        # delivers the whole event. The detail names the account and Region anyway: the security account reads it.
        assert (event["source"], event["detail-type"], event["region"]) == (SOURCE, DETAIL_TYPE, REGION)
        assert (event["detail"]["account"], event["detail"]["region"]) == (ACCOUNT_ID, REGION)


def test_without_forwarding_nothing_is_put_on_the_bus(
    s3: Any, bucket: str, app: Any, inbox: Inbox, view: SecurityView
) -> None:
    put(s3, bucket, "q3.csv")

    app(forward_results=False).objects.handle(ObjectRequest(bucket, ("q3.csv",)))

    assert len(inbox.messages()) == 1
    assert view.events() == []


def entry_refused(**_: Any) -> Any:
    """PutEvents as EventBridge answers when it refuses an entry: 200, FailedEntryCount 1, the entry's ErrorCode."""
    refused = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Request rate exceeded"}
    return Response(200), {"FailedEntryCount": 1, "Entries": [refused]}


@pytest.mark.parametrize("fault", ["denied", "entry-refused"])
def test_a_required_alert_that_cannot_be_forwarded_fails_its_event_like_an_unpublished_one(
    s3: Any, bucket: str, app: Any, inbox: Inbox, view: SecurityView, errors: list[Exception], fault: str
) -> None:
    """The security channel must not lose a high alert silently: the result carries alert_error, so the event-driven
    invocation raises and its delivery is retried, then dead-lettered (alarmed). The topic got the alert."""
    put(s3, bucket, "cold.csv", StorageClass="GLACIER")
    remediating = app()
    events = remediating.client("events")
    if fault == "denied":
        inject_error(events, "PutEvents", "AccessDeniedException", 400)
    else:
        events.meta.events.register("before-call.events.PutEvents", entry_refused)

    result = remediating.objects.handle(ObjectRequest(bucket, ("cold.csv",), trigger=WRITER))

    assert result.outcome is Outcome.UNREMEDIABLE
    assert result.alert_error is not None
    assert result.alert_error.startswith("the alert could not be forwarded to the security account")
    assert [m["body"]["outcome"] for m in inbox.messages()] == ["unremediable"]
    assert view.events() == []
    [error] = errors
    assert isinstance(error, ForwardFailed)
    assert error.code == ("AccessDeniedException" if fault == "denied" else "ThrottlingException")
    with pytest.raises(HandlerFailed, match="could not be forwarded"):
        Reporter.finish([result])


def test_a_lost_low_severity_notice_is_only_counted(
    s3: Any, bucket: str, app: Any, inbox: Inbox, view: SecurityView, errors: list[Exception]
) -> None:
    put(s3, bucket, "q3.csv")
    remediating = app()
    inject_error(remediating.client("events"), "PutEvents", "AccessDeniedException", 400)

    result = remediating.objects.handle(ObjectRequest(bucket, ("q3.csv",), trigger=WRITER))

    assert (result.outcome, result.alert_error) == (Outcome.REMEDIATED, None)
    assert Reporter.finish([result])["results"][0]["outcome"] == "remediated"
    assert [type(e) for e in errors] == [ForwardFailed]
    assert len(inbox.messages()) == 1
