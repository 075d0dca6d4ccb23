"""The template and the code agree on the environment: every variable the code reads is set by the template (or
knowingly left to its default), every variable the template sets is read, and each function builds from it what the
others expect of it (the keys of BucketKeyMap, a sweep on both of its sides or neither)."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.config import Settings
from dsse_remediation.wiring import App
from tests.cfn import Resolved
from tests.template.scenarios import (
    ALL_ON,
    BUCKET,
    CANARY,
    CANARY_BUCKET,
    CATEGORY,
    CONFIG,
    FUNCTIONS,
    JOBS,
    KEY,
    OBJECT,
    PLACEHOLDER_CATEGORY_KEY,
    TASK,
)

# Variables every function reads through Settings but the template leaves to their defaults, and why.
DEFAULTED = {
    "ENCRYPTION_CONTEXT": "optional; none by default",
    "MULTIPART_PART_SIZE_BYTES": "512 MiB, raised automatically to stay within 10,000 parts",
    "COPY_CONCURRENCY": "8 part copies at a time per object",
    "SWEEP_MAX_OBJECTS": "1,000 objects per sweep; larger buckets are for the bulk backfill",
    "AWS_REGION": "set by the Lambda runtime",
    "AWS_DEFAULT_REGION": "set by the Lambda runtime",
    "BATCH_JOB_PRIORITY": "10 for every backstop job; the CLI's backfill --priority sets one backfill's",
    "BACKSTOP_LOOKBACK_HOURS": "25: a bucket's first backstop window, a day and an hour of overlap",
    "BACKSTOP_LISTING_LIMIT": "10,000 keys listed per bucket to see a recent write; larger buckets want S3 Inventory",
}
# Variables the template sets for the AWS SDK itself, read by botocore for every client whether or not the code reads
# them too: AWS_USE_FIPS_ENDPOINT is the SDK's FIPS switch (use_fips_endpoint,
# https://docs.aws.amazon.com/sdkref/latest/guide/feature-endpoints.html), from UseFipsEndpoints.
READ_BY_THE_SDK = {"AWS_USE_FIPS_ENDPOINT"}
# The batch jobs function's variables: where jobs run, what they invoke, where they report; the scheduled posture's
# sample and the Athena workgroup and Glue database it queries large reports with.
POSTURE = {"POSTURE_SAMPLE_SIZE", "POSTURE_ATHENA_WORKGROUP", "POSTURE_GLUE_DATABASE"}
BATCH = {"BATCH_TASK_FUNCTION", "BATCH_JOB_ROLE_ARN", "REPORT_BUCKET", "BACKSTOP_INCLUDE_DSSE_OTHER_KEYS", *POSTURE}
# The canary's: its bucket (the object function's too: in its scope, and routine there) and its SLO.
CANARY_VARIABLES = {"CANARY_BUCKET", "CANARY_SLO_SECONDS"}
# Variables a function reads but does not use; the template sets them only where they matter.
UNUSED_BY = {
    OBJECT: {"PREVENTION_POLICY", "KEY_GUARD_REVERT", "CANARY_SLO_SECONDS", *BATCH},
    BUCKET: {
        "PURGE_NONCURRENT_VERSIONS",
        "KEY_GUARD_REVERT",
        "MULTIPART_THRESHOLD_BYTES",  # the bucket function no longer copies objects: a sweep only queues them
        "REMEDIATE_RESTORED_ARCHIVES",
        *BATCH,
        *CANARY_VARIABLES,
    },
    # Its results are about keys: no Security Hub finding (findings are about objects and buckets).
    KEY: {
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "SWEEP_AFTER_BUCKET_RESET",
        "PURGE_NONCURRENT_VERSIONS",
        "MULTIPART_THRESHOLD_BYTES",
        "OBJECT_QUEUE_URL",
        "REMEDIATE_RESTORED_ARCHIVES",
        *BATCH,
        *CANARY_VARIABLES,
    },
    # The object remediation without its alerts (a job's summary alert says it all, and is the one forwarded), without
    # sweeps, and without findings (template.yaml: a backfill would meet the BatchImportFindings quota).
    TASK: {
        "FORWARD_RESULTS",
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "KEY_GUARD_REVERT",
        "SWEEP_AFTER_BUCKET_RESET",
        "OBJECT_QUEUE_URL",
        "ALERT_TOPIC_ARN",
        *BATCH,
        *CANARY_VARIABLES,
    },
    # It starts and reads jobs; the objects are the task function's.
    JOBS: {
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "KEY_GUARD_REVERT",
        "SWEEP_AFTER_BUCKET_RESET",
        "OBJECT_QUEUE_URL",
        "PURGE_NONCURRENT_VERSIONS",
        "MULTIPART_THRESHOLD_BYTES",
        "REMEDIATE_RESTORED_ARCHIVES",
        *CANARY_VARIABLES,
    },
    # It reads bucket defaults and the latest posture, and answers AWS Config: no remediation, no alert, no job.
    CONFIG: {
        "ALERT_TOPIC_ARN",
        "FORWARD_RESULTS",
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "KEY_GUARD_REVERT",
        "SWEEP_AFTER_BUCKET_RESET",
        "OBJECT_QUEUE_URL",
        "PURGE_NONCURRENT_VERSIONS",
        "MULTIPART_THRESHOLD_BYTES",
        "REMEDIATE_RESTORED_ARCHIVES",
        *(BATCH - {"REPORT_BUCKET"}),
        *CANARY_VARIABLES,
    },
    # It judges and writes its own objects: no remediation, no sweep, no job, no finding.
    CANARY: {
        "SECURITY_HUB_FINDINGS",
        "PREVENTION_POLICY",
        "KEY_GUARD_REVERT",
        "SWEEP_AFTER_BUCKET_RESET",
        "OBJECT_QUEUE_URL",
        "PURGE_NONCURRENT_VERSIONS",
        "MULTIPART_THRESHOLD_BYTES",
        "REMEDIATE_RESTORED_ARCHIVES",
        *BATCH,
    },
}


class Recording(dict[str, str]):
    """An environment that remembers which variables were read."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_variable_read_is_set_by_the_template_and_every_variable_set_is_read(function: str) -> None:
    env = Recording(Resolved(ALL_ON).function_environment(function))

    Settings.from_env(env)

    ours = {name for name in env if not name.startswith("POWERTOOLS_")}
    assert ours <= env.read | READ_BY_THE_SDK, f"set but never read: {ours - env.read - READ_BY_THE_SDK}"
    assert env.read - ours <= set(DEFAULTED) | UNUSED_BY[function], f"read, never set: {env.read - ours}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_reads_the_bucket_key_map_the_template_sets(function: str) -> None:
    """Each function must know every key: the object function picks one, the bucket function checks it, the key
    guard watches it."""
    settings = Settings.from_env(Resolved(ALL_ON).function_environment(function))

    assert settings.bucket_keys == ((CATEGORY, PLACEHOLDER_CATEGORY_KEY),)


