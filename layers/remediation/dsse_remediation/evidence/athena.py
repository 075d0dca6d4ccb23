"""Amazon Athena over S3 Inventory, as AWS documents it: the table over a report's Hive symlink layout, and the one
posture query per report. Text only: nothing here calls AWS.

Source: S3 User Guide, "Querying Amazon S3 Inventory with Amazon Athena"
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-athena-query.html
- `CREATE EXTERNAL TABLE ... PARTITIONED BY (dt string)` over `s3://DESTINATION/[PREFIX/]SOURCE-BUCKET/CONFIG-ID/hive/`,
  `STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'`, with partition projection on `dt`
  (`projection.dt.format` `yyyy-MM-dd-HH-mm`, interval 1 HOURS, range from a first day to NOW): no MSCK REPAIR TABLE
  and no Glue crawler. The report itself writes `hive/dt=YYYY-MM-DD-HH-MM/symlink.txt` (S3 User Guide,
  storage-inventory-location), which is the partition a query's `dt` names.
- SerDe: `org.apache.hadoop.hive.ql.io.orc.OrcSerde` (ORC), `...parquet.serde.ParquetHiveSerDe` (Parquet) with the ORC
  column types; `org.apache.hadoop.hive.serde2.OpenCSVSerde` (CSV), where size and the dates are declared `string`.
- One column per inventory field, in the report's fileSchema order; drop the fields the configuration does not have.
  The ORC manifest example in storage-inventory-location types object_lock_retain_until_date as `timestamp` where the
  Athena page declares `bigint`; the table follows the Athena page.

What Athena cannot tell: S3 Inventory's EncryptionStatus (SSE-S3, SSE-C, SSE-KMS, NOT-SSE, DSSE-KMS) names no KMS key,
so the query splits DSSE-KMS rows from the rest but not "dsse-key" from "dsse-other-key": the posture command checks
DSSE-KMS rows' keys with HeadObject (or a sample of them).

Cost. Athena bills SQL queries by the data they scan: $5.00 per TB in us-east-1, rounded up to the megabyte, 10 MB
minimum per query; DDL (CREATE TABLE) and failed queries are not billed (https://aws.amazon.com/athena/pricing/; the
figure is the list price and differs by Region). Compressed bytes are what is scanned: a CSV report is read whole
(every column of every row, gzipped), an ORC/Parquet report only in the columns the query names.
- CSV: measured 47 bytes per row gzipped for the fields the posture needs (Bucket, Key, VersionId, IsLatest,
  IsDeleteMarker, Size, EncryptionStatus) and 81 with LastModifiedDate, ETag, StorageClass and the Object Lock fields
  (synthetic keys of ~70 characters and random 32-character version IDs, gzip level 6). Assuming 80 bytes per row:
  10^9 rows scan 80 GB = 0.08 TB, about **$0.40 per billion rows** per query.
- Parquet/ORC: the query reads five columns (bucket, is_latest, is_delete_marker, size, encryption_status); with
  dictionary-encoded strings and bit-packed booleans, assumed 8 bytes per row (not measured: no Parquet writer in
  this project's environment): 8 GB, about **$0.04 per billion rows**.
(1 TB taken as 10^12 bytes.) Beyond Athena, the S3 GETs of the data files are billed at S3 request prices.

moto's Athena does not execute SQL (a query's results are whatever the test queued), so nothing here is checked
against a query engine: tests pin the SQL text and the validation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..exceptions import InvalidRequest
from ..scope import is_valid_bucket_name

PRICE_PER_TB_SCANNED_USD = 5.00  # us-east-1 list price, https://aws.amazon.com/athena/pricing/
MINIMUM_BILLED_BYTES = 10 * 1_000_000  # 10 MB per query, same page
FIRST_PARTITION = "2022-01-01-00-00"  # the documented projection.dt.range start; pass your first report's dt
FORMATS = {"csv": "CSV", "orc": "ORC", "parquet": "Parquet"}

_SERDE = {
    "CSV": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
    "ORC": "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    "Parquet": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
}
_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat"


@dataclass(frozen=True)
class Field:
    """One inventory field: its fileSchema name in a CSV manifest, its column in ORC/Parquet and Athena, and the
    column's type in the documented ORC/Parquet and CSV tables."""

    name: str
    column: str
    columnar_type: str
    csv_type: str


