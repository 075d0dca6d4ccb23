"""Injected faults (issue 8, "Reliability suite"): what AWS can answer, and what the handlers must make of it.

Each fault goes through the real object handler twice: as an SQS batch (one record, the template's BatchSize) and as a
manual call. For every fault:
- the object keeps its bytes, metadata, content headers and tags (`Snapshot.kept()`), and no multipart upload is left;
- an event-driven delivery whose object ends `failed` is retried: the handler raises (Powertools' BatchProcessingError
  returns a whole batch to the queue, HandlerFailed an EventBridge invocation) or reports the record in
  batchItemFailures; one that ends `unremediable` reaches a human: its alert is in the inbox;
- a manual call is answered with the outcome, and the alert is in the inbox.

Faults are injected per HTTP attempt (tests.reliability.harness.Faults, at botocore's `before-send`), so botocore's
standard retry mode retries them as it would real ones; its backoff delay is set to zero, so nothing sleeps.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from dsse_remediation.aws import clients
from dsse_remediation.reporting import HandlerFailed
from tests.helpers import REGION, Inbox, key_ids, load_event, put, snapshot, sqs_batch, sqs_record
from tests.lambda_context import LambdaContext
from tests.reliability.harness import Faults, load_handlers, part_number

MIB = 1024 * 1024
KEY = "reports/2026/q3-summary.csv"  # what events/put-object-sse-s3.json and events/manual-object.json name
PATHS = ("sqs", "manual")


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore still retries every retryable answer, without sleeping in between."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def faults() -> Iterator[Faults]:
    injected = Faults()
    yield injected
    injected.clear()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, dsse_key: str, inbox: Inbox, bucket: str) -> None:
    for name, value in {
        "DSSE_KMS_KEY": dsse_key,
        "ALERT_TOPIC_ARN": inbox.topic_arn,
        "ACCOUNT_ID": "123456789012",
        "EXCLUDED_BUCKETS": "example-excluded-*",
        "MULTIPART_THRESHOLD_BYTES": str(5 * MIB),
        "MULTIPART_PART_SIZE_BYTES": str(5 * MIB),
        "COPY_CONCURRENCY": "1",  # parts in order: part 2 fails after part 1 was copied
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def handler(environment: None) -> ModuleType:
    return load_handlers("object_remediation")["object_remediation"]


@pytest.fixture
def s3_client(handler: ModuleType) -> Any:
    """The S3 client the object handler built at import."""
    return handler.remediator.s3.client


# --- delivering one object event, and reading what became of it ---------------------------------------------------


@dataclass
class Delivery:
    path: str
    answer: dict[str, Any] | None
    raised: Exception | None

    @property
    def retried(self) -> bool:
        """Lambda retries it: the invocation failed, or the record is reported as a batch item failure."""
        if self.raised is not None:
            return True
        failures = (self.answer or {}).get("batchItemFailures", [])
        return {"itemIdentifier": "m-1"} in failures

    @property
    def result(self) -> dict[str, Any]:
        assert self.raised is None, f"a manual call must be answered, not raise: {self.raised!r}"
        assert self.answer is not None
        [result] = self.answer["results"]
        return result


def object_event(key: str = KEY) -> dict[str, Any]:
    event = load_event("put-object-sse-s3.json")
    event["detail"]["requestParameters"]["key"] = key
    return event


def deliver(handler: ModuleType, path: str, bucket: str, key: str = KEY) -> Delivery:
    if path == "sqs":
        event: dict[str, Any] = sqs_batch([sqs_record(json.dumps(object_event(key)), "m-1")])
    else:
        event = {"bucket": bucket, "key": key}
    try:
        answer = handler.lambda_handler(event, LambdaContext())
    except (HandlerFailed, BatchProcessingError) as exc:
        if path != "sqs":
            raise AssertionError(f"a manual call must be answered, not raise: {exc!r}") from exc
        return Delivery(path, None, exc)
    return Delivery(path, json.loads(json.dumps(answer)), None)


def alerts_for(inbox: Inbox, key: str = KEY) -> list[str]:
    return [m["body"]["outcome"] for m in inbox.messages() if m["body"].get("key") == key]


def assert_retried_or_reported(delivery: Delivery, outcome: str, inbox: Inbox, key: str = KEY) -> None:
    """`failed`: retried when event-driven; `unremediable`: alerted. A manual call: answered, and alerted."""
    if delivery.path == "manual":
        assert delivery.result["outcome"] == outcome, delivery.result["reason"]
        assert outcome in alerts_for(inbox, key), f"no {outcome} alert for {key}"
    elif outcome == "failed":
        assert delivery.retried, f"the record is neither failed nor returned to the queue: {delivery.answer}"
    else:
        assert outcome in alerts_for(inbox, key), f"an event-driven {outcome} object with no alert: {delivery}"


def assert_untouched(s3: Any, bucket: str, before: Any, key: str = KEY) -> None:
    after = snapshot(s3, bucket, key)
    assert after.kept() == before.kept()
    assert (after.encryption, after.kms_key_id) == (before.encryption, before.kms_key_id)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def assert_remediated(s3: Any, bucket: str, before: Any, dsse_key: str, key: str = KEY) -> None:
    after = snapshot(s3, bucket, key)
    assert after.kept() == before.kept()
    assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", dsse_key)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# --- S3 answers ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("operation", "code", "status"),
    [
        ("HeadObject", "SlowDown", 503),
        ("HeadObject", "InternalError", 500),
        ("CopyObject", "SlowDown", 503),
        ("CopyObject", "InternalError", 500),
    ],
)
def test_s3_error_on_every_attempt_fails_the_object_for_a_retry_and_keeps_it(
    handler: ModuleType,
    s3: Any,
    s3_client: Any,
    bucket: str,
    inbox: Inbox,
    faults: Faults,
    path: str,
    operation: str,
    code: str,
    status: int,
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.answer(s3_client, operation, code, status)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "failed", inbox)
    assert_untouched(s3, bucket, before)
    assert faults.attempts[operation] > 1, "botocore did not retry a retryable answer"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("operation", "code", "status"), [("HeadObject", "SlowDown", 503), ("CopyObject", "InternalError", 500)]
)
def test_s3_error_that_clears_within_botocores_retries_is_absorbed(
    handler: ModuleType,
    s3: Any,
    s3_client: Any,
    bucket: str,
    dsse_key: str,
    faults: Faults,
    path: str,
    operation: str,
    code: str,
    status: int,
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.answer(s3_client, operation, code, status, times=2)

    delivery = deliver(handler, path, bucket)

    assert not delivery.retried, delivery.answer
    if path == "manual":
        assert delivery.result["outcome"] == "remediated", delivery.result["reason"]
    assert_remediated(s3, bucket, before, dsse_key)
    assert faults.attempts[operation] >= 3, "the answer did not come from botocore's third attempt"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("operation", ["HeadObject", "CopyObject"])
def test_access_denied_is_unremediable_and_alerted(
    handler: ModuleType,
    s3: Any,
    s3_client: Any,
    bucket: str,
    inbox: Inbox,
    faults: Faults,
    path: str,
    operation: str,
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.answer(s3_client, operation, "AccessDenied", 403)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "unremediable", inbox)
    assert_untouched(s3, bucket, before)


@pytest.mark.parametrize("path", PATHS)
def test_no_such_key_from_the_copy_of_an_object_that_still_exists_is_a_failure_not_gone(
    handler: ModuleType, s3: Any, s3_client: Any, bucket: str, inbox: Inbox, faults: Faults, path: str
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.answer(s3_client, "CopyObject", "NoSuchKey", 404)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "failed", inbox)
    assert_untouched(s3, bucket, before)


@pytest.mark.parametrize("path", PATHS)
def test_object_deleted_before_its_copy_is_gone_quietly(
    handler: ModuleType, s3: Any, s3_client: Any, bucket: str, inbox: Inbox, path: str
) -> None:
    put(s3, bucket, KEY)
    deleter = boto3.client("s3", region_name=REGION)

    def delete_first(**_: Any) -> None:
        deleter.delete_object(Bucket=bucket, Key=KEY)

    s3_client.meta.events.register("before-call.s3.CopyObject", delete_first)

    delivery = deliver(handler, path, bucket)

    assert not delivery.retried, delivery.answer
    if path == "manual":
        assert delivery.result["outcome"] == "gone", delivery.result["reason"]
    assert alerts_for(inbox) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("newer_encryption", "expected"), [("AES256", "remediated"), ("aws:kms:dsse", "compliant")])
def test_newer_write_during_the_copy_is_judged_afresh_and_never_overwritten(
    handler: ModuleType,
    s3: Any,
    s3_client: Any,
    bucket: str,
    dsse_key: str,
    path: str,
    newer_encryption: str,
    expected: str,
) -> None:
    """The first CopyObject meets a newer write: S3 answers 412 PreconditionFailed (CopySourceIfMatch)."""
    put(s3, bucket, KEY)
    writer = boto3.client("s3", region_name=REGION)
    newer = {"ServerSideEncryption": newer_encryption}
    if newer_encryption == "aws:kms:dsse":
        newer["SSEKMSKeyId"] = dsse_key
    written: list[bool] = []

    def newer_write(**_: Any) -> None:
        if not written:
            written.append(True)
            put(writer, bucket, KEY, Body=b"the newer bytes\n", Metadata={"version": "newer"}, **newer)

    s3_client.meta.events.register("before-call.s3.CopyObject", newer_write)

    delivery = deliver(handler, path, bucket)

    assert not delivery.retried, delivery.answer
    if path == "manual":
        assert delivery.result["outcome"] == expected, delivery.result["reason"]
    after = snapshot(s3, bucket, KEY)
    assert after.sha256 == hashlib.sha256(b"the newer bytes\n").hexdigest()
    assert after.metadata == {"version": "newer"}
    assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", dsse_key)


@pytest.mark.parametrize("path", PATHS)
def test_precondition_failed_on_every_attempt_is_a_failure_for_a_retry(
    handler: ModuleType, s3: Any, s3_client: Any, bucket: str, inbox: Inbox, faults: Faults, path: str
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.answer(s3_client, "CopyObject", "PreconditionFailed", 412)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "failed", inbox)
    assert_untouched(s3, bucket, before)


@pytest.mark.parametrize("path", PATHS)
def test_invalid_object_state_is_unremediable_and_alerted(
    handler: ModuleType, s3: Any, s3_client: Any, bucket: str, inbox: Inbox, faults: Faults, path: str
) -> None:
    """S3 answers 403 InvalidObjectState when the source is archived (not visible to HeadObject in time)."""
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.answer(s3_client, "CopyObject", "InvalidObjectState", 403)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "unremediable", inbox)
    assert_untouched(s3, bucket, before)


# --- KMS, as S3 relays it, and in the bucket path ------------------------------------------------------------------

# How S3 relays a throttled KMS call (GenerateDataKey for the DSSE copy, Decrypt for an SSE-KMS source) is not written
# in the S3 API reference. S3 relays the KMS failures it documents with a "KMS." prefix (KMS.DisabledException,
# KMS.NotFoundException, tests/aws_fidelity.py 8); SDK code and users report KMS.ThrottlingException,
# ThrottlingException and 503 SlowDown for SSE-KMS requests beyond the KMS quota. Each must end `failed`, and retried.
KMS_THROTTLING_AS_S3_RELAYS_IT = [
    ("KMS.ThrottlingException", 400),
    ("ThrottlingException", 400),
    ("SlowDown", 503),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("code", "status"), KMS_THROTTLING_AS_S3_RELAYS_IT)
def test_kms_throttling_relayed_by_s3_is_a_failure_for_a_retry_not_unremediable(
    handler: ModuleType,
    s3: Any,
    s3_client: Any,
    bucket: str,
    inbox: Inbox,
    faults: Faults,
    path: str,
    code: str,
    status: int,
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    message = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
    faults.answer(s3_client, "CopyObject", code, status, message=message)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "failed", inbox)
    assert_untouched(s3, bucket, before)


@pytest.mark.parametrize("path", PATHS)
def test_disabled_key_is_unremediable_and_alerted(
    handler: ModuleType, s3: Any, kms: Any, bucket: str, dsse_key: str, inbox: Inbox, path: str
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    kms.disable_key(KeyId=dsse_key)  # S3 then relays KMS.DisabledException (tests/aws_fidelity.py, 8)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "unremediable", inbox)
    assert_untouched(s3, bucket, before)


class TestBucketPath:
    @pytest.fixture
    def bucket_handler(self, environment: None) -> ModuleType:
        return load_handlers("bucket_remediation")["bucket_remediation"]

    def default(self, s3: Any, bucket: str) -> Any:
        return s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]

    def test_describe_key_throttled_on_every_attempt_fails_the_event_for_a_retry_not_unremediable(
        self, bucket_handler: ModuleType, s3: Any, bucket: str, dsse_key: str, other_key: str, faults: Faults
    ) -> None:
        before = self.default(s3, bucket)
        faults.answer(clients.kms(REGION), "DescribeKey", "ThrottlingException", 400)

        event = load_event("create-bucket.json", **key_ids(dsse_key, other_key))

        with pytest.raises(HandlerFailed):
            bucket_handler.lambda_handler(event, LambdaContext())

        assert self.default(s3, bucket) == before
        assert faults.attempts["DescribeKey"] > 1, "botocore did not retry the throttled call"

    def test_describe_key_throttled_on_a_manual_call_is_answered_failed_and_alerted(
        self, bucket_handler: ModuleType, s3: Any, bucket: str, inbox: Inbox, faults: Faults
    ) -> None:
        before = self.default(s3, bucket)
        faults.answer(clients.kms(REGION), "DescribeKey", "ThrottlingException", 400)

        answer = bucket_handler.lambda_handler(load_event("manual-bucket.json"), LambdaContext())

        [result] = answer["results"]
        assert result["outcome"] == "failed", result["reason"]
        assert [m["body"]["outcome"] for m in inbox.messages()] == ["failed"]
        assert self.default(s3, bucket) == before


# --- timeouts ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_read_timeout_before_the_copy_reaches_s3_is_a_failure_for_a_retry(
    handler: ModuleType, s3: Any, s3_client: Any, bucket: str, inbox: Inbox, faults: Faults, path: str
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.timeout(s3_client, "CopyObject")

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "failed", inbox)
    assert_untouched(s3, bucket, before)
    assert faults.attempts["CopyObject"] > 1, "botocore did not retry the timeout"


@pytest.mark.parametrize("path", PATHS)
def test_read_timeout_after_s3_applied_the_copy_is_retried_and_the_retry_finds_it_compliant(
    handler: ModuleType,
    s3: Any,
    s3_client: Any,
    bucket: str,
    dsse_key: str,
    inbox: Inbox,
    faults: Faults,
    path: str,
) -> None:
    """S3 carried out every CopyObject, but each answer was lost on the way back: the client saw timeouts only."""
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    faults.timeout(s3_client, "CopyObject", after_sending=True)

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "failed", inbox)
    assert_remediated(s3, bucket, before, dsse_key)
    faults.clear()

    again = deliver(handler, path, bucket)  # the retry

    assert not again.retried, again.answer
    if path == "manual":
        assert again.result["outcome"] == "compliant", again.result["reason"]
    assert_remediated(s3, bucket, before, dsse_key)


# --- alerts that cannot be published -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_unremediable_object_whose_alert_cannot_be_published_fails_the_event_for_a_retry(
    handler: ModuleType, s3: Any, kms: Any, bucket: str, dsse_key: str, faults: Faults, path: str
) -> None:
    put(s3, bucket, KEY)
    before = snapshot(s3, bucket, KEY)
    kms.disable_key(KeyId=dsse_key)  # unremediable: S3 refuses the copy with KMS.DisabledException
    faults.answer(clients.sns(REGION), "Publish", "InternalError", 500)

    delivery = deliver(handler, path, bucket)

    if path == "sqs":
        assert delivery.retried, f"the alert was lost and the record acknowledged: {delivery.answer}"
    else:
        assert delivery.result["outcome"] == "unremediable", delivery.result["reason"]
        assert delivery.result.get("alertError"), f"the caller is not told the alert was lost: {delivery.result}"
    assert_untouched(s3, bucket, before)
    assert faults.attempts["Publish"] > 1, "botocore did not retry the publish"


def test_key_guard_critical_alert_that_cannot_be_published_fails_the_event_for_a_retry(
    environment: None, dsse_key: str, other_key: str, faults: Faults
) -> None:
    guard = load_handlers("key_guard")["key_guard"]
    faults.answer(clients.sns(REGION), "Publish", "InternalError", 500)

    with pytest.raises(HandlerFailed):
        guard.lambda_handler(load_event("kms-disable-key.json", **key_ids(dsse_key, other_key)), LambdaContext())

    assert faults.attempts["Publish"] > 1, "botocore did not retry the publish"


# --- multipart copies ----------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_failure_in_the_middle_of_a_multipart_copy_aborts_the_upload_and_keeps_the_object(
    handler: ModuleType, s3: Any, s3_client: Any, bucket: str, inbox: Inbox, faults: Faults, path: str
) -> None:
    put(s3, bucket, KEY, Body=b"x" * (11 * MIB))  # three 5 MiB parts
    before = snapshot(s3, bucket, KEY)
    faults.answer(s3_client, "UploadPartCopy", "InternalError", 500, when=part_number(2))

    delivery = deliver(handler, path, bucket)

    assert_retried_or_reported(delivery, "failed", inbox)
    assert_untouched(s3, bucket, before)
    assert faults.attempts["UploadPartCopy"] > 2, "part 2 was not retried"


# --- botocore's retries, as configured -----------------------------------------------------------------------------

CLIENTS_MODULE = Path(clients.__file__)


def documented_attempts() -> int:
    """The number of attempts the comment in dsse_remediation/aws/clients.py promises ("<n> attempts in all")."""
    found = re.search(r"(\d+) attempts in all", CLIENTS_MODULE.read_text(encoding="utf-8"))
    assert found, f"{CLIENTS_MODULE} no longer says how many attempts a call makes"
    return int(found.group(1))


@pytest.mark.parametrize(
    ("service", "operation", "code", "status", "call"),
    [
        ("s3", "HeadObject", "SlowDown", 503, lambda c: c.head_object(Bucket="example-protected-bucket", Key=KEY)),
        ("kms", "DescribeKey", "ThrottlingException", 400, lambda c: c.describe_key(KeyId="alias/dsse-test")),
    ],
    ids=["s3-slowdown", "kms-throttling"],
)
def test_a_throttled_call_is_attempted_as_often_as_the_clients_module_says(
    environment: None, faults: Faults, service: str, operation: str, code: str, status: int, call: Any
) -> None:
    client = clients.client(service, REGION)
    faults.answer(client, operation, code, status)

    with pytest.raises(ClientError):
        call(client)

    assert faults.attempts[operation] == documented_attempts()
