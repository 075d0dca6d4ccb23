"""An alert-only deployment can write nothing, neither by its permissions nor by its calls: with Mode=alert-only and
every opt-in on, the template grants no write (but for the batch jobs function's documented exception: dry-run jobs
and its own report bucket), and the code, run through the same scenarios with Settings(mode=alert-only), makes no
write call. Reports (an alert, an event on the account's default bus, a finding in its own Security Hub) are what such
a deployment is for, and stay allowed."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from dsse_remediation.config import Mode
from tests.cfn import Resolved
from tests.helpers import REGION
from tests.template.iam_model import Calls, Need, allow, as_list, granted, missing
from tests.template.scenarios import (
    ALL_ON,
    CANARY,
    DEFAULT_BUS,
    FINDINGS_PRODUCT,
    FUNCTIONS,
    HUB,
    JOBS,
    SCENARIOS,
    SECURITY_BUS,
    World,
    scenario_settings,
)

# Reports, not writes: an alert's event on the account's own default bus (which the forwarding rule takes to the
# security account) and a finding in the account's own Security Hub. Like publishing an alert, they change no
# customer data and are what an alert-only deployment is for; they stay allowed in that mode. An event on any other
# bus is a write (the functions may put events on no other).
REPORTS = {
    ("events:PutEvents", DEFAULT_BUS),
    ("securityhub:BatchImportFindings", FINDINGS_PRODUCT),
    ("securityhub:BatchUpdateFindings", HUB),  # resolving this stack's own finding
    # The Config rule's evaluations, into the account's own AWS Config (what audit programs read): a report too.
    ("config:PutEvaluations", "*"),
}
# The canary writes (its own objects, in its own bucket) to prove the remediation: an alert-only deployment has none.
ALERT_ONLY_FUNCTIONS = [function for function in FUNCTIONS if function != CANARY]


def writes(needs: Iterable[Need], topic_key: str) -> set[Need]:
    """Actions that change something: S3/KMS/EventBridge Put*/Delete*/Abort*/Enable*/Cancel*/Create* (a Batch
    Operations job among them), queueing work, and generating data keys (an encrypted write) with any key but the
    alert topic's (publishing an alert is allowed), except the REPORTS."""
    verbs = ("Put", "Delete", "Abort", "Enable", "Cancel", "Create")
    return {
        (action, resource)
        for action, resource in needs
        if (action, resource) not in REPORTS
        and (
            action.split(":")[1].startswith(verbs)
            or action == "sqs:SendMessage"
            or (action == "kms:GenerateDataKey" and resource != topic_key)
        )
    }


