"""Races, large objects, unremediable objects, dry runs, scope, odd keys and the API calls each path costs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from dsse_remediation.model import ObjectRequest, Outcome, Trigger
from dsse_remediation.scope import Scope
from tests.helpers import REGION, assert_remediated, inject_error, once_before, put, snapshot

MIB = 1024 * 1024


class TestRaceWithANewerWrite:
    """CopySourceIfMatch/IfMatch pin the judged object; a 412 means re-judging the newer one, never overwriting it."""

    def _write_during_copy(self, remediator: Any, bucket: str, key: str, **put_args: Any) -> None:
        writer = boto3.client("s3", region_name=REGION)
        once_before(remediator.s3.client, "CopyObject", lambda: writer.put_object(Bucket=bucket, Key=key, **put_args))

    def test_newer_non_compliant_write_is_remediated_not_overwritten(
        self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any, calls: Any
    ) -> None:
        put(s3, bucket, "race.csv")
        remediator = make_remediator()
        self._write_during_copy(remediator, bucket, "race.csv", Body=b"newer bytes", Metadata={"v": "2"})

        result = remediator.handle(ObjectRequest(bucket, ("race.csv",)))

        after = snapshot(s3, bucket, "race.csv")
        assert result.outcome is Outcome.REMEDIATED
        assert s3.get_object(Bucket=bucket, Key="race.csv")["Body"].read() == b"newer bytes"
        assert after.metadata == {"v": "2"}
        assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", dsse_key)
        assert calls.counts["CopyObject"] == 2

    def test_newer_compliant_write_ends_compliant(
        self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any
    ) -> None:
        put(s3, bucket, "race.csv")
        remediator = make_remediator()
        self._write_during_copy(
            remediator, bucket, "race.csv", Body=b"newer", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key
        )

        result = remediator.handle(ObjectRequest(bucket, ("race.csv",)))

        assert result.outcome is Outcome.COMPLIANT
        assert "newer write" in result.reason
        assert s3.get_object(Bucket=bucket, Key="race.csv")["Body"].read() == b"newer"

    def test_newer_write_on_every_attempt_fails_without_overwriting(
        self, s3: Any, bucket: str, make_remediator: Any
    ) -> None:
        put(s3, bucket, "busy.csv")
        remediator = make_remediator()
        writer = boto3.client("s3", region_name=REGION)
        count = [0]

        def always_newer(**_: Any) -> None:
            count[0] += 1
            writer.put_object(Bucket=bucket, Key="busy.csv", Body=f"write {count[0]}".encode())

        remediator.s3.client.meta.events.register("before-call.s3.CopyObject", always_newer)

        result = remediator.handle(ObjectRequest(bucket, ("busy.csv",)))

        assert result.outcome is Outcome.FAILED
        assert s3.get_object(Bucket=bucket, Key="busy.csv")["Body"].read() == f"write {count[0]}".encode()
        assert snapshot(s3, bucket, "busy.csv").encryption == "AES256"


class TestMultipartPath:
    """Above the threshold: parallel UploadPartCopy with every header, metadata and tag set explicitly."""

    def test_large_object_keeps_everything(self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any) -> None:
        body = bytes(range(256)) * (12 * MIB // 256) + b"tail"
        put(s3, bucket, "backups/db.tar.gz", Body=body)
        before = snapshot(s3, bucket, "backups/db.tar.gz")

        result = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB).handle(
            ObjectRequest(bucket, ("backups/db.tar.gz",))
        )

        assert result.outcome is Outcome.REMEDIATED, result.reason
        assert result.action == "multipart-copy-in-place"
        assert_remediated(before, snapshot(s3, bucket, "backups/db.tar.gz"), dsse_key)

    def test_keeps_the_checksum_algorithm(self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any) -> None:
        put(s3, bucket, "signed.bin", Body=b"s" * (6 * MIB), ChecksumAlgorithm="SHA256")
        before = snapshot(s3, bucket, "signed.bin")

        result = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB).handle(
            ObjectRequest(bucket, ("signed.bin",))
        )

        assert result.action == "multipart-copy-in-place"
        assert_remediated(before, snapshot(s3, bucket, "signed.bin"), dsse_key)
        assert s3.head_object(Bucket=bucket, Key="signed.bin", ChecksumMode="ENABLED").get("ChecksumSHA256")

    def test_keeps_acl_grants(self, s3: Any, dsse_key: str, make_remediator: Any) -> None:
        s3.create_bucket(Bucket="legacy-acl-bucket", ObjectOwnership="ObjectWriter")
        put(s3, "legacy-acl-bucket", "site.zip", Body=b"z" * (6 * MIB), ACL="public-read")
        before = snapshot(s3, "legacy-acl-bucket", "site.zip")

        result = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB).handle(
            ObjectRequest("legacy-acl-bucket", ("site.zip",))
        )

        after = snapshot(s3, "legacy-acl-bucket", "site.zip")
        assert result.action == "multipart-copy-in-place"
        assert_remediated(before, after, dsse_key)
        assert after.grants == before.grants

    def test_annotated_object_is_refused_rather_than_losing_its_annotations(
        self, s3: Any, bucket: str, make_remediator: Any, calls: Any
    ) -> None:
        from tests import aws_fidelity

        put(s3, bucket, "big.bin", Body=b"x" * (6 * MIB))
        aws_fidelity.annotate(bucket, "big.bin", "provenance")
        before = snapshot(s3, bucket, "big.bin")

        result = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB).handle(
            ObjectRequest(bucket, ("big.bin",))
        )

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "annotations" in result.reason
        assert "CreateMultipartUpload" not in calls.calls
        assert snapshot(s3, bucket, "big.bin") == before

    def test_failure_aborts_the_upload_and_leaves_the_object_untouched(
        self, s3: Any, bucket: str, make_remediator: Any
    ) -> None:
        put(s3, bucket, "big.bin", Body=b"x" * (11 * MIB))
        before = snapshot(s3, bucket, "big.bin")
        remediator = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB, copy_concurrency=1)
        inject_error(remediator.s3.client, "UploadPartCopy", "InternalError", 500, times=99)

        result = remediator.handle(ObjectRequest(bucket, ("big.bin",)))

        assert result.outcome is Outcome.FAILED
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        assert snapshot(s3, bucket, "big.bin") == before

    def test_an_interrupt_aborts_the_upload_between_parts(self, s3: Any, bucket: str, make_remediator: Any) -> None:
        put(s3, bucket, "big.bin", Body=b"x" * (11 * MIB))
        before = snapshot(s3, bucket, "big.bin")
        remediator = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB, copy_concurrency=1)
        remediator.s3.client.meta.events.register(
            "after-call.s3.UploadPartCopy",
            lambda **_: remediator.s3.stopping.set(),  # Ctrl-C after part 1
        )

        result = remediator.handle(ObjectRequest(bucket, ("big.bin",)))

        assert result.outcome is Outcome.FAILED
        assert "stopped before part 2 of 3" in result.reason
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        assert snapshot(s3, bucket, "big.bin") == before

    def test_newer_write_during_a_multipart_copy_is_not_overwritten(
        self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any
    ) -> None:
        put(s3, bucket, "big.bin", Body=b"x" * (11 * MIB))
        remediator = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB)
        writer = boto3.client("s3", region_name=REGION)
        once_before(
            remediator.s3.client,
            "CompleteMultipartUpload",
            lambda: writer.put_object(Bucket=bucket, Key="big.bin", Body=b"small newer object"),
        )

        result = remediator.handle(ObjectRequest(bucket, ("big.bin",)))

        assert result.outcome is Outcome.REMEDIATED
        assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == b"small newer object"
        assert snapshot(s3, bucket, "big.bin").kms_key_id == dsse_key
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.all_partitions
class TestUnremediable:
    """Reported and alerted, never crashed, nothing written."""

    @pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
    def test_archived_object(self, s3: Any, bucket: str, make_remediator: Any, calls: Any, storage_class: str) -> None:
        put(s3, bucket, "cold.csv", StorageClass=storage_class)

        result = make_remediator().handle(ObjectRequest(bucket, ("cold.csv",)))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert storage_class in result.reason
        assert calls.calls == ["HeadObject"]

    def test_sse_c_object(self, s3: Any, bucket: str, make_remediator: Any, calls: Any) -> None:
        key = b"k" * 32
        s3.put_object(Bucket=bucket, Key="customer.bin", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
        remediator = make_remediator()
        # Real S3 answers HeadObject on an SSE-C object without its key with a bare 400 (moto does not).
        inject_error(remediator.s3.client, "HeadObject", "400", 400)

        result = remediator.handle(ObjectRequest(bucket, ("customer.bin",)))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "SSE-C" in result.reason
        assert calls.calls == ["HeadObject"]

    def test_access_denied(self, s3: Any, bucket: str, make_remediator: Any) -> None:
        put(s3, bucket, "private.csv")
        before = snapshot(s3, bucket, "private.csv")
        remediator = make_remediator()
        inject_error(remediator.s3.client, "CopyObject", "AccessDenied", 403)

        result = remediator.handle(ObjectRequest(bucket, ("private.csv",)))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "access denied" in result.reason
        assert snapshot(s3, bucket, "private.csv") == before

    @pytest.mark.parametrize("key_change", ["disable", "schedule-deletion"])
    def test_kms_key_disabled_or_pending_deletion(
        self, s3: Any, kms: Any, bucket: str, dsse_key: str, make_remediator: Any, key_change: str
    ) -> None:
        put(s3, bucket, "q.csv")
        before = snapshot(s3, bucket, "q.csv")
        remediator = make_remediator()
        if key_change == "disable":
            kms.disable_key(KeyId=dsse_key)
        else:
            kms.schedule_key_deletion(KeyId=dsse_key, PendingWindowInDays=7)

        result = remediator.handle(ObjectRequest(bucket, ("q.csv",)))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "KMS refused" in result.reason
        assert snapshot(s3, bucket, "q.csv") == before

    def test_transient_kms_errors_fail_for_a_retry_instead(self, s3: Any, bucket: str, make_remediator: Any) -> None:
        put(s3, bucket, "q.csv")
        remediator = make_remediator()
        inject_error(remediator.s3.client, "CopyObject", "KMS.ThrottlingException", 400, times=5)

        result = remediator.handle(ObjectRequest(bucket, ("q.csv",)))

        assert result.outcome is Outcome.FAILED
        assert "KMS.ThrottlingException" in result.reason

    def test_intelligent_tiering_archive_tier(self, s3: Any, bucket: str, make_remediator: Any) -> None:
        put(s3, bucket, "it.csv", StorageClass="INTELLIGENT_TIERING")
        remediator = make_remediator()
        # moto has no Intelligent-Tiering archive tiers; HeadObject reports them as ArchiveStatus.
        remediator.s3.client.meta.events.register(
            "after-call.s3.HeadObject", lambda parsed, **_: parsed.update(ArchiveStatus="DEEP_ARCHIVE_ACCESS")
        )

        result = remediator.handle(ObjectRequest(bucket, ("it.csv",)))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "DEEP_ARCHIVE_ACCESS" in result.reason


def test_access_denied_on_the_logged_key_tries_the_decoded_key(
    s3: Any, bucket: str, dsse_key: str, make_remediator: Any
) -> None:
    """Without s3:ListBucket, S3 answers a HeadObject for a missing key with 403, not 404."""
    put(s3, bucket, "a b.txt")
    remediator = make_remediator()
    inject_error(remediator.s3.client, "HeadObject", "403", 403)

    result = remediator.handle(ObjectRequest(bucket, ("a+b.txt", "a b.txt")))

    assert result.outcome is Outcome.REMEDIATED
    assert snapshot(s3, bucket, "a b.txt").kms_key_id == dsse_key


@pytest.mark.all_partitions
def test_deleted_object_is_gone_not_failed(bucket: str, make_remediator: Any, inbox: Any) -> None:
    result = make_remediator().handle(ObjectRequest(bucket, ("deleted.csv",)))

    assert result.outcome is Outcome.GONE
    assert inbox.messages() == []


@pytest.mark.all_partitions
@pytest.mark.parametrize("mode", ["dry-run", "alert-only"])
def test_dry_run_and_alert_only_change_nothing(
    s3: Any, bucket: str, make_remediator: Any, calls: Any, inbox: Any, mode: str
) -> None:
    from dsse_remediation.config import Mode

    put(s3, bucket, "q.csv")
    before = snapshot(s3, bucket, "q.csv")
    remediator = make_remediator(mode=Mode.ALERT_ONLY) if mode == "alert-only" else make_remediator()

    result = remediator.handle(ObjectRequest(bucket, ("q.csv",), dry_run=mode == "dry-run"))

    assert result.outcome is Outcome.WOULD_REMEDIATE
    assert snapshot(s3, bucket, "q.csv") == before
    assert calls.without_gate == ["HeadObject"]  # and the gate's read-only reads of the bucket
    assert [m["attributes"]["outcome"] for m in inbox.messages()] == ["would-remediate"]


def test_out_of_scope_bucket_is_refused_without_a_call(s3: Any, make_remediator: Any, calls: Any) -> None:
    from dsse_remediation.scope import Scope

    s3.create_bucket(Bucket="example-excluded-bucket")
    put(s3, "example-excluded-bucket", "tmp.txt")
    before = snapshot(s3, "example-excluded-bucket", "tmp.txt")
    remediator = make_remediator(scope=Scope(include=("example-*",), exclude=("example-excluded-*",)))

    result = remediator.handle(ObjectRequest("example-excluded-bucket", ("tmp.txt",)))

    assert result.outcome is Outcome.OUT_OF_SCOPE
    assert "outside the protected scope" in result.reason
    assert calls.calls == []
    assert snapshot(s3, "example-excluded-bucket", "tmp.txt") == before


ODD_KEYS = [
    pytest.param("inbox/Q3 report final.txt", id="spaces"),
    pytest.param("inbox/a+b=c.txt", id="plus"),
    pytest.param("inbox/100% done.txt", id="percent"),
    pytest.param("inbox/%2B already-encoded.txt", id="encoded-looking"),
    pytest.param("inbox/Ünïcødé 文件 ✓.txt", id="unicode"),
    pytest.param("k/" + "x" * 1022, id="1024-bytes"),
]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_as_logged_by_cloudtrail(s3: Any, bucket: str, dsse_key: str, make_remediator: Any, key: str) -> None:
    from urllib.parse import unquote_plus

    put(s3, bucket, key)
    before = snapshot(s3, bucket, key)

    result = make_remediator().handle(ObjectRequest(bucket, (key, unquote_plus(key)), trigger=Trigger("cloudtrail")))

    assert result.outcome is Outcome.REMEDIATED
    assert result.key == key
    assert_remediated(before, snapshot(s3, bucket, key), dsse_key)


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_url_encoded_by_s3_notifications(
    s3: Any, bucket: str, dsse_key: str, make_remediator: Any, key: str
) -> None:
    from urllib.parse import quote_plus, unquote_plus

    put(s3, bucket, key)
    before = snapshot(s3, bucket, key)
    encoded = quote_plus(key, safe="/")

    result = make_remediator().handle(ObjectRequest(bucket, (unquote_plus(encoded), encoded)))

    assert result.outcome is Outcome.REMEDIATED
    assert_remediated(before, snapshot(s3, bucket, key), dsse_key)


class TestApiCallsPerObject:
    def test_remediated_object_costs_head_and_copy(
        self, s3: Any, bucket: str, make_remediator: Any, calls: Any
    ) -> None:
        put(s3, bucket, "warm-up.csv")
        put(s3, bucket, "q.csv")
        remediator = make_remediator()
        remediator.handle(ObjectRequest(bucket, ("warm-up.csv",)))  # bucket facts cached for the container's life
        calls.clear()

        assert remediator.handle(ObjectRequest(bucket, ("q.csv",))).outcome is Outcome.REMEDIATED
        assert calls.calls == ["HeadObject", "CopyObject"]

    def test_loop_the_remediations_own_copy_event_costs_one_head(
        self, s3: Any, bucket: str, make_remediator: Any, calls: Any, inbox: Any
    ) -> None:
        put(s3, bucket, "q.csv")
        remediator = make_remediator()
        assert remediator.handle(ObjectRequest(bucket, ("q.csv",))).outcome is Outcome.REMEDIATED
        inbox.messages()
        calls.clear()

        again = remediator.handle(ObjectRequest(bucket, ("q.csv",), trigger=Trigger("cloudtrail", "CopyObject")))

        assert again.outcome is Outcome.COMPLIANT
        assert calls.calls == ["HeadObject"]
        assert inbox.messages() == []


def test_every_s3_call_names_the_expected_bucket_owner(s3: Any, make_remediator: Any) -> None:
    s3.create_bucket(Bucket="legacy-acl-bucket", ObjectOwnership="ObjectWriter")
    put(s3, "legacy-acl-bucket", "big.bin", Body=b"x" * (6 * MIB))
    put(s3, "legacy-acl-bucket", "small.bin")
    sent: list[tuple[str, dict[str, Any]]] = []
    remediator = make_remediator(multipart_threshold=5 * MIB, part_size=5 * MIB)
    remediator.s3.client.meta.events.register(
        "provide-client-params.s3", lambda params, model, **_: sent.append((model.name, dict(params)))
    )

    for key in ("big.bin", "small.bin"):
        assert remediator.handle(ObjectRequest("legacy-acl-bucket", (key,))).outcome is Outcome.REMEDIATED

    names = {name for name, _ in sent}
    assert names >= {"HeadObject", "GetObjectAcl", "CreateMultipartUpload", "UploadPartCopy", "CopyObject"}
    assert all(params.get("ExpectedBucketOwner") == "123456789012" for _, params in sent)
    copies = [params for name, params in sent if name in ("UploadPartCopy", "CopyObject")]
    assert all(params.get("ExpectedSourceBucketOwner") == "123456789012" for params in copies)


class TestBucketsOfOtherAccounts:
    """CloudTrail delivers this account's writes into other accounts' buckets too: not ours to fix, not an alarm."""

    def test_a_write_into_a_bucket_another_account_owns_is_out_of_scope_quietly(
        self, s3: Any, bucket: str, make_remediator: Any, calls: Any, inbox: Any
    ) -> None:
        put(s3, bucket, "feed.csv")
        before = snapshot(s3, bucket, "feed.csv")
        trigger = Trigger(source="cloudtrail", event_name="PutObject", bucket_owner="444455556666")

        result = make_remediator().handle(ObjectRequest(bucket, ("feed.csv",), trigger=trigger))

        assert result.outcome is Outcome.OUT_OF_SCOPE
        assert "belongs to account 444455556666" in result.reason
        assert calls.calls == []
        assert inbox.messages() == []
        assert snapshot(s3, bucket, "feed.csv") == before

    def test_a_write_into_our_own_bucket_is_remediated(
        self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any
    ) -> None:
        put(s3, bucket, "feed.csv")
        trigger = Trigger(source="cloudtrail", event_name="PutObject", bucket_owner="123456789012")

        result = make_remediator().handle(ObjectRequest(bucket, ("feed.csv",), trigger=trigger))

        assert result.outcome is Outcome.REMEDIATED
        assert snapshot(s3, bucket, "feed.csv").kms_key_id == dsse_key


class TestCopyAnswering404:
    """A 404 from CopyObject is `gone` only when a HeadObject agrees: anything else is retried, never dropped."""

    def test_object_still_there_is_a_failure_to_retry_not_gone(
        self, s3: Any, bucket: str, make_remediator: Any, calls: Any, inbox: Any
    ) -> None:
        put(s3, bucket, "q.csv")
        before = snapshot(s3, bucket, "q.csv")
        remediator = make_remediator()
        inject_error(remediator.s3.client, "CopyObject", "NoSuchKey", 404)

        result = remediator.handle(ObjectRequest(bucket, ("q.csv",)))

        assert result.outcome is Outcome.FAILED
        assert "still there: to be retried" in result.reason
        assert calls.without_gate == ["HeadObject", "GetBucketOwnershipControls", "CopyObject", "HeadObject"]
        assert [m["body"]["outcome"] for m in inbox.messages()] == ["failed"]
        assert snapshot(s3, bucket, "q.csv") == before

    def test_object_deleted_during_the_copy_is_gone(self, s3: Any, bucket: str, make_remediator: Any) -> None:
        put(s3, bucket, "q.csv")
        remediator = make_remediator()

        def delete_first(**_: Any) -> None:
            s3.delete_object(Bucket=bucket, Key="q.csv")

        remediator.s3.client.meta.events.register("before-call.s3.CopyObject", delete_first)

        result = remediator.handle(ObjectRequest(bucket, ("q.csv",)))

        assert result.outcome is Outcome.GONE


class TestRestoredArchives:
    """A restored GLACIER copy is never copied back into the archive silently: that would end the reader's restore."""

    @pytest.fixture
    def restored(self, s3: Any, bucket: str) -> str:
        put(s3, bucket, "cold.csv", StorageClass="GLACIER")
        s3.restore_object(Bucket=bucket, Key="cold.csv", RestoreRequest={"Days": 2})
        assert 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key="cold.csv")["Restore"]
        return "cold.csv"

    def test_without_the_opt_in_it_is_left_restored_and_reported_with_what_to_do(
        self, s3: Any, bucket: str, restored: str, make_remediator: Any, calls: Any, inbox: Any
    ) -> None:
        result = make_remediator().handle(ObjectRequest(bucket, (restored,)))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "end this restore" in result.reason
        assert calls.calls == ["HeadObject"]
        assert 'ongoing-request="false"' in s3.head_object(Bucket=bucket, Key=restored)["Restore"]
        [alert] = inbox.messages()
        assert "REMEDIATE_RESTORED_ARCHIVES" in alert["body"]["reason"]

    def test_with_the_opt_in_it_is_remediated_and_the_alert_says_the_restore_ended(
        self, s3: Any, bucket: str, dsse_key: str, restored: str, make_remediator: Any, inbox: Any
    ) -> None:
        before = snapshot(s3, bucket, restored)

        result = make_remediator(remediate_restored_archives=True).handle(ObjectRequest(bucket, (restored,)))

        assert result.outcome is Outcome.REMEDIATED
        head = s3.head_object(Bucket=bucket, Key=restored)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["StorageClass"]) == (
            "aws:kms:dsse",
            dsse_key,
            "GLACIER",
        )
        assert "Restore" not in head
        assert before.metadata == snapshot_metadata(s3, bucket, restored)
        [alert] = inbox.messages()
        assert "so that restore ended (restore it again to read it)" in alert["body"]["reason"]


