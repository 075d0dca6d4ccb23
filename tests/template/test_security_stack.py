"""The security account's stack (org/security.yaml), read as tests/cfn.py reads template.yaml.

Only the Organization may put events on the results bus, and only remediation results; only the results rule and
the delivery alarms may publish to the security topic; both rules take exactly the results member stacks forward
(patterns checked with moto's EventBridge matcher); what they cannot deliver is dead-lettered and alarmed on; the
results are kept for the chosen retention and the dashboard queries that log group; the optional artifact bucket is
readable by the Organization alone, over TLS. The stack is plain CloudFormation: service-managed StackSets and the
security account's own pipelines take no transform.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from moto.events.models import EventPattern

from dsse_remediation.alerts import Alert, Context, alert_for
from dsse_remediation.aws.events import DETAIL_TYPE, SOURCE
from dsse_remediation.batch.events import CoverageRequest
from dsse_remediation.canary import Probe, ProbeOutcome, canary_alert
from dsse_remediation.coverage.report import BucketCoverage, Coverage
from dsse_remediation.coverage_check import CoverageRun, coverage_alert, coverage_heartbeat
from dsse_remediation.model import (
    Action,
    BucketEncryption,
    BucketResult,
    Encryption,
    KeyResult,
    ObjectResult,
    Outcome,
    Result,
)
from dsse_remediation.posture_summary import posture_summary
from tests import aws_fidelity
from tests.cfn import PSEUDO, Resolved, rule_patterns
from tests.helpers import PLACEHOLDER_KEY, WRITER, load_event

SECURITY_TEMPLATE = Path(__file__).resolve().parents[2] / "org" / "security.yaml"
ORGANIZATION = "o-a1b2c3d4e5"
MEMBER, MEMBER_REGION = "444455556666", "eu-west-1"
LOG_GROUP = "/dsse-remediation/results"
REGION, ACCOUNT = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
# The longest Region names today (14 characters): a bucket name is at most 63.
LONGEST_REGIONS = ["ap-southeast-5", "ap-northeast-3", "ap-southeast-7"]


@cache
def _decoded() -> str:
    template, problems = decode(str(SECURITY_TEMPLATE))
    assert template is not None, problems
    return json.dumps(template)  # cached as text: every stack() gets its own copy


def stack(**parameters: str) -> Resolved:
    return Resolved({"OrganizationId": ORGANIZATION} | parameters, template=json.loads(_decoded()))


@pytest.fixture(autouse=True)
def _event_ruler_arrays() -> Iterator[None]:
    with aws_fidelity.applied():
        yield


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def arn(template: Resolved, name: str) -> str:
    return str(template.value({"Fn::GetAtt": [name, "Arn"]}))


def allows(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str | None]) -> bool:
    """Whether an Allow statement with StringEquals / ArnEquals conditions grants a request. A key the request does
    not carry (None) fails its condition, as IAM evaluates single-valued operators."""
    assert statement["Effect"] == "Allow"
    if statement["Action"] != action or statement["Resource"] != resource:
        return False
    for operator, keys in statement.get("Condition", {}).items():
        assert operator in ("StringEquals", "ArnEquals"), operator
        for key, expected in keys.items():
            accepted = expected if isinstance(expected, list) else [expected]
            if context.get(key) not in accepted:
                return False
    return True


# ---------------------------------------------------------------- results as member stacks forward them


def forwarded(result: Result, account: str = MEMBER, region: str = MEMBER_REGION) -> dict[str, Any]:
    """The event on the results bus: what a member function put on its default bus (aws/events.py: the alert's JSON
    body as Detail), as the member's ForwardResultsRule delivers it, keeping the member's account and Region."""
    body = alert_for(result, Context(mode="remediate", account=account, region=region)).body
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": "2026-05-04T12:00:00Z",
        "region": region,
        "resources": [],
        "detail": json.loads(json.dumps(body, default=str)),
    }


def forwarded_alert(alert: Alert, account: str = MEMBER, region: str = MEMBER_REGION) -> dict[str, Any]:
    """The event on the results bus for an alert built elsewhere than alert_for (the canary's)."""
    return forwarded(RESULTS["object-failed"], account, region) | {"detail": json.loads(alert.json_body)}


def probe(outcome: ProbeOutcome) -> Probe:
    """A member canary's judged object: passed (its heartbeat) or missed (its alert)."""
    return Probe(
        bucket="dsse-remediation-canarybucket-1a2b3c4d5e6f",
        key="canary/20260504T114500Z",
        written_at=datetime(2026, 5, 4, 11, 45, tzinfo=UTC),
        outcome=outcome,
        reason="r",
        age_seconds=900.0,
        slo_seconds=300,
        encryption=Encryption("aws:kms:dsse", PLACEHOLDER_KEY)
        if outcome is ProbeOutcome.PASSED
        else Encryption("AES256"),
        expected_key_arn=PLACEHOLDER_KEY,
        latency_seconds=4.0 if outcome is ProbeOutcome.PASSED else None,
    )


def paths(detail: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Every field path of an alert body: "posture", "posture.bytes", "posture.bytes.total", ..."""
    found = set()
    for key, value in detail.items():
        found.add(prefix + key)
        if isinstance(value, Mapping):
            found |= paths(value, f"{prefix}{key}.")
    return found


def coverage_run(covered: bool) -> CoverageRun:
    """A member's coverage check on schedule: its one bucket covered (a heartbeat) or not (an alert)."""
    bucket = BucketCoverage("example-protected-bucket", covered, reason=None if covered else "no trail logs here")
    report = Coverage(MEMBER_REGION, MEMBER, "include *", (), (bucket,))
    return CoverageRun(report, CoverageRequest())


def object_result(outcome: Outcome) -> ObjectResult:
    return ObjectResult(
        bucket="example-protected-bucket",
        key="reports/q3.csv",
        version_id="v1",
        outcome=outcome,
        reason="copied in place under the key" if outcome is Outcome.REMEDIATED else "AccessDenied on CopyObject",
        before=Encryption("AES256"),
        after=Encryption("aws:kms:dsse", PLACEHOLDER_KEY) if outcome is Outcome.REMEDIATED else None,
        action=Action.COPY,
        expected_key_arn=PLACEHOLDER_KEY,
        trigger=WRITER,
    )


RESULTS: dict[str, Result] = {
    "object-remediated": object_result(Outcome.REMEDIATED),
    "object-failed": object_result(Outcome.FAILED),
    "object-would-remediate": object_result(Outcome.WOULD_REMEDIATE),
    "bucket-unremediable": BucketResult(
        bucket="example-protected-bucket",
        outcome=Outcome.UNREMEDIABLE,
        reason="the bucket policy denies PutBucketEncryption",
        before=BucketEncryption("aws:kms", "arn:aws:kms:eu-west-1:444455556666:key/other"),
        expected_key_arn=PLACEHOLDER_KEY,
        trigger=WRITER,
    ),
    "key-disabled": KeyResult(
        key_arn=PLACEHOLDER_KEY, outcome=Outcome.REMEDIATED, reason="re-enabled", event_name="DisableKey"
    ),
}


def other_events() -> dict[str, dict[str, Any]]:
    result = forwarded(RESULTS["object-failed"])
    return {
        "other-source": result | {"source": "dsse-remediation.test"},
        "other-detail-type": result | {"detail-type": "DSSE-KMS remediation summary"},
        "detail-type-in-another-case": result | {"detail-type": DETAIL_TYPE.lower()},
        "aws-source": result | {"source": "aws.s3"},
        "cloudtrail-write": load_event("put-object-sse-s3.json"),
        "cloudtrail-key-event": load_event("kms-disable-key.json"),
    }


class TestPlainCloudFormation:
    def test_no_transform_and_no_sam_resource(self) -> None:
        template = stack().template

        assert "Transform" not in template
        assert template["AWSTemplateFormatVersion"] == "2010-09-09"
        assert not [name for name, r in template["Resources"].items() if r["Type"].startswith("AWS::Serverless::")]

    def test_exactly_the_designed_resources_parameters_and_outputs(self) -> None:
        template = stack().template

        assert {name: r["Type"] for name, r in template["Resources"].items()} == {
            "ResultsBus": "AWS::Events::EventBus",
            "ResultsBusPolicy": "AWS::Events::EventBusPolicy",
            "SecurityTopicKey": "AWS::KMS::Key",
            "SecurityTopic": "AWS::SNS::Topic",
            "SecurityTopicPolicy": "AWS::SNS::TopicPolicy",
            "SecurityChannelEmailSubscription": "AWS::SNS::Subscription",
            "ResultsToTopicRule": "AWS::Events::Rule",
            "ResultsLogGroup": "AWS::Logs::LogGroup",
            "ResultsLogGroupPolicy": "AWS::Logs::ResourcePolicy",
            "ResultsToLogsRule": "AWS::Events::Rule",
            "ResultsDeliveryDLQ": "AWS::SQS::Queue",
            "ResultsDeliveryDLQPolicy": "AWS::SQS::QueuePolicy",
            "ResultsToTopicFailedAlarm": "AWS::CloudWatch::Alarm",
            "ResultsToLogsFailedAlarm": "AWS::CloudWatch::Alarm",
            "ResultsDeliveryDLQAlarm": "AWS::CloudWatch::Alarm",
            "SecurityDashboard": "AWS::CloudWatch::Dashboard",
            "ArtifactBucket": "AWS::S3::Bucket",
            "ArtifactBucketPolicy": "AWS::S3::BucketPolicy",
        }
        assert set(template["Parameters"]) == {
            "OrganizationId",
            "SecurityChannelEmail",
            "ResultsRetentionDays",
            "CreateArtifactBucket",
            "ArtifactBucketPrefix",
        }
        assert set(template["Outputs"]) == {
            "ResultsBusArn",
            "SecurityTopicArn",
            "ResultsLogGroupName",
            "ArtifactBucketName",
        }

    def test_outputs_name_what_members_and_the_cli_are_given(self) -> None:
        template = stack()
        outputs = {name: template.value(o["Value"]) for name, o in template.template["Outputs"].items()}

        assert outputs["ResultsBusArn"] == arn(template, "ResultsBus")
        assert outputs["SecurityTopicArn"] == template.value({"Ref": "SecurityTopic"})
        assert outputs["ResultsLogGroupName"] == template.value({"Ref": "ResultsLogGroup"})
        assert template.resource("ResultsBus")["Properties"]["Name"] == "dsse-remediation-results"


class TestResultsBus:
    """Member stacks' forwarding rules sign their deliveries with their ForwardResultsRole: Organization principals."""

    def test_only_the_organization_may_put_events(self) -> None:
        template = stack()
        policies = [n for n, r in template.template["Resources"].items() if r["Type"] == "AWS::Events::EventBusPolicy"]
        properties = template.value(template.resource("ResultsBusPolicy")["Properties"])

        assert policies == ["ResultsBusPolicy"]
        assert "Policy" not in template.resource("ResultsBus")["Properties"]  # no second, inline policy
        assert properties["EventBusName"] == template.value({"Ref": "ResultsBus"})
        assert set(properties) == {"EventBusName", "StatementId", "Statement"}  # not the legacy Principal form
        (statement,) = statements({"Statement": properties["Statement"]})
        assert statement == {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": arn(template, "ResultsBus"),
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalOrgID": ORGANIZATION,
                    "events:source": SOURCE,
                    "events:detail-type": DETAIL_TYPE,
                }
            },
        }

    def test_the_organization_is_the_parameter(self) -> None:
        template = stack(OrganizationId="o-zzzzzzzzzz99")
        statement = template.value(template.resource("ResultsBusPolicy")["Properties"]["Statement"])

        assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == "o-zzzzzzzzzz99"

    @pytest.mark.parametrize(
        ("request_context", "allowed"),
        [
            ({}, True),  # a member's ForwardResultsRole delivering a result
            ({"aws:PrincipalOrgID": "o-otherorg999"}, False),
            ({"events:source": "dsse-remediation.test"}, False),
            ({"events:source": "aws.s3"}, False),
            ({"events:detail-type": "DSSE-KMS remediation summary"}, False),
            ({"events:detail-type": DETAIL_TYPE.lower()}, False),
            ({"aws:PrincipalOrgID": None}, False),  # a principal outside any Organization
            ({"events:source": None}, False),
            ({"events:detail-type": None}, False),
        ],
    )
    def test_only_results_from_the_organization_are_accepted(
        self, request_context: dict[str, str | None], allowed: bool
    ) -> None:
        """Each condition is needed: drop one and a request that differs only in that key is let through."""
        template = stack()
        statement = template.value(template.resource("ResultsBusPolicy")["Properties"]["Statement"])
        result = forwarded(RESULTS["object-failed"])
        context = {
            "aws:PrincipalOrgID": ORGANIZATION,
            "events:source": result["source"],
            "events:detail-type": result["detail-type"],
        } | request_context

        assert allows(statement, "events:PutEvents", arn(template, "ResultsBus"), context) is allowed

    def test_both_rules_listen_on_the_results_bus_not_the_default_one(self) -> None:
        template = stack()

        for rule in ("ResultsToTopicRule", "ResultsToLogsRule"):
            assert template.resource(rule)["Properties"]["EventBusName"] == {"Ref": "ResultsBus"}


