"""Bucket defaults: reset to DSSE-KMS under the key, from what GetBucketEncryption says, never from the event body."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from dsse_remediation import prevention
from dsse_remediation import sweep as sweep_module
from dsse_remediation.aws.sqs import QueueNotAccepted
from dsse_remediation.config import Mode
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.model import BucketRequest, Outcome, SweepStep, Trigger
from dsse_remediation.partitions import partition_of
from dsse_remediation.triggers import parse_object_event
from tests.helpers import REGION, Response, inject_error, put, snapshot, tls_only

DSSE_RULE = "aws:kms:dsse"


def default_rule(s3: Any, bucket: str) -> dict[str, Any]:
    rule: dict[str, Any] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return rule


def set_default(s3: Any, bucket: str, algorithm: str, key: str | None = None, bucket_key: bool = False) -> None:
    by_default = {"SSEAlgorithm": algorithm} | ({"KMSMasterKeyID": key} if key else {})
    rules = [{"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": bucket_key}]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})


def assert_dsse_default(s3: Any, bucket: str, key_arn: str) -> None:
    rule = default_rule(s3, bucket)
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": DSSE_RULE, "KMSMasterKeyID": key_arn}
    assert rule["BucketKeyEnabled"] is False


@pytest.mark.all_partitions
@pytest.mark.parametrize(
    ("situation", "algorithm", "key", "bucket_key"),
    [
        pytest.param("SSE-S3 base level (no configuration)", None, None, False, id="sse-s3-base"),
        pytest.param("SSE-S3 explicit", "AES256", None, False, id="sse-s3"),
        pytest.param("SSE-KMS under another key, Bucket Key on", "aws:kms", "OTHER", True, id="sse-kms-bucket-key"),
        pytest.param("SSE-KMS under the DSSE key", "aws:kms", "DSSE", False, id="sse-kms-right-key"),
        pytest.param("DSSE under another key", DSSE_RULE, "OTHER", False, id="dsse-wrong-key"),
        pytest.param("DSSE under the key, Bucket Key on", DSSE_RULE, "DSSE", True, id="dsse-bucket-key"),
    ],
)
def test_resets_the_default_to_dsse_under_the_key(
    s3: Any,
    bucket: str,
    dsse_key: str,
    other_key: str,
    make_bucket_remediator: Any,
    situation: str,
    algorithm: str | None,
    key: str | None,
    bucket_key: bool,
) -> None:
    if algorithm:
        set_default(s3, bucket, algorithm, {"OTHER": other_key, "DSSE": dsse_key}.get(key or ""), bucket_key)

    result = make_bucket_remediator().handle(BucketRequest(bucket))

    assert result.outcome is Outcome.REMEDIATED, result.reason
    assert_dsse_default(s3, bucket, dsse_key)
    assert result.after is not None
    assert (result.after.algorithm, result.after.kms_key_id) == (DSSE_RULE, dsse_key)


@pytest.mark.all_partitions
def test_new_objects_then_land_dsse_under_the_key(
    s3: Any, bucket: str, dsse_key: str, make_bucket_remediator: Any
) -> None:
    make_bucket_remediator().handle(BucketRequest(bucket))

    s3.put_object(Bucket=bucket, Key="after-reset.csv", Body=b"x")

    after = snapshot(s3, bucket, "after-reset.csv")
    assert (after.encryption, after.kms_key_id) == (DSSE_RULE, dsse_key)


@pytest.mark.all_partitions
def test_compliant_bucket_costs_one_read_and_no_write(
    s3: Any, bucket: str, dsse_key: str, make_bucket_remediator: Any, calls: Any, inbox: Any
) -> None:
    set_default(s3, bucket, DSSE_RULE, dsse_key)

    result = make_bucket_remediator().handle(BucketRequest(bucket))

    assert result.outcome is Outcome.COMPLIANT
    assert calls.calls == ["GetBucketEncryption"]
    assert inbox.messages() == []


@pytest.mark.all_partitions
def test_keeps_blocked_encryption_types(s3: Any, bucket: str, dsse_key: str, make_bucket_remediator: Any) -> None:
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BucketKeyEnabled": False,
        "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
    }
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})

    result = make_bucket_remediator().handle(BucketRequest(bucket))

    assert result.outcome is Outcome.REMEDIATED
    assert_dsse_default(s3, bucket, dsse_key)
    assert default_rule(s3, bucket)["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}


class TestTheKeyIsCheckedBecauseS3DoesNot:
    """S3 accepts any key id in PutBucketEncryption; a bad one would break every later upload."""

    def _assert_unchanged(self, s3: Any, bucket: str, result: Any, words: str) -> None:
        assert result.outcome is Outcome.UNREMEDIABLE
        assert words in result.reason
        assert "nothing was changed" in result.reason
        assert default_rule(s3, bucket)["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}

    def test_missing_key(self, s3: Any, bucket: str, make_bucket_remediator: Any, calls: Any) -> None:
        missing = "arn:aws:kms:us-east-1:123456789012:key/99999999-9999-9999-9999-999999999999"

        result = make_bucket_remediator(key=missing).handle(BucketRequest(bucket))

        self._assert_unchanged(s3, bucket, result, "cannot be described")
        assert "PutBucketEncryption" not in calls.calls

    def test_disabled_key(self, s3: Any, kms: Any, bucket: str, dsse_key: str, make_bucket_remediator: Any) -> None:
        kms.disable_key(KeyId=dsse_key)

        self._assert_unchanged(s3, bucket, make_bucket_remediator().handle(BucketRequest(bucket)), "Disabled")

    def test_key_pending_deletion(
        self, s3: Any, kms: Any, bucket: str, dsse_key: str, make_bucket_remediator: Any
    ) -> None:
        kms.schedule_key_deletion(KeyId=dsse_key, PendingWindowInDays=7)

        self._assert_unchanged(s3, bucket, make_bucket_remediator().handle(BucketRequest(bucket)), "PendingDeletion")

    def test_asymmetric_key(self, s3: Any, kms: Any, bucket: str, make_bucket_remediator: Any) -> None:
        rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]

        self._assert_unchanged(s3, bucket, make_bucket_remediator(key=rsa).handle(BucketRequest(bucket)), "symmetric")

    def test_key_in_another_region(self, s3: Any, dsse_key: str, make_bucket_remediator: Any) -> None:
        s3.create_bucket(Bucket="eu-archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

        result = make_bucket_remediator().handle(BucketRequest("eu-archive"))

        self._assert_unchanged(s3, "eu-archive", result, "the key is in us-east-1 but the bucket in eu-west-1")


@pytest.mark.parametrize("mode", ["dry-run", "alert-only"])
def test_dry_run_and_alert_only_write_nothing(
    s3: Any, bucket: str, make_bucket_remediator: Any, calls: Any, inbox: Any, mode: str
) -> None:
    remediator = make_bucket_remediator(mode=Mode.ALERT_ONLY) if mode == "alert-only" else make_bucket_remediator()

    result = remediator.handle(BucketRequest(bucket, dry_run=mode == "dry-run"))

    assert result.outcome is Outcome.WOULD_REMEDIATE
    assert "would reset the default encryption from AES256" in result.reason
    assert not {"PutBucketEncryption", "PutBucketPolicy"} & set(calls.calls)
    assert default_rule(s3, bucket)["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert [m["attributes"]["outcome"] for m in inbox.messages()] == ["would-remediate"]


def test_unknown_bucket_is_gone_and_invalid_name_refused(make_bucket_remediator: Any) -> None:
    remediator = make_bucket_remediator()

    assert remediator.handle(BucketRequest("no-such-bucket-here")).outcome is Outcome.GONE
    with pytest.raises(InvalidRequest, match="not a valid S3 bucket name"):
        remediator.handle(BucketRequest("ab"))


@pytest.mark.all_partitions
def test_alert_names_who_changed_it_and_the_configuration_before_and_after(
    s3: Any, bucket: str, dsse_key: str, other_key: str, make_bucket_remediator: Any, inbox: Any
) -> None:
    set_default(s3, bucket, "aws:kms", other_key, bucket_key=True)
    who = Trigger(
        "cloudtrail", "PutBucketEncryption", "e-1", "2026-11-20T09:15:02Z", "arn:aws:iam::1:user/bob", "1.2.3.4"
    )

    make_bucket_remediator().handle(BucketRequest(bucket, trigger=who))

    [alert] = inbox.messages()
    body = alert["body"]
    assert alert["subject"] == f"DSSE-KMS bucket default reset: s3://{bucket}"
    assert alert["attributes"] | {} == {
        "severity": "low",
        "outcome": "remediated",
        "resourceType": "bucket",
        "bucket": bucket,
    }
    assert (body["trigger"]["actor"], body["trigger"]["sourceIp"]) == ("arn:aws:iam::1:user/bob", "1.2.3.4")
    assert body["encryptionBefore"] == {
        "algorithm": "aws:kms",
        "kmsKeyId": other_key,
        "bucketKeyEnabled": True,
        "blockedEncryptionTypes": None,
    }
    assert body["encryptionAfter"]["algorithm"] == DSSE_RULE
    assert body["encryptionAfter"]["kmsKeyId"] == dsse_key


class TestPreventionPolicy:
    """Opt-in: deny writes that ask for other encryption; everything relying on the default keeps working."""

    @pytest.mark.all_partitions
    def test_the_policy_written_is_the_prevention_statements_the_unit_tests_evaluate(
        self, s3: Any, bucket: str, dsse_key: str, make_bucket_remediator: Any, region: str
    ) -> None:
        """tests/unit/test_prevention.py checks what these statements deny; this is the policy S3 is given, on the
        bucket's objects in its Region's partition."""
        result = make_bucket_remediator(prevention_policy=True).handle(BucketRequest(bucket))

        written = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert result.policy_change == "added"
        assert written == prevention.merged(None, bucket, dsse_key)[0]
        assert {st["Resource"] for st in written["Statement"]} == {f"arn:{partition_of(region)}:s3:::{bucket}/*"}

    def test_merge_keeps_foreign_statements_and_is_idempotent(
        self, s3: Any, bucket: str, make_bucket_remediator: Any, calls: Any
    ) -> None:
        foreign = tls_only(bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [foreign]}))
        remediator = make_bucket_remediator(prevention_policy=True)

        first = remediator.handle(BucketRequest(bucket))
        calls.clear()
        second = remediator.handle(BucketRequest(bucket))

        statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        assert (first.outcome, first.policy_change) == (Outcome.REMEDIATED, "added")
        assert (second.outcome, second.policy_change) == (Outcome.COMPLIANT, None)
        assert statements[0] == foreign
        assert sorted(s["Sid"] for s in statements) == sorted(["TlsOnly", *prevention.OUR_SIDS])
        assert "PutBucketPolicy" not in calls.calls

    def test_blocks_sse_c_uploads_which_the_policy_cannot_see(
        self, s3: Any, bucket: str, make_bucket_remediator: Any
    ) -> None:
        result = make_bucket_remediator(prevention_policy=True).handle(BucketRequest(bucket))

        assert "blocked SSE-C uploads" in result.reason
        assert default_rule(s3, bucket)["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}

    def test_replaces_stale_statements_of_a_single_statement_policy(
        self, s3: Any, bucket: str, other_key: str, dsse_key: str, make_bucket_remediator: Any
    ) -> None:
        stale = prevention.statements(bucket, other_key)[1]
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": stale}))

        result = make_bucket_remediator(prevention_policy=True).handle(BucketRequest(bucket))

        statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        assert result.policy_change == "updated"
        assert statements == prevention.statements(bucket, dsse_key)

    def test_a_policy_write_failure_still_reports_the_reset(
        self, s3: Any, bucket: str, dsse_key: str, make_bucket_remediator: Any
    ) -> None:
        remediator = make_bucket_remediator(prevention_policy=True)
        inject_error(remediator.s3.client, "PutBucketPolicy", "MalformedPolicy", 400)

        result = remediator.handle(BucketRequest(bucket))

        assert result.outcome is Outcome.FAILED
        assert result.reason.startswith("the default encryption was reset, but the prevention statements could not")
        assert_dsse_default(s3, bucket, dsse_key)


class TestSweepAfterReset:
    """After a reset the objects already in the bucket are queued, page by page, for the object function: no sweep
    runs in one long invocation, a sweep cut short resumes from where it was, and one that stops says where."""

    @pytest.fixture
    def sweep(self, s3: Any, bucket: str, make_bucket_remediator: Any, make_remediator: Any) -> Sweep:
        for key in ("a.csv", "b.csv", "c.csv", "d.csv", "e.csv"):
            put(s3, bucket, key, Tagging="team=finance", Metadata={"owner": "ops"})
        return Sweep(make_bucket_remediator, make_remediator)

    def test_queues_one_step_before_writing_the_default_and_lists_nothing_itself(
        self, sweep: Sweep, s3: Any, bucket: str, dsse_key: str, calls: Any
    ) -> None:
        result = sweep.bucket_path().handle(BucketRequest(bucket))

        assert result.outcome is Outcome.REMEDIATED
        assert result.sweep is not None
        assert result.sweep["status"] == "queued"
        assert "queued a sweep" in result.reason
        assert calls.without_gate == [
            "GetBucketEncryption",
            "DescribeKey",
            "GetBucketLocation",
            "SendMessage",
            "PutBucketEncryption",
        ]
        assert [m["sweep"] for m in sweep.queued()] == [
            {"id": result.sweep["id"], "bucket": bucket, "continuationToken": None, "queued": 0}
        ]
        assert_dsse_default(s3, bucket, dsse_key)

    def test_every_object_ends_dsse_with_everything_kept_and_only_the_bucket_alerted(
        self, sweep: Sweep, s3: Any, bucket: str, dsse_key: str, inbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sweep_module, "PAGE", 2)  # three listing steps for five objects
        before = {key: snapshot(s3, bucket, key) for key in sweep.keys(s3, bucket)}

        sweep.bucket_path().handle(BucketRequest(bucket))
        handled = sweep.drain()

        assert handled.count("step") == 3
        assert sorted(k for k in handled if k != "step") == sorted(before)
        for key, was in before.items():
            after = snapshot(s3, bucket, key)
            assert after.kept() == was.kept()
            assert (after.encryption, after.kms_key_id) == (DSSE_RULE, dsse_key)
        assert [m["attributes"]["resourceType"] for m in inbox.messages()] == ["bucket"]

    def test_a_step_cut_short_is_retried_from_its_own_page_and_nothing_is_left(
        self, sweep: Sweep, s3: Any, bucket: str, dsse_key: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sweep_module, "PAGE", 4)
        sweep.bucket_path().handle(BucketRequest(bucket))
        # The first step dies after queueing its page, before queueing the next step (a timeout, a crash): its
        # message is not deleted, so it runs again from its own token.
        time_out(sweep.sweeper.queue, "SendMessage", times=1)

        handled = sweep.drain()

        assert handled[:2] == ["step-failed", "step"]
        assert all(snapshot(s3, bucket, k).kms_key_id == dsse_key for k in sweep.keys(s3, bucket))

    def test_a_batch_with_refused_entries_fails_the_step(self, sweep: Sweep, bucket: str) -> None:
        sweep.bucket_path().handle(BucketRequest(bucket))
        refuse_entries(sweep.sweeper.queue)
        step = parse_object_event(sweep.queued()[0]).steps[0]

        with pytest.raises(QueueNotAccepted, match="SQS refused 1 of 5 messages: InternalError"):
            sweep.sweeper.step(step)

    def test_a_retried_reset_queues_the_sweep_again(self, sweep: Sweep, bucket: str) -> None:
        remediator = sweep.bucket_path()
        inject_error(remediator.s3.client, "PutBucketEncryption", "InternalError", 500)

        first = remediator.handle(BucketRequest(bucket))
        second = remediator.handle(BucketRequest(bucket))

        assert (first.outcome, second.outcome) == (Outcome.FAILED, Outcome.REMEDIATED)
        assert len(sweep.queued()) == 2  # sweeping twice is harmless; never sweeping is not

    def test_stops_at_the_limit_with_a_high_alert_naming_where_it_stopped(
        self, sweep: Sweep, s3: Any, bucket: str, inbox: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sweep_module, "PAGE", 2)
        sweep.bucket_path(sweep_max_objects=3).handle(BucketRequest(bucket))

        handled = sweep.drain(sweep_max_objects=3)

        assert sorted(k for k in handled if k != "step") == ["a.csv", "b.csv", "c.csv"]
        alerts = [m for m in inbox.messages() if m["body"]["outcome"] == "unremediable"]
        assert len(alerts) == 1
        assert alerts[0]["body"]["severity"] == "high"
        assert "queued 3 objects (SWEEP_MAX_OBJECTS) and stopped" in alerts[0]["body"]["reason"]
        assert "after the key 'c.csv'" in alerts[0]["body"]["reason"]
        assert f"dsse-remediate backfill s3://{bucket}" in alerts[0]["body"]["reason"]
        assert snapshot(s3, bucket, "d.csv").encryption == "AES256"

    def test_a_step_left_on_the_queue_is_not_continued_in_alert_only_mode(
        self, sweep: Sweep, bucket: str, calls: Any
    ) -> None:
        sweeper = sweep.bucket_path(mode=Mode.ALERT_ONLY).sweeper

        progress = sweeper.step(SweepStep(bucket, "left-over"))

        assert progress["status"] == "not continued: alert-only mode"
        assert calls.calls == []
        assert sweep.queued() == []

    def test_dry_run_and_alert_only_queue_nothing(self, sweep: Sweep, bucket: str) -> None:
        sweep.bucket_path().handle(BucketRequest(bucket, dry_run=True))
        sweep.bucket_path(mode=Mode.ALERT_ONLY).handle(BucketRequest(bucket))

        assert sweep.queued() == []


class Sweep:
    """The object queue a sweep feeds, drained the way the object function would: steps, then object tasks."""

    def __init__(self, make_bucket_remediator: Any, make_remediator: Any) -> None:
        self.make_bucket_remediator = make_bucket_remediator
        self.make_remediator = make_remediator
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.create_queue(QueueName="object-events")["QueueUrl"]
        self.sweeper: Any = None

    def bucket_path(self, **overrides: Any) -> Any:
        remediator = self.make_bucket_remediator(sweep_after_reset=True, **overrides)
        self.sweeper = remediator.sweeper
        return remediator

    @staticmethod
    def keys(s3: Any, bucket: str) -> list[str]:
        return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]

    def queued(self) -> list[dict[str, Any]]:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        count = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        found = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        assert count <= 10
        return [json.loads(m["Body"]) for m in found.get("Messages", [])]

    def drain(self, **overrides: Any) -> list[str]:
        """Run every message until the queue is empty; a message whose handling raises stays for its retry."""
        objects = self.make_remediator(**overrides)
        handled: list[str] = []
        for _ in range(200):
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            if not batch.get("Messages"):
                return handled
            for message in batch["Messages"]:
                parsed = parse_object_event(json.loads(message["Body"]))
                try:
                    for step in parsed.steps:
                        self.sweeper.step(step)
                        handled.append("step")
                except AwsFailure:  # QueueNotAccepted, a read timeout: the step's message stays for its retry
                    handled.append("step-failed")
                    continue
                for request in parsed.requests:
                    # A retried step queues its page again: the second task finds the object compliant.
                    assert objects.handle(request).outcome in (Outcome.REMEDIATED, Outcome.COMPLIANT)
                    handled.append(request.key)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        raise AssertionError("the sweep never ended")


def refuse_entries(queue: Any) -> None:
    """SendMessageBatch answers 200 and reports an entry as failed: how SQS says it did not take a message."""

    def handler(**_: Any) -> Any:
        failed = [{"Id": "0", "SenderFault": False, "Code": "InternalError", "Message": "injected"}]
        return Response(200), {"Successful": [], "Failed": failed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    queue._client.meta.events.register("before-call.sqs.SendMessageBatch", handler)


def time_out(queue: Any, operation: str, times: int) -> None:
    remaining = [times]

    def handler(**_: Any) -> None:
        if remaining[0] > 0:
            remaining[0] -= 1
            raise ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")

    queue._client.meta.events.register(f"before-call.sqs.{operation}", handler)


class TestBucketsOfOtherAccounts:
    def test_an_event_naming_another_owner_is_out_of_scope_with_no_call_and_no_alert(
        self, make_bucket_remediator: Any, calls: Any, inbox: Any
    ) -> None:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="someone-elses")
        trigger = Trigger(source="cloudtrail", event_name="CreateBucket", bucket_owner="210987654321")

        result = make_bucket_remediator().handle(BucketRequest("someone-elses", trigger=trigger))

        assert result.outcome is Outcome.OUT_OF_SCOPE
        assert "belongs to account 210987654321" in result.reason
        assert calls.calls == []
        assert inbox.messages() == []

    def test_a_manual_request_s3_refuses_is_never_written_and_the_reason_names_both_causes(
        self, make_bucket_remediator: Any
    ) -> None:
        """Every call carries ExpectedBucketOwner; real S3 answers 403 AccessDenied when the bucket's owner differs,
        the same answer as a denial (moto ignores the header, so the answer is injected)."""
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="someone-elses")
        remediator = make_bucket_remediator()
        inject_error(remediator.s3.client, "GetBucketEncryption", "AccessDenied", 403)

        result = remediator.handle(BucketRequest("someone-elses"))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "access denied" in result.reason
        assert "or the bucket belongs to another account" in result.reason
        assert default_rule(s3, "someone-elses")["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
