"""`org-status` from what AWS answered: the rows, the parameters each stack runs with, the outcomes counted from the
results log, what needs attention and the exit code, the table and the JSON document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dsse_remediation.aws.organization import Account, StackInstance, StackSet, template_defaults
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


def status(rows: list[Row], regions: tuple[str, ...] = ("us-east-1",), log_group: str | None = None) -> Status:
    return Status(STACK_SET.name, rows, regions, 24, log_group, END - timedelta(hours=24), END)


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
            "outcomes": {"failed": 1},
            "problems": ["1 failed"],
        }
