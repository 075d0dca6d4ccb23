"""Starting S3 Batch Operations jobs: which jobs a bucket needs, what each CreateJob asks for, what is refused before
any call, and what the fee estimate says. Every request goes through the s3control double, which validates it against
the service model (tests/s3control_double.py); no AWS is reached."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from dsse_remediation.batch.backfill import Backfill
from dsse_remediation.batch.estimate import BucketEstimate, Estimate
from dsse_remediation.batch.inventory import Inventory
from dsse_remediation.batch.requests import NOT_DSSE_FILTERS, JobSpec, ManifestFile, plan
from dsse_remediation.config import Mode
from dsse_remediation.exceptions import AwsFailure, ConfigError, Held, InvalidRequest
from dsse_remediation.gate.safety import Finding, ReaderVerdict
from dsse_remediation.model import Failure
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests.fakes import FixedGate
from tests.helpers import ACCOUNT_ID, CallLog, Wiring
from tests.s3control_double import ModelViolation, S3ControlDouble

ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:dsse-remediation-batch-task:live"
VERSION = "arn:aws:lambda:us-east-1:123456789012:function:dsse-remediation-batch-task:7"
ROLE = "arn:aws:iam::123456789012:role/dsse-remediation-batch-job"
REPORTS = "dsse-remediation-reports"
BUCKET = "example-protected-bucket"
BATCH = {"task_function": ALIAS, "job_role_arn": ROLE, "report_bucket": REPORTS}
WINDOW = {"created_after": datetime(2026, 11, 19, tzinfo=UTC), "created_before": datetime(2026, 11, 20, tzinfo=UTC)}


@pytest.fixture
def double() -> S3ControlDouble:
    return S3ControlDouble(ACCOUNT_ID, aliases={ALIAS: "7"})


@pytest.fixture
def gate() -> FixedGate:
    """Every bucket safe unless a test says otherwise (the gate's own reads are tested on moto)."""
    return FixedGate()


@pytest.fixture
def make_backfill(offline: Wiring, double: S3ControlDouble, gate: FixedGate) -> Any:
    def make(**overrides: Any) -> Backfill:
        app = App(offline.settings(**(BATCH | overrides)), double.factory(offline.client))
        app.gate = gate  # type: ignore[misc]  # the composition root's one part a test replaces here
        return app.backfill

    return make


def test_a_bucket_gets_one_job_per_encryption_type_and_dssekms_only_when_asked() -> None:
    assert [spec.encryption_filter for spec in plan(BUCKET, campaign="c1")] == ["NOTSSE", "SSES3", "SSEKMS"]
    assert [spec.encryption_filter for spec in plan(BUCKET, campaign="c1", include_dsse_other_keys=True)] == [
        *NOT_DSSE_FILTERS,
        "DSSEKMS",
    ]
    assert all(spec.bucket == BUCKET and spec.campaign == "c1" for spec in plan(BUCKET, campaign="c1"))


def test_every_create_job_request_is_valid_for_the_s3control_model(make_backfill: Any, double: S3ControlDouble) -> None:
    backfill = make_backfill()
    specs = plan(BUCKET, campaign="backfill-2026-11-20", include_dsse_other_keys=True, priority=50, **WINDOW)

    ids = [backfill.start(spec) for spec in specs]

    assert len(set(ids)) == 4
    assert [double.jobs[i]["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"] for i in ids] == [
        {
            "MatchAnyObjectEncryption": [{kind: {}}],
            "CreatedAfter": WINDOW["created_after"],
            "CreatedBefore": WINDOW["created_before"],
        }
        for kind in ("NOTSSE", "SSES3", "SSEKMS", "DSSEKMS")
    ]


def test_a_generated_manifest_job_asks_for_the_documented_parameters(
    make_backfill: Any, double: S3ControlDouble
) -> None:
    job_id = make_backfill().start(JobSpec(BUCKET, "SSES3", "backfill-1"))

    assert double.jobs[job_id] == {
        "AccountId": ACCOUNT_ID,
        "ConfirmationRequired": False,
        "Operation": {
            "LambdaInvoke": {
                "FunctionArn": VERSION,
                "InvocationSchemaVersion": "2.0",
                "UserArguments": {"dryRun": "false", "campaign": "backfill-1"},
            }
        },
        "Report": {
            "Bucket": f"arn:aws:s3:::{REPORTS}",
            "Prefix": "reports/backfill-1",
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "ReportScope": "AllTasks",
            "ExpectedBucketOwner": ACCOUNT_ID,
        },
        "ClientRequestToken": JobSpec(BUCKET, "SSES3", "backfill-1").client_request_token,
        "Priority": 10,
        "RoleArn": ROLE,
        "Description": f"dsse-remediation backfill-1 s3://{BUCKET} SSES3",
        "Tags": [{"Key": "dsse-remediation:campaign", "Value": "backfill-1"}],
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "ExpectedBucketOwner": ACCOUNT_ID,
                "SourceBucket": f"arn:aws:s3:::{BUCKET}",
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {  # no ManifestEncryption: the report bucket's DSSE-KMS default applies
                    "ExpectedManifestBucketOwner": ACCOUNT_ID,
                    "Bucket": f"arn:aws:s3:::{REPORTS}",
                    "ManifestPrefix": "manifests/backfill-1",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": {"MatchAnyObjectEncryption": [{"SSES3": {}}]},
            }
        },
    }