def snapshot_metadata(s3: Any, bucket: str, key: str) -> dict[str, str]:
    """An archived object cannot be read (GetObject); HeadObject still reports its metadata."""
    return dict(s3.head_object(Bucket=bucket, Key=key)["Metadata"])


class TestLegacyBucketNames:
    """Buckets created in us-east-1 before March 2018 may have uppercase letters and underscores; they are buckets."""

    def test_an_object_in_a_legacy_bucket_is_remediated(self, s3: Any, dsse_key: str, make_remediator: Any) -> None:
        s3.create_bucket(Bucket="Finance_Reports.2017")
        put(s3, "Finance_Reports.2017", "q.csv")
        before = snapshot(s3, "Finance_Reports.2017", "q.csv")

        result = make_remediator(scope=Scope.parse("Finance_*", "")).handle(
            ObjectRequest("Finance_Reports.2017", ("q.csv",))
        )

        assert result.outcome is Outcome.REMEDIATED
        after = snapshot(s3, "Finance_Reports.2017", "q.csv")
        assert after.kept() == before.kept()
        assert after.kms_key_id == dsse_key


class TestKeysThatCannotBeKeys:
    def test_an_over_long_url_encoded_candidate_is_skipped_for_the_decoded_key(
        self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any
    ) -> None:
        key = "é" * 400  # 800 bytes as UTF-8, 2,400 characters URL-encoded
        put(s3, bucket, key)
        encoded = quote_plus(key)
        assert len(encoded.encode()) > 1024

        result = make_remediator().handle(ObjectRequest(bucket, (key, encoded)))

        assert result.outcome is Outcome.REMEDIATED
        assert snapshot(s3, bucket, key).kms_key_id == dsse_key