class TestRouting:
    @pytest.fixture
    def patterns(self) -> dict[str, EventPattern]:
        found = rule_patterns(stack())
        assert set(found) == {"ResultsToTopicRule", "ResultsToLogsRule"}
        return {name: EventPattern.load(json.dumps(pattern)) for name, pattern in found.items()}

    @pytest.mark.parametrize("name", RESULTS)
    def test_every_forwarded_result_reaches_the_topic_and_the_log(
        self, patterns: dict[str, EventPattern], name: str
    ) -> None:
        event = forwarded(RESULTS[name])

        assert {rule for rule, pattern in patterns.items() if pattern.matches_event(event)} == set(patterns)

    @pytest.mark.parametrize("name", list(other_events()))
    def test_other_events_reach_neither(self, patterns: dict[str, EventPattern], name: str) -> None:
        event = other_events()[name]

        assert [rule for rule, pattern in patterns.items() if pattern.matches_event(event)] == []

    def test_the_patterns_are_the_member_forwarding_rules(self) -> None:
        """What a member stack forwards (template.yaml ForwardResultsRule) is what the security stack logs, and sends
        to the topic but for the canaries' heartbeats (severity info)."""
        member = rule_patterns(Resolved({"SecurityBusArn": arn(stack(), "ResultsBus")}))["ForwardResultsRule"]
        heartbeats_dropped = member | {"detail": {"severity": [{"anything-but": "info"}]}}

        assert rule_patterns(stack()) == {"ResultsToTopicRule": heartbeats_dropped, "ResultsToLogsRule": member}

    def test_a_canarys_heartbeat_is_logged_and_its_miss_is_also_sent_to_the_topic(
        self, patterns: dict[str, EventPattern]
    ) -> None:
        """No noise in the security channel while a member's canary passes; its ticks still reach the log, so the
        dashboard shows each member's last tick (a silenced member's stops), and a miss reaches the channel."""
        for outcome, reached in ((ProbeOutcome.PASSED, {"ResultsToLogsRule"}), (ProbeOutcome.MISSED, set(patterns))):
            event = forwarded_alert(canary_alert(probe(outcome), Context("remediate", MEMBER, MEMBER_REGION)))

            assert {rule for rule, pattern in patterns.items() if pattern.matches_event(event)} == reached, outcome

    def test_a_coverage_heartbeat_is_logged_and_an_uncovered_account_s_alert_is_also_sent_to_the_topic(
        self, patterns: dict[str, EventPattern]
    ) -> None:
        """A covered member's daily check reaches only the log (org-status and the dashboard read its counts there);
        an uncovered one reaches the channel too."""
        context = Context("remediate", MEMBER, MEMBER_REGION)
        for alert, reached in (
            (coverage_heartbeat(coverage_run(True), context), {"ResultsToLogsRule"}),
            (coverage_alert(coverage_run(False), context), set(patterns)),
        ):
            event = forwarded_alert(alert)

            assert {rule for rule, pattern in patterns.items() if pattern.matches_event(event)} == reached

    def test_the_topic_receives_the_alert_body_and_the_log_the_whole_event(self) -> None:
        """The security channel reads the documented alert schema (as on the member's own topic); the log keeps the
        event, whose account and region EventBridge set, for the dashboard and dsse-remediate org-status."""
        template = stack()
        (to_topic,) = template.value(template.resource("ResultsToTopicRule")["Properties"]["Targets"])
        (to_logs,) = template.value(template.resource("ResultsToLogsRule")["Properties"]["Targets"])
        event = forwarded(RESULTS["object-failed"])

        assert to_topic["Arn"] == template.value({"Ref": "SecurityTopic"})
        assert to_topic["InputPath"] == "$.detail"
        assert event["detail"]["schema"] == "dsse-remediation.alert/v1"
        assert (event["detail"]["account"], event["detail"]["region"]) == (MEMBER, MEMBER_REGION)
        assert to_logs["Arn"] == arn(template, "ResultsLogGroup")
        assert not {"Input", "InputPath", "InputTransformer"} & set(to_logs)
        # Resource policies, not roles, let EventBridge deliver to SNS and CloudWatch Logs (eb-use-resource-based).
        assert "RoleArn" not in to_topic
        assert "RoleArn" not in to_logs


