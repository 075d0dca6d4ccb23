"""One bucket's posture from its newest S3 Inventory report, counted by Amazon Athena instead of read row by row: for
a report larger than one Lambda invocation can read in its time.

AWS documents Athena as the way to query S3 Inventory: one table over a configuration's `hive/` folder, one partition
per report (S3 User Guide, storage-inventory-athena-query). S3 writes a report as
`DESTINATION-PREFIX/SOURCE-BUCKET/CONFIG-ID/YYYY-MM-DDTHH-MMZ/manifest.json` and its Hive symlink as
`.../SOURCE-BUCKET/CONFIG-ID/hive/dt=YYYY-MM-DD-HH-MM/symlink.txt`, the folder's timestamp being "the start time and
the date when the inventory report generation process begins scanning the bucket" (S3 User Guide,
storage-inventory-location). So the manifest's own key gives the table's LOCATION, the configuration id and the dt.

Per report, at most four queries and one DDL (the SQL text of the table and the grouped query is evidence/athena.py's):
1. DDL, once per table: `CREATE EXTERNAL TABLE IF NOT EXISTS`, one table per inventory configuration and schema
   (`table_name`: the bucket, the configuration id and a hash of the format, schema and location, so a
   configuration whose fields change gets a new table instead of a stale one: CSV columns are positional). DDL is
   not billed.
2. `posture_query`: objects and bytes per (is_current, encryption_status), delete markers left out. Names bucket,
   is_latest, is_delete_marker, size, encryption_status.
3. The DSSE-KMS sample (only when the report lists DSSE-KMS versions): `ORDER BY rand() LIMIT N` over them. Names
   key, version_id, size, is_latest, is_delete_marker, encryption_status. Chosen over `TABLESAMPLE BERNOULLI (p)`:
   Bernoulli keeps each row with probability p, so the sample's size varies and p must be derived from the
   population; `ORDER BY rand() LIMIT N` draws exactly min(N, population) rows, uniformly without replacement (what
   the survey's reservoir draws), and Athena (Trino) runs it as a top-N, holding N rows. Both read every row of the
   partition (Bernoulli decides row by row), so the cost is the same. Athena's rand() takes no seed: the draw is not
   repeatable. When the population is at most N every DSSE-KMS version is read: the split is exact, as the
   survey's run without `--sample`.
4. The noncurrent debt under Object Lock (only when the report has ObjectLockRetainUntilDate and lists non-DSSE
   noncurrent versions): count and latest retain-until of those still retained at `now`. Names is_latest,
   is_delete_marker, encryption_status, object_lock_retain_until_date. (The debt's objects and bytes come from query
   2, and from the sample for dsse-other-key.)
5. The ten largest versions that are not DSSE-KMS: `ORDER BY size DESC LIMIT 10`. Names key, version_id, size,
   is_latest, is_delete_marker, encryption_status. (Largest dsse-other-key versions come from the sample, as in the
   survey.)

Cost (evidence/athena.py: $5.00 per TB scanned in us-east-1, 10 MB minimum per query). A CSV report is read whole by
every query whatever columns it names: measured ~80 bytes per row gzipped, so each of queries 2-5 scans ~80 GB per
billion rows, $0.40, at most $1.60 per billion rows per report. ORC/Parquet read only the named columns: query 2 and 4
assumed ~8 bytes per row ($0.04 per billion rows each); queries 3 and 5 name key and version_id, assumed ~50 bytes per
row ($0.25 per billion rows each; not measured: no Parquet writer here); at most about $0.58 per billion rows.
`AthenaPosture.scanned_bytes` adds up what the queries actually scanned (Statistics.DataScannedInBytes).

Reading the rows: Athena returns text. A CSV report's keys are URL-encoded (as the inventory reader decodes them);
ORC and Parquet keys are not. Booleans come as `true`/`false`.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote_plus

from ..evidence.athena import FIRST_PARTITION, dt_of, posture_query, require_dt, require_table, table_ddl
from ..exceptions import InvalidRequest
from ..model import Clock, utc_now
from .document import BucketPosture
from .inventory import Manifest, normal
from .sampling import Reservoir
from .states import State, of_inventory
from .survey import Head, Parallel, Survey, posture_of
from .tally import LARGEST, Version

DEFAULT_SAMPLE = 1000  # DSSE-KMS versions read with HeadObject per report at most
_CREATE = "CREATE EXTERNAL TABLE "
_MANIFEST_KEY = re.compile(r"\As3://([^/]+)/(.*?)([^/]+)/([^/]+)/(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)/manifest\.json\Z")
_DSSE = "strpos(upper(encryption_status), 'DSSE') > 0"  # as states.of_inventory reads EncryptionStatus


class Queries(Protocol):
    def run(self, sql: str, database: str) -> Iterable[list[str | None]]: ...


def serial(items: Iterable[Any], work: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
    """A `Parallel` of one: each item's work done in turn (the caller may pass a bounded pool instead)."""
    for item in items:
        done(work(item))


