"""S3 adapter, batch path: the files kept in the stack's report bucket. Completion reports (written by S3 Batch
Operations: a manifest.json and CSV result files, read by the job summary), the CSV manifests written from S3
Inventory reports (uploaded a part at a time), and the backstop's record of each bucket's last run.

Errors reach callers as AwsFailure, during the streaming of a file too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import errors
from .s3_objects import owner_args

UPLOAD_PART_BYTES = 8 * 1024 * 1024  # a written manifest is uploaded in parts of this size (S3 minimum: 5 MiB)


class ReportFiles:
    """The report bucket's reads and writes. Objects written take the bucket's default encryption (DSSE-KMS under the
    product's key), which the job role can read."""

    def __init__(self, client: Any, expected_owner: str | None = None) -> None:
        self._client = client
        self._owner, _ = owner_args(expected_owner)

    @errors.translated
    def read_json(self, bucket: str, key: str) -> Any:
        """The object parsed as JSON; AwsFailure (GONE when there is none), ValueError when it is not JSON."""
        body = self._client.get_object(Bucket=bucket, Key=key, **self._owner)["Body"]
        return json.loads(body.read())

    @errors.translated
    def write_json(self, bucket: str, key: str, value: Any) -> None:
        body = json.dumps(value, indent=1).encode()
        self._client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **self._owner)

    @errors.translated
    def write_text(self, bucket: str, key: str, text: str, content_type: str) -> None:
        """A text file (the posture's HTML evidence), UTF-8."""
        body = text.encode()
        self._client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **self._owner)

    def rows(self, bucket: str, key: str) -> Iterator[list[str]]:
        """A CSV file's rows, streamed (a completion report's result file may hold millions)."""
        try:
            body = self._client.get_object(Bucket=bucket, Key=key, **self._owner)["Body"]
            try:
                yield from csv.reader(io.TextIOWrapper(body, encoding="utf-8", newline=""))
            finally:
                body.close()  # also when the reader stops early (a row budget)
        except (ClientError, BotoCoreError) as exc:
            raise errors.failure(exc) from exc

    @errors.translated
    def write_csv(self, bucket: str, key: str, rows: Iterable[Sequence[str]]) -> tuple[str, int] | None:
        """Stream `rows` into a CSV object, uploaded a part at a time: (its ETag, how many rows); None, and nothing
        written, when there is no row. Whatever stops the rows (an error reading them) aborts the upload."""
        upload = _PartUpload(self._client, {"Bucket": bucket, "Key": key, **self._owner})
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        count = 0
        try:
            for row in rows:
                writer.writerow(row)
                count += 1
                if text.tell() >= UPLOAD_PART_BYTES:
                    upload.add(text.getvalue().encode())
                    text.seek(0)
                    text.truncate()
            if count == 0:
                upload.abort()
                return None
            etag = upload.finish(text.getvalue().encode())
        except BaseException:
            upload.abort()
            raise
        return etag.strip('"'), count


class _PartUpload:
    """A multipart upload started with the first full part, so a small file is one PutObject. Every part but the
    last is UPLOAD_PART_BYTES or more (S3's minimum is 5 MiB)."""

    def __init__(self, client: Any, where: dict[str, str]) -> None:
        self._client = client
        self._where = where
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def add(self, data: bytes) -> None:
        if self._upload_id is None:
            started = self._client.create_multipart_upload(ContentType="text/csv", **self._where)
            self._upload_id = str(started["UploadId"])
        number = len(self._parts) + 1
        part = self._client.upload_part(UploadId=self._upload_id, PartNumber=number, Body=data, **self._where)
        self._parts.append({"PartNumber": number, "ETag": part["ETag"]})

    def finish(self, last: bytes) -> str:
        """The object's ETag, once the rest (`last`, any size) is written."""
        if self._upload_id is None:
            return str(self._client.put_object(Body=last, ContentType="text/csv", **self._where)["ETag"])
        if last:
            self.add(last)
        done = self._client.complete_multipart_upload(
            UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}, **self._where
        )
        self._upload_id = None
        return str(done["ETag"])

    def abort(self) -> None:
        """Drop the parts of an unfinished upload; a failure here must not hide the error that led to it."""
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            with suppress(ClientError, BotoCoreError):
                self._client.abort_multipart_upload(UploadId=upload_id, **self._where)