@pytest.mark.parametrize("sweep", ["true", "false"])
def test_a_sweep_is_wired_in_both_functions_that_run_it_or_in_neither(sweep: str) -> None:
    """The bucket function starts a sweep, the object function runs its steps: each builds its sweeper from the
    variables the template sets, so both have one or neither has (a step nobody runs would be dropped)."""
    template = Resolved(ALL_ON | {"SweepAfterBucketReset": sweep})
    object_side = App.from_env(template.function_environment(OBJECT)).sweeper
    bucket_side = App.from_env(template.function_environment(BUCKET)).sweeper

    assert (object_side is not None, bucket_side is not None) == ((sweep == "true"),) * 2


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_canary_bucket_is_in_the_object_paths_scope_and_no_other(function: str) -> None:
    """The object function must fix the canary's writes whatever ProtectedBuckets names; every other path leaves
    the bucket alone (the bucket function would reset its SSE-S3 default and the canary would prove nothing). The
    canary function reads its bucket too, and never judges a scope."""
    for protected in ("*", "finance-*"):
        template = Resolved(ALL_ON | {"ProtectedBuckets": protected})
        scope = Settings.from_env(template.function_environment(function)).scope

        assert scope.contains(CANARY_BUCKET) is (function in (OBJECT, CANARY)), (function, protected)
        assert scope.contains("finance-ledger")
        assert not scope.contains(template.value({"Ref": "ReportBucket"}))


def test_without_the_canary_the_object_paths_scope_is_the_parameters() -> None:
    template = Resolved({"ProtectedBuckets": "finance-*"})

    assert Settings.from_env(template.function_environment(OBJECT)).scope.include == ("finance-*",)


def test_the_canary_and_the_object_function_agree_on_the_bucket() -> None:
    template = Resolved(ALL_ON)
    canary = Settings.from_env(template.function_environment(CANARY)).canary
    objects = Settings.from_env(template.function_environment(OBJECT)).canary

    assert canary.bucket == objects.bucket == CANARY_BUCKET
    assert canary.slo_seconds == 300
