"""`dsse-remediate org-status` on moto: Organizations, CloudFormation StackSets and CloudWatch Logs.

The fake Organization: the management account (moto's default, 123456789012) in the root, and two member accounts in
the OU `members`, which the service-managed member StackSet targets in two Regions. The security account's results
log group holds the EventBridge events the member stacks forwarded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.cloudformation import models as cloudformation_models

from dsse_remediation import cli
from dsse_remediation.cli import org_status
from tests.helpers import ACCOUNT_ID, REGION

STACK_SET = "dsse-remediation-member"
LOG_GROUP = "/dsse-remediation/results"
ORG_KEY = "arn:aws:kms:{region}:999999999999:key/1111aaaa-11aa-11aa-11aa-111111111111"
BUS = f"arn:aws:events:{REGION}:999999999999:event-bus/dsse-remediation-results"
REGIONS = ("eu-west-1", REGION)
# The member template's parameters as org-status reads them (the transform-free member template is JSON).
TEMPLATE = {
    "Parameters": {
        "DsseKmsKeyArn": {"Type": "String"},
        "Mode": {"Type": "String", "Default": "remediate"},
        "SecurityBusArn": {"Type": "String", "Default": ""},
        "SecurityHubFindings": {"Type": "String", "Default": "false"},
        "CoverageSchedule": {"Type": "String", "Default": "rate(1 day)"},
        "CanarySchedule": {"Type": "String", "Default": ""},
        "CanarySloSeconds": {"Type": "String", "Default": "300"},
    },
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
}


@pytest.fixture
def stack_sets(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's StackSets as CloudFormation documents them, where org-status reads them.

    ParameterOverrides "override the StackSet's parameter values in the selected stack instances"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html): an instance
    runs with the StackSet's parameters and its overrides over them, and DescribeStackInstance's ParameterOverrides
    lists only "the StackSet parameters whose values have been overridden in this stack instance"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstance.html). moto 5.2.5 builds the
    instance's stack from the overrides alone: a template with a parameter that has no default fails with "Missing
    parameter". Here the stack gets the StackSet's parameters with the overrides over them, and the instance still
    reports only its overrides.
    """
    original = cloudformation_models.StackSet.create_stack_instances

    def create_stack_instances(self: Any, accounts: Any, regions: Any, deployment_targets: Any, parameters: Any) -> Any:
        overrides = list(parameters or [])
        merged = {**self.parameters, **{p["ParameterKey"]: p["ParameterValue"] for p in overrides}}
        existing = list(self.instances.stack_instances)
        every = [{"ParameterKey": key, "ParameterValue": value} for key, value in merged.items()]
        operation = original(self, accounts, regions, deployment_targets, every)
        for instance in self.instances.stack_instances:
            if all(instance is not old for old in existing):
                instance.parameters = overrides
        return operation

    monkeypatch.setattr(cloudformation_models.StackSet, "create_stack_instances", create_stack_instances)


@dataclass
class Organization:
    organizations: Any
    cloudformation: Any
    ou: str
    members: dict[str, str] = field(default_factory=dict)  # name -> account id

    def add_account(self, name: str, ou: str | None = None) -> str:
        status = self.organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        account: str = status["CreateAccountStatus"]["AccountId"]
        if ou:
            root = self.organizations.list_roots()["Roots"][0]["Id"]
            self.organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        self.members[name] = account
        return account

    def deploy(self, regions: tuple[str, ...], **overrides: str) -> None:
        """Stack instances in every account of the OU, in `regions`, with these parameter overrides."""
        self.cloudformation.create_stack_instances(
            StackSetName=STACK_SET,
            DeploymentTargets={"OrganizationalUnitIds": [self.ou]},
            Regions=list(regions),
            ParameterOverrides=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
        )