def test_a_job_pins_the_version_the_alias_points_to_not_the_alias(make_backfill: Any, double: S3ControlDouble) -> None:
    job_id = make_backfill().start(JobSpec(BUCKET, "NOTSSE", "c1"))

    assert double.jobs[job_id]["Operation"]["LambdaInvoke"]["FunctionArn"] == VERSION
    assert double.calls == ["GetAlias", "CreateJob"]


def test_a_version_arn_is_used_as_it_is_without_asking_lambda(make_backfill: Any, double: S3ControlDouble) -> None:
    job_id = make_backfill(task_function=VERSION).start(JobSpec(BUCKET, "NOTSSE", "c1"))

    assert double.jobs[job_id]["Operation"]["LambdaInvoke"]["FunctionArn"] == VERSION
    assert double.calls == ["CreateJob"]


@pytest.mark.parametrize("function", [ALIAS.rsplit(":", 1)[0], ALIAS.replace(":live", ":$LATEST")])
def test_a_function_without_a_version_or_alias_is_refused(
    make_backfill: Any, double: S3ControlDouble, function: str
) -> None:
    with pytest.raises(InvalidRequest, match="pin"):
        make_backfill(task_function=function).start(JobSpec(BUCKET, "NOTSSE", "c1"))
    assert double.jobs == {}


@pytest.mark.parametrize("function", [VERSION + "\n", ALIAS + "\n", VERSION.replace("123456789012", "١٢٣٤٥٦٧٨٩٠١٢")])
def test_a_function_arn_with_a_trailing_newline_or_other_scripts_digits_is_refused(
    make_backfill: Any, double: S3ControlDouble, function: str
) -> None:
    """The ARN is matched whole and ASCII-only: `$` passes a trailing newline, a Unicode `\\d` other scripts' digits."""
    with pytest.raises(InvalidRequest, match="is not a Lambda function ARN"):
        make_backfill(task_function=function).start(JobSpec(BUCKET, "NOTSSE", "c1"))
    assert double.calls == []


@pytest.mark.parametrize(
    "role",
    [
        ROLE + "\n",
        ROLE + "-é",
        ROLE.replace("123456789012", "١٢٣٤٥٦٧٨٩٠١٢"),
        "arn:aws:sts::123456789012:role/x",
        "arn:aws:iam::123456789012:user/role/x",
    ],
)
def test_a_job_role_create_job_would_refuse_is_named_before_any_call(
    make_backfill: Any, double: S3ControlDouble, role: str
) -> None:
    with pytest.raises(ConfigError, match=r"BATCH_JOB_ROLE_ARN=.* is not an IAM role ARN"):
        make_backfill(job_role_arn=role).start(JobSpec(BUCKET, "NOTSSE", "c1"))
    assert double.calls == []


@pytest.mark.parametrize("stamp", ["²", "١٧٩٥١٦٦١٠٣٨٤٣", "1795166103843\n", "soon"])
def test_an_inventory_creation_time_that_is_not_ascii_digits_is_unknown_not_a_crash(stamp: str) -> None:
    manifest = {
        "sourceBucket": BUCKET,
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, EncryptionStatus",
        "files": [{"key": "data/part-0.csv.gz"}],
        "creationTimestamp": stamp,
    }

    inventory = Inventory.parse(manifest, "s3://inventories/manifest.json", "inventories")

    assert inventory.created is None
    assert Inventory.parse(manifest | {"creationTimestamp": "1795166103843"}, "s3://i/m", "i").created == datetime(
        2026, 11, 20, 9, 15, 3, 843000, tzinfo=UTC
    )