def _field(name: str, column: str, columnar_type: str = "string", csv_type: str | None = None) -> Field:
    return Field(name, column, columnar_type, csv_type or columnar_type)


# The documented tables' columns, in the documented order (storage-inventory-athena-query).
FIELDS: tuple[Field, ...] = (
    _field("Bucket", "bucket"),
    _field("Key", "key"),
    _field("VersionId", "version_id"),
    _field("IsLatest", "is_latest", "boolean"),
    _field("IsDeleteMarker", "is_delete_marker", "boolean"),
    _field("Size", "size", "bigint", "string"),
    _field("LastModifiedDate", "last_modified_date", "timestamp", "string"),
    _field("ETag", "e_tag"),
    _field("StorageClass", "storage_class"),
    _field("IsMultipartUploaded", "is_multipart_uploaded", "boolean"),
    _field("ReplicationStatus", "replication_status"),
    _field("EncryptionStatus", "encryption_status"),
    _field("ObjectLockRetainUntilDate", "object_lock_retain_until_date", "bigint", "string"),
    _field("ObjectLockMode", "object_lock_mode"),
    _field("ObjectLockLegalHoldStatus", "object_lock_legal_hold_status"),
    _field("IntelligentTieringAccessTier", "intelligent_tiering_access_tier"),
    _field("BucketKeyStatus", "bucket_key_status"),
    _field("ChecksumAlgorithm", "checksum_algorithm"),
    _field("ObjectAccessControlList", "object_access_control_list"),
    _field("ObjectOwner", "object_owner"),
    _field("LifecycleExpirationDate", "lifecycle_expiration_date", "timestamp", "string"),
)
_BY_SPELLING = {spelling.lower().replace("_", ""): f for f in FIELDS for spelling in (f.name, f.column)}
# What the posture query reads. IsLatest and IsDeleteMarker exist only in an inventory of all versions
# (IncludedObjectVersions All); posture_query(all_versions=False) reads an inventory of current versions.
REQUIRED = ("Bucket", "Key", "Size", "EncryptionStatus")
VERSION_FIELDS = ("IsLatest", "IsDeleteMarker")

# Athena table names: lowercase UTF-8, 1-255 bytes; a name starting with a digit or an underscore needs quoting
# (Athena User Guide, tables-databases-columns-names). Accepted here: what needs no quoting, optionally database.table.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,254}", re.ASCII)
_DT = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}", re.ASCII)
_DT_FORMAT = "%Y-%m-%d-%H-%M"  # projection.dt.format yyyy-MM-dd-HH-mm
# A LOCATION is a single-quoted SQL literal: no quote, backslash, control character or whitespace can be in it.
_PREFIX_CHARACTER = re.compile(r"[A-Za-z0-9!_.*()/=+:,@&$;~%-]", re.ASCII)


def require_table(table: str) -> str:
    """`table` or `database.table`, each part lowercase letters, digits and underscores starting with a letter."""
    parts = table.split(".") if isinstance(table, str) else []
    if not 1 <= len(parts) <= 2 or not all(_NAME.fullmatch(part) for part in parts):
        raise InvalidRequest(
            f"Athena table {table!r} is not accepted: use [database.]table, each a lowercase letter then lowercase "
            "letters, digits or '_' (at most 255), which Athena reads without quoting"
        )
    return table