@pytest.fixture
def organization(stack_sets: None) -> Organization:
    """payments and analytics in the OU `members`; the member StackSet (service-managed) created, not yet deployed."""
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="members")["OrganizationalUnit"]["Id"]
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack_set(
        StackSetName=STACK_SET,
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[
            {"ParameterKey": "DsseKmsKeyArn", "ParameterValue": ORG_KEY.format(region=REGION)},
            {"ParameterKey": "SecurityBusArn", "ParameterValue": BUS},
        ],
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    org = Organization(organizations, cloudformation, ou)
    org.add_account("payments", ou)
    org.add_account("analytics", ou)
    return org


@pytest.fixture
def deployed(organization: Organization) -> Organization:
    """The StackSet in both accounts of the OU: us-east-1 as the StackSet says; eu-west-1 alert-only with findings."""
    organization.deploy((REGION,))
    organization.deploy(
        ("eu-west-1",),
        Mode="alert-only",
        SecurityHubFindings="true",
        DsseKmsKeyArn=ORG_KEY.format(region="eu-west-1"),
    )
    return organization


@pytest.fixture
def results(aws: None) -> Callable[..., None]:
    """The security account's results log group; `put(message, ..., hours_ago=1)` adds log events to it."""
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="events")

    def put(*messages: str, hours_ago: float = 1.0) -> None:
        at = int((datetime.now(UTC) - timedelta(hours=hours_ago)).timestamp() * 1000)
        events = [{"timestamp": at, "message": message} for message in messages]
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName="events", logEvents=events)

    return put


def result_event(account: str, region: str, outcome: str) -> str:
    """A result as the security account's ResultsToLogsRule writes it: the whole EventBridge event, the alert body
    (schema dsse-remediation.alert/v1) as its detail."""
    detail = {
        "schema": "dsse-remediation.alert/v1",
        "outcome": outcome,
        "resourceType": "object",
        "resource": "s3://example-protected-bucket/q3.csv",
        "account": account,
        "region": region,
        "reason": "copied in place from AES256",
    }
    return json.dumps(
        {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "DSSE-KMS remediation result",
            "source": "dsse-remediation",
            "account": account,
            "time": "2026-11-20T09:15:03Z",
            "region": region,
            "resources": [],
            "detail": detail,
        }
    )


def chain_event(account: str, region: str, resource_type: str, minutes_ago: float, **detail: Any) -> str:
    """A coverage check's or a canary's result as the results log holds it, dated `minutes_ago` by EventBridge."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    body = {
        "schema": "dsse-remediation.alert/v1",
        "severity": "info",
        "outcome": "compliant",
        "resourceType": resource_type,
        "account": account,
        "region": region,
        "reason": "passed",
        **detail,
    }
    event = {"detail-type": "DSSE-KMS remediation result", "source": "dsse-remediation", "account": account}
    return json.dumps({**event, "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region, "detail": body})


def covered(covered: int, in_scope: int, unknown: int = 0) -> dict[str, Any]:
    uncovered = in_scope - covered
    summary = {"inScope": in_scope, "covered": covered, "uncovered": uncovered, "unknown": unknown}
    return {"coverage": summary, "outcome": "failed" if uncovered else "compliant"}


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["org-status", "--stack-set", STACK_SET, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def table(out: str) -> list[list[str]]:
    """The table's rows, split at the column starts the header line gives."""
    lines = out.splitlines()
    header = lines[0]
    starts = [header.index(name) for name in org_status.HEADER]
    rows = []
    for line in lines[1 : lines.index("")]:
        bounds = [*starts, len(line) + 1]
        rows.append([line[bounds[i] : bounds[i + 1]].strip() for i in range(len(starts))])
    return rows


def test_a_row_per_account_and_region_with_its_mode_key_bus_and_findings(deployed: Organization, run: Any) -> None:
    code, out, err = run()

    payments, analytics = deployed.members["payments"], deployed.members["analytics"]
    east, west = ORG_KEY.format(region=REGION), ORG_KEY.format(region="eu-west-1")
    assert (code, err) == (0, "")
    assert table(out) == [
        [
            analytics,
            "analytics",
            "eu-west-1",
            "CURRENT/SUCCEEDED",
            "alert-only",
            west,
            "set",
            "true",
            "-",
            "-",
            "-",
            "-",
        ],
        [analytics, "analytics", REGION, "CURRENT/SUCCEEDED", "remediate", east, "set", "false", "-", "-", "-", "-"],
        [
            ACCOUNT_ID,
            "master",
            "eu-west-1",
            "not deployed (management account)",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
        ],
        [ACCOUNT_ID, "master", REGION, "not deployed (management account)", "-", "-", "-", "-", "-", "-", "-", "-"],
        [payments, "payments", "eu-west-1", "CURRENT/SUCCEEDED", "alert-only", west, "set", "true", "-", "-", "-", "-"],
        [payments, "payments", REGION, "CURRENT/SUCCEEDED", "remediate", east, "set", "false", "-", "-", "-", "-"],
    ]
    assert out.endswith("the stack is deployed in all 2 active account(s) x 2 Region(s) (exit 0)\n")