class TestSecurityTopic:
    def test_only_the_results_rule_may_publish(self) -> None:
        template = stack()
        properties = template.value(template.resource("SecurityTopicPolicy")["Properties"])

        assert properties["Topics"] == [template.value({"Ref": "SecurityTopic"})]
        statement, alarms = statements(properties["PolicyDocument"])
        assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}  # TestDeliveryFailures
        assert statement == {
            "Sid": "OnlyTheResultsRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": template.value({"Ref": "SecurityTopic"}),
            "Condition": {"ArnEquals": {"aws:SourceArn": arn(template, "ResultsToTopicRule")}},
        }

    def test_encrypted_with_its_own_key_that_eventbridge_may_use_for_this_topic_only(self) -> None:
        template = stack()
        topic = template.value(template.resource("SecurityTopic")["Properties"])
        key = template.value(template.resource("SecurityTopicKey")["Properties"])
        topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic['TopicName']}"

        assert topic["KmsMasterKeyId"] == template.value({"Ref": "SecurityTopicKey"})
        assert key["EnableKeyRotation"] is True
        administer, publish, alarms = statements(key["KeyPolicy"])
        assert administer["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        assert publish == {
            "Sid": "EventBridgePublishesToTheSecurityTopic",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}},
        }
        # The delivery alarms notify this topic (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns).
        assert alarms == publish | {
            "Sid": "CloudWatchAlarmsPublishToTheSecurityTopic",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
        }

    @pytest.mark.parametrize(("email", "subscribed"), [("", False), ("security@example.com", True)])
    def test_the_email_subscription_is_optional(self, email: str, subscribed: bool) -> None:
        template = stack(SecurityChannelEmail=email)

        assert template.exists("SecurityChannelEmailSubscription") is subscribed
        if subscribed:
            properties = template.value(template.resource("SecurityChannelEmailSubscription")["Properties"])
            assert properties == {
                "TopicArn": template.value({"Ref": "SecurityTopic"}),
                "Protocol": "email",
                "Endpoint": email,
            }


