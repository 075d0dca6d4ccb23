"""The template grants each function exactly what its code's AWS calls need, on the resource each call names: every
path of each function runs on fake AWS (tests/template/scenarios.py), its calls are mapped to IAM actions and
resources (tests/template/iam_model.py, after the Service Authorization Reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html and the KMS, SNS, SQS pages),
and the function's statements must cover them all and grant nothing else. Resources are only what the parameters and
the stack name; "*" only for the few actions that have no resource type."""

from __future__ import annotations

import pytest

from dsse_remediation.aws.events import DETAIL_TYPE, SOURCE
from dsse_remediation.config import Mode
from dsse_remediation.wiring import App
from tests.cfn import Resolved
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_OTHER_KEY, REGION
from tests.template.iam_model import Calls, as_list, iam_match, inert, missing, s3_arn, unneeded
from tests.template.scenarios import (
    ALL_ON,
    BUCKET,
    CANARY,
    CANARY_BUCKET,
    CONFIG,
    DEFAULT_BUS,
    FINDINGS_PRODUCT,
    FUNCTIONS,
    HUB,
    JOB_TAG_CONDITION,
    JOBS,
    OBJECT,
    SCENARIOS,
    TASK,
    World,
    canary_write,
    map_patterns,
    scenario_settings,
)

