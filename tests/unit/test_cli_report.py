"""The CSV report: one row per resource, encryption before and after, and cells a spreadsheet will not run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dsse_remediation.cli.arguments import REPORT_FIELDS, UsageError
from dsse_remediation.cli.report import cell, report_file, report_row
from dsse_remediation.model import BucketEncryption, BucketResult, Encryption, ObjectResult, Outcome

KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
SSE_S3 = Encryption("AES256")
DSSE = Encryption("aws:kms:dsse", KEY)


def test_a_remediated_object_shows_its_encryption_before_and_after() -> None:
    result = ObjectResult(
        bucket="b",
        key="q3.csv",
        version_id="v1",
        outcome=Outcome.REMEDIATED,
        reason="copied",
        before=SSE_S3,
        after=DSSE,
    )

    assert report_row(result) == {
        "bucket": "b",
        "key": "q3.csv",
        "versionId": "v1",
        "outcome": "remediated",
        "reason": "copied",
        "encryptionBefore": "AES256",
        "encryptionAfter": f"aws:kms:dsse ({KEY})",
    }


@pytest.mark.parametrize("outcome", [Outcome.COMPLIANT, Outcome.WOULD_REMEDIATE, Outcome.FAILED])
def test_an_object_left_as_it_was_is_after_what_it_was_before(outcome: Outcome) -> None:
    result = ObjectResult(bucket="b", key="k", outcome=outcome, reason="", before=SSE_S3)

    row = report_row(result)

    assert (row["encryptionBefore"], row["encryptionAfter"], row["versionId"]) == ("AES256", "AES256", "")


def test_a_remediated_object_whose_new_encryption_is_unknown_leaves_after_empty() -> None:
    result = ObjectResult(bucket="b", key="k", outcome=Outcome.REMEDIATED, reason="", before=SSE_S3)

    assert report_row(result)["encryptionAfter"] == ""


def test_a_bucket_row_has_no_key_or_version() -> None:
    result = BucketResult(
        bucket="b",
        outcome=Outcome.REMEDIATED,
        reason="reset",
        before=BucketEncryption("AES256"),
        after=BucketEncryption("aws:kms:dsse", KEY, bucket_key_enabled=True),
    )

    row = report_row(result)

    assert (row["key"], row["versionId"]) == ("", "")
    assert row["encryptionAfter"] == f"aws:kms:dsse ({KEY}), Bucket Key on"


@pytest.mark.parametrize("key", ["=HYPERLINK(1).csv", "+1.csv", "-1.csv", "@SUM(A1).csv", "\tx", "\rx"])
def test_keys_never_run_as_spreadsheet_formulas(key: str) -> None:
    assert cell(key) == "'" + key
    assert report_row(ObjectResult(bucket="b", key=key, outcome=Outcome.COMPLIANT, reason=""))["key"] == "'" + key


@pytest.mark.parametrize("key", ["reports/q3.csv", "a=b.csv", "", "'quoted"])
def test_other_keys_are_written_as_they_are(key: str) -> None:
    assert cell(key) == key


def test_the_report_file_starts_with_the_header(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"

    with report_file(str(path)) as writer:
        assert writer is not None
        writer.writerow(report_row(ObjectResult(bucket="b", key="k", outcome=Outcome.COMPLIANT, reason="ok")))

    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows == [list(REPORT_FIELDS), ["b", "k", "", "compliant", "ok", "", ""]]


def test_no_report_asked_for_is_no_writer() -> None:
    with report_file(None) as writer:
        assert writer is None


def test_a_report_that_cannot_be_written_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write the report"), report_file(str(tmp_path / "no" / "r.csv")):
        pytest.fail("the body ran")
