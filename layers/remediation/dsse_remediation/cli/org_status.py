"""`dsse-remediate org-status`: the member StackSet across the Organization, one row per account and Region.

A row says whether the member stack is deployed there (its stack instance's status), with which Mode, key,
SecurityBusArn and SecurityHubFindings (the instance's parameter overrides, else the StackSet's parameters, else the
template's defaults), and, with `--results-log-group`, how many results of each outcome the security account
received from there in the last `--hours` (each log event is the EventBridge event whose `detail` is the alert body;
it is counted under the envelope's `account` and `region`, which EventBridge sets and a sender cannot forge — the
body's own `account`/`region` only when the envelope has none — and an alert body naming another account than its
envelope is counted as disputed; an event that is not one is counted as unreadable). The chain's own results —
coverage checks and canary ticks (org_chain.py) — are not counted as outcomes: each row shows its latest coverage
(covered / in scope), its canary's last heartbeat and latency, and whether either has gone silent.

With `--security-bus` (the security stack's output ResultsBusArn), each stack's SecurityBusArn is compared with it:
a stack that forwards its results to another bus (of another account, Region or partition, or another name), to none,
or to a value that is no event bus ARN, sends nothing the security account sees, and is named. Without it, where each
stack forwards is shown (set / off), not checked; a value that is no event bus ARN, or a bus in another partition than
the stack's Region (EventBridge delivers across Regions, not across partitions:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html), is named all the same.

The rows are every active account times every Region the StackSet targets (the Regions of its instances), plus any
other account and Region that has an instance or sent a result. Exit 0 when every active account has a CURRENT stack
instance in every targeted Region, no failed or unremediable result arrived in the window and every stack forwards
where it should; 1 otherwise. A service-managed StackSet never deploys to the Organization's management account
("StackSets doesn't deploy stack instances to the organization management account",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html): its rows
are shown, and not counted against the exit code.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..aws.organization import Account, OrganizationReader, StackInstance, StackSet
from ..exceptions import AwsFailure
from ..findings import partition_of
from ..model import Clock, Failure, Outcome, utc_now
from .arguments import EVENT_BUS_ARN, EXIT_ATTENTION, EXIT_OK, UsageError
from .console import Console
from .org_chain import CHAIN_TYPES, Chain, ChainRow, Schedules, Seen, organization_posture
from .session import check_fips, client_config, open_session

# The member template's parameters a row shows, by the name of the row's field.
PARAMETERS = {
    "mode": "Mode",
    "key": "DsseKmsKeyArn",
    "securityBus": "SecurityBusArn",
    "securityHubFindings": "SecurityHubFindings",
    "coverageSchedule": "CoverageSchedule",
    "canarySchedule": "CanarySchedule",
    "canarySloSeconds": "CanarySloSeconds",
}
ALARMING = (Outcome.FAILED.value, Outcome.UNREMEDIABLE.value, Outcome.HELD.value)
HEADER = (
    "ACCOUNT",
    "NAME",
    "REGION",
    "DEPLOYED",
    "MODE",
    "KEY",
    "SECURITY-BUS",
    "FINDINGS",
    "COVERAGE",
    "CANARY",
    "POSTURE",
    "OUTCOMES",
)


@dataclass
class Outcomes:
    """The results of a window, counted per (account, Region); what cannot be read is counted, not fatal."""

    counts: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    unreadable: int = 0
    disputed: int = 0  # alert bodies that name another account or Region than the event's envelope
    chain: Chain = field(default_factory=Chain)  # coverage checks and canary ticks, not counted as outcomes

    def add(self, message: str) -> None:
        found = _detail(message)
        if found is None:
            self.unreadable += 1
            return
        (account, region, outcome), claimed, event = found
        if claimed != (account, region):
            self.disputed += 1
        detail = event["detail"]
        if detail.get("resourceType") in CHAIN_TYPES:
            at = _time(event.get("time")) or _time(detail.get("time"))
            if at is None:
                self.unreadable += 1
            else:
                self.chain.add(account, region, detail["resourceType"], Seen(at, outcome, detail))
            return
        self.counts.setdefault((account, region), Counter())[outcome] += 1

    def of(self, account: str, region: str) -> dict[str, int]:
        return dict(sorted(self.counts.get((account, region), Counter()).items()))


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time with its zone (EventBridge's `time`, the alert's `time`), else None."""
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


def _detail(message: str) -> tuple[tuple[str, str, str], tuple[str, str], dict[str, Any]] | None:
    """((account, Region, outcome) as counted, (account, Region) as the alert body claims them, the event), or None."""
    try:
        event = json.loads(message)
    except ValueError:
        return None
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict):
        return None
    claimed = tuple(detail.get(name) for name in ("account", "region", "outcome"))
    if not all(isinstance(value, str) and value for value in claimed):
        return None
    account, region = (event.get(name) for name in ("account", "region"))
    account = account if isinstance(account, str) and account else claimed[0]
    region = region if isinstance(region, str) and region else claimed[1]
    return (account, region, claimed[2]), (claimed[0], claimed[1]), event  # type: ignore[return-value]