class TestDeliveryFailures:
    """What EventBridge cannot deliver in the security account after its retries is kept and alarmed on, not lost."""

    RULES = ("ResultsToTopicRule", "ResultsToLogsRule")
    FAILED_ALARMS = {"ResultsToTopicRule": "ResultsToTopicFailedAlarm", "ResultsToLogsRule": "ResultsToLogsFailedAlarm"}

    @staticmethod
    def alarms(template: Resolved) -> dict[str, dict[str, Any]]:
        return {
            name: template.value(resource["Properties"])
            for name, resource in template.template["Resources"].items()
            if resource["Type"] == "AWS::CloudWatch::Alarm"
        }

    @pytest.mark.parametrize("rule", RULES)
    def test_each_target_retries_then_dead_letters(self, rule: str) -> None:
        template = stack()
        (target,) = template.value(template.resource(rule)["Properties"]["Targets"])

        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
        assert target["DeadLetterConfig"] == {"Arn": arn(template, "ResultsDeliveryDLQ")}

    def test_the_dead_letter_queue_is_encrypted_with_sse_sqs_and_keeps_messages_14_days(self) -> None:
        """SSE-SQS: EventBridge cannot deliver to a queue under the aws/sqs managed key (eb-rule-dlq)."""
        template = stack()
        properties = template.value(template.resource("ResultsDeliveryDLQ")["Properties"])

        assert properties["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in properties
        assert properties["MessageRetentionPeriod"] == 1209600

    def test_only_the_two_results_rules_may_send_to_the_dead_letter_queue(self) -> None:
        template = stack()
        properties = template.value(template.resource("ResultsDeliveryDLQPolicy")["Properties"])
        queue = arn(template, "ResultsDeliveryDLQ")

        assert properties["Queues"] == [template.value({"Ref": "ResultsDeliveryDLQ"})]
        (statement,) = statements(properties["PolicyDocument"])
        assert statement == {
            "Sid": "OnlyTheResultsRules",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue,
            "Condition": {"ArnEquals": {"aws:SourceArn": [arn(template, rule) for rule in self.RULES]}},
        }
        for rule in self.RULES:
            assert allows(statement, "sqs:SendMessage", queue, {"aws:SourceArn": arn(template, rule)})
        assert not allows(statement, "sqs:SendMessage", queue, {"aws:SourceArn": None})
        other_rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/dsse-remediation-results/another"
        assert not allows(statement, "sqs:SendMessage", queue, {"aws:SourceArn": other_rule})

    @pytest.mark.parametrize("rule", RULES)
    def test_each_rule_alarms_on_its_failed_invocations_on_the_results_bus(self, rule: str) -> None:
        """Rules on a custom bus report with EventBusName and RuleName (eb-monitoring.html); Ref of a rule on a custom
        bus is 'bus|rule', so the rule is named and the alarm names it."""
        template = stack()
        alarm = self.alarms(template)[self.FAILED_ALARMS[rule]]
        raw = template.resource(self.FAILED_ALARMS[rule])["Properties"]
        rule_name = template.resource(rule)["Properties"]["Name"]

        assert raw["Dimensions"] == [
            {"Name": "EventBusName", "Value": {"Ref": "ResultsBus"}},  # Ref of an event bus is its name
            {"Name": "RuleName", "Value": rule_name},
        ]
        assert rule_name.startswith("dsse-remediation-results-")
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
            "AWS/Events",
            "FailedInvocations",
            "Sum",
        )
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarm["TreatMissingData"] == "notBreaching"  # the metric is only sent when it is not zero

    def test_the_dead_letter_queue_alarms_on_any_message(self) -> None:
        template = stack()
        alarm = self.alarms(template)["ResultsDeliveryDLQAlarm"]

        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
        )
        assert template.resource("ResultsDeliveryDLQAlarm")["Properties"]["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ResultsDeliveryDLQ", "QueueName"]}}
        ]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")

    def test_every_alarm_notifies_the_security_topic_which_accepts_exactly_them(self) -> None:
        template = stack()
        alarms = self.alarms(template)
        topic = template.value({"Ref": "SecurityTopic"})
        _, from_alarms = statements(
            template.value(template.resource("SecurityTopicPolicy")["Properties"])["PolicyDocument"]
        )

        assert set(alarms) == {*self.FAILED_ALARMS.values(), "ResultsDeliveryDLQAlarm"}
        for alarm in alarms.values():
            assert alarm["AlarmActions"] == [topic]
            assert alarm["AlarmName"].startswith("dsse-remediation-results-")
        assert from_alarms == {
            "Sid": "OnlyTheDeliveryAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"ArnEquals": {"aws:SourceArn": [arn(template, name) for name in alarms]}},
        }


