"""`org-status` from what AWS answered: the rows, the parameters each stack runs with, the outcomes counted from the
results log, what needs attention and the exit code, the table and the JSON document."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from dsse_remediation.aws.organization import Account, StackInstance, StackSet, template_defaults
from dsse_remediation.cli.arguments import build_parser, event_bus_arn
from dsse_remediation.cli.org_status import HEADER, Outcomes, Row, Status, build_rows, effective_parameters

MANAGEMENT, PAYMENTS, ANALYTICS = "123456789012", "222222222222", "333333333333"
KEY = "arn:aws:kms:us-east-1:999999999999:key/1111aaaa-11aa-11aa-11aa-111111111111"
ACCOUNTS = [
    Account(MANAGEMENT, "management", "ACTIVE"),
    Account(PAYMENTS, "payments", "ACTIVE"),
    Account(ANALYTICS, "analytics", "ACTIVE"),
]
STACK_SET = StackSet(
    name="dsse-remediation-member",
    parameters={"DsseKmsKeyArn": KEY, "SecurityBusArn": ""},
    defaults={"Mode": "remediate", "SecurityBusArn": "", "SecurityHubFindings": "false"},
    permission_model="SERVICE_MANAGED",
)
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def deployed(account: str, region: str = "us-east-1", status: str = "CURRENT", **overrides: str) -> StackInstance:
    detailed = "SUCCEEDED" if status == "CURRENT" else "FAILED"
    return StackInstance(account, region, status, detailed, None, overrides)


def status(
    rows: list[Row], regions: tuple[str, ...] = ("us-east-1",), log_group: str | None = None, bus: str | None = None
) -> Status:
    return Status(STACK_SET.name, rows, regions, 24, log_group, END - timedelta(hours=24), END, security_bus=bus)


def result(account: str, region: str, outcome: str) -> str:
    return json.dumps(
        {"source": "dsse-remediation", "detail": {"account": account, "region": region, "outcome": outcome}}
    )


class TestRows:
    def test_every_active_account_in_every_targeted_region(self) -> None:
        instances = [deployed(PAYMENTS), deployed(PAYMENTS, "eu-west-1"), deployed(ANALYTICS)]

        rows = build_rows(ACCOUNTS, STACK_SET, instances, None, MANAGEMENT)

        assert [(row.name, row.region, row.deployment, row.expected) for row in rows] == [
            ("analytics", "eu-west-1", "not deployed", True),
            ("analytics", "us-east-1", "CURRENT/SUCCEEDED", True),
            ("management", "eu-west-1", "not deployed (management account)", False),
            ("management", "us-east-1", "not deployed (management account)", False),
            ("payments", "eu-west-1", "CURRENT/SUCCEEDED", True),
            ("payments", "us-east-1", "CURRENT/SUCCEEDED", True),
        ]
        assert status(rows, ("eu-west-1", "us-east-1")).problems == [f"{ANALYTICS} eu-west-1: stack not deployed"]

    def test_a_self_managed_stack_set_is_expected_in_the_management_account_too(self) -> None:
        self_managed = StackSet("s", {}, {}, permission_model="SELF_MANAGED")

        rows = build_rows(ACCOUNTS, self_managed, [deployed(PAYMENTS), deployed(ANALYTICS)], None, MANAGEMENT)

        [management] = [row for row in rows if row.account == MANAGEMENT]
        assert (management.deployment, management.expected) == ("not deployed", True)
        assert status(rows).exit_code == 1

    @pytest.mark.parametrize("state", ["SUSPENDED", "PENDING_CLOSURE", "CLOSED"])
    def test_an_account_that_is_not_active_is_not_expected(self, state: str) -> None:
        accounts = [*ACCOUNTS, Account("444444444444", "retired", state)]

        rows = build_rows(accounts, STACK_SET, [deployed(PAYMENTS), deployed(ANALYTICS)], None, MANAGEMENT)

        assert "444444444444" not in {row.account for row in rows}
        assert status(rows).exit_code == 0

    @pytest.mark.parametrize(
        ("instance", "shown"),
        [
            (deployed(PAYMENTS, status="OUTDATED"), "OUTDATED/FAILED"),
            (StackInstance(PAYMENTS, "us-east-1", "INOPERABLE"), "INOPERABLE"),
            (StackInstance(PAYMENTS, "us-east-1", "OUTDATED", "RUNNING"), "OUTDATED/RUNNING"),
        ],
    )
    def test_a_stack_instance_that_is_not_current_needs_attention(self, instance: StackInstance, shown: str) -> None:
        rows = build_rows(ACCOUNTS, STACK_SET, [instance, deployed(ANALYTICS)], None, MANAGEMENT)

        assert status(rows).problems == [f"{PAYMENTS} us-east-1: stack {shown}"]
        assert status(rows).exit_code == 1

    def test_a_stack_set_without_instances_is_deployed_nowhere(self) -> None:
        rows = build_rows(ACCOUNTS, STACK_SET, [], None, MANAGEMENT)

        assert rows == []
        assert status(rows, regions=()).problems == [
            "StackSet dsse-remediation-member has no stack instance: it is deployed nowhere"
        ]


class TestParameters:
    def test_an_override_wins_over_the_stack_sets_value_which_wins_over_the_default(self) -> None:
        instance = deployed(PAYMENTS, Mode="alert-only")

        assert effective_parameters(STACK_SET, instance) == {
            "mode": "alert-only",  # the instance's override
            "key": KEY,  # the StackSet's value
            "securityBus": "",  # the StackSet's value over the default
            "securityHubFindings": "false",  # the template's default
            # the schedules org-status judges a silent chain by: unknown to this StackSet (an older template)
            "coverageSchedule": None,
            "canarySchedule": None,
            "canarySloSeconds": None,
        }

    def test_no_instance_runs_with_nothing(self) -> None:
        assert set(effective_parameters(STACK_SET, None).values()) == {None}

    def test_a_parameter_nobody_set_is_unknown(self) -> None:
        yaml_template = StackSet("s", {"DsseKmsKeyArn": KEY}, template_defaults("Parameters:\n  Mode: {Default: x}\n"))

        assert effective_parameters(yaml_template, deployed(PAYMENTS))["mode"] is None

    def test_template_defaults_come_from_a_json_template(self) -> None:
        body = json.dumps(
            {"Parameters": {"Mode": {"Type": "String", "Default": "remediate"}, "Key": {"Type": "String"}}}
        )

        assert template_defaults(body) == {"Mode": "remediate"}
        assert template_defaults("not a template") == {}
        assert template_defaults("[]") == {}


class TestOutcomes:
    def test_results_are_counted_per_account_and_region(self) -> None:
        outcomes = Outcomes()
        for message in (
            result(PAYMENTS, "us-east-1", "remediated"),
            result(PAYMENTS, "us-east-1", "remediated"),
            result(PAYMENTS, "us-east-1", "failed"),
            result(PAYMENTS, "eu-west-1", "unremediable"),
        ):
            outcomes.add(message)

        assert outcomes.of(PAYMENTS, "us-east-1") == {"failed": 1, "remediated": 2}
        assert outcomes.of(PAYMENTS, "eu-west-1") == {"unremediable": 1}
        assert outcomes.of(ANALYTICS, "us-east-1") == {}
        assert outcomes.unreadable == 0

    def test_results_are_counted_under_the_sender_eventbridge_names_not_the_account_the_body_claims(self) -> None:
        outcomes = Outcomes()
        forged = json.loads(result(PAYMENTS, "us-east-1", "remediated"))
        outcomes.add(json.dumps(forged | {"account": ANALYTICS, "region": "us-east-1"}))

        assert outcomes.of(ANALYTICS, "us-east-1") == {"remediated": 1}
        assert outcomes.of(PAYMENTS, "us-east-1") == {}
        assert outcomes.disputed == 1

    @pytest.mark.parametrize(
        "message",
        [
            "",
            "not json",
            "[]",
            '{"detail": null}',
            '{"detail": "remediated"}',
            json.dumps({"detail": {"account": PAYMENTS, "region": "us-east-1"}}),
            json.dumps({"detail": {"account": 222222222222, "region": "us-east-1", "outcome": "failed"}}),
            json.dumps({"detail": {"account": PAYMENTS, "region": "", "outcome": "failed"}}),
        ],
    )
    def test_a_message_that_is_not_a_result_is_counted_as_unreadable(self, message: str) -> None:
        outcomes = Outcomes()

        outcomes.add(message)

        assert (outcomes.counts, outcomes.unreadable) == ({}, 1)

    @pytest.mark.parametrize(
        ("outcome", "code"), [("failed", 1), ("unremediable", 1), ("would-remediate", 0), ("remediated", 0)]
    )
    def test_only_failed_and_unremediable_results_need_attention(self, outcome: str, code: int) -> None:
        outcomes = Outcomes()
        outcomes.add(result(PAYMENTS, "us-east-1", outcome))

        rows = build_rows(ACCOUNTS, STACK_SET, [deployed(PAYMENTS), deployed(ANALYTICS)], outcomes, MANAGEMENT)

        assert status(rows, log_group="/dsse-remediation/results").exit_code == code

    def test_a_result_from_elsewhere_gets_a_row_of_its_own(self) -> None:
        outcomes = Outcomes()
        outcomes.add(result("555555555555", "ap-south-1", "failed"))

        rows = build_rows(ACCOUNTS, STACK_SET, [deployed(PAYMENTS), deployed(ANALYTICS)], outcomes, MANAGEMENT)

        assert (rows[-1].name, rows[-1].region, rows[-1].expected) == ("(not in the Organization)", "ap-south-1", False)
        assert status(rows).problems == ["555555555555 ap-south-1: 1 failed"]


class TestOutput:
    def test_the_table_is_aligned_under_its_header(self) -> None:
        instances = [deployed(PAYMENTS, Mode="alert-only"), deployed(ANALYTICS)]
        rows = build_rows(ACCOUNTS, STACK_SET, instances, Outcomes(), MANAGEMENT)

        lines = status(rows, log_group="/dsse-remediation/results").table().splitlines()

        header, body = lines[0], lines[1:4]
        starts = [header.index(name) for name in HEADER]
        for line in body:
            assert all(line[start - 2 : start] == "  " and line[start] != " " for start in starts[1:])
        assert body[0].split() == [
            ANALYTICS,
            "analytics",
            "us-east-1",
            "CURRENT/SUCCEEDED",
            "remediate",
            KEY,
            "off",
            "false",
            "-",  # coverage, canary and posture: no window given to build_rows
            "-",
            "-",
            "none",
        ]
        assert lines[-1] == (
            "the stack is deployed in all 2 active account(s) x 1 Region(s); no failed or unremediable result in "
            "the last 24 h (exit 0)"
        )

    def test_the_json_document_has_every_row_and_the_verdict(self) -> None:
        outcomes = Outcomes()
        outcomes.add(result(PAYMENTS, "us-east-1", "failed"))
        outcomes.add("garbage")
        rows = build_rows(ACCOUNTS, STACK_SET, [deployed(PAYMENTS), deployed(ANALYTICS)], outcomes, MANAGEMENT)
        answer = Status(
            STACK_SET.name, rows, ("us-east-1",), 24, "/r", END - timedelta(hours=24), END, outcomes.unreadable
        ).answer()

        assert answer["results"] == {
            "logGroup": "/r",
            "hours": 24,
            "start": "2026-11-19T12:00:00+00:00",
            "end": "2026-11-20T12:00:00+00:00",
            "unreadable": 1,
            "disputed": 0,
        }
        assert (answer["problems"], answer["exitCode"]) == ([f"{PAYMENTS} us-east-1: 1 failed"], 1)
        [payments] = [row for row in answer["rows"] if row["account"] == PAYMENTS]
        assert payments == {
            "account": PAYMENTS,
            "name": "payments",
            "region": "us-east-1",
            "deployed": True,
            "status": "CURRENT",
            "detailedStatus": "SUCCEEDED",
            "statusReason": None,
            "mode": "remediate",
            "key": KEY,
            "securityBus": "",
            "securityHubFindings": "false",
            "coverageSchedule": None,
            "canarySchedule": None,
            "canarySloSeconds": None,
            "forwardsToSecurityBus": None,  # not checked: no --security-bus
            "coverage": None,  # no window given to build_rows
            "canary": None,
            "posture": None,
            "outcomes": {"failed": 1},
            "problems": ["1 failed"],
        }
        assert answer["securityBus"] is None


# The security stack's results bus (org/security.yaml output ResultsBusArn), one for every Region.
SECURITY_BUS = "arn:aws:events:us-east-1:999999999999:event-bus/dsse-remediation-results"
FORWARDING = StackSet(
    "dsse-remediation-member",
    {"DsseKmsKeyArn": KEY, "SecurityBusArn": SECURITY_BUS},
    {"Mode": "remediate", "SecurityBusArn": "", "SecurityHubFindings": "false"},
    permission_model="SERVICE_MANAGED",
)


def forwarding(*instances: StackInstance, bus: str | None = SECURITY_BUS) -> Status:
    rows = build_rows(ACCOUNTS, FORWARDING, list(instances), None, MANAGEMENT, bus)
    return status(rows, tuple(sorted({i.region for i in instances})), bus=bus)


class TestForwarding:
    """With --security-bus, every stack's SecurityBusArn is the security bus, or the stack needs attention: its
    results reach no one in the security account, which cannot tell a silenced member from a quiet one."""

    def test_stacks_that_forward_to_the_security_bus_pass(self) -> None:
        checked = forwarding(
            deployed(PAYMENTS), deployed(PAYMENTS, "eu-west-1"), deployed(ANALYTICS), deployed(ANALYTICS, "eu-west-1")
        )

        assert (checked.problems, checked.exit_code) == ([], 0)
        assert {row.forwards_to_security_bus for row in checked.rows if row.instance} == {True}
        assert "security" in checked.table().splitlines()[1].split()
        assert checked.table().endswith("; every stack forwards to the security bus (exit 0)\n")
        assert checked.answer()["securityBus"] == SECURITY_BUS

    @pytest.mark.parametrize(
        ("bus", "problem"),
        [
            (
                "arn:aws:events:us-east-1:999999999999:event-bus/default",
                "forwards to arn:aws:events:us-east-1:999999999999:event-bus/default (another name), not to the "
                "security bus",
            ),
            (
                "arn:aws:events:us-east-1:888888888888:event-bus/dsse-remediation-results",
                "forwards to arn:aws:events:us-east-1:888888888888:event-bus/dsse-remediation-results (another "
                "account), not to the security bus",
            ),
            (
                # A stack of the security stack's own old Region, or a copy-paste from another Region's instance.
                "arn:aws:events:eu-west-1:999999999999:event-bus/dsse-remediation-results",
                "forwards to arn:aws:events:eu-west-1:999999999999:event-bus/dsse-remediation-results (another "
                "Region), not to the security bus",
            ),
            (
                "arn:aws-cn:events:cn-north-1:999999999999:event-bus/dsse-remediation-results",
                "forwards to arn:aws-cn:events:cn-north-1:999999999999:event-bus/dsse-remediation-results, in "
                "another partition than us-east-1: EventBridge cannot deliver there",
            ),
            ("", "forwards no results (SecurityBusArn empty), not to the security bus"),
            (
                "dsse-remediation-results",
                "SecurityBusArn 'dsse-remediation-results' is not an event bus ARN: its results reach no bus",
            ),
        ],
        ids=["another-name", "another-account", "another-region", "another-partition", "off", "malformed"],
    )
    def test_a_stack_that_forwards_elsewhere_is_named_and_exits_1(self, bus: str, problem: str) -> None:
        checked = forwarding(deployed(PAYMENTS, SecurityBusArn=bus), deployed(ANALYTICS))

        assert checked.problems == [f"{PAYMENTS} us-east-1: {problem}"]
        assert checked.exit_code == 1
        [payments] = [row for row in checked.answer()["rows"] if row["account"] == PAYMENTS]
        [analytics] = [row for row in checked.answer()["rows"] if row["account"] == ANALYTICS]
        assert (payments["securityBus"], payments["forwardsToSecurityBus"], payments["problems"]) == (
            bus,
            False,
            [problem],
        )
        assert analytics["forwardsToSecurityBus"] is True
        lines = checked.table().splitlines()
        [row] = [line for line in lines if line.startswith(PAYMENTS)]
        assert row.split()[6] == ("off" if bus == "" else "elsewhere")
        assert f"needs attention: {PAYMENTS} us-east-1: {problem}" in lines
        assert f"forwarding: checked against the security bus {SECURITY_BUS}" in lines

    def test_a_bus_in_another_region_than_the_stack_is_the_design_one_bus_for_every_region(self) -> None:
        """Members in every Region send to the one bus (org/README.md; eb-cross-region.html)."""
        checked = forwarding(deployed(PAYMENTS, "eu-west-1"), deployed(ANALYTICS, "eu-west-1"))

        assert checked.problems == []

    def test_a_stack_whose_bus_nobody_set_cannot_be_checked_and_needs_attention(self) -> None:
        unknown = StackSet("s", {"DsseKmsKeyArn": KEY}, {})  # a YAML template: no defaults read
        rows = build_rows(ACCOUNTS, unknown, [deployed(PAYMENTS)], None, MANAGEMENT, SECURITY_BUS)

        problems = status(rows, bus=SECURITY_BUS).problems
        assert [problem for problem in problems if problem.startswith(PAYMENTS)] == [
            f"{PAYMENTS} us-east-1: SecurityBusArn unknown (no value, no template default): its forwarding cannot be "
            "checked"
        ]

    def test_without_the_security_bus_where_stacks_forward_is_shown_not_checked(self) -> None:
        elsewhere = "arn:aws:events:us-east-1:888888888888:event-bus/other"
        unchecked = forwarding(deployed(PAYMENTS, SecurityBusArn=elsewhere), deployed(ANALYTICS), bus=None)

        assert (unchecked.problems, unchecked.exit_code) == ([], 0)
        assert {row.forwards_to_security_bus for row in unchecked.rows} == {None}
        lines = unchecked.table().splitlines()
        assert {line.split()[6] for line in lines if line.startswith((PAYMENTS, ANALYTICS))} == {"set"}
        assert "forwarding: not checked (pass --security-bus, the security stack's ResultsBusArn)" in lines

    @pytest.mark.parametrize(
        ("bus", "problem"),
        [
            ("not-an-arn", "SecurityBusArn 'not-an-arn' is not an event bus ARN: its results reach no bus"),
            (
                "arn:aws-us-gov:events:us-gov-west-1:999999999999:event-bus/results",
                "forwards to arn:aws-us-gov:events:us-gov-west-1:999999999999:event-bus/results, in another "
                "partition than us-east-1: EventBridge cannot deliver there",
            ),
        ],
    )
    def test_a_bus_that_can_never_receive_is_named_even_unchecked(self, bus: str, problem: str) -> None:
        unchecked = forwarding(deployed(PAYMENTS, SecurityBusArn=bus), deployed(ANALYTICS), bus=None)

        assert unchecked.problems == [f"{PAYMENTS} us-east-1: {problem}"]

    def test_a_place_without_a_stack_forwards_nothing_and_is_not_named_for_it(self) -> None:
        checked = forwarding(deployed(PAYMENTS))  # analytics has no stack

        assert checked.problems == [f"{ANALYTICS} us-east-1: stack not deployed"]

    @pytest.mark.parametrize(
        "raw",
        [
            "arn:aws:events:us-east-1:999999999999:rule/dsse-remediation-results",  # a rule, not a bus
            "arn:aws:sns:us-east-1:999999999999:dsse-remediation-security",
            "dsse-remediation-results",
            "arn:aws:events:us-east-1:99999999999:event-bus/short-account",
        ],
    )
    def test_the_security_bus_flag_takes_an_event_bus_arn_only(self, raw: str) -> None:
        with pytest.raises(argparse.ArgumentTypeError, match="is not an EventBridge event bus ARN"):
            event_bus_arn(raw)

        args = build_parser().parse_args(["org-status", "--stack-set", "s", "--security-bus", SECURITY_BUS])
        assert args.security_bus == SECURITY_BUS
