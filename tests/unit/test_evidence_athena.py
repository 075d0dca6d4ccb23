"""The Athena table over S3 Inventory and the posture query, as text: the S3 User Guide's documented DDL
(storage-inventory-athena-query) per format, and validation that keeps anything from being injected into the SQL.
moto's Athena does not execute SQL, so no test here pretends to run a query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dsse_remediation.evidence.athena import (
    FIELDS,
    dt_of,
    fields_of,
    posture_query,
    require_dt,
    require_table,
    scan_cost_usd,
    table_ddl,
)

LOCATION = "s3://example-inventory-destination/inventory/example-protected-bucket/dsse-posture/hive/"
POSTURE_FIELDS = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "EncryptionStatus")
# The manifest.json examples of the S3 User Guide (storage-inventory-location), one per format.
CSV_SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, EncryptionStatus"
ORC_SCHEMA = (
    "struct<bucket:string,key:string,version_id:string,is_latest:boolean,is_delete_marker:boolean,size:bigint,"
    "encryption_status:string,object_lock_retain_until_date:timestamp>"
)
PARQUET_SCHEMA = (
    "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id "
    "(UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional binary "
    "encryption_status (UTF8);}"
)


def columns(ddl: str) -> list[tuple[str, str]]:
    body = ddl[ddl.index("(\n") + 2 : ddl.index("\n)\n")]
    return [(line.split()[0], line.split()[1].rstrip(",")) for line in body.splitlines()]


def test_a_csv_table_is_the_documented_open_csv_table_with_size_as_a_string() -> None:
    ddl = table_ddl("inventory.posture", LOCATION, "CSV", POSTURE_FIELDS)

    assert ddl.startswith("CREATE EXTERNAL TABLE inventory.posture (\n")
    assert columns(ddl) == [
        ("bucket", "string"),
        ("key", "string"),
        ("version_id", "string"),
        ("is_latest", "boolean"),
        ("is_delete_marker", "boolean"),
        ("size", "string"),
        ("encryption_status", "string"),
    ]
    assert "PARTITIONED BY (dt string)" in ddl
    assert "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'" in ddl
    assert "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'" in ddl
    assert "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat'" in ddl
    assert f"LOCATION '{LOCATION}'" in ddl


def test_every_table_projects_the_dt_partition_as_the_documented_hourly_date() -> None:
    ddl = table_ddl("posture", LOCATION, "Parquet", POSTURE_FIELDS, first="2026-01-01-00-00")

    for line in (
        "'projection.enabled' = 'true'",
        "'projection.dt.type' = 'date'",
        "'projection.dt.format' = 'yyyy-MM-dd-HH-mm'",
        "'projection.dt.range' = '2026-01-01-00-00,NOW'",
        "'projection.dt.interval' = '1'",
        "'projection.dt.interval.unit' = 'HOURS'",
    ):
        assert line in ddl


def test_an_orc_table_uses_the_orc_serde_and_typed_columns() -> None:
    ddl = table_ddl("posture", LOCATION, "orc", [*POSTURE_FIELDS, "LastModifiedDate", "ObjectLockRetainUntilDate"])

    assert "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.orc.OrcSerde'" in ddl
    assert ("size", "bigint") in columns(ddl)
    assert ("last_modified_date", "timestamp") in columns(ddl)
    assert ("object_lock_retain_until_date", "bigint") in columns(ddl)  # as the Athena page declares it


def test_a_parquet_table_uses_the_parquet_serde_with_the_orc_columns() -> None:
    parquet = table_ddl("posture", LOCATION, "Parquet", POSTURE_FIELDS)
    orc = table_ddl("posture", LOCATION, "ORC", POSTURE_FIELDS)

    assert "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'" in parquet
    assert columns(parquet) == columns(orc)


def test_columns_follow_the_reports_field_order_because_csv_columns_are_positional() -> None:
    ddl = table_ddl("posture", LOCATION, "CSV", ["EncryptionStatus", "Size", "Key", "Bucket"])

    assert [name for name, _ in columns(ddl)] == ["encryption_status", "size", "key", "bucket"]


@pytest.mark.parametrize("schema", [CSV_SCHEMA, ORC_SCHEMA, PARQUET_SCHEMA])
def test_a_manifests_file_schema_in_any_format_gives_the_columns(schema: str) -> None:
    found = fields_of(schema)

    assert found[:3] == ("bucket", "key", "version_id")
    assert "encryption_status" in found
    assert "size" in found
    assert table_ddl("posture", LOCATION, "CSV", schema).count("encryption_status") == 1


def test_every_documented_field_has_a_column() -> None:
    ddl = table_ddl("posture", LOCATION, "ORC", [field.name for field in FIELDS])

    assert len(columns(ddl)) == 21
    assert ("lifecycle_expiration_date", "timestamp") in columns(ddl)


def test_the_location_gets_its_trailing_slash() -> None:
    assert f"LOCATION '{LOCATION}'" in table_ddl("posture", LOCATION.rstrip("/"), "CSV", POSTURE_FIELDS)


def test_the_posture_query_counts_objects_and_bytes_by_bucket_version_and_encryption_without_delete_markers() -> None:
    sql = posture_query("inventory.posture", "2026-12-05-01-00")

    assert "FROM inventory.posture\n" in sql
    assert "WHERE dt = '2026-12-05-01-00'\n  AND NOT coalesce(is_delete_marker, false)\n" in sql
    assert "count(*) AS objects" in sql
    assert "sum(CAST(size AS bigint)) AS bytes" in sql
    assert "is_latest AS is_current" in sql
    assert "GROUP BY bucket, is_latest, encryption_status\n" in sql


def test_an_inventory_of_current_versions_counts_every_row_as_current() -> None:
    sql = posture_query("posture", "2026-12-05-01-00", all_versions=False)

    assert "true AS is_current" in sql
    assert "is_latest" not in sql
    assert "is_delete_marker" not in sql
    assert "GROUP BY bucket, encryption_status\n" in sql


@pytest.mark.parametrize(
    "table",
    [
        "posture; DROP TABLE x",
        "posture--",
        "posture'",
        'posture"',
        "Posture",
        "_posture",
        "1posture",
        "a.b.c",
        "db.",
        "",
        "post ure",
        "pöstüre",
        "x" * 256,
    ],
)
def test_a_table_name_that_would_need_quoting_or_could_inject_is_refused(table: str) -> None:
    with pytest.raises(ValueError, match="is not accepted"):
        posture_query(table, "2026-12-05-01-00")
    with pytest.raises(ValueError, match="is not accepted"):
        table_ddl(table, LOCATION, "CSV", POSTURE_FIELDS)


@pytest.mark.parametrize(
    "dt",
    [
        "2026-12-05' OR '1'='1",
        "2026-12-05",
        "2026-12-05T01-00Z",
        "2026-13-05-01-00",
        "2026-02-30-01-00",
        "2026-12-05-24-00",
        "\uff12\uff10\uff12\uff16-12-05-01-00",  # fullwidth digits
        "2026-12-05-01-00\n",
        "",
    ],
)
def test_a_dt_that_is_not_a_report_date_is_refused(dt: str) -> None:
    with pytest.raises(ValueError, match="dt"):
        require_dt(dt)
    with pytest.raises(ValueError, match="dt"):
        posture_query("posture", dt)


def test_a_first_partition_that_is_not_a_report_date_is_refused() -> None:
    with pytest.raises(ValueError, match="dt"):
        table_ddl("posture", LOCATION, "CSV", POSTURE_FIELDS, first="2022-01-01,NOW'")


@pytest.mark.parametrize(
    "location",
    [
        "s3://example-inventory-destination/inv/src/cfg/hive/' ) --",
        "s3://example-inventory-destination/inv/src/cfg/hive\\/",
        "s3://example-inventory-destination/inv/src/cfg/",
        "s3://example-inventory-destination/inv/src/cfg/2026-12-05T01-00Z/manifest.json",
        "https://example-inventory-destination.s3.amazonaws.com/inv/src/cfg/hive/",
        "s3://Bad_Bucket!/hive/",
        "s3://example-inventory-destination/inv src/cfg/hive/",
    ],
)
def test_a_location_that_is_not_an_inventorys_hive_folder_is_refused(location: str) -> None:
    with pytest.raises(ValueError, match="hive/ folder"):
        table_ddl("posture", location, "CSV", POSTURE_FIELDS)


def test_a_format_that_s3_inventory_does_not_write_is_refused() -> None:
    with pytest.raises(ValueError, match="use CSV, ORC or Parquet"):
        table_ddl("posture", LOCATION, "JSON", POSTURE_FIELDS)


def test_an_unknown_or_repeated_field_is_refused() -> None:
    with pytest.raises(ValueError, match="'KmsKeyArn' is not an S3 Inventory field"):
        table_ddl("posture", LOCATION, "CSV", [*POSTURE_FIELDS, "KmsKeyArn"])
    with pytest.raises(ValueError, match="twice"):
        table_ddl("posture", LOCATION, "CSV", [*POSTURE_FIELDS, "size"])


def test_an_inventory_without_the_fields_the_posture_reads_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks Size, EncryptionStatus"):
        table_ddl("posture", LOCATION, "CSV", ["Bucket", "Key"])


def test_a_report_time_becomes_its_dt_partition_in_utc() -> None:
    paris = timezone(timedelta(hours=1))

    assert dt_of(datetime(2026, 12, 5, 2, 7, tzinfo=paris)) == "2026-12-05-01-07"
    assert require_dt(dt_of(datetime(2026, 12, 5, 1, 0, tzinfo=UTC))) == "2026-12-05-01-00"
    with pytest.raises(ValueError, match="timezone-aware"):
        dt_of(datetime(2026, 12, 5, 1, 0))  # a naive time


def test_a_qualified_table_name_is_accepted() -> None:
    assert require_table("s3_inventory.dsse_posture_2026") == "s3_inventory.dsse_posture_2026"


@pytest.mark.parametrize(
    ("scanned", "usd"),
    [(0, 0.00005), (10_000_000, 0.00005), (10_000_001, 0.000055), (80 * 10**9, 0.40), (10**12, 5.00)],
)
def test_a_query_costs_five_dollars_per_terabyte_rounded_up_to_the_megabyte_with_a_10_mb_minimum(
    scanned: int, usd: float
) -> None:
    assert scan_cost_usd(scanned) == pytest.approx(usd)
