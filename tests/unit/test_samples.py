"""Every sample in events/ parses, without AWS, to what its handler acts on: requests, a reason to ignore it, or an
InvalidEvent that says what is wrong. The handler tests on fake AWS take it from there (what each request ends as)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from dsse_remediation.batch.events import (
    BackstopRequest,
    CoverageRequest,
    JobStatusChange,
    PostureRequest,
    SummaryRequest,
    parse_batch_jobs_event,
)
from dsse_remediation.batch.tasks import parse_batch_invocation
from dsse_remediation.canary import parse_canary_event
from dsse_remediation.config_rule import parse_config_event
from dsse_remediation.exceptions import InvalidEvent
from dsse_remediation.model import BucketRequest, KeyEvent, ObjectRequest, Parsed, Source, Trigger
from dsse_remediation.triggers import parse_bucket_event, parse_key_event, parse_object_event, sqs_records
from tests.helpers import EVENTS, PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY, load_event

PARSERS: dict[str, Callable[[Any], Parsed[Any]]] = {
    "object": parse_object_event,
    "bucket": parse_bucket_event,
    "key": parse_key_event,
}
BUCKET, VERSIONED, EXCLUDED = "example-protected-bucket", "example-versioned-bucket", "example-excluded-bucket"
ACCOUNT, PARTNER = "123456789012", "444455556666"
ALIAS_ARN = "arn:aws:kms:us-east-1:123456789012:alias/dsse-data"
Q3 = "reports/2026/q3-summary.csv"


def cloudtrail_write(bucket: str, key: str, event: str = "PutObject", owner: str = ACCOUNT) -> tuple[Any, ...]:
    """A CloudTrail object write: the key as logged, then decoded (identical unless it holds '+' or '%')."""
    return ("object", bucket, (key, key), None, False, "cloudtrail", event, owner)


def bucket_change(bucket: str, event: str) -> tuple[Any, ...]:
    return ("bucket", bucket, False, "cloudtrail", event, ACCOUNT)


def key_change(event: str, *arns: str, alias: str | None = None) -> tuple[Any, ...]:
    return ("key", arns, event, alias, False, "cloudtrail")


# Sample -> (the handler it is for, what its parser makes of it): the summary of each request (`summary` below),
# `ignored` and its reason, or `error` and words of the InvalidEvent message.
SAMPLES: dict[str, tuple[str, list[tuple[Any, ...]] | tuple[str, str]]] = {
    "put-object-sse-s3.json": ("object", [cloudtrail_write(BUCKET, Q3)]),
    "post-object-sse-s3.json": (
        "object",
        [cloudtrail_write(BUCKET, "inbox/receipts/2026-11-20-receipt-4471.pdf", "PostObject")],
    ),
    "put-object-sse-kms-other-key.json": ("object", [cloudtrail_write(BUCKET, "exports/customers.parquet")]),
    "put-object-dsse-other-key.json": ("object", [cloudtrail_write(BUCKET, "reports/2026/q4-plan.csv")]),
    "put-object-dsse-right-key.json": ("object", [cloudtrail_write(BUCKET, "reports/2026/q4-plan.csv")]),
    "copy-object-dsse-right-key.json": ("object", [cloudtrail_write(BUCKET, Q3, "CopyObject")]),
    "complete-multipart-upload-sse-s3.json": (
        "object",
        [cloudtrail_write(BUCKET, "backups/db-2026-11-20.tar.gz", "CompleteMultipartUpload")],
    ),
    "put-object-failed-access-denied.json": (
        "object",
        ("ignored", "PutObject failed (AccessDenied): nothing was written"),
    ),
    "put-object-versioned-sse-s3.json": ("object", [cloudtrail_write(VERSIONED, "ledger/2026-11.json")]),
    "put-object-key-with-special-characters.json": (
        "object",
        [
            (
                "object",
                BUCKET,
                ("inbox/Q3 report+final 100%/Ünïcødé 文件.txt", "inbox/Q3 report final 100%/Ünïcødé 文件.txt"),
                None,
                False,
                "cloudtrail",
                "PutObject",
                ACCOUNT,
            )
        ],
    ),
    "put-object-out-of-scope-bucket.json": ("object", [cloudtrail_write(EXCLUDED, "tmp/scratch.txt")]),
    "put-object-other-account-bucket.json": (
        "object",
        [cloudtrail_write("example-partner-bucket", "deliveries/2026-11-20/orders.csv", owner=PARTNER)],
    ),
    "object-created-sse-s3.json": (
        "object",
        [
            (
                "object",
                BUCKET,
                ("inbox/Q3 report+final 100%.txt", "inbox/Q3+report%2Bfinal+100%25.txt"),  # decoded first
                None,
                False,
                "s3-notification",
                "PutObject",  # detail.reason
                None,
            )
        ],
    ),
    "object-restore-completed.json": (
        "object",
        [
            (
                "object",
                BUCKET,
                ("archive/2019/Q4 ledger final.csv", "archive/2019/Q4+ledger+final.csv"),
                None,
                False,
                "s3-notification",
                "Object Restore Completed",
                None,
            )
        ],
    ),
    "manual-object.json": ("object", [("object", BUCKET, (Q3,), None, False, "manual", None, None)]),
    "manual-object-dry-run.json": ("object", [("object", BUCKET, (Q3,), None, True, "manual", None, None)]),
    "manual-object-version.json": (
        "object",
        [
            (
                "object",
                VERSIONED,
                ("ledger/2026-11.json",),
                "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
                True,
                "manual",
                None,
                None,
            )
        ],
    ),
    "manual-object-malformed.json": ("object", ("error", "field 'bucket' must be a bare bucket name")),
    "sqs-batch-object-events.json": ("object", ("error", "S3 event notifications (Records) are not accepted")),
    "create-bucket.json": ("bucket", [bucket_change(BUCKET, "CreateBucket")]),
    "create-bucket-out-of-scope.json": ("bucket", [bucket_change(EXCLUDED, "CreateBucket")]),
    "put-bucket-encryption-sse-kms.json": ("bucket", [bucket_change(BUCKET, "PutBucketEncryption")]),
    "put-bucket-encryption-two-rules.json": ("bucket", [bucket_change(BUCKET, "PutBucketEncryption")]),
    "put-bucket-encryption-dsse-right-key.json": ("bucket", [bucket_change(BUCKET, "PutBucketEncryption")]),
    "delete-bucket-encryption.json": ("bucket", [bucket_change(BUCKET, "DeleteBucketEncryption")]),
    # the reader-safety gate's watch: a change that can make converting the bucket break its readers or writers
    "put-bucket-website-on-a-dsse-bucket.json": ("bucket", [bucket_change(BUCKET, "PutBucketWebsite")]),
    # server access logs delivered into the target bucket: the target is the bucket whose writers change
    "put-bucket-logging-naming-a-target.json": ("bucket", [bucket_change(BUCKET, "PutBucketLogging")]),
    "put-bucket-encryption-failed.json": (
        "bucket",
        ("ignored", "PutBucketEncryption failed (AccessDenied): nothing changed"),
    ),
    "manual-bucket.json": ("bucket", [("bucket", BUCKET, False, "manual", None, None)]),
    "manual-bucket-dry-run.json": ("bucket", [("bucket", BUCKET, True, "manual", None, None)]),
    "manual-bucket-malformed.json": ("bucket", ("error", "unknown field(s) ['dryrun']")),
    "kms-disable-key.json": ("key", [key_change("DisableKey", PLACEHOLDER_KEY)]),
    "kms-schedule-key-deletion.json": ("key", [key_change("ScheduleKeyDeletion", PLACEHOLDER_KEY)]),
    "kms-disable-key-rotation.json": ("key", [key_change("DisableKeyRotation", PLACEHOLDER_KEY)]),
    "kms-put-key-policy.json": ("key", [key_change("PutKeyPolicy", PLACEHOLDER_KEY)]),
    "kms-delete-imported-key-material.json": ("key", [key_change("DeleteImportedKeyMaterial", PLACEHOLDER_KEY)]),
    "kms-update-alias.json": (
        "key",
        [key_change("UpdateAlias", ALIAS_ARN, PLACEHOLDER_OTHER_KEY, alias="alias/dsse-data")],
    ),
    "kms-delete-alias.json": ("key", [key_change("DeleteAlias", ALIAS_ARN, PLACEHOLDER_KEY, alias="alias/dsse-data")]),
    "kms-disable-key-unrelated.json": ("key", [key_change("DisableKey", PLACEHOLDER_OTHER_KEY)]),
    "manual-key.json": ("key", [("key", (PLACEHOLDER_KEY,), None, None, False, "manual")]),
}


JOB_ID = "9c1d5e0b-fd60-4b6e-9ae7-c9ab5a41b3e6"
# The Batch Operations samples: the task function's invocations (bucket, URL-encoded key, dry run, campaign) and the
# batch jobs function's requests.
BATCH_TASK_SAMPLES = {
    "batch-task.json": (
        BUCKET,
        "inbox/Q3+report%2Bfinal+100%25/%C3%9Cn%C3%AFc%C3%B8d%C3%A9+%E6%96%87%E4%BB%B6.txt",
        False,
        "backfill-2026-11",
    ),
    "batch-task-dry-run.json": (BUCKET, Q3, True, "backstop-2026-11-20"),
}
BATCH_JOBS_SAMPLES: dict[str, Any] = {
    "batch-job-status-complete.json": (JobStatusChange, JOB_ID, "Complete"),
    "batch-job-status-active.json": (JobStatusChange, JOB_ID, "Active"),
    "backstop-scheduled.json": BackstopRequest(dry_run=False),
    "backstop-dry-run.json": BackstopRequest(dry_run=True),
    "posture-scheduled.json": PostureRequest(),
    "manual-batch-job.json": SummaryRequest(job_id=JOB_ID),
    "cloudtrail-stop-logging.json": CoverageRequest(
        trigger=Trigger(
            source=Source.CLOUDTRAIL,
            event_name="StopLogging",
            event_id="7a9c1e3b-5d2f-4b8a-9c6e-1f3a5b7d9e2c",
            event_time="2026-11-20T10:02:11Z",
            actor="arn:aws:iam::123456789012:user/alice",
            source_ip="203.0.113.7",
        ),
        trail="arn:aws:cloudtrail:us-east-1:123456789012:trail/data-events",
    ),
}
CANARY_SAMPLES = ("canary-scheduled.json",)  # the canary schedule's payload: one tick
# AWS Config rule invocations -> (the bucket evaluated, None for every bucket; deleted; TestMode)
CONFIG_RULE_SAMPLES: dict[str, tuple[str | None, bool, bool]] = {
    "config-rule-bucket-changed.json": (BUCKET, False, False),
    "config-rule-bucket-deleted.json": (BUCKET, True, False),
    "config-rule-periodic.json": (None, False, False),
    "manual-config-rule-test-mode.json": (None, False, True),
}


def summary(request: ObjectRequest | BucketRequest | KeyEvent) -> tuple[Any, ...]:
    """What a handler acts on: the resource, the dry run, and where the request came from."""
    trigger = request.trigger
    if isinstance(request, ObjectRequest):
        return (
            "object",
            request.bucket,
            request.keys,
            request.version_id,
            request.dry_run,
            trigger.source.value,
            trigger.event_name,
            trigger.bucket_owner,
        )
    if isinstance(request, BucketRequest):
        return (
            "bucket",
            request.bucket,
            request.dry_run,
            trigger.source.value,
            trigger.event_name,
            trigger.bucket_owner,
        )
    return ("key", request.key_arns, request.event_name, request.alias_name, request.dry_run, trigger.source.value)


def test_every_sample_has_an_expected_parse() -> None:
    expected = set(SAMPLES) | set(BATCH_TASK_SAMPLES) | set(BATCH_JOBS_SAMPLES) | set(CANARY_SAMPLES)
    expected |= set(CONFIG_RULE_SAMPLES)
    assert {path.name for path in EVENTS.glob("*.json")} == expected


@pytest.mark.parametrize("name", CANARY_SAMPLES)
def test_the_canary_sample_is_a_tick_and_nothing_else_takes_it(name: str) -> None:
    parse_canary_event(load_event(name))  # no InvalidEvent
    for parse in PARSERS.values():
        with pytest.raises(InvalidEvent):
            parse(load_event(name))
    with pytest.raises(InvalidEvent):
        parse_batch_jobs_event(load_event(name))


@pytest.mark.parametrize(
    "event",
    [None, [], {}, {"canary": {"dryRun": True}}, {"canary": {}, "extra": 1}, {"backstop": {}}, "canary"],
)
def test_anything_but_a_tick_is_refused_by_the_canary(event: Any) -> None:
    with pytest.raises(InvalidEvent, match=re.escape('expected {"canary": {}}')):
        parse_canary_event(event)


@pytest.mark.parametrize(("name", "expected"), BATCH_TASK_SAMPLES.items(), ids=list(BATCH_TASK_SAMPLES))
def test_each_batch_task_sample_is_one_schema_2_task(name: str, expected: tuple[str, str, bool, str]) -> None:
    invocation = parse_batch_invocation(load_event(name))

    [task] = invocation.tasks
    assert invocation.schema_version == "2.0"
    assert (task.bucket, task.s3_key, invocation.arguments.dry_run, invocation.arguments.campaign) == expected
    assert (task.problem, invocation.arguments_problem) == (None, None)


@pytest.mark.parametrize(("name", "expected"), BATCH_JOBS_SAMPLES.items(), ids=list(BATCH_JOBS_SAMPLES))
def test_each_batch_jobs_sample_parses_to_its_request(name: str, expected: Any) -> None:
    request = parse_batch_jobs_event(load_event(name))

    if isinstance(expected, tuple):
        kind, job_id, status = expected
        assert isinstance(request, kind)
        assert (request.job_id, request.status) == (job_id, status)
    else:
        assert request == expected


@pytest.mark.parametrize("name", [*BATCH_TASK_SAMPLES, *BATCH_JOBS_SAMPLES])
def test_no_remediation_handler_takes_a_batch_sample(name: str) -> None:
    for parse in PARSERS.values():
        with pytest.raises(InvalidEvent):
            parse(load_event(name))


@pytest.mark.parametrize(("name", "expected"), SAMPLES.items(), ids=list(SAMPLES))
def test_each_sample_parses_to_what_its_handler_acts_on(
    name: str, expected: tuple[str, list[tuple[Any, ...]] | tuple[str, str]]
) -> None:
    handler, found = expected
    parse = PARSERS[handler]

    if isinstance(found, list):
        parsed = parse(load_event(name))
        assert ([summary(request) for request in parsed.requests], parsed.ignored) == (found, None)
    elif found[0] == "ignored":
        parsed = parse(load_event(name))
        assert (parsed.requests, parsed.ignored) == ((), found[1])
    else:
        with pytest.raises(InvalidEvent, match=f"^{re.escape(found[1])}"):
            parse(load_event(name))


@pytest.mark.parametrize("name", [name for name, (_, found) in SAMPLES.items() if not isinstance(found, tuple)])
def test_no_other_handler_takes_a_sample_for_it(name: str) -> None:
    handler, _ = SAMPLES[name]

    for other, parse in PARSERS.items():
        if other != handler:
            with pytest.raises(InvalidEvent):
                parse(load_event(name))


def test_a_malformed_manual_object_payload_reads_as_a_bucket_name_the_bucket_path_refuses() -> None:
    """{"bucket": "s3://..."} has the bucket payload's shape: the bucket path refuses the name (InvalidRequest,
    tests/unit/test_before_any_call.py), not the parser."""
    [request] = parse_bucket_event(load_event("manual-object-malformed.json")).requests

    assert request.bucket == "s3://example-protected-bucket/reports/2026/q3-summary.csv"


def test_each_record_of_the_sqs_batch_sample_is_an_object_write() -> None:
    batch = sqs_records(load_event("sqs-batch-object-events.json"))

    assert batch is not None
    parsed = [parse_object_event(json.loads(record["body"])) for record in batch["Records"]]
    assert [[summary(r) for r in p.requests] for p in parsed] == [
        [cloudtrail_write(BUCKET, Q3)],
        [cloudtrail_write(BUCKET, "exports/customers.parquet")],
    ]


@pytest.mark.parametrize(
    "name", [name for name, (_, found) in SAMPLES.items() if isinstance(found, list) and "manual" not in found[0]]
)
def test_event_driven_samples_carry_the_attribution_alerts_show(name: str) -> None:
    handler, _ = SAMPLES[name]

    [request] = PARSERS[handler](load_event(name)).requests

    trigger = request.trigger
    assert not trigger.manual
    assert trigger.event_id
    assert trigger.event_time
    assert trigger.actor


def test_failed_kms_calls_are_ignored() -> None:
    event = load_event("kms-schedule-key-deletion.json")
    event["detail"]["errorCode"] = "KMSInvalidStateException"

    parsed = parse_key_event(event)

    assert parsed.requests == ()
    assert parsed.ignored == "ScheduleKeyDeletion failed (KMSInvalidStateException): nothing changed"


@pytest.mark.parametrize(("name", "expected"), CONFIG_RULE_SAMPLES.items())
def test_the_config_rule_samples_name_the_bucket_and_nothing_else_takes_them(
    name: str, expected: tuple[str | None, bool, bool]
) -> None:
    request = parse_config_event(load_event(name))

    assert (request.bucket, request.gone, request.test_mode) == expected
    assert request.result_token
    for parse in PARSERS.values():
        with pytest.raises(InvalidEvent):
            parse(load_event(name))