def test_an_active_account_without_the_stack_exits_1(deployed: Organization, run: Any) -> None:
    sandbox = deployed.add_account("sandbox")  # in the root, outside the OU the StackSet targets

    code, out, _ = run()

    assert code == 1
    assert [row[3] for row in table(out) if row[0] == sandbox] == ["not deployed", "not deployed"]
    assert f"needs attention: {sandbox} eu-west-1: stack not deployed" in out
    assert out.endswith("2 problem(s) (exit 1)\n")


def test_a_stack_set_deployed_nowhere_exits_1(organization: Organization, run: Any) -> None:
    code, out, _ = run("--output", "json")

    document = json.loads(out)
    assert code == 1
    assert (document["regions"], document["rows"]) == ([], [])
    assert document["problems"] == [f"StackSet {STACK_SET} has no stack instance: it is deployed nowhere"]


def test_outcomes_of_the_window_are_counted_per_account_and_region(
    deployed: Organization, results: Callable[..., None], run: Any
) -> None:
    payments, analytics = deployed.members["payments"], deployed.members["analytics"]
    results(result_event(payments, REGION, "failed"), hours_ago=30)  # before the window
    results(
        result_event(payments, REGION, "remediated"),
        result_event(payments, REGION, "remediated"),
        result_event(analytics, "eu-west-1", "would-remediate"),
        "not json",
        json.dumps({"source": "dsse-remediation", "detail": "not an alert"}),
    )

    code, out, _ = run("--results-log-group", LOG_GROUP, "--output", "json")

    document = json.loads(out)
    outcomes = {(row["account"], row["region"]): row["outcomes"] for row in document["rows"]}
    assert code == 0
    assert outcomes[(payments, REGION)] == {"remediated": 2}
    assert outcomes[(analytics, "eu-west-1")] == {"would-remediate": 1}
    assert outcomes[(payments, "eu-west-1")] == {}
    assert document["results"]["logGroup"] == LOG_GROUP
    assert (document["results"]["hours"], document["results"]["unreadable"]) == (24, 2)

    code, out, _ = run("--results-log-group", LOG_GROUP, "--hours", "48")

    [payments_east] = [row for row in table(out) if row[:3] == [payments, "payments", REGION]]
    assert code == 1
    assert payments_east[-1] == "failed 1, remediated 2"
    assert f"needs attention: {payments} {REGION}: 1 failed" in out
    assert f"outcomes: the last 48 h of {LOG_GROUP}; 2 unreadable event(s)" in out


def test_results_from_an_account_outside_the_stack_set_get_their_own_row(
    deployed: Organization, results: Callable[..., None], run: Any
) -> None:
    results(result_event("444455556666", "ap-south-1", "unremediable"))

    code, out, _ = run("--results-log-group", LOG_GROUP)

    assert code == 1
    assert table(out)[-1] == [
        "444455556666",
        "(not in the Organization)",
        "ap-south-1",
        "not deployed",
        "-",
        "-",
        "-",
        "-",
        "none",
        "none",
        "none",
        "unremediable 1",
    ]


def test_with_the_security_bus_every_stack_forwarding_there_exits_0(deployed: Organization, run: Any) -> None:
    code, out, err = run("--security-bus", BUS)

    assert (code, err) == (0, "")
    assert {row[6] for row in table(out) if row[3] == "CURRENT/SUCCEEDED"} == {"security"}
    assert f"forwarding: checked against the security bus {BUS}" in out
    assert out.endswith("x 2 Region(s); every stack forwards to the security bus (exit 0)\n")


