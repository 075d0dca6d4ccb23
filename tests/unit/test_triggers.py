"""Event parsing: every JSON value gets a request, a reason to ignore it, or an InvalidEvent that says what was
expected. Pure: no fake AWS."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dsse_remediation.exceptions import InvalidEvent
from dsse_remediation.model import SweepStep
from dsse_remediation.sweep import step_message, task_message
from dsse_remediation.triggers import (
    parse_bucket_event,
    parse_key_event,
    parse_object_event,
    sqs_records,
)
from tests.helpers import load_event, sqs_record

PARSERS = {
    "object": (parse_object_event, "put-object-sse-s3.json"),
    "bucket": (parse_bucket_event, "create-bucket.json"),
    "key": (parse_key_event, "kms-disable-key.json"),
}


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("field", ["source", "detail-type", "detail"])
def test_an_eventbridge_event_missing_an_envelope_field_is_invalid_not_a_crash(parser: str, field: str) -> None:
    parse, name = PARSERS[parser]
    event = load_event(name)
    del event[field]

    with pytest.raises(InvalidEvent):
        parse(event)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("field", ["id", "time"])
def test_optional_envelope_fields_may_be_missing(parser: str, field: str) -> None:
    parse, name = PARSERS[parser]
    event = load_event(name)
    del event[field]

    parse(event)  # no exception: id and time only feed attribution and logs


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    "value", [None, 1, "x", [], ["detail"], {"detail-type": 5}, {"detail-type": "x", "detail": []}]
)
def test_any_json_value_is_answered_with_invalid_event(parser: str, value: Any) -> None:
    with pytest.raises(InvalidEvent):
        PARSERS[parser][0](value)


def test_post_object_browser_uploads_are_object_writes() -> None:
    event = load_event("put-object-sse-s3.json")
    event["detail"]["eventName"] = "PostObject"

    [request] = parse_object_event(event).requests

    assert request.trigger.event_name == "PostObject"
    assert request.key == "reports/2026/q3-summary.csv"


def test_the_bucket_owner_is_read_from_the_bucket_entry_of_detail_resources() -> None:
    event = load_event("put-object-sse-s3.json")
    event["detail"]["resources"] = [
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::example-protected-bucket/reports/2026/q3-summary.csv"},
        {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::example-protected-bucket", "accountId": "444455556666"},
    ]

    [request] = parse_object_event(event).requests

    assert request.trigger.bucket_owner == "444455556666"


def test_no_owner_is_claimed_when_the_event_names_none() -> None:
    event = load_event("put-object-sse-s3.json")
    event["detail"]["resources"] = "garbage"

    [request] = parse_object_event(event).requests

    assert request.trigger.bucket_owner is None


ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


@pytest.mark.parametrize(
    ("headers", "set_acl"),
    [
        ({}, False),  # the sample: no ACL sent
        ({"x-amz-grant-read": ALL_USERS}, True),
        ({"x-amz-grant-read-acp": 'id="79a59df900b949e55d96a1e698fbaced"'}, True),
        ({"x-amz-grant-write-acp": 'id="79a59df900b949e55d96a1e698fbaced"'}, True),
        ({"x-amz-grant-full-control": 'id="79a59df900b949e55d96a1e698fbaced"'}, True),
        ({"x-amz-acl": "public-read"}, True),
        ({"x-amz-acl": "private"}, True),  # refused too while ACLs are disabled: only bucket-owner-full-control is not
        ({"X-Amz-Acl": ["authenticated-read"]}, True),  # names read case-insensitively, values as logged lists too
        ({"ObjectCannedACL": "PublicRead"}, True),  # the spelling of the S3 guide's Outposts example
        ({"x-amz-acl": "bucket-owner-full-control"}, False),  # accepted with ACLs disabled: proves nothing
        ({"ObjectCannedACL": "BucketOwnerFullControl"}, False),
        ({"x-amz-acl": "bucket-owner-full-control", "x-amz-grant-read": ALL_USERS}, True),
        ({"x-amz-acl": ""}, False),
        ({"x-amz-acl": None}, False),
    ],
)
def test_a_cloudtrail_write_says_whether_it_set_an_acl_that_needs_acls_enabled(
    headers: dict[str, Any], set_acl: bool
) -> None:
    event = load_event("put-object-sse-s3.json")
    event["detail"]["requestParameters"] |= headers

    [request] = parse_object_event(event).requests

    assert request.write_set_acl is set_acl


@pytest.mark.parametrize(
    "event",
    [
        {"bucket": "example-protected-bucket", "key": "reports/2026/q3-summary.csv"},
        load_event("object-created-sse-s3.json"),
        task_message(SweepStep("example-protected-bucket", "20261130T000000Z-abc"), "a.csv"),
    ],
    ids=["manual", "s3-notification", "sweep"],
)
def test_requests_without_the_writes_request_headers_never_claim_an_acl(event: Any) -> None:
    """Only CloudTrail logs the write's request: a manual payload, S3's own notification and a sweep's task cannot
    say whether an ACL was set, and leave the cached Object Ownership fact to its TTL (as Batch Operations tasks do)."""
    [request] = parse_object_event(event).requests

    assert request.write_set_acl is False


def test_s3_object_restore_completed_events_are_parsed_like_object_created() -> None:
    event = load_event("object-created-sse-s3.json")
    event["detail-type"] = "Object Restore Completed"
    event["detail"].pop("reason", None)

    [request] = parse_object_event(event).requests

    assert request.keys == ("inbox/Q3 report+final 100%.txt", "inbox/Q3+report%2Bfinal+100%25.txt")
    assert (request.trigger.source, request.trigger.event_name) == ("s3-notification", "Object Restore Completed")


class TestSweepMessages:
    STEP = SweepStep("example-protected-bucket", "20261130T000000Z-abc", "token-2", 1000)

    def test_a_step_message_reads_back_as_the_step(self) -> None:
        assert parse_object_event(step_message(self.STEP)).steps == (self.STEP,)

    def test_an_object_task_is_an_event_driven_request(self) -> None:
        [request] = parse_object_event(task_message(self.STEP, "a b.csv")).requests

        assert (request.bucket, request.keys) == ("example-protected-bucket", ("a b.csv",))
        assert request.trigger.source == "sweep"
        assert not request.trigger.manual

    @pytest.mark.parametrize(
        "message",
        [
            {"sweep": []},
            {"sweep": {"bucket": "b"}},
            {"sweep": {"id": "x", "bucket": 3}},
            {"sweep": {"id": "x", "bucket": "b", "key": 1}},
            {"sweep": {"id": "x", "bucket": "b", "queued": -1}},
            {"sweep": {"id": "x", "bucket": "b", "queued": True}},
            {"sweep": {"id": "x", "bucket": "b", "continuationToken": 5}},
            {"sweep": {"id": "x", "bucket": "b"}, "key": "smuggled"},
        ],
    )
    def test_malformed_sweep_messages_are_invalid(self, message: Any) -> None:
        with pytest.raises(InvalidEvent):
            parse_object_event(message)


class TestManualPayloads:
    def test_key_guard_manual_payload_must_name_a_key_arn(self) -> None:
        with pytest.raises(InvalidEvent, match="must be a KMS key ARN"):
            parse_key_event({"keyArn": "alias/dsse"})

    @pytest.mark.parametrize(
        "key_arn",
        [
            "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111\n",
            "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-11111111111é",
            "arn:aws:kms:us-east-1:١٢٣٤٥٦٧٨٩٠١٢:key/1111aaaa-11aa-11aa-11aa-111111111111",
        ],
    )
    def test_key_guard_manual_key_arn_is_checked_whole_and_ascii_only(self, key_arn: str) -> None:
        with pytest.raises(InvalidEvent, match="must be a KMS key ARN"):
            parse_key_event({"keyArn": key_arn})

    @pytest.mark.parametrize("dry_run", [1, "true", None])
    def test_dry_run_must_be_a_boolean(self, dry_run: Any) -> None:
        with pytest.raises(InvalidEvent, match="'dryRun' must be a bool"):
            parse_object_event({"bucket": "b", "key": "k", "dryRun": dry_run})


class TestSqsBatches:
    @staticmethod
    def record(n: int, **fields: Any) -> dict[str, Any]:
        return sqs_record("{}", f"m{n}") | fields

    def test_records_sqs_could_not_have_sent_are_left_out(self) -> None:
        good = [self.record(0), self.record(2)]
        event = {"Records": [good[0], {"eventSource": "aws:sqs"}, "junk", good[1], self.record(3, body=None)]}

        assert sqs_records(event) == {"Records": good}

    @pytest.mark.parametrize(
        "event",
        [{"Records": []}, {"Records": "x"}, {"Records": [{"eventSource": "aws:s3"}]}, {"Records": [5]}, [], None],
    )
    def test_anything_else_is_not_an_sqs_batch(self, event: Any) -> None:
        assert sqs_records(event) is None


def test_parsing_never_changes_the_event() -> None:
    event = load_event("put-object-sse-s3.json")
    before = copy.deepcopy(event)

    parse_object_event(event)

    assert event == before