class TestResultsLog:
    @pytest.mark.parametrize(("days", "expected"), [(None, "90"), ("365", "365")])
    def test_kept_for_the_retention_chosen(self, days: str | None, expected: str) -> None:
        template = stack(**({"ResultsRetentionDays": days} if days else {}))
        properties = template.value(template.resource("ResultsLogGroup")["Properties"])

        assert properties == {"LogGroupName": LOG_GROUP, "RetentionInDays": expected}

    def test_eventbridge_may_write_this_log_group_only(self) -> None:
        """The documented statement (eb-use-resource-based.html#eb-cloudwatchlogs-permissions), on this log group."""
        template = stack()
        properties = template.value(template.resource("ResultsLogGroupPolicy")["Properties"])

        (statement,) = statements(json.loads(properties["PolicyDocument"]))
        assert statement == {
            "Sid": "TrustEventsToStoreLogEvent",
            "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": arn(template, "ResultsLogGroup"),
        }


class TestDashboard:
    @pytest.fixture
    def widgets(self) -> list[dict[str, Any]]:
        template = stack()
        body = json.loads(template.value(template.resource("SecurityDashboard")["Properties"]["DashboardBody"]))
        found: list[dict[str, Any]] = body["widgets"]
        return found

    def test_every_widget_queries_the_results_log_group_in_this_region(self, widgets: list[dict[str, Any]]) -> None:
        log_group = stack().value({"Ref": "ResultsLogGroup"})

        assert widgets
        for widget in widgets:
            query = widget["properties"]["query"]
            assert widget["type"] == "log"
            assert widget["properties"]["region"] == REGION
            assert re.findall(r"SOURCE '([^']*)'", query) == [log_group]
            assert query.startswith(f"SOURCE '{log_group}' | ")

    def test_it_shows_outcomes_per_account_and_region_failures_per_bucket_and_the_latest_alerts(
        self, widgets: list[dict[str, Any]]
    ) -> None:
        queries = {widget["properties"]["title"]: widget["properties"]["query"] for widget in widgets}

        hourly = queries["Outcomes per account and Region (hourly)"]
        assert "concat(account, ' ', region, ' ', detail.outcome) as series" in hourly
        assert "by bin(1h), series" in hourly
        assert "by account, region, detail.outcome" in queries["Outcomes per account and Region"]
        per_bucket = queries["Failed and unremediable, per bucket"]
        assert "filter detail.outcome in ['failed', 'unremediable']" in per_bucket
        assert "by account, region, detail.bucket, detail.outcome" in per_bucket
        assert "filter detail.severity not in ['low', 'info']" in queries["Latest alerts above low severity"]
        assert "sort @timestamp desc" in queries["Latest alerts above low severity"]

    def test_it_shows_each_members_last_canary_tick_oldest_first(self, widgets: list[dict[str, Any]]) -> None:
        """A member whose canary heartbeats stopped (the schedule removed, the forwarding rule or its role broken, the
        stack deleted) sorts to the top: the security account sees a silenced member as silenced."""
        queries = {widget["properties"]["title"]: widget["properties"]["query"] for widget in widgets}
        (canaries,) = [query for title, query in queries.items() if title.startswith("Canaries")]

        assert "filter detail.resourceType = 'canary'" in canaries
        assert "stats max(@timestamp) as lastTick" in canaries
        assert "by account, region | sort lastTick asc" in canaries

    def test_it_shows_each_members_latest_coverage_uncovered_first(self, widgets: list[dict[str, Any]]) -> None:
        """Covered / in scope per account and Region, from every coverage check (heartbeat or alert): an uncovered
        member (outcome "failed" sorts after "compliant": descending puts it first), then the oldest check (a silenced
        member's)."""
        queries = {widget["properties"]["title"]: widget["properties"]["query"] for widget in widgets}
        (coverage,) = [query for title, query in queries.items() if title.startswith("Data-event coverage")]

        assert "filter detail.resourceType = 'coverage'" in coverage
        for field in ("covered", "inScope", "unknown"):
            assert f"latest(detail.coverage.{field}) as {field}" in coverage
        assert "by account, region | sort lastOutcome desc, lastCheck asc" in coverage

    def test_the_queries_read_fields_the_forwarded_events_carry(self, widgets: list[dict[str, Any]]) -> None:
        """Every detail.<field> a query names is a field of the alert schema; account and region are the event's."""
        carried = {key for result in RESULTS.values() for key in forwarded(result)["detail"]}
        context = Context("remediate", MEMBER, MEMBER_REGION)
        heartbeat = canary_alert(probe(ProbeOutcome.PASSED), context)
        carried |= set(forwarded_alert(heartbeat)["detail"])
        summary = posture_summary({"buckets": []}, context)
        for alert in (
            coverage_heartbeat(coverage_run(True), context),
            coverage_alert(coverage_run(False), context),
            summary,
        ):
            carried |= paths(forwarded_alert(alert)["detail"])
        envelope = set(forwarded(RESULTS["object-failed"]))

        assert {"account", "region"} <= envelope
        for widget in widgets:
            query = widget["properties"]["query"]
            assert set(re.findall(r"detail\.(\w+(?:\.\w+)*)", query)) <= carried, query

    def test_it_shows_the_estate_per_account_and_region_least_converted_first(
        self, widgets: list[dict[str, Any]]
    ) -> None:
        """Every member's latest posture summary: the share of bytes (and objects) DSSE under the key, what is left
        and the noncurrent debt; the least converted sorts to the top."""
        queries = {widget["properties"]["title"]: widget["properties"]["query"] for widget in widgets}
        (estate,) = [query for title, query in queries.items() if title.startswith("Estate")]

        assert "filter detail.resourceType = 'posture'" in estate
        assert "latest(detail.posture.percentDsseUnderKey.bytes) as percentBytes" in estate
        assert "latest(detail.posture.bytes.notDsseUnderKey) as bytesLeft" in estate
        assert "by account, region | sort percentBytes asc" in estate

    def test_the_failures_per_bucket_leave_out_measurements(self, widgets: list[dict[str, Any]]) -> None:
        """A posture below 100 % or a coverage heartbeat is no failure of a bucket's remediation."""
        queries = {widget["properties"]["title"]: widget["properties"]["query"] for widget in widgets}

        assert "detail.severity != 'info'" in queries["Failed and unremediable, per bucket"]


