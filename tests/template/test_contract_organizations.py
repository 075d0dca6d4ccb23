"""Across an Organization, the security account sees each member's results and nothing else: the functions put only
the product's events, on their own account's default bus, and Security Hub findings only where asked; one rule takes
those events to the security account's bus (SecurityBusArn), through a role that may do nothing else
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html); nothing else in a member stack can
send data outside the stack's own resources."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dsse_remediation.aws.events import DETAIL_TYPE, SOURCE
from tests.cfn import Resolved
from tests.helpers import ACCOUNT_ID
from tests.template.iam_model import as_list, granted
from tests.template.scenarios import (
    ALL_ON,
    BUCKET,
    CONFIG,
    DEFAULT_BUS,
    FINDINGS_PRODUCT,
    FUNCTIONS,
    HUB,
    JOBS,
    OBJECT,
    SECURITY_BUS,
    TASK,
)

# What a principal of the stack can send data to, and where each may send it: the stack's own topic, queues and
# functions, the account's default bus; the security account's bus from the forwarding role alone.
SENDS = ("events:PutEvents", "sns:Publish", "sqs:SendMessage", "lambda:InvokeFunction")


def test_the_functions_put_events_on_their_own_default_bus_only_and_only_the_products_events() -> None:
    """events:PutEvents on this account's default bus, held to the source and detail-type the code puts (the
    events:source and events:detail-type condition keys of PutEvents, Service Authorization Reference); none at all
    without SecurityBusArn. Security Hub only where SecurityHubFindings is on, on the object and bucket functions."""
    on, off = Resolved(ALL_ON), Resolved(ALL_ON | {"SecurityBusArn": "", "SecurityHubFindings": "false"})
    for function in FUNCTIONS:
        forwarding = [s for s in on.function_statements(function) if "events:PutEvents" in as_list(s["Action"])]
        expected = [] if function in (TASK, CONFIG) else [DEFAULT_BUS]  # the Config rule answers Config alone
        assert [s["Resource"] for s in forwarding] == expected, function
        for statement in forwarding:
            condition = {"StringEquals": {"events:source": SOURCE, "events:detail-type": DETAIL_TYPE}}
            assert statement["Condition"] == condition
        hub = {(a, r) for a, r in granted(on.function_statements(function)) if a.startswith("securityhub:")}
        findings = {
            ("securityhub:BatchImportFindings", FINDINGS_PRODUCT),
            ("securityhub:GetFindings", HUB),
            ("securityhub:BatchUpdateFindings", HUB),
        }
        assert hub == (findings if function in (OBJECT, BUCKET) else set()), function
        actions = [a for s in off.function_statements(function) for a in as_list(s["Action"])]
        assert not [a for a in actions if a.startswith(("events:", "securityhub:"))], function
        env = on.function_environment(function)
        assert env.get("FORWARD_RESULTS") == (None if function in (TASK, CONFIG) else "true"), function
        assert env.get("SECURITY_HUB_FINDINGS") == ("true" if function in (OBJECT, BUCKET) else None), function


def test_the_forwarding_rule_sends_the_products_events_to_the_security_bus_and_nothing_else() -> None:
    """One rule, one target (SecurityBusArn), through a role EventBridge may assume for this rule only, which may put
    events on that bus and nothing else (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html)."""
    template = Resolved(ALL_ON)
    rule = template.value(template.resource("ForwardResultsRule")["Properties"])
    role_arn = template.value({"Fn::GetAtt": ["ForwardResultsRole", "Arn"]})
    rule_arn = template.value({"Fn::GetAtt": ["ForwardResultsRule", "Arn"]})
    trust = template.value(template.resource("ForwardResultsRole")["Properties"]["AssumeRolePolicyDocument"])

    assert rule["EventPattern"] == {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}
    assert "EventBusName" not in rule  # the default bus, where the functions put their events
    (target,) = rule["Targets"]
    assert (target["Arn"], target["RoleArn"]) == (SECURITY_BUS, role_arn)
    assert target["DeadLetterConfig"] == {"Arn": template.value({"Fn::GetAtt": ["EventDeliveryDLQ", "Arn"]})}
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in template.role_statements("ForwardResultsRole")] == [
        ("Allow", "events:PutEvents", SECURITY_BUS)
    ]
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": rule_arn}},
        }
    ]
    assert len(rule["Name"]) <= 64  # EventBridge's limit on rule names, whatever the (StackSet) stack's name
    off = Resolved(ALL_ON | {"SecurityBusArn": ""})
    assert [name for name in ("ForwardResultsRule", "ForwardResultsRole") if off.exists(name)] == []


@pytest.mark.parametrize("mode", ["remediate", "alert-only"])
def test_nothing_in_a_member_stack_can_send_anywhere_but_its_own_resources_and_the_security_bus(mode: str) -> None:
    template = Resolved(ALL_ON | {"Mode": mode, "BackstopSchedule": "rate(1 day)"})
    own = {
        DEFAULT_BUS,
        template.value({"Ref": "AlertTopic"}),
        template.value({"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]}),
        template.value({"Fn::Sub": "${BatchTaskFunction.Arn}:*"}),
        template.value({"Fn::GetAtt": [JOBS, "Arn"]}),
        template.value({"Fn::GetAtt": ["CanaryFunction", "Arn"]}),  # the canary's schedule starts it
    }
    principals: dict[str, list[dict[str, Any]]] = {}
    for name, resource in template.template["Resources"].items():
        if not template.exists(name):
            continue
        if resource["Type"] == "AWS::Serverless::Function":
            principals[name] = template.function_statements(name)
        elif resource["Type"] == "AWS::IAM::Role":
            principals[name] = template.role_statements(name)
    sends = {
        (name, action, resource)
        for name, statements in principals.items()
        for action, resource in granted(statements)
        if action in SENDS
    }

    assert {send for send in sends if send[2] not in own} == {("ForwardResultsRole", "events:PutEvents", SECURITY_BUS)}
    rules = [n for n, r in template.template["Resources"].items() if r["Type"] == "AWS::Events::Rule"]
    targets = {
        (rule, template.value(t["Arn"]), "RoleArn" in t)
        for rule in rules
        if template.exists(rule)
        for t in template.resource(rule)["Properties"]["Targets"]
    }
    assert {t for t in targets if t[1] == SECURITY_BUS or t[2]} == {("ForwardResultsRule", SECURITY_BUS, True)}


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        (SECURITY_BUS, True),
        ("arn:aws-us-gov:events:us-gov-west-1:999988887777:event-bus/results", True),
        ("arn:aws:events:us-east-1:999988887777:rule/results", False),  # a rule, not a bus
        ("arn:aws:sqs:us-east-1:999988887777:results", False),
        ("dsse-remediation-results", False),  # a name: the ARN says which account
    ],
)
def test_the_security_bus_parameter_takes_a_bus_arn_or_nothing(value: str, accepted: bool) -> None:
    allowed = Resolved().template["Parameters"]["SecurityBusArn"]["AllowedPattern"]

    assert (re.fullmatch(allowed, value) is not None) is accepted