def require_dt(dt: str) -> str:
    """A report's partition value, YYYY-MM-DD-HH-MM (its hive/dt=... folder), a real UTC minute."""
    if not isinstance(dt, str) or not _DT.fullmatch(dt):
        raise InvalidRequest(
            f"dt {dt!r} is not a report date: use YYYY-MM-DD-HH-MM, the report's hive/dt=YYYY-MM-DD-HH-MM folder"
        )
    try:
        datetime.strptime(dt, _DT_FORMAT)
    except ValueError:
        raise InvalidRequest(f"dt {dt!r} is not a real date and time (YYYY-MM-DD-HH-MM)") from None
    return dt


def dt_of(moment: datetime) -> str:
    """The dt partition of a report that S3 began at `moment` (the manifest folder's YYYY-MM-DDTHH-MMZ)."""
    if moment.tzinfo is None:
        raise InvalidRequest("a report time must be timezone-aware (S3 Inventory names folders in UTC)")
    return moment.astimezone(UTC).strftime(_DT_FORMAT)


def require_location(location: str) -> str:
    """The report's hive/ folder: s3://DESTINATION-BUCKET/[PREFIX/]SOURCE-BUCKET/CONFIG-ID/hive/ (trailing / added)."""
    text = location if isinstance(location, str) else ""
    if not text.endswith("/"):
        text += "/"
    bucket, _, path = text.removeprefix("s3://").partition("/")
    if (
        not text.startswith("s3://")
        or not is_valid_bucket_name(bucket)
        or not path.endswith("hive/")
        or not all(_PREFIX_CHARACTER.fullmatch(character) for character in path)
    ):
        raise InvalidRequest(
            f"location {location!r} is not an inventory's hive/ folder: use s3://DESTINATION-BUCKET/[PREFIX/]"
            "SOURCE-BUCKET/CONFIG-ID/hive/, where S3 writes dt=.../symlink.txt (no quotes, backslashes or spaces)"
        )
    return text


def fields_of(file_schema: str) -> tuple[str, ...]:
    """A manifest.json's fileSchema -> its field columns in order, for any of the three documented spellings:
    CSV "Bucket, Key, ...", ORC "struct<bucket:string,...>", Parquet "message s3.inventory { required binary bucket
    (UTF8); ... }" (S3 User Guide, storage-inventory-location, "Inventory manifest")."""
    text = file_schema.strip() if isinstance(file_schema, str) else ""
    if text.startswith("struct<") and text.endswith(">"):
        names = [part.split(":", 1)[0] for part in text[len("struct<") : -1].split(",")]
    elif text.startswith("message"):
        names = re.findall(r"(?:required|optional|repeated)\s+\w+\s+(\w+)", text, re.ASCII)
    else:
        names = text.split(",")
    return tuple(_resolve(name.strip()).column for name in names)


def _resolve(name: str) -> Field:
    found = _BY_SPELLING.get(name.lower().replace("_", "")) if name else None
    if found is None:
        known = ", ".join(f.name for f in FIELDS)
        raise InvalidRequest(f"{name!r} is not an S3 Inventory field (known: {known})")
    return found


def _format(file_format: str) -> str:
    found = FORMATS.get(file_format.lower()) if isinstance(file_format, str) else None
    if found is None:
        raise InvalidRequest(f"file format {file_format!r} is not an S3 Inventory format: use CSV, ORC or Parquet")
    return found


