"""The posture summary a member forwards to the security account (posture_summary.py): totals over every measured
bucket, shares rounded down, the least-converted buckets, outcome compliant only when nothing is left."""

from __future__ import annotations

from typing import Any

from dsse_remediation.alerts import Context
from dsse_remediation.posture_summary import MOST_BUCKETS, posture_summary, totals

STATES = ("dsse-key", "dsse-other-key", "sse-kms", "sse-s3", "sse-c", "not-encrypted")
CONTEXT = Context(mode="remediate", account="123456789012", region="us-east-1")


def entry(bucket: str, done: int, left: int = 0, noncurrent_left: int = 0, error: str | None = None) -> dict[str, Any]:
    """`done` objects of 100 bytes DSSE under the key, `left` SSE-S3 ones, `noncurrent_left` noncurrent SSE-KMS."""
    zero = dict.fromkeys(STATES, 0)
    return {
        "bucket": bucket,
        "current": {
            "objects": zero | {"dsse-key": done, "sse-s3": left},
            "bytes": zero | {"dsse-key": 100 * done, "sse-s3": 100 * left},
        },
        "noncurrent": {
            "objects": zero | {"sse-kms": noncurrent_left},
            "bytes": zero | {"sse-kms": 100 * noncurrent_left},
        },
        "percentDsseUnderKey": {"objects": 0.0, "bytes": 0.0},
        "noncurrentDebt": {"objects": noncurrent_left, "bytes": 100 * noncurrent_left},
        "error": error,
    }


def document(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "dsse-remediation.posture/v1",
        "generatedAt": "2026-11-20T09:00:00+00:00",
        "buckets": list(entries),
    }


def test_totals_count_current_and_noncurrent_versions_of_every_measured_bucket() -> None:
    found = totals(document(entry("a", 97, 2, 1), entry("b", 100), entry("c", 0, error="AccessDenied")))

    assert found["objects"] == {"total": 200, "notDsseUnderKey": 3}
    assert found["bytes"] == {"total": 20000, "notDsseUnderKey": 300}
    assert found["percentDsseUnderKey"] == {"objects": 98.5, "bytes": 98.5}
    assert found["noncurrentDebt"] == {"objects": 1, "bytes": 100}
    assert (found["buckets"], found["unmeasured"]) == (3, ["c"])


def test_a_share_is_rounded_down_so_one_object_left_never_reads_100() -> None:
    found = totals(document(entry("a", 99_999, 1)))

    assert found["percentDsseUnderKey"]["objects"] == 99.99


def test_an_empty_estate_is_100_percent_and_compliant() -> None:
    alert = posture_summary(document(), CONTEXT)

    assert alert.body["posture"]["percentDsseUnderKey"] == {"objects": 100.0, "bytes": 100.0}
    assert alert.body["outcome"] == "compliant"


def test_the_summary_is_an_info_measurement_compliant_only_when_nothing_is_left() -> None:
    done = posture_summary(document(entry("a", 5)), CONTEXT, "s3://report/posture/latest.json")
    left = posture_summary(document(entry("a", 5, 1)), CONTEXT)
    unmeasured = posture_summary(document(entry("a", 5), entry("b", 0, error="AccessDenied")), CONTEXT)

    assert (done.body["severity"], done.body["resourceType"], done.body["outcome"]) == ("info", "posture", "compliant")
    assert done.body["report"] == "s3://report/posture/latest.json"
    assert left.body["outcome"] == unmeasured.body["outcome"] == "failed"
    assert "1 bucket(s) could not be measured" in unmeasured.body["reason"]
    assert left.attributes == {"severity": "info", "outcome": "failed", "resourceType": "posture"}


def test_the_least_converted_buckets_come_first_and_are_capped() -> None:
    many = [entry(f"bucket-{n:03}", 1, n) for n in range(MOST_BUCKETS + 10)]
    body = posture_summary(document(*many, entry("done", 3)), CONTEXT).body

    assert len(body["leastConverted"]) == MOST_BUCKETS
    assert body["leastConverted"][0] == {"bucket": "bucket-059", "bytesNotDsseUnderKey": 5900, "percentBytes": 0.0}
    assert "done" not in {row["bucket"] for row in body["leastConverted"]}
