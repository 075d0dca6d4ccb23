"""The batch path's adapters on in-memory clients that answer as S3 does: AWS errors reach the domain as AwsFailure
(while a file is being streamed too), a gone object or an SSE-C one is an answer, not an error, and a written CSV
is one PutObject when small and an aborted upload when its rows fail. The same adapters on moto are exercised by
tests/integration/test_backfill.py, test_backstop.py and test_completion.py."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from dsse_remediation.aws import report_files
from dsse_remediation.aws.report_files import ReportFiles
from dsse_remediation.aws.s3_buckets import BucketStore
from dsse_remediation.aws.s3_inventory import InventoryStore
from dsse_remediation.exceptions import AwsFailure, InvalidRequest
from dsse_remediation.model import Encryption, Failure
from tests.helpers import ACCOUNT_ID


def error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


class S3:
    """GetObject, HeadObject and the upload calls on a dict of key -> bytes; `calls` records each call's name."""

    def __init__(self, objects: dict[str, bytes] | None = None, fail: ClientError | None = None) -> None:
        self.objects = objects or {}
        self.fail = fail
        self.calls: list[str] = []
        self.owners: set[str | None] = set()

    def get_object(self, Bucket: str, Key: str, ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        self._call("GetObject", ExpectedBucketOwner)
        if Key not in self.objects:
            raise error("NoSuchKey", 404, "GetObject")
        return {"Body": StreamingBody(io.BytesIO(self.objects[Key]), len(self.objects[Key]))}

    def head_object(self, Bucket: str, Key: str, ExpectedBucketOwner: str | None = None) -> dict[str, Any]:
        self._call("HeadObject", ExpectedBucketOwner)
        if Key not in self.objects:
            raise error("404", 404, "HeadObject")
        return {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": "k"} if Key.startswith("dsse") else {}

    def put_object(self, **params: Any) -> dict[str, Any]:
        self._call("PutObject", params.get("ExpectedBucketOwner"))
        self.objects[params["Key"]] = params["Body"]
        return {"ETag": '"small"'}

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self._call("CreateMultipartUpload")
        return {"UploadId": "u1"}

    def upload_part(self, **params: Any) -> dict[str, Any]:
        self._call("UploadPart")
        return {"ETag": f'"p{params["PartNumber"]}"'}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self._call("CompleteMultipartUpload")
        return {"ETag": '"big-2"'}

    def abort_multipart_upload(self, **_: Any) -> None:
        self._call("AbortMultipartUpload")

    def _call(self, name: str, owner: str | None = "-") -> None:
        self.calls.append(name)
        if owner != "-":
            self.owners.add(owner)
        if self.fail is not None:
            raise self.fail


# --- the report bucket ----------------------------------------------------------------------------------------------


def test_a_missing_report_file_is_gone_and_a_refused_read_is_denied() -> None:
    files = ReportFiles(S3(), ACCOUNT_ID)

    with pytest.raises(AwsFailure) as gone:
        files.read_json("b", "reports/job-1/manifest.json")
    with pytest.raises(AwsFailure) as denied:
        list(ReportFiles(S3(fail=error("AccessDenied", 403, "GetObject"))).rows("b", "results/1.csv"))

    assert (gone.value.failure, denied.value.failure) == (Failure.GONE, Failure.DENIED)


def test_report_files_are_read_and_written_in_the_accounts_own_bucket_only() -> None:
    s3 = S3({"r.csv": b"b,k,,succeeded\n"})
    files = ReportFiles(s3, ACCOUNT_ID)

    assert list(files.rows("b", "r.csv")) == [["b", "k", "", "succeeded"]]
    files.write_json("b", "backstop/last-run.json", {"x": "2026-11-20T00:00:00+00:00"})
    assert s3.owners == {ACCOUNT_ID}


def test_a_small_csv_is_one_put_object_and_no_row_writes_nothing() -> None:
    s3 = S3()
    files = ReportFiles(s3, ACCOUNT_ID)

    assert files.write_csv("b", "m.csv", [("b", "a%20b.txt")]) == ("small", 1)
    assert files.write_csv("b", "empty.csv", []) is None
    assert (s3.calls, s3.objects["m.csv"]) == (["PutObject"], b"b,a%20b.txt\n")


def test_a_large_csv_is_uploaded_in_parts_and_aborted_when_its_rows_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_files, "UPLOAD_PART_BYTES", 10)
    s3 = S3()

    def failing() -> Iterator[tuple[str, str]]:
        yield ("b", "first-key")
        yield ("b", "second-key")
        raise AwsFailure(Failure.TRANSIENT, "InternalError: reading the inventory")

    assert ReportFiles(s3).write_csv("b", "m.csv", [("b", "k1-long-key"), ("b", "k2")]) == ("big-2", 2)
    with pytest.raises(AwsFailure, match="reading the inventory"):
        ReportFiles(s3).write_csv("b", "m2.csv", failing())
    assert s3.calls[-1] == "AbortMultipartUpload"


# --- S3 Inventory ---------------------------------------------------------------------------------------------------


def test_an_inventory_data_file_is_read_gunzipped_row_by_row_and_one_that_is_not_gzip_is_refused() -> None:
    s3 = S3({"d.csv.gz": gzip.compress(b'"b","a%20b.txt","SSE-S3"\n'), "bad.csv.gz": b"not gzip"})
    inventories = InventoryStore(s3, ACCOUNT_ID)

    assert list(inventories.rows("i", "d.csv.gz")) == [["b", "a%20b.txt", "SSE-S3"]]
    with pytest.raises(InvalidRequest, match=r"s3://i/bad.csv.gz is not a gzip-compressed CSV data file"):
        list(inventories.rows("i", "bad.csv.gz"))
    with pytest.raises(AwsFailure) as gone:
        list(inventories.rows("i", "missing.csv.gz"))
    assert gone.value.failure is Failure.GONE


def test_an_inventory_manifest_that_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        InventoryStore(S3({"m.json": b"<xml/>"})).manifest("i", "m.json")


# --- the backstop's reads of a bucket -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "fail", "found"),
    [
        ("plain.csv", None, Encryption("none")),
        ("dsse.csv", None, Encryption("aws:kms:dsse", "k")),
        ("deleted.csv", None, None),
        ("c.bin", error("400", 400, "HeadObject"), Encryption("SSE-C")),  # an SSE-C object read without its key
    ],
)
def test_head_object_says_an_objects_encryption_and_whether_it_is_gone(
    key: str, fail: ClientError | None, found: Encryption | None
) -> None:
    s3 = S3({"plain.csv": b"", "dsse.csv": b"", "c.bin": b""}, fail)

    assert BucketStore(s3, ACCOUNT_ID).object_encryption("b", key) == found  # type: ignore[arg-type]


def test_any_other_head_object_error_reaches_the_domain_classified() -> None:
    s3 = S3({"k": b""}, error("SlowDown", 503, "HeadObject"))

    with pytest.raises(AwsFailure) as raised:
        BucketStore(s3).object_encryption("b", "k")  # type: ignore[arg-type]
    assert raised.value.failure is Failure.THROTTLED
