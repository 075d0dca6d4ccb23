"""Event routing, with the patterns read from template.yaml and moto's EventBridge pattern matcher.

Every EventBridge sample in events/ reaches exactly the function it is meant for; compliant writes, the remediation's
own copies, failed calls and events about other keys reach none; out-of-scope buckets reach none where the pattern
can tell.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests import aws_fidelity
from tests.cfn import OBJECT, Resolved, routes
from tests.conftest import EVENTS

BUCKET, KEY = "BucketRemediationFunction", "KeyGuardFunction"
DSSE_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"  # the template's key here

ROUTES: dict[str, str | None] = {
    "put-object-sse-s3.json": OBJECT,
    "put-object-sse-kms-other-key.json": OBJECT,
    "put-object-dsse-other-key.json": OBJECT,
    "put-object-dsse-right-key.json": None,  # compliant: dropped by the pre-filter
    "copy-object-dsse-right-key.json": None,  # the remediation's own copy: no loop, no invocation
    "complete-multipart-upload-sse-s3.json": OBJECT,
    "put-object-failed-access-denied.json": None,  # errorCode: nothing was written
    "put-object-versioned-sse-s3.json": OBJECT,
    "put-object-key-with-special-characters.json": OBJECT,
    "put-object-out-of-scope-bucket.json": OBJECT,  # the default scope is every bucket
    "object-created-sse-s3.json": None,  # S3's own notifications are not routed: the stack uses CloudTrail
    "create-bucket.json": BUCKET,
    "create-bucket-out-of-scope.json": BUCKET,
    "put-bucket-encryption-sse-kms.json": BUCKET,
    "put-bucket-encryption-two-rules.json": BUCKET,
    "put-bucket-encryption-dsse-right-key.json": BUCKET,  # checked with one read: no pre-filter on this path
    "delete-bucket-encryption.json": BUCKET,
    "put-bucket-encryption-failed.json": None,
    "kms-disable-key.json": KEY,
    "kms-schedule-key-deletion.json": KEY,
    "kms-put-key-policy.json": KEY,
    "kms-disable-key-rotation.json": KEY,
    "kms-delete-imported-key-material.json": KEY,
    "kms-update-alias.json": None,  # configured by key ARN: alias changes cannot move it
    "kms-delete-alias.json": None,
    "kms-disable-key-unrelated.json": None,  # another key
}


@pytest.fixture(autouse=True)
def _event_ruler_arrays() -> Iterator[None]:
    with aws_fidelity.applied():
        yield


def reached(found: Mapping[str, list[EventPattern]], event: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, patterns in found.items() if any(p.matches_event(dict(event)) for p in patterns))


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def test_every_eventbridge_sample_has_an_expected_route() -> None:
    samples = {p.name for p in EVENTS.glob("*.json") if "detail-type" in sample(p.name)}
    assert samples == set(ROUTES)


@pytest.mark.parametrize(("name", "expected"), ROUTES.items())
def test_each_sample_reaches_exactly_its_function(name: str, expected: str | None) -> None:
    assert reached(routes(Resolved()), sample(name)) == ([expected] if expected else [])


class TestObjectPreFilter:
    """The pattern drops what is already compliant, whatever fields the event carries."""

    @pytest.fixture
    def object_patterns(self) -> list[EventPattern]:
        return routes(Resolved())[OBJECT]

    def _write(self, response: Any) -> dict[str, Any]:
        event = sample("put-object-sse-s3.json")
        event["detail"]["responseElements"] = response
        return event

    @pytest.mark.parametrize(
        ("response", "invokes"),
        [
            pytest.param(
                {
                    "x-amz-server-side-encryption": "aws:kms:dsse",
                    "x-amz-server-side-encryption-aws-kms-key-id": DSSE_KEY,
                },
                False,
                id="dsse-right-key",
            ),
            pytest.param({"x-amz-server-side-encryption": "aws:kms:dsse"}, True, id="dsse-no-key-reported"),
            pytest.param(
                {"x-amz-server-side-encryption-aws-kms-key-id": DSSE_KEY},
                True,
                id="right-key-no-algorithm",
            ),
            pytest.param({"x-amz-server-side-encryption": "AES256"}, True, id="sse-s3"),
            pytest.param({}, True, id="no-encryption-reported"),
            pytest.param(None, True, id="responseElements-null"),
        ],
    )
    def test_compliant_writes_are_dropped_and_everything_else_delivered(
        self, object_patterns: list[EventPattern], response: Any, invokes: bool
    ) -> None:
        event = self._write(response)
        if response == {}:
            del event["detail"]["responseElements"]

        assert any(p.matches_event(event) for p in object_patterns) is invokes


@pytest.mark.parametrize(
    ("protected", "excluded", "bucket", "invokes"),
    [
        ("*", "", "example-protected-bucket", True),
        ("*", "example-excluded-*", "example-excluded-bucket", False),
        ("*", "example-excluded-*,tmp-*", "example-protected-bucket", True),
        ("example-protected-*,finance-*", "", "example-protected-bucket", True),
        ("example-protected-*,finance-*", "", "finance-ledger", True),
        ("example-protected-*,finance-*", "", "example-excluded-bucket", False),
        ("example-protected-bucket", "", "example-protected-bucket", True),
        ("example-protected-bucket", "", "example-protected-bucket-2", False),
    ],
)
def test_scope_is_applied_in_the_pattern(protected: str, excluded: str, bucket: str, invokes: bool) -> None:
    template = Resolved(
        {
            "DsseKmsKeyArn": DSSE_KEY,
            "ProtectedBuckets": protected,
            "ExcludedBuckets": excluded,
        }
    )
    event = sample("put-object-sse-s3.json")
    event["detail"]["requestParameters"]["bucketName"] = bucket

    assert (OBJECT in reached(routes(template), event)) is invokes