class TestArtifactBucket:
    def test_off_by_default(self) -> None:
        template = stack()

        assert not template.exists("ArtifactBucket")
        assert not template.exists("ArtifactBucketPolicy")
        assert template.template["Outputs"]["ArtifactBucketName"]["Condition"] == "CreatesArtifactBucket"

    def test_per_region_versioned_private_and_owner_enforced(self) -> None:
        template = stack(CreateArtifactBucket="true", ArtifactBucketPrefix="example-dsse-artifacts")
        properties = template.value(template.resource("ArtifactBucket")["Properties"])

        assert template.exists("ArtifactBucket")
        assert properties["BucketName"] == f"example-dsse-artifacts-{REGION}"
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(properties["PublicAccessBlockConfiguration"]) == 4
        # SSE-S3: member accounts read it without a grant on a key of this account.
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}

    def test_only_the_organization_reads_it_and_only_over_tls(self) -> None:
        template = stack(CreateArtifactBucket="true", ArtifactBucketPrefix="example-dsse-artifacts")
        policy = template.value(template.resource("ArtifactBucketPolicy")["Properties"])
        bucket_arn = arn(template, "ArtifactBucket")

        assert policy["Bucket"] == template.value({"Ref": "ArtifactBucket"})
        tls, read = statements(policy["PolicyDocument"])
        assert tls == {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        assert read == {
            "Sid": "OrganizationReadsArtifacts",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}},
        }

    @pytest.mark.parametrize(
        ("create", "prefix", "accepted"),
        [("false", "", True), ("true", "example-dsse-artifacts", True), ("true", "", False)],
    )
    def test_creating_it_needs_a_prefix(self, create: str, prefix: str, accepted: bool) -> None:
        """The template's Rules refuse CreateArtifactBucket=true with the empty default prefix."""
        template = stack(CreateArtifactBucket=create, ArtifactBucketPrefix=prefix)
        (rule,) = template.template["Rules"].values()
        applies = template.value(rule["RuleCondition"])

        assert (not applies or all(template.value(a["Assert"]) for a in rule["Assertions"])) is accepted


