"""The scheduled backstop on fake AWS: jobs only where there is something to do (S3 Inventory where configured, else a
window since the bucket's last run), recorded only once created; a dry run starts and writes nothing. Jobs are created
on the s3control double (moto has no Batch Operations)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.s3.models import S3Backend

from dsse_remediation.batch.backstop import LAST_RUN_KEY, Action, Backstop, BackstopRun
from dsse_remediation.config import Mode
from dsse_remediation.exceptions import AwsFailure, ConfigError
from dsse_remediation.model import Failure, answer
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests.batch_operations import BATCH_SETTINGS, REPORT_BUCKET, BatchOperations
from tests.helpers import ACCOUNT_ID, Inbox, Wiring, inject_error, put
from tests.lambda_context import load_function
from tests.s3control_double import S3ControlDouble

INVENTORY_BUCKET = "example-excluded-inventory-destination"  # out of scope: its own writes start no job
EXCLUDED = "example-excluded-bucket"


@pytest.fixture(autouse=True)
def _inventory_optional_fields_as_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """ListBucketInventoryConfigurations returns `OptionalFields` as a list of field names, e.g. ["Size",
    "EncryptionStatus"] (https://docs.aws.amazon.com/AmazonS3/latest/API/API_InventoryConfiguration.html).
    moto 5.2.5 stores the parsed XML ({"Field": [...]}, or a bare string for one field) and lists it as ["Field"]:
    stored as the list S3 keeps, it is listed as S3 lists it."""
    original = S3Backend.put_bucket_inventory_configuration

    def put(self: S3Backend, bucket_name: str, inventory_configuration: dict[str, Any]) -> None:
        fields = inventory_configuration.get("OptionalFields")
        if isinstance(fields, dict):
            named = fields.get("Field", [])
            inventory_configuration = {
                **inventory_configuration,
                "OptionalFields": [named] if isinstance(named, str) else named,
            }
        original(self, bucket_name, inventory_configuration)

    monkeypatch.setattr(S3Backend, "put_bucket_inventory_configuration", put)


@pytest.fixture
def double(s3: Any, bucket: str) -> S3ControlDouble:
    for name in (REPORT_BUCKET, INVENTORY_BUCKET, EXCLUDED):
        s3.create_bucket(Bucket=name)
    return S3ControlDouble(ACCOUNT_ID, s3=s3)


@pytest.fixture
def make_backstop(wiring: Wiring, double: S3ControlDouble, s3: Any) -> Callable[..., Backstop]:
    """A Backstop whose clock reads `at` (default: an hour from now, after every object the test wrote)."""

    def make(at: datetime | None = None, **overrides: Any) -> Backstop:
        settings = wiring.settings(**(BATCH_SETTINGS | {"scope": Scope.parse("*", "example-excluded-*")} | overrides))
        moment = at or datetime.now(UTC) + timedelta(hours=1)
        return App(settings, double.factory(wiring.client), clock=lambda: moment).backstop

    return make


def only(run: BackstopRun, bucket: str) -> Any:
    [found] = [b for b in run.buckets if b.bucket == bucket]
    return found


def last_runs(s3: Any) -> dict[str, str]:
    return dict(json.loads(s3.get_object(Bucket=REPORT_BUCKET, Key=LAST_RUN_KEY)["Body"].read()))


def record(s3: Any, **runs: datetime) -> None:
    body = {bucket.replace("_", "-"): moment.isoformat() for bucket, moment in runs.items()}
    s3.put_object(Bucket=REPORT_BUCKET, Key=LAST_RUN_KEY, Body=json.dumps(body).encode())


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


# --- the window -----------------------------------------------------------------------------------------------------


def test_a_bucket_written_to_since_its_last_run_gets_the_windows_jobs_and_is_recorded(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "new.csv")
    backstop = make_backstop()

    run = backstop.run()

    result = only(run, bucket)
    assert result.action is Action.STARTED
    assert result.encryption_filters == ("SSES3",)  # the type its recent writes have: one job, not one per type
    assert sorted(result.job_ids) == sorted(double.jobs)
    since = backstop.clock() - timedelta(hours=25)
    assert result.created_after == since.replace(minute=0, second=0, microsecond=0)
    for request in double.jobs.values():
        generator = request["ManifestGenerator"]["S3JobManifestGenerator"]
        assert generator["Filter"]["CreatedAfter"] == result.created_after
        assert request["Description"].startswith(f"dsse-remediation {run.campaign} s3://{bucket}")
    assert run.campaign == f"backstop-{backstop.clock():%Y-%m-%d}"
    assert last_runs(s3)[bucket] == backstop.clock().isoformat(timespec="seconds")


def test_an_idle_bucket_starts_no_job(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "old.csv")
    record(s3, example_protected_bucket=datetime.now(UTC) + timedelta(minutes=30))

    run = make_backstop().run()

    result = only(run, bucket)
    assert (result.action, result.job_ids) == (Action.SKIPPED, ())
    assert result.reason.startswith("no write since")
    assert double.jobs == {}


def test_an_active_bucket_whose_writes_the_event_path_fixed_starts_no_job(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str, dsse_key: str
) -> None:
    for n in range(3):
        put(s3, bucket, f"new-{n}.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    backstop = make_backstop()

    run = backstop.run()

    result = only(run, bucket)
    assert (result.action, result.job_ids) == (Action.SKIPPED, ())
    assert "3 object(s) written since" in result.reason
    assert "every one DSSE-KMS under its key" in result.reason
    assert double.jobs == {}
    assert last_runs(s3)[bucket] == backstop.clock().isoformat(timespec="seconds")


def test_recent_sse_c_objects_start_no_job_no_job_could_re_encrypt_them(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="c.bin", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=b"k" * 32)
    backstop = make_backstop()
    # S3 answers HeadObject on an SSE-C object without its key with a bare 400 (moto describes it).
    inject_error(backstop.buckets.client, "HeadObject", "400", 400)

    run = backstop.run()

    assert only(run, bucket).action is Action.SKIPPED
    assert double.jobs == {}


def test_recent_writes_of_several_types_start_one_job_per_type_found(
    make_backstop: Callable[..., Backstop], s3: Any, bucket: str, other_key: str
) -> None:
    put(s3, bucket, "s3.csv")
    put(s3, bucket, "kms.csv", ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
    put(s3, bucket, "dsse-other.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=other_key)

    run = make_backstop().run()

    assert only(run, bucket).encryption_filters == ("SSES3", "SSEKMS", "DSSEKMS")


def test_the_dsse_job_of_other_keys_is_added_when_the_writes_cannot_be_read_and_it_is_configured(
    make_backstop: Callable[..., Backstop], s3: Any, bucket: str
) -> None:
    for n in range(3):
        put(s3, bucket, f"new-{n}.csv")

    run = make_backstop(backstop_listing_limit=2, backstop_include_dsse_other_keys=True).run()

    assert only(run, bucket).encryption_filters == ("NOTSSE", "SSES3", "SSEKMS", "DSSEKMS")


def test_a_listing_that_reaches_its_limit_starts_the_window_jobs_and_says_to_configure_inventory(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    for n in range(3):
        put(s3, bucket, f"old-{n}.csv")
    record(s3, example_protected_bucket=datetime.now(UTC) + timedelta(minutes=30))

    run = make_backstop(backstop_listing_limit=2).run()

    result = only(run, bucket)
    assert result.action is Action.STARTED
    assert "configure S3 Inventory" in result.reason
    assert len(double.jobs) == 3


def test_an_alert_only_deployment_starts_dry_run_jobs(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "new.csv")

    make_backstop(mode=Mode.ALERT_ONLY).run()

    arguments = [r["Operation"]["LambdaInvoke"]["UserArguments"]["dryRun"] for r in double.jobs.values()]
    assert arguments == ["true"]


def test_buckets_out_of_scope_and_the_report_bucket_are_skipped_without_being_listed(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any
) -> None:
    put(s3, EXCLUDED, "new.csv")
    s3.put_object(Bucket=REPORT_BUCKET, Key="reports/x/job-1/manifest.json", Body=b"{}")

    run = make_backstop().run()

    assert only(run, EXCLUDED).action is Action.SKIPPED
    assert "outside the protected buckets" in only(run, EXCLUDED).reason
    assert "report bucket" in only(run, REPORT_BUCKET).reason
    described = [request["Description"] for request in double.jobs.values()]
    assert not [d for d in described if f"s3://{EXCLUDED} " in d or f"s3://{REPORT_BUCKET} " in d]


# --- dry run and the record -----------------------------------------------------------------------------------------


def test_a_dry_run_starts_nothing_writes_nothing_and_lists_what_would_start(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str
) -> None:
    put(s3, bucket, "new.csv")
    inventory(s3, "example-inventoried-bucket", [("example-inventoried-bucket", "a.csv", "SSE-S3")])

    run = make_backstop().run(dry_run=True)

    assert run.dry_run
    assert only(run, bucket).action is Action.WOULD_START
    assert only(run, bucket).encryption_filters == ("SSES3",)
    assert only(run, "example-inventoried-bucket").action is Action.WOULD_START
    assert double.jobs == {}
    assert keys(s3, REPORT_BUCKET) == []  # no last-run.json, no manifest
    assert answer(run)["buckets"][0]["action"] in ("would-start", "skipped")


def test_a_bucket_whose_jobs_could_not_all_be_created_is_not_recorded_and_the_retry_starts_no_duplicate(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, bucket: str, other_key: str
) -> None:
    put(s3, bucket, "new.csv")
    put(s3, bucket, "kms.csv", ServerSideEncryption="aws:kms", SSEKMSKeyId=other_key)
    backstop = make_backstop()
    start = backstop.backfill.start
    attempts = [0]

    def second_fails(spec: Any) -> str:
        attempts[0] += 1
        if attempts[0] == 2:
            raise AwsFailure(Failure.TRANSIENT, "InternalError: try again")
        return start(spec)

    backstop.backfill.start = second_fails  # type: ignore[method-assign]
    failed = backstop.run()

    assert only(failed, bucket).action is Action.FAILED
    assert bucket not in last_runs_or_none(s3)
    retried = backstop.run()

    assert only(retried, bucket).action is Action.STARTED
    assert len(double.jobs) == 2  # the first job asked again is the same job (ClientRequestToken)
    assert bucket in last_runs(s3)


def last_runs_or_none(s3: Any) -> dict[str, str]:
    return last_runs(s3) if LAST_RUN_KEY in keys(s3, REPORT_BUCKET) else {}


def test_without_a_report_bucket_the_backstop_refuses_to_run(make_backstop: Callable[..., Backstop]) -> None:
    with pytest.raises(ConfigError, match="REPORT_BUCKET"):
        make_backstop(report_bucket=None).run()


# --- S3 Inventory ---------------------------------------------------------------------------------------------------


def inventory(
    s3: Any, source: str, rows: list[tuple[str, str, str]], delivered: datetime | None = None, configure: bool = True
) -> str:
    """An S3 Inventory report of `source` (CSV, with EncryptionStatus) in INVENTORY_BUCKET/inv/; its manifest URI."""
    if configure:
        if source not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=source)
        s3.put_bucket_inventory_configuration(
            Bucket=source,
            Id="daily",
            InventoryConfiguration={
                "Id": "daily",
                "IsEnabled": True,
                "IncludedObjectVersions": "Current",
                "Schedule": {"Frequency": "Daily"},
                "OptionalFields": ["Size", "EncryptionStatus"],
                "Destination": {
                    "S3BucketDestination": {
                        "Bucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
                        "Format": "CSV",
                        "Prefix": "inv",
                    }
                },
            },
        )
    when = delivered or datetime.now(UTC) - timedelta(hours=2)
    folder = f"inv/{source}/daily/{when:%Y-%m-%dT%H-00Z}"
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([(b, k, "10", e) for b, k, e in rows])
    data_key = f"inv/{source}/daily/data/{when:%H}.csv.gz"
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=data_key, Body=gzip.compress(text.getvalue().encode()))
    manifest = {
        "sourceBucket": source,
        "destinationBucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(when.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, EncryptionStatus",
        "files": [{"key": data_key, "size": 1, "MD5checksum": "x"}],
    }
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=f"{folder}/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{INVENTORY_BUCKET}/{folder}/manifest.json"


@pytest.fixture
def inventoried(double: S3ControlDouble) -> str:
    """A bucket with an S3 Inventory (created by `inventory`), beside the fixtures' buckets."""
    return "example-inventoried-bucket"


def test_an_inventory_that_lists_only_dsse_objects_starts_no_job(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, inventoried: str
) -> None:
    inventory(s3, inventoried, [(inventoried, "a.csv", "DSSE-KMS"), (inventoried, "b.csv", "DSSE-KMS")])
    put(s3, inventoried, "a.csv")

    run = make_backstop().run()

    result = only(run, inventoried)
    assert (result.action, result.source) == (Action.SKIPPED, "inventory")
    assert "lists no object that is not DSSE-KMS" in result.reason
    assert double.jobs == {}
    assert inventoried in last_runs(s3)


def test_with_include_dsse_other_keys_an_inventory_job_brings_an_object_dsse_under_another_key_to_the_key(
    make_backstop: Callable[..., Backstop],
    double: S3ControlDouble,
    s3: Any,
    inventoried: str,
    dsse_key: str,
    other_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An object written DSSE-KMS under another key whose event was missed: S3 Inventory says DSSE-KMS and names no
    key, so only a task that reads the object can tell. With BACKSTOP_INCLUDE_DSSE_OTHER_KEYS the inventory's job
    takes its DSSE-KMS rows too, and the task function remediates the object."""
    inventory(s3, inventoried, [(inventoried, "other-key.csv", "DSSE-KMS"), (inventoried, "customer-key.bin", "SSE-C")])
    put(s3, inventoried, "other-key.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=other_key)

    run = make_backstop(backstop_include_dsse_other_keys=True).run()

    result = only(run, inventoried)
    assert (result.action, result.source, result.encryption_filters) == (Action.STARTED, "inventory", ("INVENTORY",))
    [request] = double.jobs.values()
    manifest = request["Manifest"]["Location"]["ObjectArn"].split(":::", 1)[1].split("/", 1)
    assert (
        s3.get_object(Bucket=manifest[0], Key=manifest[1])["Body"].read().decode() == f"{inventoried},other-key.csv\n"
    )
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    monkeypatch.setenv("ACCOUNT_ID", ACCOUNT_ID)
    job = BatchOperations(double, s3, load_function("batch_task").lambda_handler).run(result.job_ids[0])
    assert (job.status, job.succeeded) == ("Complete", 1)
    head = s3.head_object(Bucket=inventoried, Key="other-key.csv")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms:dsse", dsse_key)


def test_an_inventory_that_lists_objects_to_fix_starts_one_job_over_them(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, inventoried: str
) -> None:
    uri = inventory(s3, inventoried, [(inventoried, "a.csv", "SSE-S3"), (inventoried, "b.csv", "DSSE-KMS")])
    older = datetime.now(UTC) - timedelta(days=3)
    inventory(s3, inventoried, [(inventoried, "z.csv", "NOT-SSE")], delivered=older, configure=False)

    run = make_backstop().run()

    result = only(run, inventoried)
    assert (result.action, result.inventory, result.encryption_filters) == (Action.STARTED, uri, ("INVENTORY",))
    [request] = double.jobs.values()
    manifest = request["Manifest"]["Location"]["ObjectArn"].split(":::", 1)[1].split("/", 1)
    rows = s3.get_object(Bucket=manifest[0], Key=manifest[1])["Body"].read().decode()
    assert rows.splitlines() == [f"{inventoried},a.csv"]  # the newest report, its non-DSSE rows only


def test_only_a_folder_named_in_ascii_digits_is_an_inventory_report(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, inventoried: str
) -> None:
    """S3 Inventory names each report's folder YYYY-MM-DDTHH-MMZ (storage-inventory-location). A Unicode `\\d` also
    read other scripts' digits: such a folder sorted after every real one, and the time parser then refused it."""
    uri = inventory(s3, inventoried, [(inventoried, "a.csv", "SSE-S3")])
    manifest_key = uri.removeprefix(f"s3://{INVENTORY_BUCKET}/")
    folders, stamp, _ = manifest_key.rsplit("/", 2)
    lookalike = stamp.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    body = s3.get_object(Bucket=INVENTORY_BUCKET, Key=manifest_key)["Body"].read()
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=f"{folders}/{lookalike}/manifest.json", Body=body)

    run = make_backstop().run()

    result = only(run, inventoried)
    assert (result.action, result.inventory) == (Action.STARTED, uri)


def test_an_inventory_report_is_used_once_and_its_own_time_is_recorded_not_the_runs(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, inventoried: str
) -> None:
    """A report's folder is the time its listing began; it is delivered hours later. Recording the run's time would
    make the next report (listed before that run, delivered after it) look old, and skip it forever."""
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    inventory(s3, inventoried, [(inventoried, "a.csv", "SSE-S3")], delivered=first)
    backstop = make_backstop(at=first + timedelta(hours=27))  # runs after the next listing began

    backstop.run()
    again = backstop.run()

    assert last_runs(s3)[inventoried] == first.isoformat(timespec="seconds")
    assert "no newer than the last one covered" in only(again, inventoried).reason
    assert len(double.jobs) == 1
    inventory(
        s3, inventoried, [(inventoried, "b.csv", "SSE-S3")], delivered=first + timedelta(hours=24), configure=False
    )

    later = backstop.run()

    assert only(later, inventoried).action is Action.STARTED
    assert len(double.jobs) == 2


def test_a_stopped_inventory_falls_back_to_the_window_and_the_run_alerts_naming_the_bucket(
    make_backstop: Callable[..., Backstop], double: S3ControlDouble, s3: Any, inventoried: str, inbox: Inbox
) -> None:
    """Reports stopped arriving (a destination policy changed, say): the newest is days old, and was covered. Without
    the staleness rule every run says "no newer than the last one covered" and never looks at the bucket again."""
    delivered = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    inventory(s3, inventoried, [(inventoried, "a.csv", "SSE-S3")], delivered=delivered)
    record(s3, example_inventoried_bucket=delivered)
    put(s3, inventoried, "b.csv")  # written after the last report: only a window can find it
    backstop = make_backstop(at=delivered + timedelta(days=3))  # a few days past the newest report

    run = backstop.run()

    result = only(run, inventoried)
    assert (result.source, result.action, result.encryption_filters) == ("window", Action.STARTED, ("SSES3",))
    assert result.created_after == delivered
    assert [stale.bucket for stale in run.stale_inventories] == [inventoried]
    [message] = inbox.messages()
    assert (message["attributes"]["severity"], message["attributes"]["resourceType"]) == ("high", "s3-inventory")
    assert message["attributes"]["bucket"] == inventoried
    [stale] = message["body"]["staleInventories"]
    assert (stale["bucket"], stale["configurationId"], stale["frequency"], stale["destination"]) == (
        inventoried,
        "daily",
        "Daily",
        f"s3://{INVENTORY_BUCKET}/inv/{inventoried}/daily/",
    )
    assert inventoried in message["subject"]
    assert [request["Description"].rsplit(" ", 1)[1] for request in double.jobs.values()] == ["SSES3"]


def test_a_fresh_inventory_is_used_and_nothing_is_alerted(
    make_backstop: Callable[..., Backstop], s3: Any, inventoried: str, inbox: Inbox
) -> None:
    inventory(s3, inventoried, [(inventoried, "a.csv", "SSE-S3")], delivered=datetime.now(UTC) - timedelta(hours=30))

    run = make_backstop().run()

    assert (only(run, inventoried).source, only(run, inventoried).action) == ("inventory", Action.STARTED)
    assert run.stale_inventories == ()
    assert inbox.messages() == []


@pytest.mark.parametrize(
    "change",
    [
        {"OptionalFields": ["Size"]},
        {"IsEnabled": False},
        {"Filter": {"Prefix": "logs/"}},
    ],
    ids=["no-encryption-status", "disabled", "part-of-the-bucket"],
)
def test_an_inventory_that_cannot_say_which_objects_to_fix_falls_back_to_the_window(
    make_backstop: Callable[..., Backstop], s3: Any, inventoried: str, change: dict[str, Any]
) -> None:
    inventory(s3, inventoried, [(inventoried, "a.csv", "DSSE-KMS")])
    config = s3.get_bucket_inventory_configuration(Bucket=inventoried, Id="daily")["InventoryConfiguration"]
    s3.put_bucket_inventory_configuration(Bucket=inventoried, Id="daily", InventoryConfiguration=config | change)
    put(s3, inventoried, "a.csv")

    run = make_backstop().run()

    assert (only(run, inventoried).source, only(run, inventoried).action) == ("window", Action.STARTED)
