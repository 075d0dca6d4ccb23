"""Organizations, CloudFormation StackSets and CloudWatch Logs reads for `dsse-remediate org-status`.

What the security account sees of an Organization: its accounts (ListAccounts), where the member StackSet has stack
instances and with which parameters (DescribeStackSet, ListStackInstances, DescribeStackInstance for each instance's
ParameterOverrides, which ListStackInstances does not return), and the results the member stacks forwarded to the
security account's log group (FilterLogEvents). Read-only; every AWS error reaches the caller as AwsFailure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import errors

# DescribeStackInstance calls at once: one per account and Region, well under CloudFormation's request quota.
DESCRIBE_CONCURRENCY = 8


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    state: str  # ACTIVE, SUSPENDED, PENDING_CLOSURE, ...

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"


@dataclass(frozen=True)
class StackInstance:
    account: str
    region: str
    status: str  # CURRENT, OUTDATED, INOPERABLE
    detailed_status: str | None = None  # StackInstanceStatus.DetailedStatus: SUCCEEDED, FAILED, RUNNING, ...
    reason: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StackSet:
    name: str
    parameters: Mapping[str, str]  # the StackSet's parameter values
    defaults: Mapping[str, str]  # the template's parameter defaults (JSON templates; {} for YAML)
    regions: tuple[str, ...] = ()  # the Regions it has instances in, when DescribeStackSet says so
    permission_model: str = "SELF_MANAGED"


class OrganizationReader:
    """The three services' clients, in the account and Region the command runs in."""

    def __init__(self, organizations: Any, cloudformation: Any, logs: Any) -> None:
        self._organizations = organizations
        self._cloudformation = cloudformation
        self._logs = logs

    @errors.translated
    def accounts(self) -> list[Account]:
        """Every account of the Organization. `State` replaces the `Status` that Organizations retires in 2026:
        either is read. https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html"""
        found = []
        for page in self._organizations.get_paginator("list_accounts").paginate():
            for entry in page.get("Accounts", []):
                state = entry.get("State") or entry.get("Status") or "UNKNOWN"
                found.append(Account(entry["Id"], entry.get("Name", ""), state))
        return found

    @errors.translated
    def management_account(self) -> str:
        """The Organization's management account (DescribeOrganization's MasterAccountId)."""
        return str(self._organizations.describe_organization()["Organization"]["MasterAccountId"])

    @errors.translated
    def stack_set(self, name: str, call_as: str) -> StackSet | None:
        """The StackSet (None when there is none of that name)."""
        try:
            answer = self._cloudformation.describe_stack_set(StackSetName=name, CallAs=call_as)["StackSet"]
        except ClientError as exc:
            if errors.code(exc) == "StackSetNotFoundException":
                return None
            raise
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in answer.get("Parameters", [])}
        return StackSet(
            name=answer.get("StackSetName", name),
            parameters=parameters,
            defaults=template_defaults(answer.get("TemplateBody", "")),
            regions=tuple(answer.get("Regions", [])),
            permission_model=answer.get("PermissionModel", "SELF_MANAGED"),
        )

    @errors.translated
    def stack_instances(self, name: str, call_as: str) -> list[StackInstance]:
        """Every stack instance, with its parameter overrides (DescribeStackInstance each, a few at a time)."""
        summaries = [
            summary
            for page in self._cloudformation.get_paginator("list_stack_instances").paginate(
                StackSetName=name, CallAs=call_as
            )
            for summary in page.get("Summaries", [])
        ]

        def describe(summary: Mapping[str, Any]) -> StackInstance:
            instance = self._cloudformation.describe_stack_instance(
                StackSetName=name,
                StackInstanceAccount=summary["Account"],
                StackInstanceRegion=summary["Region"],
                CallAs=call_as,
            )["StackInstance"]
            overrides = {p["ParameterKey"]: p.get("ParameterValue", "") for p in instance.get("ParameterOverrides", [])}
            return StackInstance(
                account=summary["Account"],
                region=summary["Region"],
                status=instance.get("Status", summary.get("Status", "UNKNOWN")),
                detailed_status=instance.get("StackInstanceStatus", {}).get("DetailedStatus"),
                reason=instance.get("StatusReason"),
                overrides=overrides,
            )

        with ThreadPoolExecutor(max_workers=DESCRIBE_CONCURRENCY, thread_name_prefix="describe") as pool:
            return list(pool.map(describe, summaries))

    def messages(self, log_group: str, start: datetime, end: datetime) -> Iterator[str]:
        """The log events' messages between `start` and `end`, page by page (FilterLogEvents). A missing group is an
        AwsFailure whose failure is GONE."""
        window = {"startTime": int(start.timestamp() * 1000), "endTime": int(end.timestamp() * 1000)}
        try:
            for page in self._logs.get_paginator("filter_log_events").paginate(logGroupName=log_group, **window):
                for event in page.get("events", []):
                    yield event.get("message", "")
        except (ClientError, BotoCoreError) as exc:
            raise errors.failure(exc) from exc


def template_defaults(body: str) -> dict[str, str]:
    """The Default of each template parameter that has one; {} for a template that is not JSON (the org template,
    `make org-template`, is JSON; a YAML template's defaults are then simply not shown)."""
    try:
        template = json.loads(body)
    except ValueError:
        return {}
    parameters = template.get("Parameters") if isinstance(template, dict) else None
    if not isinstance(parameters, dict):
        return {}
    return {
        name: str(spec["Default"])
        for name, spec in parameters.items()
        if isinstance(spec, dict) and isinstance(spec.get("Default"), str | int | float | bool)
    }