class TestParameters:
    @staticmethod
    def _accepts(name: str, value: str) -> bool:
        spec = stack().template["Parameters"][name]
        if "AllowedValues" in spec:
            return value in [str(v) for v in spec["AllowedValues"]]
        return re.fullmatch(spec["AllowedPattern"], value) is not None

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [
            ("o-a1b2c3d4e5", True),
            ("o-exampleorgid111", True),
            ("123456789012", False),  # an account id
            ("o-A1B2C3D4E5", False),
            ("o-short", False),
            ("r-a1b2", False),  # a root id
            ("", False),
        ],
    )
    def test_organization_id(self, value: str, accepted: bool) -> None:
        assert self._accepts("OrganizationId", value) is accepted
        assert "Default" not in stack().template["Parameters"]["OrganizationId"]  # required

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [("", True), ("security@example.com", True), ("security", False), ("a@b@example.com", False)],
    )
    def test_security_channel_email(self, value: str, accepted: bool) -> None:
        assert self._accepts("SecurityChannelEmail", value) is accepted

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [
            ("", True),
            ("example-dsse-artifacts", True),
            ("a" * 48, True),
            ("a" * 49, False),  # with -<Region> it could exceed 63 characters
            ("Example", False),
            ("example.artifacts", False),  # dots break virtual-hosted TLS names
            ("-example", False),
            ("example-", False),
        ],
    )
    def test_artifact_bucket_prefix(self, value: str, accepted: bool) -> None:
        assert self._accepts("ArtifactBucketPrefix", value) is accepted

    def test_the_longest_prefix_makes_a_valid_bucket_name_in_every_region(self) -> None:
        for region in LONGEST_REGIONS:
            name = f"{'a' * 48}-{region}"
            assert len(name) <= 63
            assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name)

    @pytest.mark.parametrize(("value", "accepted"), [("90", True), ("3653", True), ("1", False), ("100", False)])
    def test_results_retention_days(self, value: str, accepted: bool) -> None:
        assert self._accepts("ResultsRetentionDays", value) is accepted