def glue_resources(template: Resolved) -> list[str]:
    """The posture's Glue database with its tables, and the catalog they are in (CreateTable is authorized on each)."""
    database = template.value({"Ref": "PostureDatabase"})
    glue = f"arn:aws:glue:{REGION}:{template.pseudo['AWS::AccountId']}"
    return [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*"]


def alert_only_exception(function: str, template: Resolved) -> set[Need]:
    """The writes an alert-only deployment keeps, all in the batch jobs function: starting Batch Operations jobs
    (dry runs: the code asks for them, and the task function they invoke holds no write), and writing into the
    stack's own report bucket (manifests, the backstop's record, the posture's documents) under its DSSE key, through
    S3 only. No protected bucket is written."""
    if function != JOBS:
        return set()
    bucket = template.value({"Fn::GetAtt": ["ReportBucket", "Arn"]})
    jobs = template.value({"Fn::Sub": "arn:${AWS::Partition}:s3:${AWS::Region}:${AWS::AccountId}:job/*"})
    return {
        ("s3:CreateJob", "*"),
        ("s3:PutJobTagging", jobs),  # the campaign tag of the jobs it creates
        ("s3:PutObject", f"{bucket}/manifests/*"),
        ("s3:AbortMultipartUpload", f"{bucket}/manifests/*"),
        ("s3:PutObject", f"{bucket}/backstop/*"),
        ("s3:PutObject", f"{bucket}/posture/*"),  # the posture's documents: a measurement, in the stack's own bucket
        # Athena's query results (the posture's large reports), in the same bucket, and the stack's own Glue
        # database's tables over the inventory reports: metadata of the stack's own, no customer data changed.
        ("s3:PutObject", f"{bucket}/athena/*"),
        ("s3:AbortMultipartUpload", f"{bucket}/athena/*"),
        *(("glue:CreateTable", arn) for arn in glue_resources(template)),
        ("kms:GenerateDataKey", template.parameters["DsseKmsKeyArn"]),
    }


def test_alert_only_deployments_have_no_canary() -> None:
    template = Resolved(ALL_ON | {"Mode": "alert-only"})

    assert [name for name in template.template["Resources"] if "Canary" in name and template.exists(name)] == []


@pytest.mark.parametrize("function", ALERT_ONLY_FUNCTIONS)
def test_alert_only_deployments_cannot_write(function: str) -> None:
    """Every opt-in on, KeyGuardRevert included: Mode=alert-only still grants no write, but for the batch jobs
    function's documented exception (dry-run jobs, its own report bucket)."""
    template = Resolved(ALL_ON | {"Mode": "alert-only"})
    topic_key = template.value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]})
    statements = template.function_statements(function)

    assert writes(granted(statements), topic_key) == alert_only_exception(function, template)
    for statement in statements:  # the exception's KMS use is through S3 only
        generates = "kms:GenerateDataKey" in as_list(statement["Action"])
        if function == JOBS and generates and statement["Resource"] != topic_key:
            assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


@pytest.mark.parametrize("function", ALERT_ONLY_FUNCTIONS)
def test_alert_only_code_makes_no_write_call(
    function: str, calls: Calls, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scenarios with Settings(mode=alert-only, every opt-in on): the code itself checks the mode. The
    batch jobs function's jobs are all dry runs."""
    SCENARIOS[function](calls, world, scenario_settings(function, world, Mode.ALERT_ONLY), monkeypatch)
    allowed = alert_only_exception(function, Resolved(world.parameters))

    assert {need for need in writes(calls.needs, calls.topic_key) if missing([need], allow(allowed))} == set()
    assert calls.needs, "the scenarios made no call at all"
    jobs = [params for service, operation, params in calls.requests if operation == "CreateJob"]
    assert all(job["Operation"]["LambdaInvoke"]["UserArguments"]["dryRun"] == "true" for job in jobs)
    assert bool(jobs) is (function == JOBS)


def test_alert_only_job_role_writes_only_into_the_report_bucket() -> None:
    template = Resolved(ALL_ON | {"Mode": "alert-only"})
    topic_key = template.value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]})
    bucket = template.value({"Fn::GetAtt": ["ReportBucket", "Arn"]})

    assert writes(granted(template.role_statements("BatchJobRole")), topic_key) == {
        ("s3:PutObject", f"{bucket}/reports/*"),
        ("s3:PutObject", f"{bucket}/manifests/*"),
        ("kms:GenerateDataKey", template.parameters["DsseKmsKeyArn"]),
    }


def test_the_write_check_sees_writes() -> None:
    topic_key = "arn:aws:kms:us-east-1:123456789012:AlertTopicKey"
    found = {
        ("s3:PutObject", "arn:aws:s3:::b/k"),
        ("kms:EnableKey", "arn:aws:kms:us-east-1:123456789012:key/k"),
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q"),
        ("kms:GenerateDataKey", "arn:aws:kms:us-east-1:123456789012:key/k"),
        ("s3:CreateJob", "*"),
        ("events:PutEvents", SECURITY_BUS),  # any bus but the account's default one
    }
    reads = {
        ("s3:GetObject", "arn:aws:s3:::b/k"),
        ("kms:GenerateDataKey", topic_key),
        ("sns:Publish", "t"),
        ("s3:DescribeJob", "arn:aws:s3:us-east-1:123456789012:job/j"),
        *REPORTS,
    }

    assert writes(found | reads, topic_key) == found