# Actions with no resource type (Service Authorization Reference, Amazon S3): granted on "*", by the batch jobs
# function only. CreateJob is held to requests that tag the job as this product's; what a job may do is bounded by
# the one role the function may pass (BatchJobRole). ListAllMyBuckets only names the account's buckets, ListJobs the
# account's jobs (how the jobs of one backfill run find each other). DescribeTrails (CloudTrail, no resource type
# either) only names the trails that log here: the coverage check's first read.
ON_EVERY_RESOURCE = {"s3:CreateJob", "s3:ListAllMyBuckets", "s3:ListJobs", "cloudtrail:DescribeTrails"}
# The AWS Config rule's: its periodic evaluation names every bucket (ListAllMyBuckets), and PutEvaluations (no
# resource type) writes only the evaluations of the rule whose result token the invocation carries.
CONFIG_ON_EVERY_RESOURCE = {"s3:ListAllMyBuckets", "config:PutEvaluations"}
# The reader-safety gate's reads without a resource type (Service Authorization Reference): every function that
# writes asks the gate, so each may hold this one statement on "*".
GATE_ON_EVERY_RESOURCE = {"s3:GetAccountPublicAccessBlock", "organizations:DescribeOrganization"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_iam_grants_exactly_what_the_calls_need(
    function: str, calls: Calls, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    SCENARIOS[function](calls, world, scenario_settings(function, world, Mode.REMEDIATE), monkeypatch)
    statements = Resolved(world.parameters).function_statements(function)

    assert missing(calls.needs, statements) == set(), "needed, not granted on that resource"
    assert unneeded(calls.needs, statements, map_patterns(world.parameters)) == set(), "granted, never needed"
    # The events:PutEvents grant holds to the product's source and detail-type (its condition): every event the code
    # puts carries them, on the default bus (no EventBusName). The task function puts none: it sends no alert.
    entries = [e for service, operation, p in calls.requests if operation == "PutEvents" for e in p["Entries"]]
    assert {(e["Source"], e["DetailType"], e.get("EventBusName")) for e in entries} <= {(SOURCE, DETAIL_TYPE, None)}
    assert bool(entries) is (function not in (TASK, CONFIG))  # nor the Config rule: it answers Config


def test_a_grant_on_the_wrong_resource_does_not_count() -> None:
    """The comparison is by resource, not only by action: kms:Decrypt on the source keys held by the object function
    does not let the bucket function read an SSE-KMS object (what the sweep's old in-function copy needed)."""
    source_key = PLACEHOLDER_OTHER_KEY
    template = Resolved(ALL_ON)
    needs = {("kms:Decrypt", source_key)}

    dsse_key = template.value({"Ref": "DsseKmsKeyArn"})

    assert missing(needs, template.function_statements(OBJECT)) == set()
    assert missing(needs, template.function_statements(BUCKET)) == needs
    assert missing(needs, [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": dsse_key}]) == needs
    assert missing(needs, [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": source_key}]) == needs


def test_iam_wildcards_match_as_iam_does() -> None:
    assert iam_match("arn:aws:s3:::*/*", "arn:aws:s3:::bucket/a/b.csv")
    assert iam_match("arn:aws:s3:::logs-?", "arn:aws:s3:::logs-1")
    assert not iam_match("arn:aws:s3:::logs-?", "arn:aws:s3:::logs-12")
    assert not iam_match("arn:aws:s3:::secrets-*", "arn:aws:s3:::Secrets-a")  # case-sensitive
    assert not iam_match("arn:aws:s3:::secrets-*", "arn:aws:kms:us-east-1:123456789012:key/x")


def named_resources(template: Resolved) -> set[str]:
    """ARNs the parameters and the stack name: the keys, the topic and its key, the queue."""
    p = template.parameters
    keys = [p["DsseKmsKeyArn"], *p["SourceKmsKeyArns"], *(e.split("=", 1)[1] for e in p["BucketKeyMap"] if e)]
    stack = [
        template.value({"Ref": "AlertTopic"}),
        template.value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]}),
        template.value({"Fn::GetAtt": ["ObjectEventsQueue", "Arn"]}),
        # S3 Batch Operations: the stack's jobs, task function, job role, report bucket and its prefixes
        f"arn:aws:s3:{REGION}:{ACCOUNT_ID}:job/*",
        template.value({"Fn::GetAtt": [TASK, "Arn"]}),
        template.value({"Fn::GetAtt": ["BatchJobRole", "Arn"]}),
        # the coverage check: this account's trails, in any Region (a multi-Region trail's home may be elsewhere)
        f"arn:aws:cloudtrail:*:{ACCOUNT_ID}:trail/*",
        *report_bucket_resources(template),
        *canary_bucket_resources(template),
        # the posture's Athena workgroup, and its Glue database with its tables (in this account's catalog)
        *posture_athena_resources(template),
        # Organizations: the default bus (the functions' events), the account's own findings product and hub, and
        # the security account's bus (the forwarding rule's role only)
        DEFAULT_BUS,
        FINDINGS_PRODUCT,
        HUB,
    ]
    inventories = [s3_arn(bucket) for bucket in p["InventoryBuckets"] if bucket]
    return set(keys) | set(stack) | set(inventories) | {f"{bucket}/*" for bucket in inventories}


# The coverage check reads the Organization trails of this account's Organization (homed in the management account).
ORGANIZATION_TRAILS = "arn:aws:cloudtrail:*:*:trail/*"
TRAIL_READS = {"cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"}


def canary_bucket_resources(template: Resolved) -> list[str]:
    """The canary bucket and its prefix (CanarySchedule): nothing else of it."""
    bucket = template.value({"Fn::GetAtt": ["CanaryBucket", "Arn"]})
    return [bucket, f"{bucket}/canary/*"]


def posture_athena_resources(template: Resolved) -> list[str]:
    workgroup, database = template.value({"Ref": "PostureWorkGroup"}), template.value({"Ref": "PostureDatabase"})
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}"
    return [
        f"arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/{workgroup}",
        f"{glue}:catalog",
        f"{glue}:database/{database}",
        f"{glue}:table/{database}/*",
    ]


def report_bucket_resources(template: Resolved) -> list[str]:
    bucket = template.value({"Fn::GetAtt": ["ReportBucket", "Arn"]})
    prefixes = ("reports", "manifests", "backstop", "posture", "athena")
    return [bucket, *(f"{bucket}/{prefix}/*" for prefix in prefixes), f"{bucket}/posture/latest.json"]


@pytest.mark.parametrize("protected", ["*", "finance-*,example-protected-bucket"])
def test_no_wildcard_actions_and_resources_only_what_parameters_name(protected: str) -> None:
    template = Resolved(ALL_ON | {"ProtectedBuckets": protected})
    buckets = [s3_arn(p) for p in template.parameters["ProtectedBuckets"]]
    for function in FUNCTIONS:
        for statement in template.function_statements(function):
            where = (function, statement["Sid"])
            assert statement["Effect"] == "Allow", where
            assert not [a for a in as_list(statement["Action"]) if "*" in a], where
            for resource in as_list(statement["Resource"]):
                if resource == "*" and set(as_list(statement["Action"])) == GATE_ON_EVERY_RESOURCE:
                    continue
                if resource == "*" and function == CONFIG:
                    assert set(as_list(statement["Action"])) < CONFIG_ON_EVERY_RESOURCE, where
                    continue
                if resource == "*":
                    assert function == JOBS, where
                    assert len(as_list(statement["Action"])) == 1, where
                    assert set(as_list(statement["Action"])) <= ON_EVERY_RESOURCE, where
                    if statement["Action"] == "s3:CreateJob":
                        assert statement["Condition"] == JOB_TAG_CONDITION, where
                    continue
                if resource == ORGANIZATION_TRAILS:  # another account's trail: read-only, this Organization's only
                    assert set(as_list(statement["Action"])) == TRAIL_READS, where
                    assert statement["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}}
                    continue
                if resource in named_resources(template) or inert(statement, resource, map_patterns(ALL_ON)):
                    continue
                # Otherwise only the ProtectedBuckets patterns (or their objects), in this account's buckets.
                assert resource in buckets or resource in [f"{b}/*" for b in buckets], (where, resource)
                assert all(a.startswith("s3:") for a in as_list(statement["Action"])), where
                assert statement["Condition"] == {"StringEquals": {"s3:ResourceAccount": ACCOUNT_ID}}, where


class TestCanary:
    """The canary's permissions are its prefix's; the object function's grants on the canary bucket are enough to
    remediate the canary's write whatever ProtectedBuckets names (the bucket's generated name matches no pattern)."""

    def test_the_canary_may_touch_its_prefix_and_nothing_else_of_s3(self) -> None:
        template = Resolved(ALL_ON)
        bucket, prefix = canary_bucket_resources(template)
        s3 = [s for s in template.function_statements(CANARY) if any(a.startswith("s3:") for a in as_list(s["Action"]))]

        assert {(a, r) for s in s3 for a in as_list(s["Action"]) for r in as_list(s["Resource"])} == {
            ("s3:ListBucket", bucket),
            ("s3:PutObject", prefix),
            ("s3:GetObject", prefix),
            ("s3:DeleteObject", prefix),
        }
        (listing,) = [s for s in s3 if s["Action"] == "s3:ListBucket"]
        assert listing["Condition"] == {"StringEquals": {"s3:prefix": "canary/"}}  # its prefix's listing only
        topic_key = template.value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]})
        kms = [
            s["Resource"] for s in template.function_statements(CANARY) if as_list(s["Action"])[0].startswith("kms:")
        ]
        assert kms == [topic_key]  # the alert topic's key only: no DSSE key, its write is SSE-S3

    def test_with_named_buckets_the_object_function_still_remediates_the_canarys_write(
        self, calls: Calls, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        canary_write(App(world.settings(Mode.REMEDIATE), calls.client).objects)
        named = Resolved(world.parameters | {"ProtectedBuckets": "finance-*,example-protected-bucket"})
        [canary_needs] = [{n for n in calls.needs if CANARY_BUCKET in n[1]}]

        assert canary_needs, "the canary's write was not remediated"
        assert missing(calls.needs, named.function_statements(OBJECT)) == set()

    def test_off_by_default_and_in_alert_only_mode(self) -> None:
        for parameters in ({}, {"CanarySchedule": "rate(15 minutes)", "Mode": "alert-only"}):
            template = Resolved(parameters)
            statements = template.function_statements(OBJECT)

            assert not template.exists(CANARY)
            assert not [s for s in statements if "Canary" in s["Sid"]]