@dataclass(frozen=True)
class Report:
    """Where a report is in Athena's terms: its table, the table's LOCATION (the configuration's hive/ folder) and
    the report's partition."""

    bucket: str
    config_id: str
    location: str
    dt: str
    table: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def table_name(bucket: str, config_id: str, manifest: Manifest, location: str) -> str:
    """s3_inventory_BUCKET_CONFIG_HASH: lowercase letters, digits and '_', starting with a letter (what Athena reads
    unquoted), at most 255 characters; the hash (of format, schema and location) keeps two configurations whose
    names fold alike, or one configuration whose fields changed, in different tables."""
    fingerprint = "\n".join((manifest.file_format, ",".join(manifest.columns), location))
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:12]
    stem = f"s3_inventory_{_slug(bucket)}_{_slug(config_id)}"[:230].rstrip("_")
    return require_table(f"{stem}_{digest}")


def report_of(manifest: Manifest) -> Report:
    """The table and partition of a manifest at s3://DESTINATION/[PREFIX/]SOURCE-BUCKET/CONFIG-ID/STAMP/manifest.json.
    The dt is the dated folder's (the hive/dt=... S3 writes with it), else creationTimestamp's minute."""
    found = _MANIFEST_KEY.match(manifest.uri)
    if found is None or found[3] != manifest.source_bucket:
        raise InvalidRequest(
            f"{manifest.uri} is not where S3 Inventory writes a manifest (s3://DESTINATION/[PREFIX/]"
            f"{manifest.source_bucket}/CONFIG-ID/YYYY-MM-DDTHH-MMZ/manifest.json): the hive/ folder cannot be found"
        )
    destination, prefix, bucket, config_id = found[1], found[2], found[3], found[4]
    location = f"s3://{destination}/{prefix}{bucket}/{config_id}/hive/"
    moment = manifest.folder_date or manifest.created
    if moment is None:
        raise InvalidRequest(f"{manifest.uri}: no dated folder or creationTimestamp says which report it is")
    return Report(bucket, config_id, location, dt_of(moment), table_name(bucket, config_id, manifest, location))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _int(value: str | None) -> int:
    return int(value) if value not in (None, "") else 0


