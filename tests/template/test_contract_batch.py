"""S3 Batch Operations: the jobs the code creates are ones the template lets it create, and the role they run as
(BatchJobRole) grants exactly what Batch Operations does for them
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html). The jobs are those the
backstop starts in the batch jobs scenarios, created on the s3control double (tests/s3control_double.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from dsse_remediation.cli.session import STACK_OUTPUTS
from dsse_remediation.config import Mode, Settings
from tests.cfn import Resolved
from tests.helpers import ACCOUNT_ID
from tests.template.iam_model import Calls, Need, missing, unneeded
from tests.template.scenarios import (
    ALL_ON,
    JOB_TAG_CONDITION,
    JOBS,
    OBJECT,
    TASK,
    World,
    batch_jobs_scenarios,
    jobs_settings,
)


def job_role_needs(request: Mapping[str, Any], job_id: str, dsse_key: str) -> set[Need]:
    """What Batch Operations does as the job's role to run this CreateJob request
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html): invoke the function,
    generate the manifest (list the source bucket, read its objects, write the manifest) or read the given one, and
    write the completion report; the report bucket is DSSE-KMS under the DSSE key."""
    needs: set[Need] = {("lambda:InvokeFunction", request["Operation"]["LambdaInvoke"]["FunctionArn"])}
    report = request["Report"]
    needs.add(("s3:PutObject", f"{report['Bucket']}/{report['Prefix']}/job-{job_id}/results/part-0.csv"))
    if "ManifestGenerator" in request:
        generator = request["ManifestGenerator"]["S3JobManifestGenerator"]
        output = generator["ManifestOutputLocation"]
        needs.add(("s3:ListBucket", generator["SourceBucket"]))
        needs |= {
            (action, f"{generator['SourceBucket']}/any/key") for action in ("s3:GetObject", "s3:GetObjectVersion")
        }
        needs.add(("s3:PutObject", f"{output['Bucket']}/{output['ManifestPrefix']}/job-{job_id}/manifest.json"))
    else:
        location = request["Manifest"]["Location"]["ObjectArn"]
        needs |= {("s3:GetObject", location), ("s3:GetObjectVersion", location)}
    return needs | {("kms:GenerateDataKey", dsse_key), ("kms:Decrypt", dsse_key)}


@pytest.fixture
def started_jobs(calls: Calls, world: World, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    batch_jobs_scenarios(calls, world, jobs_settings(world, Mode.REMEDIATE), monkeypatch)
    return [params for service, operation, params in calls.requests if operation == "CreateJob"]


def test_every_job_the_code_creates_is_one_the_grants_allow(started_jobs: list[dict[str, Any]], world: World) -> None:
    """CreateJob is granted on "*" to requests that tag the job as this product's, with only BatchJobRole to pass;
    each job invokes a published version of the task function (pinned), which its role may invoke."""
    template = Resolved(world.parameters)
    role = template.value({"Fn::GetAtt": ["BatchJobRole", "Arn"]})
    task = template.value({"Fn::GetAtt": [TASK, "Arn"]})
    (tag,) = [key.split("/", 1)[1] for key in JOB_TAG_CONDITION["Null"]]

    assert len({job["ClientRequestToken"] for job in started_jobs}) >= 2  # the window's jobs and the inventory's
    for job in started_jobs:
        assert tag in [t["Key"] for t in job["Tags"]]
        assert job["RoleArn"] == role
        assert re.fullmatch(rf"{re.escape(task)}:\d+", job["Operation"]["LambdaInvoke"]["FunctionArn"])


def test_the_job_role_grants_exactly_what_the_jobs_need(started_jobs: list[dict[str, Any]], world: World) -> None:
    template = Resolved(world.parameters)
    needs = set().union(*(job_role_needs(job, "job-id", world.dsse_key) for job in started_jobs))
    statements = template.role_statements("BatchJobRole")

    assert {job.get("ManifestGenerator") is None for job in started_jobs} == {True, False}  # both kinds of manifest
    assert missing(needs, statements) == set(), "needed, not granted on that resource"
    assert unneeded(needs, statements, []) == set(), "granted, never needed"


def test_the_job_role_is_for_batch_operations_of_this_account_only() -> None:
    template = Resolved()
    trust = template.value(template.resource("BatchJobRole")["Properties"]["AssumeRolePolicyDocument"])

    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
        }
    ]


def test_the_task_function_holds_the_object_functions_object_rights_and_nothing_else() -> None:
    """Same S3 and KMS statements in every mode and opt-in (so a change to one is made to both), without the
    object function's alert and queue statements: a task publishes and queues nothing. Nor the canary bucket's: the
    canary's writes are the event path's to fix, and a job never runs there (out of scope for the batch path)."""
    for parameters in (ALL_ON, ALL_ON | {"Mode": "alert-only"}, {}):
        template = Resolved(parameters)
        kept = [
            s
            for s in template.function_statements(OBJECT)
            if s["Sid"] not in ("PublishAlerts", "EncryptAlerts", "QueueSweepSteps", "ForwardResults")
            and s["Sid"] not in ("ImportFindings", "ReadFindings", "ResolveFindings")
            and s["Sid"] not in ("ReadWhoReadsAndWritesTheCanaryBucket", "RemediateTheCanaryObjects")
        ]

        assert template.function_statements(TASK) == kept


def test_the_batch_jobs_function_finds_its_jobs_settings_where_the_cli_finds_them() -> None:
    """`backfill --stack` reads the stack's outputs (cli/session.py STACK_OUTPUTS); the function reads the same
    values from its environment, and they make a working job configuration (an alias ARN the adapter pins)."""
    template = Resolved(ALL_ON)
    env = template.function_environment(JOBS)
    outputs = {name: template.value(output["Value"]) for name, output in template.template["Outputs"].items()}

    for output, variable in STACK_OUTPUTS.items():
        assert outputs[output] == env[variable], output
    assert env["BATCH_TASK_FUNCTION"] == template.value({"Fn::GetAtt": [TASK, "Arn"]}) + ":live"
    settings = Settings.from_env(env)
    assert (settings.batch.task_function, settings.batch.job_role_arn, settings.batch.report_bucket) == (
        env["BATCH_TASK_FUNCTION"],
        env["BATCH_JOB_ROLE_ARN"],
        env["REPORT_BUCKET"],
    )