def test_a_dry_run_job_says_so_to_every_task(make_backfill: Any, double: S3ControlDouble) -> None:
    job_id = make_backfill().start(JobSpec(BUCKET, "NOTSSE", "c1", dry_run=True))

    assert double.jobs[job_id]["Operation"]["LambdaInvoke"]["UserArguments"] == {"dryRun": "true", "campaign": "c1"}


def test_in_alert_only_mode_every_job_is_a_dry_run(make_backfill: Any, double: S3ControlDouble) -> None:
    backfill = make_backfill(mode=Mode.ALERT_ONLY)

    job_id = backfill.start(JobSpec(BUCKET, "NOTSSE", "c1", dry_run=False))

    assert double.jobs[job_id]["Operation"]["LambdaInvoke"]["UserArguments"]["dryRun"] == "true"
    assert backfill.dry_run(JobSpec(BUCKET, "NOTSSE", "c1"))


def test_the_same_job_after_leaving_alert_only_mode_is_a_new_job_not_a_conflict(
    make_backfill: Any, double: S3ControlDouble
) -> None:
    spec = JobSpec(BUCKET, "NOTSSE", "c1")

    watched = make_backfill(mode=Mode.ALERT_ONLY).start(spec)
    remediating = make_backfill().start(spec)

    assert watched != remediating
    assert [double.jobs[i]["Operation"]["LambdaInvoke"]["UserArguments"]["dryRun"] for i in (watched, remediating)] == [
        "true",
        "false",
    ]


def test_a_bucket_outside_the_scope_is_refused_before_any_call(
    make_backfill: Any, double: S3ControlDouble, calls: CallLog
) -> None:
    backfill = make_backfill(scope=Scope(include=("example-*",), exclude=("example-protected-*",)))

    with pytest.raises(InvalidRequest, match=r"outside the protected buckets.*no job was created"):
        backfill.start(JobSpec(BUCKET, "NOTSSE", "c1"))

    assert double.calls == []
    assert calls.calls == []


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ({"task_function": None}, "BATCH_TASK_FUNCTION"),
        ({"job_role_arn": None}, "BATCH_JOB_ROLE_ARN"),
        ({"report_bucket": None}, "REPORT_BUCKET"),
        ({"account_id": None}, "ACCOUNT_ID"),
    ],
)
def test_a_missing_batch_setting_is_named_before_any_call(
    make_backfill: Any, double: S3ControlDouble, missing: dict[str, Any], variable: str
) -> None:
    with pytest.raises(ConfigError, match=variable):
        make_backfill(**missing).start(JobSpec(BUCKET, "NOTSSE", "c1"))
    assert double.calls == []