def test_a_stack_forwarding_to_another_bus_is_named_and_exits_1(organization: Organization, run: Any) -> None:
    """The members' eu-west-1 instances were given another bus (a stale override): exit 0 before --security-bus."""
    other = BUS.replace("999999999999", "888888888888")
    organization.deploy((REGION,))
    organization.deploy(("eu-west-1",), SecurityBusArn=other, DsseKmsKeyArn=ORG_KEY.format(region="eu-west-1"))
    payments, analytics = organization.members["payments"], organization.members["analytics"]

    code, out, _ = run("--security-bus", BUS)
    json_code, document, _ = run("--security-bus", BUS, "--output", "json")

    problem = f"forwards to {other} (another account), not to the security bus"
    assert code == json_code == 1
    assert {(row[0], row[2]): row[6] for row in table(out) if row[3] == "CURRENT/SUCCEEDED"} == {
        (payments, REGION): "security",
        (payments, "eu-west-1"): "elsewhere",
        (analytics, REGION): "security",
        (analytics, "eu-west-1"): "elsewhere",
    }
    assert f"needs attention: {payments} eu-west-1: {problem}" in out
    assert f"needs attention: {analytics} eu-west-1: {problem}" in out
    answer = json.loads(document)
    assert answer["securityBus"] == BUS
    assert answer["problems"] == [f"{analytics} eu-west-1: {problem}", f"{payments} eu-west-1: {problem}"]
    forwards = {(r["account"], r["region"]): r["forwardsToSecurityBus"] for r in answer["rows"] if r["deployed"]}
    assert forwards == {
        (analytics, "eu-west-1"): False,
        (analytics, REGION): True,
        (payments, "eu-west-1"): False,
        (payments, REGION): True,
    }


def test_the_security_bus_flag_must_name_an_event_bus(deployed: Organization, run: Any) -> None:
    code, out, err = run("--security-bus", "arn:aws:sns:us-east-1:999999999999:dsse-remediation-security")

    assert (code, out) == (2, "")
    assert "is not an EventBridge event bus ARN" in err


def test_call_as_is_passed_to_every_stack_set_call(
    deployed: Organization, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, Any]] = []
    real_open_session = org_status.open_session

    def open_session(args: Any) -> Any:
        session = real_open_session(args)
        session.events.register(
            "provide-client-params.cloudformation",
            lambda params, model, **_: sent.append((model.name, params.get("CallAs"))),
        )
        return session

    monkeypatch.setattr(org_status, "open_session", open_session)

    code, _, _ = run("--call-as", "DELEGATED_ADMIN")

    assert code == 0
    assert {name for name, _ in sent} == {"DescribeStackSet", "ListStackInstances", "DescribeStackInstance"}
    assert {call_as for _, call_as in sent} == {"DELEGATED_ADMIN"}
    assert [name for name, _ in sent].count("DescribeStackInstance") == 4


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack-set", "no-such-stack-set"], "--stack-set no-such-stack-set: no such StackSet in us-east-1"),
        (["--results-log-group", "/no/such/group"], "--results-log-group /no/such/group: no such log group"),
    ],
)
def test_a_stack_set_or_log_group_that_does_not_exist_is_a_usage_error(
    deployed: Organization, run: Any, argv: list[str], message: str
) -> None:
    code, out, err = run(*argv)

    assert (code, out) == (2, "")
    assert message in err
    assert len(err.splitlines()) == 1


def test_outside_an_organization_the_error_is_one_line_and_exit_1(stack_sets: None, run: Any) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack_set(
        StackSetName=STACK_SET, TemplateBody=json.dumps(TEMPLATE)
    )

    code, out, err = run()

    assert (code, out) == (1, "")
    assert err.startswith("dsse-remediate: AWSOrganizationsNotInUseException: ")
    assert len(err.splitlines()) == 1


@pytest.fixture
def canaries(organization: Organization) -> Organization:
    """us-east-1 runs the canary every 15 minutes (SLO 300 s); eu-west-1 is alert-only, where no canary runs."""
    organization.deploy((REGION,), CanarySchedule="rate(15 minutes)")
    organization.deploy(("eu-west-1",), Mode="alert-only", DsseKmsKeyArn=ORG_KEY.format(region="eu-west-1"))
    return organization


