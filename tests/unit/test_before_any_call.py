"""What is answered before any AWS call: requests no bucket or object can match, buckets outside the scope, failed
calls and malformed payloads. The remediators and handlers are built offline (tests/unit/conftest.py): their clients
record every S3, KMS and SQS call and send none (an alert is answered as published), so `calls.calls == []` is what the
real path does too."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.model import BucketRequest, ObjectRequest, Outcome
from dsse_remediation.scope import Scope
from tests.helpers import CallLog, Wiring, invoke, load_event

BUCKET = "example-protected-bucket"


class TestObjectRequests:
    def test_directory_bucket_costs_no_call(self, offline: Wiring, calls: CallLog) -> None:
        result = offline.app().objects.handle(ObjectRequest("fast-data--use1-az4--x-s3", ("a.txt",)))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "directory bucket" in result.reason
        assert calls.calls == []

    @pytest.mark.parametrize(
        ("bucket_name", "key", "message"),
        [
            ("ab", "a", "not a valid S3 bucket name"),
            (BUCKET, "", "key is empty"),
            (BUCKET, "k" * 1025, "at most 1,024 bytes"),
            (BUCKET, "é" * 513, "at most 1,024 bytes"),
        ],
    )
    def test_invalid_request_is_refused_before_any_call(
        self, offline: Wiring, calls: CallLog, bucket_name: str, key: str, message: str
    ) -> None:
        with pytest.raises(InvalidRequest, match=message):
            offline.app().objects.handle(ObjectRequest(bucket_name, (key,)))
        assert calls.calls == []

    @pytest.mark.parametrize("name", ["ab", "has space", "x" * 256, "slash/y"])
    def test_names_no_s3_bucket_can_have_are_still_refused(self, offline: Wiring, name: str) -> None:
        """Legacy bucket names (uppercase, '_', up to 255 characters) are buckets; these never were."""
        with pytest.raises(InvalidRequest, match="not a valid S3 bucket name"):
            offline.app().objects.handle(ObjectRequest(name, ("k",)))

    @pytest.mark.parametrize(
        ("keys", "version", "message"),
        [
            (("\ud800",), None, "not valid UTF-8"),
            (("a\udfffb",), None, "lone surrogate"),
            (("k",), "\ud800", "versionId"),
            (("k" * 1025, "k" * 1026), None, "at most 1,024 bytes"),
        ],
    )
    def test_keys_no_object_can_have_are_refused_before_any_call(
        self, offline: Wiring, calls: CallLog, keys: tuple[str, ...], version: str | None, message: str
    ) -> None:
        with pytest.raises(InvalidRequest, match=message):
            offline.app().objects.handle(ObjectRequest(BUCKET, keys, version_id=version))
        assert calls.calls == []


def test_out_of_scope_and_directory_buckets(offline: Wiring, calls: CallLog) -> None:
    remediator = offline.app(scope=Scope(include=("*",), exclude=("scratch-*",))).buckets

    assert remediator.handle(BucketRequest("scratch-space")).outcome is Outcome.OUT_OF_SCOPE
    assert remediator.handle(BucketRequest("fast--use1-az4--x-s3")).outcome is Outcome.UNREMEDIABLE
    assert calls.calls == []


class TestHandlers:
    """The handlers' answers to what they ignore or refuse (cold start included: the clients are made, not used)."""

    def test_object_handler_ignores_a_failed_call(self, offline_handler: Callable[[str], ModuleType]) -> None:
        handler = offline_handler("object_remediation")

        answer = invoke(handler, load_event("put-object-failed-access-denied.json"))

        assert answer["results"] == []
        assert "AccessDenied" in answer["ignored"]

    def test_bucket_handler_ignores_a_failed_call_and_refuses_a_malformed_payload(
        self, offline_handler: Callable[[str], ModuleType]
    ) -> None:
        function: Any = offline_handler("bucket_remediation")

        assert "AccessDenied" in invoke(function, load_event("put-bucket-encryption-failed.json"))["ignored"]
        answer = invoke(function, load_event("manual-bucket-malformed.json"))
        assert answer["results"] == []
        assert "unknown field(s) ['dryrun']" in answer["error"]["message"]

    def test_key_guard_refuses_a_malformed_payload(self, offline_handler: Callable[[str], ModuleType]) -> None:
        function = offline_handler("key_guard")

        answer = invoke(function, {"key": "alias/x"})

        assert "unknown field(s) ['key']" in answer["error"]["message"]
