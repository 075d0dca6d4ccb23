"""The inventory report as S3 documents it: manifest.json (fileFormat, fileSchema in the three spellings, files with
key, size and MD5checksum), gzipped CSV rows with URL-encoded keys, and each data file's MD5 checked."""

from __future__ import annotations

import builtins
import csv
import gzip
import hashlib
import io
from typing import Any
from urllib.parse import quote_plus

import pytest

from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.posture.inventory import DataFile, InventoryFileError, Manifest, rows, schema_columns

URI = "s3://reports/source/config/2026-01-02T01-00Z/manifest.json"
CSV_SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus"


def manifest(**changes: Any) -> dict[str, Any]:
    document = {
        "sourceBucket": "source",
        "destinationBucket": "arn:aws:s3:::reports",
        "version": "2016-11-30",
        "creationTimestamp": "1767315600000",
        "fileFormat": "CSV",
        "fileSchema": CSV_SCHEMA,
        "files": [{"key": "source/config/data/a.csv.gz", "size": 3, "MD5checksum": "f" * 32}],
    }
    return document | changes


def gz(lines: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(lines)
    return gzip.compress(text.getvalue().encode())


class TestManifest:
    def test_reads_the_documented_fields(self) -> None:
        parsed = Manifest.parse(manifest(), URI, "fallback")

        assert parsed.source_bucket == "source"
        assert parsed.files_bucket == "reports"
        assert parsed.file_format == "CSV"
        assert parsed.files == (DataFile("source/config/data/a.csv.gz", 3, "f" * 32),)
        assert parsed.date is not None
        assert parsed.date.isoformat() == "2026-01-02T01:00:00+00:00"
        assert parsed.versions

    def test_the_dated_folder_dates_a_report_without_creation_timestamp(self) -> None:
        parsed = Manifest.parse(manifest(creationTimestamp=None), URI, "fallback")

        assert parsed.date is not None
        assert parsed.date.isoformat() == "2026-01-02T01:00:00+00:00"

    @pytest.mark.parametrize(
        ("schema", "file_format"),
        [
            ("struct<bucket:string,key:string,version_id:string,is_latest:boolean,encryption_status:string>", "ORC"),
            (
                "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); "
                "optional binary version_id (UTF8); optional boolean is_latest; "
                "optional binary encryption_status (UTF8);}",
                "Parquet",
            ),
            ("Bucket, Key, VersionId, IsLatest, EncryptionStatus", "CSV"),
        ],
    )
    def test_file_schema_in_each_formats_spelling(self, schema: str, file_format: str) -> None:
        columns = schema_columns(schema, file_format)

        assert [c.replace("_", "").lower() for c in columns] == [
            "bucket",
            "key",
            "versionid",
            "islatest",
            "encryptionstatus",
        ]

    def test_without_encryption_status_is_a_clear_error(self) -> None:
        with pytest.raises(InvalidRequest, match=r"has no EncryptionStatus column .* add the Encryption field"):
            Manifest.parse(manifest(fileSchema="Bucket, Key, Size"), URI, "fallback")

    def test_an_unknown_format_is_refused(self) -> None:
        with pytest.raises(InvalidRequest, match="fileFormat 'JSON' is none of CSV, ORC, Parquet"):
            Manifest.parse(manifest(fileFormat="JSON"), URI, "fallback")

    def test_files_must_name_their_keys(self) -> None:
        with pytest.raises(InvalidRequest, match="files is not a list of data files"):
            Manifest.parse(manifest(files=[{"size": 3}]), URI, "fallback")

    def test_a_report_of_current_versions_only_says_so(self) -> None:
        assert not Manifest.parse(manifest(fileSchema="Bucket, Key, Size, EncryptionStatus"), URI, "x").versions


class TestRows:
    def parsed(self, body: bytes, md5: str | None = None, size: int | None = None) -> tuple[Manifest, DataFile]:
        digest = md5 or hashlib.md5(body, usedforsecurity=False).hexdigest()
        files = [{"key": "d.csv.gz", "size": len(body) if size is None else size, "MD5checksum": digest}]
        found = Manifest.parse(manifest(files=files), URI, "x")
        return found, found.files[0]

    def test_keys_are_url_decoded_and_flags_read(self) -> None:
        odd = "dir/ü file+plus 100%.txt"
        body = gz([["source", quote_plus(odd, safe="/"), "v1", "false", "false", "12", "SSE-S3"]])
        found, data = self.parsed(body)

        [row] = list(rows(found, data, io.BytesIO(body)))

        assert (row.key, row.version_id, row.current, row.delete_marker, row.size) == (odd, "v1", False, False, 12)

    def test_a_delete_marker_has_no_size(self) -> None:
        body = gz([["source", "k", "v2", "true", "true", "", ""]])
        found, data = self.parsed(body)

        [row] = list(rows(found, data, io.BytesIO(body)))

        assert (row.delete_marker, row.size) == (True, 0)

    def test_an_md5_that_differs_from_the_manifest_is_a_corrupt_file(self) -> None:
        body = gz([["source", "k", "v", "true", "false", "1", "SSE-S3"]])
        found, data = self.parsed(body, md5="0" * 32)

        with pytest.raises(InventoryFileError, match=r"d\.csv\.gz is corrupt: its MD5 is [0-9a-f]{32}"):
            list(rows(found, data, io.BytesIO(body)))

    def test_a_truncated_file_is_reported(self) -> None:
        body = gz([["source", "k", "v", "true", "false", "1", "SSE-S3"]] * 100)
        found, data = self.parsed(body)

        with pytest.raises(InventoryFileError, match="not a gzip-compressed CSV data file"):
            list(rows(found, data, io.BytesIO(body[: len(body) // 2])))

    def test_a_row_of_the_wrong_width_is_reported(self) -> None:
        body = gz([["source", "k", "v"]])
        found, data = self.parsed(body)

        with pytest.raises(InventoryFileError, match="a row has 3 values, fileSchema 7"):
            list(rows(found, data, io.BytesIO(body)))

    def test_orc_without_pyarrow_says_how_to_get_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = builtins.__import__

        def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
            if name.startswith("pyarrow"):
                raise ImportError(name)
            return real(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_pyarrow)
        found = Manifest.parse(
            manifest(fileFormat="ORC", fileSchema="struct<bucket:string,key:string,encryption_status:string>"), URI, "x"
        )

        with pytest.raises(InvalidRequest, match=r"needs pyarrow \(pip install 'dsse-remediation\[posture\]'\)"):
            list(rows(found, found.files[0], io.BytesIO(b"")))