class AthenaPosture:
    """`queries`: aws/athena.AthenaQueries (or anything with its `run`). `database`: the Glue database the tables
    are created in (it must exist). `head`: the survey's HeadObject of one version (aws/s3_posture.PostureReader.head).
    `parallel`: the survey's bounded pool (default: one at a time). `sample`: DSSE-KMS versions read at most."""

    def __init__(
        self,
        queries: Queries,
        database: str,
        *,
        head: Head,
        parallel: Parallel = serial,
        sample: int = DEFAULT_SAMPLE,
        clock: Clock = utc_now,
    ) -> None:
        if "." in database:
            raise InvalidRequest(f"database {database!r}: give the database name alone")
        require_table(database)
        if not isinstance(sample, int) or sample < 1:
            raise InvalidRequest(f"sample {sample!r}: read at least one DSSE-KMS version (a positive integer)")
        self._queries = queries
        self.database = database
        self._head = head
        self._parallel = parallel
        self._sample = sample
        self._clock = clock
        self._created: set[str] = set()

    def _run(self, sql: str) -> Iterator[list[str | None]]:
        return iter(self._queries.run(sql, self.database))

    def ensure_table(self, manifest: Manifest, report: Report) -> None:
        """CREATE EXTERNAL TABLE IF NOT EXISTS, once per table per run (the table text is evidence/athena's)."""
        if report.table in self._created:
            return
        first = min(FIRST_PARTITION, report.dt)
        ddl = table_ddl(report.table, report.location, manifest.file_format, manifest.columns, first=first)
        if not ddl.startswith(_CREATE):
            raise AssertionError(f"table_ddl no longer starts with {_CREATE!r}")
        for _ in self._run("CREATE EXTERNAL TABLE IF NOT EXISTS " + ddl.removeprefix(_CREATE)):
            pass
        self._created.add(report.table)

    def bucket(self, manifest: Manifest, key_arn: str) -> BucketPosture:
        """The report's figures for its source bucket, as BucketPosture(kind "inventory"). Errors (a failed query,
        a manifest Athena cannot read) raise: the caller reports the bucket as not surveyed."""
        report = report_of(manifest)
        require_dt(report.dt)
        self.ensure_table(manifest, report)
        survey = Survey(report.bucket, key_arn, self._head, self._parallel, self._clock())
        columns = {normal(column) for column in manifest.columns}
        reader = _Reader(manifest, report, columns)
        dsse, noncurrent_left = self._grouped(survey, reader)
        if sum(objects for objects, _ in dsse.values()):
            self._dsse(survey, reader, dsse)
        if noncurrent_left and "objectlockretainuntildate" in columns:
            self._locked(survey, reader)
        for version, state in reader.versions(self._run(reader.largest_sql()), with_state=True):
            survey.tally.rank(version, state)
        return posture_of(survey, "inventory", manifest, unread="DSSE-KMS version(s)")  # with HeadObject

    def _grouped(self, survey: Survey, reader: _Reader) -> tuple[dict[bool, tuple[int, int]], int]:
        """Query 2: the counts. Non-DSSE states are added to the tally (noncurrent ones as debt too); DSSE-KMS is
        returned per current/noncurrent, [objects, bytes], for the key check."""
        dsse = {True: (0, 0), False: (0, 0)}
        debt = 0
        for bucket, current_text, status, objects_text, bytes_text in self._run(reader.grouped_sql()):
            if bucket != survey.bucket:
                continue
            current, objects, size = _flag(current_text), _int(objects_text), _int(bytes_text)
            state = of_inventory(status or "")
            if state is None:
                had = dsse[current]
                dsse[current] = (had[0] + objects, had[1] + size)
                continue
            (survey.tally.current if current else survey.tally.noncurrent).add(state, size, objects)
            if not current:
                survey.tally.add_debt(size, None, objects)
                debt += objects
        return dsse, debt

    def _dsse(self, survey: Survey, reader: _Reader, dsse: dict[bool, tuple[int, int]]) -> None:
        """Query 3: DSSE-KMS versions read with HeadObject: all of them when they are at most `sample`, else a
        uniform sample, split by the survey's own estimator (Survey._sampled, the `--sample` code)."""
        population = sum(objects for objects, _ in dsse.values())
        drawn = [version for version, _ in reader.versions(self._run(reader.sample_sql(self._sample)))]
        if population <= self._sample:
            survey.scan(drawn)
            return
        reservoir: Reservoir[Version] = Reservoir(self._sample, random.Random(0))  # filled by Athena's draw
        reservoir.items, reservoir.seen = drawn, population
        pending = {current: [objects, size] for current, (objects, size) in dsse.items()}
        survey._sampled(reservoir, pending)

    def _locked(self, survey: Survey, reader: _Reader) -> None:
        """Query 4: the non-DSSE noncurrent versions still under Object Lock retention at the survey's `now`."""
        for objects_text, until_text in self._run(reader.locked_sql(survey.tally.now)):
            objects = _int(objects_text)
            if not objects or not until_text:
                continue
            until = datetime.fromisoformat(until_text.replace("Z", "+00:00"))
            debt = survey.tally.debt
            debt.locked += objects
            if debt.locked_until is None or until > debt.locked_until:
                debt.locked_until = until