@dataclass(frozen=True)
class Row:
    account: str
    name: str
    region: str
    instance: StackInstance | None
    parameters: Mapping[str, str | None]
    outcomes: Mapping[str, int] | None  # None: no log group read
    expected: bool  # an active account in a targeted Region: it must have the stack
    management: bool = False  # the management account of a service-managed StackSet, which never deploys there
    security_bus: str | None = None  # where every stack must forward its results (--security-bus); None: unchecked
    chain: ChainRow | None = None  # its coverage and canary; None: no log group read

    @property
    def deployed(self) -> bool:
        return self.instance is not None and self.instance.status == "CURRENT"

    @property
    def deployment(self) -> str:
        if self.instance is None:
            return "not deployed (management account)" if self.management else "not deployed"
        detailed = self.instance.detailed_status
        return f"{self.instance.status}/{detailed}" if detailed else self.instance.status

    @property
    def forwarding(self) -> str | None:
        """What is wrong with where the stack forwards its results (its SecurityBusArn), or None. No stack here:
        nothing forwards."""
        if self.instance is None:
            return None
        return forwarding_problem(self.parameters["securityBus"], self.region, self.security_bus)

    @property
    def forwards_to_security_bus(self) -> bool | None:
        """Whether the stack's results reach the security bus; None when unchecked (no --security-bus, no stack)."""
        if self.security_bus is None or self.instance is None:
            return None
        return self.forwarding is None

    def problems(self) -> list[str]:
        problems = []
        if self.expected and not self.deployed:
            problems.append(f"stack {self.deployment}")
        if self.forwarding:
            problems.append(self.forwarding)
        if self.chain is not None:
            problems += self.chain.problems()
        for outcome in ALARMING:
            if (self.outcomes or {}).get(outcome):
                problems.append(f"{self.outcomes[outcome]} {outcome}")  # type: ignore[index]
        return problems

    def answer(self) -> dict[str, Any]:
        instance = self.instance
        return {
            "account": self.account,
            "name": self.name,
            "region": self.region,
            "deployed": self.deployed,
            "status": instance.status if instance else None,
            "detailedStatus": instance.detailed_status if instance else None,
            "statusReason": instance.reason if instance else None,
            **self.parameters,
            "forwardsToSecurityBus": self.forwards_to_security_bus,
            **(self.chain.answer() if self.chain else {"coverage": None, "canary": None, "posture": None}),
            "outcomes": self.outcomes,
            "problems": self.problems(),
        }


def forwarding_problem(value: str | None, region: str, security_bus: str | None) -> str | None:
    """What is wrong with a stack in `region` forwarding to `value` (its SecurityBusArn: "" off, None unknown) when
    every stack must forward to `security_bus` (None: not checked, only what can never deliver is named)."""
    if not value:
        if security_bus is None:
            return None
        if value == "":
            return "forwards no results (SecurityBusArn empty), not to the security bus"
        return "SecurityBusArn unknown (no value, no template default): its forwarding cannot be checked"
    bus = EVENT_BUS_ARN.match(value)
    if bus is None:
        return f"SecurityBusArn {value!r} is not an event bus ARN: its results reach no bus"
    if bus["partition"] != partition_of(region):
        return f"forwards to {value}, in another partition than {region}: EventBridge cannot deliver there"
    wanted = EVENT_BUS_ARN.match(security_bus) if security_bus else None
    if wanted is None or value == security_bus:
        return None
    parts = (("partition", "partition"), ("Region", "region"), ("account", "account"), ("name", "name"))
    other = ", ".join(word for word, part in parts if bus[part] != wanted[part])
    return f"forwards to {value} (another {other}), not to the security bus"


