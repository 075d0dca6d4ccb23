"""An S3 Inventory report read for posture: its manifest.json exactly as S3 documents it, and its data files'
rows (CSV gzip-compressed, ORC, Parquet) as `Row`s, streamed, each data file's MD5 checked against the manifest.

The manifest (S3 User Guide, "Locating your inventory list", the manifest.json example for each format:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html): `sourceBucket`,
`destinationBucket` (an ARN), `version`, `creationTimestamp` (milliseconds since the epoch, when the report's listing
began), `fileFormat` (CSV, ORC or Parquet), `fileSchema` (the columns: a comma-separated list for CSV, an ORC
`struct<name:type,...>`, a Parquet `message s3.inventory { ... }`), and `files`, each with `key`, `size` and
`MD5checksum` (the MD5 of the data file as stored). CSV data files are gzip-compressed and their keys URL-encoded;
ORC and Parquet columns are snake_case (`encryption_status`) and their keys are not encoded.

Columns read: Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus, ObjectLockRetainUntilDate.
A report without VersionId/IsLatest (IncludedObjectVersions: Current) lists current versions only. ORC and Parquet
need pyarrow (the `posture` extra: `pip install 'dsse-remediation[posture]'`); it is imported only for them.
pyarrow reads ORC timestamps at nanosecond resolution, so an ORC report holding an Object Lock retain-until date after
2262-04-11 cannot be read (the data file is reported unreadable, naming pyarrow's error); CSV and Parquet can.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import unquote_plus

from ..aws.batch_jobs import bucket_name
from ..exceptions import AwsFailure, InvalidRequest
from ..model import Failure

FORMATS = ("CSV", "ORC", "Parquet")
# The columns read, by their name with case and underscores dropped (CSV's EncryptionStatus, ORC's encryption_status).
NEEDED = ("bucket", "key", "encryptionstatus")
OPTIONAL = ("versionid", "islatest", "isdeletemarker", "size", "objectlockretainuntildate")
_ORC_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):")
_PARQUET_FIELD = re.compile(r"(?:required|optional|repeated)\s+\w+\s+([A-Za-z_][A-Za-z0-9_]*)")
COPY_BLOCK = 1 << 20


class InventoryFileError(InvalidRequest):
    """A data file is missing, corrupt (its MD5 differs from the manifest's) or unreadable."""


def normal(name: str) -> str:
    return name.replace("_", "").lower()


@dataclass(frozen=True)
class DataFile:
    key: str
    size: int | None
    md5: str | None  # hex, as the manifest's MD5checksum


@dataclass(frozen=True)
class Manifest:
    uri: str
    source_bucket: str
    files_bucket: str
    file_format: str  # CSV | ORC | Parquet
    columns: tuple[str, ...]  # fileSchema's names, in order
    files: tuple[DataFile, ...]
    created: datetime | None  # creationTimestamp
    folder_date: datetime | None  # the dated folder YYYY-MM-DDTHH-MMZ the manifest sits in

    @property
    def date(self) -> datetime | None:
        """The date the report reflects: creationTimestamp, else the dated folder."""
        return self.created or self.folder_date

    @property
    def versions(self) -> bool:
        """Whether the report lists every version (IncludedObjectVersions: All) or current ones only."""
        return "islatest" in {normal(column) for column in self.columns}

    @classmethod
    def parse(cls, document: Any, uri: str, default_bucket: str) -> Manifest:
        if not isinstance(document, dict):
            raise InvalidRequest(f"{uri} is not an S3 Inventory manifest.json (not a JSON object)")
        file_format = next((f for f in FORMATS if f.upper() == str(document.get("fileFormat", "")).upper()), None)
        if file_format is None:
            raise InvalidRequest(f"{uri}: fileFormat {document.get('fileFormat')!r} is none of {', '.join(FORMATS)}")
        columns = schema_columns(str(document.get("fileSchema", "")), file_format)
        found = {normal(column) for column in columns}
        if "encryptionstatus" not in found:
            raise InvalidRequest(
                f"{uri} has no EncryptionStatus column (fileSchema: {document.get('fileSchema')!r}): add the "
                "Encryption field to the inventory configuration and use a report delivered after that"
            )
        for needed in ("bucket", "key"):
            if needed not in found:
                raise InvalidRequest(f"{uri}: fileSchema lists no {needed} column")
        source = str(document.get("sourceBucket") or "")
        if not source:
            raise InvalidRequest(f"{uri} names no sourceBucket: is it an S3 Inventory manifest.json?")
        listed = document.get("files")
        if not isinstance(listed, list) or not all(isinstance(item, dict) and item.get("key") for item in listed):
            raise InvalidRequest(f"{uri}: files is not a list of data files, each with a key")
        files = tuple(
            DataFile(str(item["key"]), _int(item.get("size")), str(item["MD5checksum"]).lower() or None)
            if item.get("MD5checksum")
            else DataFile(str(item["key"]), _int(item.get("size")), None)
            for item in listed
        )
        destination = str(document.get("destinationBucket") or "")
        stamp = str(document.get("creationTimestamp") or "")
        created = datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp.isascii() and stamp.isdigit() else None
        folder = re.search(r"/(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)/manifest\.json\Z", uri, re.ASCII)
        folder_date = datetime.strptime(folder[1], "%Y-%m-%dT%H-%MZ").replace(tzinfo=UTC) if folder else None
        return cls(
            uri,
            source,
            bucket_name(destination) if destination else default_bucket,
            file_format,
            columns,
            files,
            created,
            folder_date,
        )


def schema_columns(schema: str, file_format: str) -> tuple[str, ...]:
    if file_format == "CSV":
        return tuple(column.strip() for column in schema.split(",") if column.strip())
    pattern = _ORC_FIELD if file_format == "ORC" else _PARQUET_FIELD
    return tuple(pattern.findall(schema))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Row:
    bucket: str
    key: str  # decoded
    version_id: str | None
    current: bool
    delete_marker: bool
    size: int
    encryption: str
    lock_until: datetime | None


class Md5Reader(io.RawIOBase):
    """A binary stream that hashes what is read through it, and counts it."""

    def __init__(self, body: IO[bytes]) -> None:
        self._body = body
        self.digest = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._body.read(len(buffer))
        count = len(chunk)
        buffer[:count] = chunk
        self.digest.update(chunk)
        self.size += count
        return count


def check(reader: Md5Reader, expected: DataFile, where: str) -> None:
    """After the whole file was read: its MD5 (and size) as the manifest lists them, or InventoryFileError."""
    if expected.md5 is not None and reader.digest.hexdigest() != expected.md5:
        raise InventoryFileError(
            f"{where} is corrupt: its MD5 is {reader.digest.hexdigest()}, the manifest's MD5checksum {expected.md5} "
            "(a partial or replaced data file): the report cannot be trusted; use another report or scan the bucket"
        )
    if expected.size is not None and reader.size != expected.size:
        raise InventoryFileError(f"{where} is corrupt: {reader.size} bytes, the manifest says {expected.size}")


def report_rows(manifest: Manifest, open_file: Callable[[str, str], IO[bytes]]) -> Iterator[Row]:
    """Every data file's rows in the manifest's order, each file opened with `open_file(bucket, key)` and closed
    after its rows (also when the caller stops early); a data file the manifest lists but S3 no longer has is an
    InvalidRequest naming it (the report is incomplete), any other AwsFailure the caller's."""
    for data in manifest.files:
        try:
            body = open_file(manifest.files_bucket, data.key)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:
                raise InvalidRequest(
                    f"the data file s3://{manifest.files_bucket}/{data.key} that {manifest.uri} lists is missing: "
                    "the report is incomplete; use another report or scan the bucket"
                ) from None
            raise
        try:
            yield from rows(manifest, data, body)
        finally:
            body.close()


def rows(manifest: Manifest, data: DataFile, body: IO[bytes]) -> Iterator[Row]:
    """One data file's rows, streamed; its MD5 checked once it has been read whole (a mismatch raises after its rows:
    the caller drops the bucket's figures)."""
    where = f"s3://{manifest.files_bucket}/{data.key}"
    reader = Md5Reader(body)
    if manifest.file_format == "CSV":
        yield from csv_rows(manifest, reader, where)
    else:
        yield from columnar_rows(manifest, reader, where)
    check(reader, data, where)


def csv_rows(manifest: Manifest, reader: Md5Reader, where: str) -> Iterator[Row]:
    index = {normal(column): n for n, column in enumerate(manifest.columns)}
    width = len(manifest.columns)
    try:
        with gzip.GzipFile(fileobj=io.BufferedReader(reader, COPY_BLOCK)) as unzipped:
            for values in csv.reader(io.TextIOWrapper(unzipped, encoding="utf-8", newline="")):
                if len(values) != width:
                    raise InventoryFileError(f"{where}: a row has {len(values)} values, fileSchema {width}")
                yield _row({name: values[n] for name, n in index.items()}, encoded=True)
    except (gzip.BadGzipFile, EOFError, zlib.error, csv.Error, UnicodeDecodeError) as exc:
        raise InventoryFileError(f"{where} is not a gzip-compressed CSV data file: {exc}") from exc


def columnar_rows(manifest: Manifest, reader: Md5Reader, where: str) -> Iterator[Row]:
    """ORC or Parquet: the file is spooled to a temporary file (both formats keep their index at the end), then
    read a stripe / row group at a time, only the needed columns."""
    try:
        import pyarrow.orc as orc
        import pyarrow.parquet as parquet
    except ImportError:
        raise InvalidRequest(
            f"{manifest.uri} is a {manifest.file_format} inventory: reading it needs pyarrow "
            "(pip install 'dsse-remediation[posture]'), or use a CSV inventory"
        ) from None
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(reader, spool, COPY_BLOCK)
        spool.seek(0)
        try:
            if manifest.file_format == "ORC":
                table = orc.ORCFile(spool)
                names = _wanted(table.schema.names)
                batches: Iterator[Any] = (
                    table.read_stripe(n, columns=list(names.values())) for n in range(table.nstripes)
                )
            else:
                table = parquet.ParquetFile(spool)
                names = _wanted(table.schema_arrow.names)
                batches = table.iter_batches(columns=list(names.values()))
            for batch in batches:
                columns = {name: batch.column(column).to_pylist() for name, column in names.items()}
                for n in range(batch.num_rows):
                    yield _row({name: values[n] for name, values in columns.items()}, encoded=False)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError, ArrowIOError an OSError
            raise InventoryFileError(f"{where} is not a readable {manifest.file_format} data file: {exc}") from exc


def _wanted(names: list[str]) -> dict[str, str]:
    found = {normal(name): name for name in names}
    missing = [name for name in NEEDED if name not in found]
    if missing:
        raise InventoryFileError(f"the data file has no {', '.join(missing)} column")
    return {name: found[name] for name in (*NEEDED, *OPTIONAL) if name in found}


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(values: dict[str, Any], *, encoded: bool) -> Row:
    key = str(values["key"])
    version = values.get("versionid")
    size = values.get("size")
    return Row(
        bucket=str(values["bucket"]),
        key=unquote_plus(key) if encoded else key,
        version_id=str(version) if version not in (None, "") else None,
        current=_flag(values.get("islatest"), True),
        delete_marker=_flag(values.get("isdeletemarker"), False),
        size=int(size) if size not in (None, "") else 0,
        encryption=str(values.get("encryptionstatus") or ""),
        lock_until=_when(values.get("objectlockretainuntildate")),
    )