def test_each_row_shows_its_latest_coverage_and_its_canary_s_last_heartbeat_and_latency(
    canaries: Organization, results: Callable[..., None], run: Any
) -> None:
    payments, analytics = canaries.members["payments"], canaries.members["analytics"]
    results(
        chain_event(payments, REGION, "coverage", 300, **covered(2, 3)),
        chain_event(payments, REGION, "coverage", 60, **covered(3, 3)),  # the latest: all covered again
        chain_event(payments, REGION, "canary", 40, latencySeconds=61.0, sloSeconds=300),
        chain_event(payments, REGION, "canary", 10, latencySeconds=42.4, sloSeconds=300),
        chain_event(analytics, REGION, "coverage", 120, **covered(3, 3)),
        chain_event(analytics, REGION, "canary", 5, latencySeconds=37.0, sloSeconds=300),
        chain_event(payments, "eu-west-1", "coverage", 90, **covered(5, 5)),
        chain_event(analytics, "eu-west-1", "coverage", 90, **covered(5, 5)),
    )

    code, out, _ = run("--results-log-group", LOG_GROUP)
    json_code, document, _ = run("--results-log-group", LOG_GROUP, "--output", "json")

    cells = {(row[0], row[2]): (row[8], row[9], row[11]) for row in table(out)}
    assert cells[(payments, REGION)] == ("3/3", "ok 42s (10m ago)", "none")
    assert cells[(analytics, REGION)] == ("3/3", "ok 37s (5m ago)", "none")
    assert cells[(payments, "eu-west-1")] == ("5/5", "off", "none")
    assert (code, json_code) == (0, 0), out
    [row] = [r for r in json.loads(document)["rows"] if (r["account"], r["region"]) == (payments, REGION)]
    assert row["coverage"] | {"at": None} == {
        "schedule": "rate(1 day)",
        "at": None,
        "outcome": "compliant",
        "inScope": 3,
        "covered": 3,
        "uncovered": 0,
        "unknown": 0,
        "silent": False,
    }
    assert (row["canary"]["latencySeconds"], row["canary"]["silent"], row["canary"]["runs"]) == (42.4, False, True)
    assert row["outcomes"] == {}  # the chain's own results are not counted as outcomes


def test_uncovered_buckets_and_a_missed_canary_need_attention(
    canaries: Organization, results: Callable[..., None], run: Any
) -> None:
    payments, analytics = canaries.members["payments"], canaries.members["analytics"]
    results(
        chain_event(payments, REGION, "coverage", 60, **covered(1, 3, unknown=2)),
        chain_event(payments, REGION, "canary", 5, latencySeconds=40.0),
        chain_event(analytics, REGION, "coverage", 60, **covered(3, 3)),
        chain_event(
            analytics, REGION, "canary", 5, outcome="failed", severity="high", reason="not DSSE-KMS after 312 s"
        ),
    )

    code, out, _ = run("--results-log-group", LOG_GROUP)

    cells = {(row[0], row[2]): (row[8], row[9]) for row in table(out)}
    assert code == 1
    assert cells[(payments, REGION)] == ("1/3 (2 unknown)", "ok 40s (5m ago)")
    assert cells[(analytics, REGION)] == ("3/3", "failed (5m ago)")
    assert f"needs attention: {payments} {REGION}: coverage 1/3 in-scope bucket(s), 2 unknown at " in out
    assert f"needs attention: {analytics} {REGION}: canary failed at " in out
    assert "not DSSE-KMS after 312 s" in out


def test_a_member_whose_canary_and_coverage_check_went_quiet_shows_as_silent(
    canaries: Organization, results: Callable[..., None], run: Any
) -> None:
    """A canary every 15 minutes with a 300 s SLO may be quiet 35 minutes; a daily coverage check 25 hours."""
    payments, analytics = canaries.members["payments"], canaries.members["analytics"]
    results(
        chain_event(payments, REGION, "coverage", 60 * 26, **covered(3, 3)),
        chain_event(payments, REGION, "canary", 36, latencySeconds=40.0),
        chain_event(analytics, REGION, "coverage", 60, **covered(3, 3)),
        chain_event(analytics, REGION, "canary", 34, latencySeconds=40.0),
    )

    code, out, _ = run("--results-log-group", LOG_GROUP, "--hours", "48", "--output", "json")

    rows = {(r["account"], r["region"]): r for r in json.loads(out)["rows"]}
    assert code == 1
    assert (rows[(payments, REGION)]["coverage"]["silent"], rows[(payments, REGION)]["canary"]["silent"]) == (
        True,
        True,
    )
    assert (rows[(analytics, REGION)]["coverage"]["silent"], rows[(analytics, REGION)]["canary"]["silent"]) == (
        False,
        False,
    )
    # eu-west-1: alert-only (no canary); its daily check sent nothing in 48 hours
    assert rows[(analytics, "eu-west-1")]["canary"]["silent"] is False
    assert rows[(analytics, "eu-west-1")]["coverage"]["silent"] is True
    problems = json.loads(out)["problems"]
    assert f"{payments} {REGION}: canary silent: last result 36m ago (CanarySchedule rate(15 minutes))" in problems
    assert f"{payments} {REGION}: coverage check silent: last result 26h ago (CoverageSchedule rate(1 day))" in problems