class _Reader:
    """The report's extra queries (2 is evidence/athena's posture_query) and their rows read back."""

    def __init__(self, manifest: Manifest, report: Report, columns: set[str]) -> None:
        self.csv = manifest.file_format == "CSV"
        self.all_versions = manifest.versions
        self.report = report
        self._version = "version_id" if "versionid" in columns else "CAST(NULL AS varchar)"
        self._current = "is_latest" if self.all_versions else "true"
        markers = " AND NOT coalesce(is_delete_marker, false)" if "isdeletemarker" in columns else ""
        self._where = f"WHERE dt = '{report.dt}'{markers}"

    def grouped_sql(self) -> str:
        return posture_query(self.report.table, self.report.dt, all_versions=self.all_versions)

    def _versions_sql(self, condition: str, order: str, limit: int, extra: str = "") -> str:
        return (
            f"SELECT key, {self._version} AS version_id, CAST(size AS bigint) AS size, {self._current} AS is_current"
            f"{extra}\nFROM {self.report.table}\n{self._where} AND {condition}\nORDER BY {order}\nLIMIT {int(limit)};\n"
        )

    def sample_sql(self, sample: int) -> str:
        return self._versions_sql(_DSSE, "rand()", sample)

    def largest_sql(self) -> str:
        return self._versions_sql(
            f"NOT {_DSSE}", "CAST(size AS bigint) DESC", LARGEST, extra=", encryption_status AS encryption_status"
        )

    def locked_sql(self, now: datetime) -> str:
        """CSV declares object_lock_retain_until_date a string (ISO 8601, as the inventory writes it); ORC/Parquet a
        bigint (the Athena page's type), read here as milliseconds since the epoch: the unit is not documented (the
        Parquet manifest example types the field TIMESTAMP_MILLIS), so check it against one report before relying on
        the locked count of a columnar report."""
        field = "object_lock_retain_until_date"
        until = (
            f"from_iso8601_timestamp(nullif({field}, ''))"
            if self.csv
            else f"from_unixtime(CAST({field} AS double) / 1000)"
        )
        moment = now.isoformat().replace("+00:00", "Z")
        return (
            f"SELECT count(*) AS objects, to_iso8601(max({until})) AS locked_until\n"
            f"FROM {self.report.table}\n{self._where} AND NOT is_latest AND NOT {_DSSE}\n"
            f"  AND {until} > from_iso8601_timestamp('{moment}');\n"
        )

    def versions(
        self, rows: Iterator[list[str | None]], *, with_state: bool = False
    ) -> Iterator[tuple[Version, State]]:
        """Rows of the sample or largest query as Versions (keys decoded for CSV); with_state: their state from
        encryption_status (the largest query's fifth column), else DSSE_OTHER_KEY as a placeholder."""
        for row in rows:
            key, version_id, size, current = row[0] or "", row[1], _int(row[2]), _flag(row[3])
            version = Version(unquote_plus(key) if self.csv else key, version_id or None, size, current)
            state = of_inventory(row[4] or "") if with_state and len(row) > 4 else None
            yield version, state or State.DSSE_OTHER_KEY