def build_rows(
    accounts: Sequence[Account],
    stack_set: StackSet,
    instances: Sequence[StackInstance],
    outcomes: Outcomes | None,
    management: str | None = None,
    security_bus: str | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> list[Row]:
    """Every active account x targeted Region, and every other (account, Region) with an instance or a result.
    `management`: the Organization's management account, not expected to have a service-managed StackSet's stack.
    `security_bus`: the bus every stack must forward its results to (None: not checked). `window`: the results'
    (start, end), against which a silent coverage check or canary is judged."""
    by_place = {(i.account, i.region): i for i in instances}
    names = {account.id: account.name for account in accounts}
    skipped = management if stack_set.permission_model == "SERVICE_MANAGED" else None
    active = [account.id for account in accounts if account.active and account.id != skipped]
    regions = sorted(set(stack_set.regions) | {i.region for i in instances})
    expected = {(account, region) for account in active for region in regions}
    shown = {(skipped, region) for region in regions} if skipped in names else set()
    reported = set(outcomes.counts) | {place[:2] for place in outcomes.chain.latest} if outcomes else set()
    places = expected | shown | set(by_place) | reported
    rows = []
    for account, region in sorted(places, key=lambda place: (names.get(place[0], "~"), place)):
        instance = by_place.get((account, region))
        parameters = effective_parameters(stack_set, instance)
        rows.append(
            Row(
                account=account,
                name=names.get(account, "(not in the Organization)"),
                region=region,
                instance=instance,
                parameters=parameters,
                outcomes=outcomes.of(account, region) if outcomes else None,
                expected=(account, region) in expected,
                management=account == skipped,
                security_bus=security_bus,
                chain=chain_row(outcomes, account, region, instance, parameters, window),
            )
        )
    return rows


def chain_row(
    outcomes: Outcomes | None,
    account: str,
    region: str,
    instance: StackInstance | None,
    parameters: Mapping[str, str | None],
    window: tuple[datetime, datetime] | None,
) -> ChainRow | None:
    """The row's coverage and canary, when the results were read. No stack there: nothing is expected to run."""
    if outcomes is None or window is None:
        return None
    start, end = window
    if instance is None:
        schedules = Schedules(coverage=None, canary=None, canary_slo_seconds=None, mode=None, forwards=False)
    else:
        schedules = Schedules(
            coverage=parameters["coverageSchedule"],
            canary=parameters["canarySchedule"],
            canary_slo_seconds=parameters["canarySloSeconds"],
            mode=parameters["mode"],
            forwards=bool(parameters["securityBus"]) and not row_forwarding_broken(parameters, region),
        )
    chain = outcomes.chain
    return ChainRow(
        chain.of(account, region, "coverage"),
        chain.of(account, region, "canary"),
        schedules,
        end,
        end - start,
        chain.of(account, region, "posture"),
    )


def row_forwarding_broken(parameters: Mapping[str, str | None], region: str) -> bool:
    """Its SecurityBusArn can never deliver (no bus ARN, another partition): its silence proves nothing new."""
    return forwarding_problem(parameters["securityBus"], region, None) is not None


def effective_parameters(stack_set: StackSet, instance: StackInstance | None) -> dict[str, str | None]:
    """What the stack in that account and Region runs with: the instance's override, else the StackSet's value,
    else the template's default (None: not known). No instance: nothing runs there."""
    if instance is None:
        return dict.fromkeys(PARAMETERS)
    values = {**stack_set.defaults, **stack_set.parameters, **instance.overrides}
    return {field_name: values.get(parameter) for field_name, parameter in PARAMETERS.items()}


@dataclass(frozen=True)
class Status:
    stack_set: str
    rows: Sequence[Row]
    regions: Sequence[str]
    hours: int
    log_group: str | None
    start: datetime
    end: datetime
    unreadable: int = 0
    disputed: int = 0
    security_bus: str | None = None  # --security-bus: where every stack must forward

    @property
    def problems(self) -> list[str]:
        nowhere = [] if self.regions else [f"StackSet {self.stack_set} has no stack instance: it is deployed nowhere"]
        return nowhere + [f"{row.account} {row.region}: {problem}" for row in self.rows for problem in row.problems()]

    @property
    def exit_code(self) -> int:
        return EXIT_ATTENTION if self.problems else EXIT_OK

    def answer(self) -> dict[str, Any]:
        window = None
        if self.log_group:
            window = {
                "logGroup": self.log_group,
                "hours": self.hours,
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "unreadable": self.unreadable,
                "disputed": self.disputed,
            }
        return {
            "stackSet": self.stack_set,
            "regions": list(self.regions),
            "securityBus": self.security_bus,
            "results": window,
            "posture": self.posture,
            "rows": [row.answer() for row in self.rows],
            "problems": self.problems,
            "exitCode": self.exit_code,
        }

    @property
    def posture(self) -> dict[str, Any] | None:
        """The Organization's number: every account and Region's latest posture added up (None: none in the window)."""
        return organization_posture(row.chain.posture for row in self.rows if row.chain)

    def table(self) -> str:
        lines = [*aligned([HEADER, *(cells(row) for row in self.rows)]), ""]
        posture = self.posture
        if posture:
            share = posture["percentDsseUnderKey"]
            lines.append(
                f"posture: {share['bytes']:g} % of bytes and {share['objects']:g} % of objects DSSE-KMS under the key "
                f"across {posture['measured']} account x Region(s), from their latest posture in the window"
            )
        active = {row.account for row in self.rows if row.expected}
        if self.log_group:
            unreadable = f"; {self.unreadable} unreadable event(s)" if self.unreadable else ""
            if self.disputed:
                unreadable += f"; {self.disputed} alert(s) naming another account than their sender (counted by sender)"
            lines.append(f"outcomes: the last {self.hours} h of {self.log_group}{unreadable}")
            lines.append(
                "coverage: covered/in-scope buckets at the latest check; canary: its last tick, with the seconds from "
                "write to DSSE-KMS; silent: nothing for longer than the member's schedule allows; posture: the share "
                "of bytes DSSE-KMS under the key at the latest posture"
            )
        if self.security_bus:
            lines.append(f"forwarding: checked against the security bus {self.security_bus}")
        elif any(row.instance is not None and row.parameters["securityBus"] for row in self.rows):
            lines.append("forwarding: not checked (pass --security-bus, the security stack's ResultsBusArn)")
        problems = self.problems
        if problems:
            lines += [f"needs attention: {problem}" for problem in problems]
            lines.append(f"{len(problems)} problem(s) (exit 1)")
        else:
            window = f"; no failed or unremediable result in the last {self.hours} h" if self.log_group else ""
            bus = "; every stack forwards to the security bus" if self.security_bus else ""
            lines.append(
                f"the stack is deployed in all {len(active)} active account(s) x {len(self.regions)} Region(s)"
                f"{window}{bus} (exit 0)"
            )
        return "\n".join(lines) + "\n"


def cells(row: Row) -> tuple[str, ...]:
    params = row.parameters
    findings = params["securityHubFindings"]
    return (
        row.account,
        row.name,
        row.region,
        row.deployment,
        params["mode"] or "-",
        params["key"] or "-",
        forwarding_cell(row),
        findings or "-",
        row.chain.coverage_cell() if row.chain else "-",
        row.chain.canary_cell() if row.chain else "-",
        row.chain.posture_cell() if row.chain else "-",
        outcome_text(row.outcomes),
    )


def forwarding_cell(row: Row) -> str:
    """SECURITY-BUS: "-" no stack or unknown, "off", "set" (unchecked), "security" (the security bus), "elsewhere"."""
    bus = row.parameters["securityBus"]
    if row.instance is None or bus is None:
        return "-"
    if not bus:
        return "off"
    if row.forwarding:
        return "elsewhere"
    return "set" if row.security_bus is None else "security"


def outcome_text(outcomes: Mapping[str, int] | None) -> str:
    if outcomes is None:
        return "-"
    return ", ".join(f"{outcome} {count}" for outcome, count in outcomes.items()) or "none"


def aligned(rows: Iterable[Sequence[str]]) -> list[str]:
    rows = list(rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def run_org_status(args: argparse.Namespace, console: Console, clock: Clock = utc_now) -> int:
    end = clock()
    start = end - timedelta(hours=args.hours)
    session = open_session(args)
    config = client_config(use_fips=getattr(args, "fips", False))
    region = args.region or session.region_name
    if not region:
        raise UsageError("no AWS Region: pass --region or set AWS_REGION (the StackSet's administration Region)")
    check_fips(args, session, region)  # before the first call: every service without a FIPS endpoint named
    reader = OrganizationReader(
        session.client("organizations", region_name=region, config=config),
        session.client("cloudformation", region_name=region, config=config),
        session.client("logs", region_name=region, config=config),
    )
    stack_set = reader.stack_set(args.stack_set, args.call_as)
    if stack_set is None:
        raise UsageError(
            f"--stack-set {args.stack_set}: no such StackSet in {region} (--call-as {args.call_as}); "
            "a delegated administrator passes --call-as DELEGATED_ADMIN"
        )
    accounts = reader.accounts()
    management = reader.management_account()
    instances = reader.stack_instances(args.stack_set, args.call_as)
    outcomes = None
    if args.results_log_group:
        outcomes = Outcomes()
        try:
            for message in reader.messages(args.results_log_group, start, end):
                outcomes.add(message)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:
                raise UsageError(
                    f"--results-log-group {args.results_log_group}: no such log group in {region}"
                ) from None
            raise
    rows = build_rows(accounts, stack_set, instances, outcomes, management, args.security_bus, (start, end))
    regions = sorted(set(stack_set.regions) | {i.region for i in instances})
    status = Status(
        stack_set.name,
        rows,
        regions,
        args.hours,
        args.results_log_group,
        start,
        end,
        outcomes.unreadable if outcomes else 0,
        outcomes.disputed if outcomes else 0,
        args.security_bus,
    )
    if console.json_mode:
        console.document(status.answer())
    else:
        console.out.write(status.table())
        console.out.flush()
    return status.exit_code