def test_silence_is_not_judged_from_a_window_shorter_than_the_schedule_allows(
    canaries: Organization, results: Callable[..., None], run: Any
) -> None:
    """A daily check may be quiet 25 hours: nothing in the default 24-hour window proves nothing."""
    payments = canaries.members["payments"]
    results(chain_event(payments, REGION, "canary", 5, latencySeconds=40.0))

    code, out, _ = run("--results-log-group", LOG_GROUP, "--output", "json")

    rows = {(r["account"], r["region"]): r for r in json.loads(out)["rows"]}
    assert rows[(payments, REGION)]["coverage"]["silent"] is None
    assert rows[(payments, REGION)]["coverage"]["inScope"] is None
    assert code == 1  # the other member's canary has sent nothing in 24 hours: silent
    assert rows[(canaries.members["analytics"], REGION)]["canary"]["silent"] is True


def test_each_row_shows_its_latest_posture_and_anything_left_needs_attention(
    canaries: Organization, results: Callable[..., None], run: Any
) -> None:
    payments, analytics = canaries.members["payments"], canaries.members["analytics"]

    def posture(objects_left: int, bytes_left: int, percent: float, unmeasured: tuple[str, ...] = ()) -> dict[str, Any]:
        summary = {
            "buckets": 3,
            "percentDsseUnderKey": {"objects": percent, "bytes": percent},
            "objects": {"total": 1000, "notDsseUnderKey": objects_left},
            "bytes": {"total": 10 * 2**30, "notDsseUnderKey": bytes_left},
            "noncurrentDebt": {"objects": 0, "bytes": 0},
            "unmeasured": list(unmeasured),
        }
        return {"posture": summary, "outcome": "compliant" if not (objects_left or unmeasured) else "failed"}

    results(
        chain_event(payments, REGION, "posture", 60 * 30, **posture(10, 2**30, 90.0)),  # older: superseded
        chain_event(payments, REGION, "posture", 60, **posture(0, 0, 100.0)),
        chain_event(analytics, REGION, "posture", 60, **posture(3, 512 * 2**20, 95.0, ("legacy-archive",))),
    )

    code, out, _ = run("--results-log-group", LOG_GROUP, "--hours", "48", "--output", "json")
    _, text, _ = run("--results-log-group", LOG_GROUP, "--hours", "48")

    rows = {(r["account"], r["region"]): r for r in json.loads(out)["rows"]}
    assert rows[(payments, REGION)]["posture"]["percentDsseUnderKey"] == {"objects": 100.0, "bytes": 100.0}
    assert rows[(payments, "eu-west-1")]["posture"] is None
    cells = {(row[0], row[2]): row[10] for row in table(text)}
    assert cells[(payments, REGION)] == "100%"
    assert cells[(analytics, REGION)] == "95% (512.0 MiB left) 1 unmeasured"
    assert cells[(payments, "eu-west-1")] == "none"
    assert code == 1
    problems = json.loads(out)["problems"]
    assert any(
        p.startswith(f"{analytics} {REGION}: posture 95% of bytes DSSE-KMS under the key, 512.0 MiB left, 1 bucket(s)")
        for p in problems
    )
    assert not any(p.startswith(f"{payments} {REGION}: posture") for p in problems)
    # the Organization's number: both members' latest posture added up (10 GiB each, 512 MiB left)
    assert json.loads(out)["posture"] == {
        "measured": 2,
        "percentDsseUnderKey": {"objects": 99.85, "bytes": 97.5},
        "objects": {"total": 2000, "notDsseUnderKey": 3},
        "bytes": {"total": 20 * 2**30, "notDsseUnderKey": 512 * 2**20},
    }
    assert "posture: 97.5 % of bytes and 99.85 % of objects DSSE-KMS under the key across 2 account x Region(s)" in text
