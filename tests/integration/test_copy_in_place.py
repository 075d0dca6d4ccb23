"""Remediating an object keeps everything of it but its encryption (the preservation matrix)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from dsse_remediation.aws.s3_objects import OWNERSHIP_TTL_SECONDS
from dsse_remediation.model import ObjectRequest, Outcome
from dsse_remediation.triggers import parse_object_event
from tests.helpers import REGION, assert_remediated, error_answer, load_event, once_before, put, snapshot


@pytest.mark.all_partitions
@pytest.mark.parametrize(
    ("source", "encryption"),
    [
        pytest.param("sse-s3 default (no header)", {}, id="sse-s3-default"),
        pytest.param("sse-s3 explicit", {"ServerSideEncryption": "AES256"}, id="sse-s3-explicit"),
        pytest.param("sse-kms other key", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "OTHER"}, id="sse-kms"),
        pytest.param(
            "dsse other key", {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": "OTHER"}, id="dsse-other"
        ),
    ],
)
def test_remediates_and_keeps_bytes_metadata_headers_tags_class_redirect(
    s3: Any, bucket: str, dsse_key: str, other_key: str, make_remediator: Any, source: str, encryption: dict[str, str]
) -> None:
    encryption = {k: (other_key if v == "OTHER" else v) for k, v in encryption.items()}
    put(s3, bucket, "reports/q3.csv", **encryption)
    before = snapshot(s3, bucket, "reports/q3.csv")

    result = make_remediator().handle(ObjectRequest(bucket, ("reports/q3.csv",)))

    assert result.outcome is Outcome.REMEDIATED, result.reason
    assert result.action == "copy-in-place"
    assert (result.after and result.after.algorithm) == "aws:kms:dsse"
    assert_remediated(before, snapshot(s3, bucket, "reports/q3.csv"), dsse_key)


@pytest.mark.all_partitions
def test_compliant_object_is_left_alone(s3: Any, bucket: str, dsse_key: str, make_remediator: Any, calls: Any) -> None:
    put(s3, bucket, "ok.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    before = snapshot(s3, bucket, "ok.csv")

    result = make_remediator().handle(ObjectRequest(bucket, ("ok.csv",)))

    assert result.outcome is Outcome.COMPLIANT
    assert calls.calls == ["HeadObject"]
    assert snapshot(s3, bucket, "ok.csv") == before


@pytest.mark.all_partitions
def test_alias_configuration_is_compared_as_the_key_arn(
    s3: Any, bucket: str, dsse_key: str, make_remediator: Any
) -> None:
    put(s3, bucket, "ok.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)

    result = make_remediator(key="alias/dsse-test").handle(ObjectRequest(bucket, ("ok.csv",)))

    assert result.outcome is Outcome.COMPLIANT


def test_per_bucket_key_map_chooses_the_bucket_category_key(
    s3: Any, bucket: str, dsse_key: str, other_key: str, make_remediator: Any
) -> None:
    s3.create_bucket(Bucket="secrets-payments")
    put(s3, "secrets-payments", "api-keys.json")
    before = snapshot(s3, "secrets-payments", "api-keys.json")

    remediator = make_remediator(bucket_keys=(("secrets-*", other_key),))
    result = remediator.handle(ObjectRequest("secrets-payments", ("api-keys.json",)))

    assert result.outcome is Outcome.REMEDIATED
    assert_remediated(before, snapshot(s3, "secrets-payments", "api-keys.json"), other_key)


@pytest.mark.all_partitions
def test_encryption_context_is_sent_with_the_copy(s3: Any, bucket: str, make_remediator: Any, calls: Any) -> None:
    put(s3, bucket, "ctx.csv")
    sent: list[dict[str, Any]] = []
    remediator = make_remediator(encryption_context={"purpose": "archive"})
    remediator.s3.client.meta.events.register(
        "provide-client-params.s3.CopyObject", lambda params, **_: sent.append(params)
    )

    assert remediator.handle(ObjectRequest(bucket, ("ctx.csv",))).outcome is Outcome.REMEDIATED
    assert sent[0]["SSEKMSEncryptionContext"] == "eyJwdXJwb3NlIjoiYXJjaGl2ZSJ9"  # base64 of {"purpose":"archive"}
    assert "BucketKeyEnabled" not in sent[0]


class TestAcls:
    """Where ACLs are enabled the copy would reset the ACL to private: the grants ride on the CopyObject itself."""

    @pytest.fixture
    def acl_bucket(self, s3: Any) -> str:
        s3.create_bucket(Bucket="legacy-acl-bucket", ObjectOwnership="ObjectWriter")
        return "legacy-acl-bucket"

    def test_keeps_public_read_and_canonical_grants(
        self, s3: Any, acl_bucket: str, dsse_key: str, make_remediator: Any, calls: Any
    ) -> None:
        owner = s3.list_buckets()["Owner"]["ID"]
        put(
            s3,
            acl_bucket,
            "site/index.html",
            GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"',
            GrantFullControl=f'id="{owner}"',
        )
        before = snapshot(s3, acl_bucket, "site/index.html")
        assert ("READ", "http://acs.amazonaws.com/groups/global/AllUsers") in before.grants

        result = make_remediator().handle(ObjectRequest(acl_bucket, ("site/index.html",)))

        after = snapshot(s3, acl_bucket, "site/index.html")
        assert result.outcome is Outcome.REMEDIATED
        assert_remediated(before, after, dsse_key)
        assert after.grants == before.grants
        sent = calls.counts
        assert sent["GetObjectAcl"] == 1
        assert sent["CopyObject"] == 1

    def test_bucket_ownership_is_looked_up_once_per_bucket(
        self, s3: Any, acl_bucket: str, make_remediator: Any, calls: Any
    ) -> None:
        for key in ("a", "b", "c"):
            put(s3, acl_bucket, key)
        remediator = make_remediator()

        for key in ("a", "b", "c"):
            assert remediator.handle(ObjectRequest(acl_bucket, (key,))).outcome is Outcome.REMEDIATED

        assert calls.counts["GetBucketOwnershipControls"] == 1

    def test_a_switch_to_acls_enabled_is_seen_within_the_ownership_ttl(
        self, s3: Any, bucket: str, make_remediator: Any, calls: Any
    ) -> None:
        """ACLs disabled when first read; then the bucket allows ACLs again and an object gets a public-read grant.
        Once the fact is older than OWNERSHIP_TTL_SECONDS it is read again, and the grant rides on the copy."""
        # GIVEN a remediator that read "ACLs disabled" for the bucket
        clock = FakeClock()
        remediator = make_remediator()
        remediator.s3._clock = clock
        put(s3, bucket, "first.csv")
        assert remediator.handle(ObjectRequest(bucket, ("first.csv",))).outcome is Outcome.REMEDIATED
        # ... and then ACLs enabled again, a public-read object, and the fact's TTL passing
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        )
        put(s3, bucket, "public.html", ACL="public-read")
        before = snapshot(s3, bucket, "public.html")
        clock.now += OWNERSHIP_TTL_SECONDS

        # WHEN the public object is remediated
        result = remediator.handle(ObjectRequest(bucket, ("public.html",)))

        # THEN the ownership was read again and the grant kept
        assert result.outcome is Outcome.REMEDIATED
        assert snapshot(s3, bucket, "public.html").grants == before.grants
        assert calls.counts["GetBucketOwnershipControls"] == 2

    def test_a_write_that_set_an_acl_reads_a_cached_acls_disabled_again_within_the_ttl(
        self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any, calls: Any
    ) -> None:
        """S3 takes a write's x-amz-grant-* headers only while the bucket has ACLs enabled (else
        AccessControlListNotSupported, https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html):
        the write's CloudTrail event proves the cached "ACLs disabled" stale before its TTL runs out."""
        # GIVEN a remediator that read "ACLs disabled" (BucketOwnerEnforced) for the bucket, on a clock standing still
        remediator = make_remediator()
        remediator.s3._clock = FakeClock()
        put(s3, bucket, "first.csv")
        assert remediator.handle(ObjectRequest(bucket, ("first.csv",))).outcome is Outcome.REMEDIATED
        # ... then the bucket allows ACLs again and a PutObject grants everyone read, within the fact's TTL
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
        )
        put(s3, bucket, "public.html", GrantRead=ALL_USERS)
        before = snapshot(s3, bucket, "public.html")
        assert ("READ", ALL_USERS.split('"')[1]) in before.grants

        # WHEN the write's CloudTrail event, which logged the x-amz-grant-read header, is remediated
        [request] = parse_object_event(cloudtrail_put(bucket, "public.html", {"x-amz-grant-read": ALL_USERS})).requests
        result = remediator.handle(request)

        # THEN the ownership was read again and the grant rode on the copy
        after = snapshot(s3, bucket, "public.html")
        assert result.outcome is Outcome.REMEDIATED, result.reason
        assert_remediated(before, after, dsse_key)
        assert after.grants == before.grants
        assert calls.counts["GetBucketOwnershipControls"] == 2

    def test_a_bucket_owner_full_control_write_keeps_the_cached_ownership(
        self, s3: Any, bucket: str, dsse_key: str, make_remediator: Any, calls: Any
    ) -> None:
        """The one ACL a BucketOwnerEnforced bucket accepts proves nothing: cross-account writers that send it do not
        cost a GetBucketOwnershipControls each."""
        remediator = make_remediator()
        remediator.s3._clock = FakeClock()
        for key in ("a.csv", "b.csv"):
            put(s3, bucket, key, ACL="bucket-owner-full-control")
            before = snapshot(s3, bucket, key)
            event = cloudtrail_put(bucket, key, {"x-amz-acl": "bucket-owner-full-control"})
            [request] = parse_object_event(event).requests

            assert remediator.handle(request).outcome is Outcome.REMEDIATED
            assert_remediated(before, snapshot(s3, bucket, key), dsse_key)

        assert calls.counts["GetBucketOwnershipControls"] == 1

    def test_a_switch_to_bucket_owner_enforced_is_copied_again_without_grants(
        self, s3: Any, acl_bucket: str, dsse_key: str, make_remediator: Any, calls: Any
    ) -> None:
        remediator = make_remediator()
        refuse_grants_when_acls_are_disabled(remediator.s3.client)
        put(s3, acl_bucket, "a.csv", ACL="public-read")
        assert remediator.handle(ObjectRequest(acl_bucket, ("a.csv",))).outcome is Outcome.REMEDIATED
        s3.put_bucket_ownership_controls(
            Bucket=acl_bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
        put(s3, acl_bucket, "b.csv")
        before = snapshot(s3, acl_bucket, "b.csv")
        calls.clear()

        result = remediator.handle(ObjectRequest(acl_bucket, ("b.csv",)))

        assert result.outcome is Outcome.REMEDIATED, result.reason
        assert_remediated(before, snapshot(s3, acl_bucket, "b.csv"), dsse_key)
        assert calls.calls == [
            "HeadObject",
            "GetObjectAcl",
            "CopyObject",  # refused: AccessControlListNotSupported
            "GetBucketOwnershipControls",
            "CopyObject",
        ]


ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


def cloudtrail_put(bucket: str, key: str, headers: dict[str, str]) -> Any:
    """The sample CloudTrail PutObject of `bucket`/`key`, with the request headers CloudTrail logged."""
    event = load_event("put-object-sse-s3.json")
    event["detail"]["requestParameters"] |= {"bucketName": bucket, "key": key, **headers}
    return event


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refuse_grants_when_acls_are_disabled(client: Any) -> None:
    """Real S3: under Object Ownership BucketOwnerEnforced, a request that sets an ACL (Grant* headers) fails with
    400 AccessControlListNotSupported. https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
    moto accepts it and ignores the grants, so the answer is injected from the bucket's real ownership."""
    reader = boto3.client("s3", region_name=REGION)
    asked: dict[str, Any] = {}

    def remember(params: dict[str, Any], **_: Any) -> None:
        asked.update(bucket=params["Bucket"], grants=any(name.startswith("Grant") for name in params))

    def handler(**_: Any) -> Any:
        if not asked["grants"]:
            return None
        rules = reader.get_bucket_ownership_controls(Bucket=asked["bucket"])["OwnershipControls"]["Rules"]
        if rules[0]["ObjectOwnership"] != "BucketOwnerEnforced":
            return None
        return error_answer("AccessControlListNotSupported", 400, "The bucket does not allow ACLs")

    client.meta.events.register("provide-client-params.s3.CopyObject", remember)
    client.meta.events.register("before-call.s3.CopyObject", handler)


class TestVersionedBuckets:
    @pytest.fixture
    def versioned(self, s3: Any) -> str:
        s3.create_bucket(Bucket="example-versioned-bucket")
        s3.put_bucket_versioning(Bucket="example-versioned-bucket", VersioningConfiguration={"Status": "Enabled"})
        return "example-versioned-bucket"

    def test_copy_becomes_current_and_the_old_version_is_kept(
        self, s3: Any, versioned: str, dsse_key: str, make_remediator: Any
    ) -> None:
        put(s3, versioned, "ledger.json")
        before = snapshot(s3, versioned, "ledger.json")

        result = make_remediator().handle(ObjectRequest(versioned, ("ledger.json",)))

        assert result.outcome is Outcome.REMEDIATED
        assert result.version_id == before.version_id
        assert result.version_id_after
        assert result.version_id_after != before.version_id
        assert_remediated(before, snapshot(s3, versioned, "ledger.json"), dsse_key)
        old = snapshot(s3, versioned, "ledger.json", version_id=before.version_id)
        assert old.kept() == before.kept()
        assert old.encryption == "AES256"

    def test_opt_in_purge_deletes_the_old_non_dsse_version(
        self, s3: Any, versioned: str, dsse_key: str, make_remediator: Any
    ) -> None:
        put(s3, versioned, "ledger.json")
        before = snapshot(s3, versioned, "ledger.json")

        result = make_remediator(purge_noncurrent=True).handle(ObjectRequest(versioned, ("ledger.json",)))

        assert result.outcome is Outcome.REMEDIATED
        assert result.purged_version_id == before.version_id
        versions = s3.list_object_versions(Bucket=versioned, Prefix="ledger.json")["Versions"]
        assert [v["VersionId"] for v in versions] == [result.version_id_after]
        assert_remediated(before, snapshot(s3, versioned, "ledger.json"), dsse_key)

    def test_purge_never_touches_an_object_lock_protected_version(
        self, s3: Any, dsse_key: str, make_remediator: Any
    ) -> None:
        s3.create_bucket(Bucket="locked-bucket", ObjectLockEnabledForBucket=True)
        put(s3, "locked-bucket", "audit.log", ObjectLockLegalHoldStatus="ON")
        before = snapshot(s3, "locked-bucket", "audit.log")

        result = make_remediator(purge_noncurrent=True).handle(ObjectRequest("locked-bucket", ("audit.log",)))

        assert result.outcome is Outcome.REMEDIATED
        assert result.purged_version_id is None
        assert "Object Lock" in result.reason
        versions = s3.list_object_versions(Bucket="locked-bucket", Prefix="audit.log")["Versions"]
        assert before.version_id in {v["VersionId"] for v in versions}
        assert_remediated(before, snapshot(s3, "locked-bucket", "audit.log"), dsse_key)
        assert s3.get_object_legal_hold(Bucket="locked-bucket", Key="audit.log")["LegalHold"]["Status"] == "ON"

    def test_a_noncurrent_version_is_never_copied_over_newer_data(
        self, s3: Any, versioned: str, make_remediator: Any
    ) -> None:
        put(s3, versioned, "ledger.json")
        old = snapshot(s3, versioned, "ledger.json")
        put(s3, versioned, "ledger.json", Body=b"newer")
        newer = snapshot(s3, versioned, "ledger.json")

        result = make_remediator().handle(ObjectRequest(versioned, ("ledger.json",), version_id=old.version_id))

        assert result.outcome is Outcome.UNREMEDIABLE
        assert "not the current version" in result.reason
        assert snapshot(s3, versioned, "ledger.json") == newer


def test_keeps_object_lock_retention_on_the_new_version(s3: Any, dsse_key: str, make_remediator: Any) -> None:
    s3.create_bucket(Bucket="locked-bucket", ObjectLockEnabledForBucket=True)
    until = datetime(2030, 1, 1, tzinfo=UTC)
    put(s3, "locked-bucket", "audit.log", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
    before = snapshot(s3, "locked-bucket", "audit.log")

    result = make_remediator().handle(ObjectRequest("locked-bucket", ("audit.log",)))

    assert result.outcome is Outcome.REMEDIATED
    assert_remediated(before, snapshot(s3, "locked-bucket", "audit.log"), dsse_key)
    head = s3.head_object(Bucket="locked-bucket", Key="audit.log")
    assert head["VersionId"] == result.version_id_after
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)


def test_a_newer_write_of_the_same_bytes_keeps_its_own_metadata(s3: Any, dsse_key: str, make_remediator: Any) -> None:
    """Same bytes = same ETag, so only copying the current object (not the judged version) keeps the newer metadata."""
    # GIVEN a versioned object, and a write of the same bytes with other metadata just before the copy reaches S3
    s3.create_bucket(Bucket="example-versioned-bucket")
    s3.put_bucket_versioning(Bucket="example-versioned-bucket", VersioningConfiguration={"Status": "Enabled"})
    put(s3, "example-versioned-bucket", "same.csv", Metadata={"v": "1"}, ContentType="text/csv")
    remediator = make_remediator()
    writer = boto3.client("s3", region_name=REGION)
    once_before(
        remediator.s3.client,
        "CopyObject",
        lambda: put(writer, "example-versioned-bucket", "same.csv", Metadata={"v": "2"}, ContentType="text/x"),
    )
    newer_expected = {"v": "2"}

    # WHEN the object judged before that write is remediated
    result = remediator.handle(ObjectRequest("example-versioned-bucket", ("same.csv",)))

    # THEN the copy is of the newer write, its metadata kept
    after = snapshot(s3, "example-versioned-bucket", "same.csv")
    assert result.outcome is Outcome.REMEDIATED
    assert after.metadata == newer_expected
    assert after.content["ContentType"] == "text/x"
    assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", dsse_key)


def test_copy_is_conditional_on_the_judged_etag_at_source_and_destination(
    s3: Any, bucket: str, make_remediator: Any
) -> None:
    put(s3, bucket, "q.csv")
    etag = s3.head_object(Bucket=bucket, Key="q.csv")["ETag"]
    sent: list[dict[str, Any]] = []
    remediator = make_remediator()
    remediator.s3.client.meta.events.register(
        "provide-client-params.s3.CopyObject", lambda params, **_: sent.append(dict(params))
    )

    assert remediator.handle(ObjectRequest(bucket, ("q.csv",))).outcome is Outcome.REMEDIATED

    assert (sent[0]["CopySourceIfMatch"], sent[0]["IfMatch"]) == (etag, etag)
    assert sent[0]["CopySource"] == {"Bucket": bucket, "Key": "q.csv"}