def test_every_missing_setting_is_named_at_once(make_backfill: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        make_backfill(task_function=None, job_role_arn=None, report_bucket=None).request(
            JobSpec(BUCKET, "NOTSSE", "c1")
        )
    assert all(name in str(raised.value) for name in ("BATCH_TASK_FUNCTION", "BATCH_JOB_ROLE_ARN", "REPORT_BUCKET"))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (JobSpec(BUCKET, "SSEC", "c1"), "not one of"),
        (JobSpec(BUCKET, "NOTSSE", "with space"), "campaign"),
        (JobSpec(BUCKET, "NOTSSE", "x" * 65), "campaign"),
        (JobSpec("Not_A_Valid/Bucket", "NOTSSE", "c1"), "not a valid S3 bucket name"),
        (JobSpec("data--use1-az4--x-s3", "NOTSSE", "c1"), "directory bucket"),
        (JobSpec(BUCKET, "INVENTORY", "c1"), "manifest"),
        (JobSpec(BUCKET, "NOTSSE", "c1", created_after=datetime(2026, 11, 20)), "time zone"),
        (
            JobSpec(
                BUCKET, "NOTSSE", "c1", created_after=WINDOW["created_before"], created_before=WINDOW["created_after"]
            ),
            "not before",
        ),
    ],
)
def test_a_job_that_cannot_be_right_is_refused_before_any_call(
    make_backfill: Any, double: S3ControlDouble, spec: JobSpec, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        make_backfill().start(spec)
    assert double.calls == []


def test_the_client_request_token_is_the_same_for_the_same_job_and_window() -> None:
    first = JobSpec(BUCKET, "NOTSSE", "backstop-20261120", **WINDOW)
    again = JobSpec(BUCKET, "NOTSSE", "backstop-20261120", priority=99, **WINDOW)
    others = [
        JobSpec(BUCKET, "SSES3", "backstop-20261120", **WINDOW),
        JobSpec(BUCKET, "NOTSSE", "backstop-20261121", **WINDOW),
        JobSpec("example-other-bucket", "NOTSSE", "backstop-20261120", **WINDOW),
        JobSpec(BUCKET, "NOTSSE", "backstop-20261120", created_after=WINDOW["created_after"]),
        JobSpec(BUCKET, "NOTSSE", "backstop-20261120", dry_run=True, **WINDOW),
    ]

    assert first.client_request_token == again.client_request_token
    assert 1 <= len(first.client_request_token) <= 64
    assert first.client_request_token not in {spec.client_request_token for spec in others}


def test_starting_the_same_job_twice_answers_the_job_already_created(
    make_backfill: Any, double: S3ControlDouble
) -> None:
    backfill = make_backfill()
    spec = JobSpec(BUCKET, "NOTSSE", "c1", **WINDOW)

    assert backfill.start(spec) == backfill.start(spec)
    assert len(double.jobs) == 1


def test_an_inventory_job_reads_its_csv_manifest_instead_of_generating_one(
    make_backfill: Any, double: S3ControlDouble
) -> None:
    manifest = ManifestFile(REPORTS, "manifests/c1/inventory-example-protected-bucket-2026-11-20.csv", '"abc123"', 3)

    job_id = make_backfill().start(JobSpec(BUCKET, "INVENTORY", "c1", manifest=manifest))

    assert "ManifestGenerator" not in double.jobs[job_id]
    assert double.jobs[job_id]["Manifest"] == {
        "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
        "Location": {"ObjectArn": f"arn:aws:s3:::{REPORTS}/{manifest.key}", "ETag": "abc123"},
    }


def test_describe_reads_a_job_back_as_the_completion_reader_needs_it(
    make_backfill: Any, double: S3ControlDouble, offline: Wiring, gate: FixedGate
) -> None:
    app = App(offline.settings(**BATCH), double.factory(offline.client))
    app.gate = gate  # type: ignore[misc]
    job_id = app.backfill.start(JobSpec(BUCKET, "SSEKMS", "c1", dry_run=True))

    running = app.batch_jobs.describe(job_id)
    double.progress(job_id, "Active", succeeded=5, failed=1, total=20)
    active = app.batch_jobs.describe(job_id)
    double.finish(job_id, "Failed", succeeded=5, failed=900, reasons=[("JobFailed", "task failures exceeded 50%")])
    failed = app.batch_jobs.describe(job_id)

    assert (running.status, running.done, running.total) == ("New", False, 0)
    assert (active.status, active.succeeded, active.failed, active.total, active.done) == ("Active", 5, 1, 20, False)
    assert failed.done
    assert failed.finished is not None
    assert failed.created is not None
    assert failed.failure_reasons == ("JobFailed: task failures exceeded 50%",)
    assert (failed.report_bucket, failed.report_prefix) == (REPORTS, "reports/c1")
    assert failed.user_arguments == {"dryRun": "true", "campaign": "c1"}
    assert failed.role_arn == ROLE
    assert failed.description == f"dsse-remediation c1 s3://{BUCKET} SSEKMS"
    assert failed.arn.endswith(f":job/{job_id}")


def test_s3control_errors_reach_the_caller_as_aws_failures(make_backfill: Any, double: S3ControlDouble) -> None:
    double.fail("CreateJob", "TooManyRequestsException", 400)

    with pytest.raises(AwsFailure) as raised:
        make_backfill().start(JobSpec(BUCKET, "NOTSSE", "c1"))
    assert raised.value.failure is Failure.THROTTLED


def test_the_double_refuses_a_request_that_breaks_the_model(double: S3ControlDouble) -> None:
    """What makes 'every request valid' mean something: the double rejects what AWS would."""
    valid = {
        "AccountId": ACCOUNT_ID,
        "Operation": {"LambdaInvoke": {"FunctionArn": VERSION}},
        "Report": {"Enabled": False},
        "ClientRequestToken": "t",
        "Priority": 1,
        "RoleArn": ROLE,
    }
    two_filters = {"MatchAnyObjectEncryption": [{"NOTSSE": {}}, {"SSES3": {}}]}
    generator = {"S3JobManifestGenerator": {"SourceBucket": "arn:aws:s3:::b", "EnableManifestOutput": False}}

    with pytest.raises(ParamValidationError, match="RoleArn"):
        double.client.create_job(**{k: v for k, v in valid.items() if k != "RoleArn"})
    generator["S3JobManifestGenerator"]["Filter"] = two_filters
    with pytest.raises(ModelViolation, match="at most 1"):
        double.client.create_job(**valid, ManifestGenerator=generator)
    with pytest.raises(ModelViolation, match="Report_CSV_20180820"):
        double.client.create_job(**valid | {"Report": {"Enabled": True, "Format": "CSV"}})
    with pytest.raises(ModelViolation, match="RoleArn"):
        double.client.create_job(**valid | {"RoleArn": "dsse-remediation-batch-job"})
    assert double.jobs == {}


def test_the_estimate_prices_jobs_objects_and_the_requests_each_object_costs() -> None:
    estimate = Estimate(
        (
            BucketEstimate("big-bucket", ("NOTSSE", "SSES3", "SSEKMS"), 1_000_000, "CloudWatch NumberOfObjects"),
            BucketEstimate("dry-bucket", ("NOTSSE",), 2_000_000, "CloudWatch NumberOfObjects", writes=False),
        )
    )

    assert estimate.jobs == 4
    assert estimate.job_fees == pytest.approx(1.00)
    assert estimate.object_fees == pytest.approx(3.00)
    assert estimate.head_fees == pytest.approx(1.20)
    assert estimate.copy_ceiling == pytest.approx(5.00)  # dry runs copy nothing
    assert estimate.kms_ceiling == pytest.approx(6.00)  # at most a Decrypt and a GenerateDataKey per object
    assert estimate.total_ceiling == pytest.approx(16.20)
    text = str(estimate)
    assert "4 S3 Batch Operations jobs" in text
    assert "s3://big-bucket: 3 jobs (NOTSSE, SSES3, SSEKMS), at most 1,000,000 objects" in text
    assert "dry run: HEAD only" in text
    assert "$16.20" in text
    assert "Lambda" in text


def test_an_unknown_object_count_is_said_and_its_job_fees_still_counted() -> None:
    estimate = Estimate((BucketEstimate("new-bucket", ("NOTSSE", "SSES3", "SSEKMS"), None, "no datapoint"),))

    assert (estimate.job_fees, estimate.objects, estimate.unknown) == (0.75, 0, ("new-bucket",))
    assert "object count unknown (no datapoint)" in str(estimate)
    assert "Not counted: the objects of new-bucket" in str(estimate)
    assert "$12.40 per million" in str(estimate)


def test_a_bucket_the_reader_safety_gate_holds_gets_no_job_and_no_call(
    make_backfill: Any, double: S3ControlDouble, gate: FixedGate
) -> None:
    website = Finding("website-endpoint", "static website hosting is on", "serve it through CloudFront with OAC", "")
    gate.verdicts[BUCKET] = ReaderVerdict(BUCKET, reasons=(website,))

    with pytest.raises(Held, match=r"no job for s3://.*static website hosting is on"):
        make_backfill().start(JobSpec(BUCKET, "NOTSSE", "c1"))
    assert double.calls == []


def test_an_accepted_bucket_gets_its_job(make_backfill: Any, double: S3ControlDouble, gate: FixedGate) -> None:
    website = Finding("website-endpoint", "static website hosting is on", "serve it through CloudFront with OAC", "")
    gate.verdicts[BUCKET] = ReaderVerdict(BUCKET, reasons=(website,), accepted_by="the bucket tag (CHG-42)")

    job_id = make_backfill().start(JobSpec(BUCKET, "NOTSSE", "c1"))

    assert job_id in double.jobs