def table_ddl(
    table: str, location: str, file_format: str, fields: Iterable[str] | str, *, first: str = FIRST_PARTITION
) -> str:
    """The documented CREATE EXTERNAL TABLE for one inventory configuration's reports.

    `fields`: the report's fields in fileSchema order (columns are positional in CSV), in either spelling (`Size` or
    `size`), or the manifest's fileSchema string itself. Bucket, Key, Size and EncryptionStatus are required (the
    posture query reads them). `first`: the first partition projected, the dt of the oldest report you query.
    """
    name, where, kind = require_table(table), require_location(location), _format(file_format)
    start = require_dt(first)
    names = fields_of(fields) if isinstance(fields, str) else tuple(str(item).strip() for item in fields)
    chosen = [_resolve(item) for item in names]
    if len({f.name for f in chosen}) != len(chosen):
        raise InvalidRequest(f"fields list an inventory field twice: {[f.name for f in chosen]}")
    missing = [needed for needed in REQUIRED if needed not in {f.name for f in chosen}]
    if missing:
        raise InvalidRequest(
            f"the inventory lacks {', '.join(missing)}: the posture query needs Bucket, Key, Size and EncryptionStatus"
        )
    width = max(len(f.column) for f in chosen)
    columns = ",\n".join(
        f"  {f.column.ljust(width)} {f.csv_type if kind == 'CSV' else f.columnar_type}" for f in chosen
    )
    return (
        f"CREATE EXTERNAL TABLE {name} (\n{columns}\n)\n"
        "PARTITIONED BY (dt string)\n"
        f"ROW FORMAT SERDE '{_SERDE[kind]}'\n"
        f"STORED AS INPUTFORMAT '{_INPUT_FORMAT}'\n"
        f"OUTPUTFORMAT '{_OUTPUT_FORMAT}'\n"
        f"LOCATION '{where}'\n"
        "TBLPROPERTIES (\n"
        "  'projection.enabled' = 'true',\n"
        "  'projection.dt.type' = 'date',\n"
        "  'projection.dt.format' = 'yyyy-MM-dd-HH-mm',\n"
        f"  'projection.dt.range' = '{start},NOW',\n"
        "  'projection.dt.interval' = '1',\n"
        "  'projection.dt.interval.unit' = 'HOURS'\n"
        ");\n"
    )


def posture_query(table: str, dt: str, *, all_versions: bool = True) -> str:
    """Objects and bytes per bucket, current (is_latest) or noncurrent, and EncryptionStatus, of one report.

    Delete markers are left out (they have no size and no encryption). `CAST(size AS bigint)` reads both the CSV
    table's string column and the ORC/Parquet bigint: the Open CSV SerDe recognizes BOOLEAN, BIGINT, INT and DOUBLE
    but not an empty value in a numeric column (Athena User Guide, csv-serde), which is why the documented CSV table
    declares size a string; the only rows with an empty size, delete markers, are filtered out before the cast.

    With `all_versions=False` (an inventory of current versions, which has no IsLatest or IsDeleteMarker column)
    every row counts as current. One row per (bucket, is_current, encryption_status); DSSE-KMS rows still need their
    key checked (see the module docstring).
    """
    name, partition = require_table(table), require_dt(dt)
    current = "is_latest" if all_versions else "true"
    markers = "\n  AND NOT coalesce(is_delete_marker, false)" if all_versions else ""
    grouping = "bucket, is_latest, encryption_status" if all_versions else "bucket, encryption_status"
    return (
        "SELECT\n"
        "  bucket,\n"
        f"  {current} AS is_current,\n"
        "  encryption_status,\n"
        "  count(*) AS objects,\n"
        "  sum(CAST(size AS bigint)) AS bytes\n"
        f"FROM {name}\n"
        f"WHERE dt = '{partition}'{markers}\n"
        f"GROUP BY {grouping}\n"
        "ORDER BY bucket, is_current DESC, encryption_status;\n"
    )


def scan_cost_usd(bytes_scanned: int) -> float:
    """What one query scanning `bytes_scanned` costs at the us-east-1 list price: rounded up to the megabyte, 10 MB
    minimum (https://aws.amazon.com/athena/pricing/)."""
    if bytes_scanned < 0:
        raise InvalidRequest(f"bytes scanned cannot be negative ({bytes_scanned})")
    megabytes = max(-(-bytes_scanned // 1_000_000), MINIMUM_BILLED_BYTES // 1_000_000)
    return megabytes * 1_000_000 / 1e12 * PRICE_PER_TB_SCANNED_USD
