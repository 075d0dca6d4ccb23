"""The scheduled posture's arithmetic and settings: how long a report is estimated to take, the rate a function's
memory buys, the dated keys, POSTURE_SAMPLE_SIZE and the Athena names, and the {"posture": {}} request."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import boto3
import pytest

from dsse_remediation.batch.events import PostureRequest, parse_batch_jobs_event
from dsse_remediation.config import PostureSettings, Settings
from dsse_remediation.deadline import Deadline
from dsse_remediation.exceptions import ConfigError, InvalidEvent
from dsse_remediation.posture.athena_source import DEFAULT_SAMPLE, AthenaPosture
from dsse_remediation.posture.inventory import DataFile, Manifest
from dsse_remediation.posture_run import (
    CSV_BYTES_PER_ROW,
    FINISH_SECONDS,
    HEAD_CONCURRENCY,
    MB_PER_VCPU,
    ROWS_PER_VCPU_SECOND,
    DeadlineQueries,
    dated_keys,
    estimate,
    rows_per_second,
)
from dsse_remediation.wiring import App
from tests.helpers import PLACEHOLDER_KEY


def manifest(*sizes: int | None, file_format: str = "CSV") -> Manifest:
    files = tuple(DataFile(f"data/{n}.csv.gz", size, None) for n, size in enumerate(sizes))
    return Manifest("s3://d/m.json", "b", "d", file_format, ("Bucket", "Key", "EncryptionStatus"), files, None, None)


def test_a_reports_rows_are_estimated_from_its_data_files_sizes() -> None:
    read = estimate(manifest(2_000_000, 1_000_000), sample=0, rate=1e12)

    assert read.rows == 3_000_000 // CSV_BYTES_PER_ROW
    assert "2 CSV data file(s) of 3,000,000 bytes" in read.basis


def test_the_time_is_the_rows_at_the_rate_plus_the_sample_heads_a_few_at_a_time() -> None:
    read = estimate(manifest(CSV_BYTES_PER_ROW * 20_000), sample=100, rate=10_000)

    assert read.seconds == pytest.approx(2 + math.ceil(100 / HEAD_CONCURRENCY) * 1.0)


def test_without_a_sample_every_row_may_need_a_head() -> None:
    read = estimate(manifest(CSV_BYTES_PER_ROW * 80), sample=0, rate=1e12)

    assert read.seconds == pytest.approx(80 / HEAD_CONCURRENCY, abs=1e-6)


def test_columnar_reports_are_assumed_denser_so_more_rows_per_byte() -> None:
    assert estimate(manifest(1000, file_format="Parquet"), 0, 1e12).rows > estimate(manifest(1000), 0, 1e12).rows


def test_a_data_file_listed_without_its_size_never_fits() -> None:
    assert estimate(manifest(100, None), sample=100, rate=1e12).seconds == math.inf


def test_a_function_reads_rows_in_proportion_to_its_memory_up_to_one_vcpu() -> None:
    assert rows_per_second(MB_PER_VCPU) == ROWS_PER_VCPU_SECOND
    assert rows_per_second(10_240) == ROWS_PER_VCPU_SECOND
    assert rows_per_second(512) == pytest.approx(ROWS_PER_VCPU_SECOND * 512 / MB_PER_VCPU)


def test_the_dated_keys_are_the_runs_utc_start() -> None:
    assert dated_keys(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "posture/2026/01/02/posture-030405Z.json",
        "posture/2026/01/02/posture-030405Z.html",
    )


def test_posture_settings_are_read_from_the_environment() -> None:
    env = {
        "DSSE_KMS_KEY": PLACEHOLDER_KEY,
        "POSTURE_SAMPLE_SIZE": "250",
        "POSTURE_ATHENA_WORKGROUP": "dsse-posture",
        "POSTURE_GLUE_DATABASE": "dsse_posture",
    }

    assert Settings.from_env(env).posture == PostureSettings(250, "dsse-posture", "dsse_posture")
    assert Settings.from_env({"DSSE_KMS_KEY": PLACEHOLDER_KEY}).posture == PostureSettings(100, None, None)


@pytest.mark.parametrize("value", ["-1", "100001", "many"])
def test_a_bad_sample_size_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="POSTURE_SAMPLE_SIZE"):
        Settings.from_env({"DSSE_KMS_KEY": PLACEHOLDER_KEY, "POSTURE_SAMPLE_SIZE": value})


def test_an_athena_workgroup_without_its_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="go together"):
        PostureSettings(athena_workgroup="dsse-posture")


def test_a_posture_request_is_an_empty_object_and_nothing_else() -> None:
    assert parse_batch_jobs_event({"posture": {}}) == PostureRequest()
    for bad in ({"posture": {"sample": 5}}, {"posture": "now"}, {"posture": {}, "dryRun": True}):
        with pytest.raises(InvalidEvent, match=r'\{"posture": \{\}\}'):
            parse_batch_jobs_event(bad)


class RecordingQueries:
    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def run(self, sql: str, database: str, *, timeout: float | None = None) -> list[list[str | None]]:
        self.timeouts.append(timeout)
        return []


def test_athenas_queries_may_take_the_time_left_but_what_the_run_needs_to_finish() -> None:
    queries = RecordingQueries()
    left = [300.0]
    held = DeadlineQueries(queries, Deadline(capacity=300.0, left=lambda: left[0]))

    held.run("SELECT 1", "db")
    left[0] = 2.0
    held.run("SELECT 1", "db")

    assert queries.timeouts == [300.0 - FINISH_SECONDS, 0.0]


def test_without_a_workgroup_and_database_no_athena_source_is_built() -> None:
    app = App(Settings(key=PLACEHOLDER_KEY), client=unreachable)

    assert app.posture_athena is None


def test_with_a_workgroup_and_database_each_invocation_gets_an_athena_source_held_to_its_deadline() -> None:
    settings = Settings(key=PLACEHOLDER_KEY, posture=PostureSettings(0, "dsse-posture-1a2b", "dsse_posture_1a2b"))
    app = App(settings, client=lambda service, region: boto3.client(service, region_name="us-east-1"))

    factory = app.posture_athena
    assert factory is not None
    source = factory(Deadline(capacity=100.0, left=lambda: 100.0))

    assert isinstance(source, AthenaPosture)
    assert source.database == "dsse_posture_1a2b"
    assert source._sample == DEFAULT_SAMPLE  # POSTURE_SAMPLE_SIZE 0 (every row) is the survey's: Athena samples
    assert isinstance(source._queries, DeadlineQueries)


def unreachable(service: str, region: str | None) -> object:
    raise AssertionError(f"no {service} client should be made")
