"""A bucket's figures: states as the verdict judges them, counts to the object and the byte, the ten largest left
(a bounded heap), the noncurrent debt with Object Lock, and the document's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dsse_remediation.model import DSSE, Encryption
from dsse_remediation.posture.document import SCHEMA, BucketPosture, Estate, csv_rows, share
from dsse_remediation.posture.sampling import Estimate
from dsse_remediation.posture.states import STATES, State, of_encryption, of_inventory
from dsse_remediation.posture.tally import LARGEST, BucketTally, Version
from tests.helpers import PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class TestStates:
    @pytest.mark.parametrize(
        ("encryption", "state"),
        [
            (Encryption(DSSE, PLACEHOLDER_KEY), State.DSSE_KEY),
            (Encryption(DSSE, PLACEHOLDER_OTHER_KEY), State.DSSE_OTHER_KEY),
            (Encryption(DSSE, None), State.DSSE_OTHER_KEY),
            (Encryption("aws:kms", PLACEHOLDER_KEY), State.SSE_KMS),
            (Encryption("AES256"), State.SSE_S3),
            (Encryption("SSE-C"), State.SSE_C),
            (Encryption("none"), State.NOT_ENCRYPTED),
        ],
    )
    def test_a_head_answer_has_one_state(self, encryption: Encryption, state: State) -> None:
        assert of_encryption(encryption, PLACEHOLDER_KEY) is state

    def test_dsse_under_an_alias_of_the_key_is_compared_by_key_arn(self) -> None:
        # S3 reports SSEKMSKeyId as the key ARN: a configured alias is resolved once (KeyRing), never compared as is.
        assert of_encryption(Encryption(DSSE, PLACEHOLDER_KEY), "alias/dsse") is State.DSSE_OTHER_KEY

    @pytest.mark.parametrize(
        ("status", "state"),
        [
            ("SSE-S3", State.SSE_S3),
            ("SSE-C", State.SSE_C),
            ("SSE-KMS", State.SSE_KMS),
            ("NOT-SSE", State.NOT_ENCRYPTED),
        ],
    )
    def test_an_inventory_status_has_one_state(self, status: str, state: State) -> None:
        assert of_inventory(status) is state

    def test_an_inventory_dsse_row_needs_its_key_read(self) -> None:
        assert of_inventory("DSSE-KMS") is None

    def test_an_unknown_inventory_status_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="unknown EncryptionStatus 'SSE-X'"):
            of_inventory("SSE-X")

    def test_the_six_states_in_the_documents_order(self) -> None:
        assert [s.value for s in STATES] == [
            "dsse-key",
            "dsse-other-key",
            "sse-kms",
            "sse-s3",
            "sse-c",
            "not-encrypted",
        ]


class TestTally:
    def test_counts_current_and_noncurrent_to_the_byte(self) -> None:
        tally = BucketTally(NOW)
        tally.add(Version("a", "1", 10, True), State.DSSE_KEY)
        tally.add(Version("a", "0", 7, False), State.SSE_S3)
        tally.add(Version("b", "2", 5, True), State.SSE_S3)

        assert (tally.current.objects[State.DSSE_KEY], tally.current.bytes[State.SSE_S3]) == (1, 5)
        assert (tally.noncurrent.objects[State.SSE_S3], tally.noncurrent.bytes[State.SSE_S3]) == (1, 7)
        assert not tally.compliant()

    def test_keeps_only_the_ten_largest_not_dsse_under_the_key(self) -> None:
        tally = BucketTally(NOW)
        for size in range(1, 1001):
            tally.add(Version(f"k{size}", None, size, True), State.SSE_S3)
        tally.add(Version("huge-compliant", None, 10**9, True), State.DSSE_KEY)

        largest = tally.largest()
        assert [entry["size"] for entry in largest] == list(range(1000, 1000 - LARGEST, -1))
        assert len(tally._largest) == LARGEST

    def test_noncurrent_debt_counts_locked_versions_and_the_latest_retain_until(self) -> None:
        tally = BucketTally(NOW)
        tally.add(Version("a", "1", 10, False, NOW + timedelta(days=30)), State.SSE_S3)
        tally.add(Version("b", "2", 20, False, NOW + timedelta(days=90)), State.SSE_KMS)
        tally.add(Version("c", "3", 40, False, NOW - timedelta(days=1)), State.SSE_S3)  # retention over
        tally.add(Version("d", "4", 80, False), State.DSSE_KEY)  # no debt

        debt = tally.debt
        assert (debt.objects, debt.bytes, debt.locked, debt.locked_until) == (3, 70, 2, NOW + timedelta(days=90))


@pytest.mark.parametrize(
    ("value", "text"), [(100.0, "100.00%"), (99.9999, "99.99%"), (0.0001, "0.01%"), (0.0, "0.00%"), (25.0, "25.00%")]
)
def test_a_share_in_text_never_rounds_to_done_or_to_nothing(value: float, text: str) -> None:
    assert share(value) == text


class TestDocument:
    def estate(self, *buckets: BucketPosture) -> Estate:
        return Estate(
            NOW, "arn:aws:iam::123456789012:user/auditor", "123456789012", "us-east-1", "aws", PLACEHOLDER_KEY, buckets
        )

    def test_an_empty_bucket_is_100_percent_and_compliant(self) -> None:
        document = self.estate(BucketPosture("empty", PLACEHOLDER_KEY, "scan", BucketTally(NOW))).answer()

        assert document["schema"] == SCHEMA
        assert document["buckets"][0]["percentDsseUnderKey"] == {"objects": 100.0, "bytes": 100.0}
        assert (document["compliant"], document["exitCode"]) == (True, 0)

    def test_a_bucket_with_an_error_is_not_compliant(self) -> None:
        bucket = BucketPosture("b", PLACEHOLDER_KEY, "inventory", BucketTally(NOW), error="data file missing")

        assert self.estate(bucket).answer()["exitCode"] == 1

    def test_a_sample_that_read_part_of_the_population_cannot_prove_compliance(self) -> None:
        tally = BucketTally(NOW)
        tally.add(Version("a", None, 1, True), State.DSSE_KEY)
        sampled = Estimate(checked=1, population=50, under_key=1, bytes_checked=1, bytes_under_key=1)

        bucket = BucketPosture("b", PLACEHOLDER_KEY, "inventory", tally, estimate=sampled)

        assert not bucket.compliant
        assert bucket.answer()["source"]["sample"]["population"] == 50

    def test_the_shape_of_a_bucket(self) -> None:
        tally = BucketTally(NOW)
        tally.add(Version("a", "0", 7, False), State.SSE_S3)

        bucket = BucketPosture("b", PLACEHOLDER_KEY, "scan", tally).answer()

        assert set(bucket) >= {
            "bucket",
            "source",
            "current",
            "noncurrent",
            "percentDsseUnderKey",
            "largestNotDsse",
            "noncurrentDebt",
            "error",
        }
        assert set(bucket["current"]["objects"]) == {s.value for s in STATES}
        assert bucket["noncurrentDebt"]["lifecycleRule"] == {
            "ID": "dsse-remediation-retire-noncurrent",
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        }
        assert bucket["largestNotDsse"] == [
            {"key": "a", "versionId": "0", "size": 7, "state": "sse-s3", "current": False}
        ]

    def test_the_csv_has_a_row_per_bucket_and_state(self) -> None:
        estate = self.estate(
            BucketPosture("one", PLACEHOLDER_KEY, "scan", BucketTally(NOW)),
            BucketPosture("two", PLACEHOLDER_KEY, "scan", BucketTally(NOW)),
        )

        assert [(row["bucket"], row["state"]) for row in csv_rows(estate)] == [
            (bucket, state.value) for bucket in ("one", "two") for state in STATES
        ]
