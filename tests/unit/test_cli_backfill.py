"""`dsse-remediate backfill` on fakes of the batch parts: the order of its steps (the estimate before any job), what
it prints, `--wait`'s polling and progress bars (no sleeping), and its exit codes. The same command on fake AWS, with
CreateJob requests checked against the s3control model, is tests/integration/test_cli_backfill.py."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from dsse_remediation.aws.batch_jobs import JobStatus
from dsse_remediation.batch.requests import JobSpec
from dsse_remediation.batch.summary import JobSummary, combine
from dsse_remediation.cli import backfill, commands
from dsse_remediation.cli.console import Console, job_progress_line
from dsse_remediation.config import Settings
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.model import Failure
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY

FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:dsse-batch-task:live"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/dsse-batch-jobs"
REPORTS = "dsse-reports-bucket"
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


def status(job_id: str, state: str, total: int = 0, succeeded: int = 0, failed: int = 0) -> JobStatus:
    return JobStatus(
        job_id=job_id,
        arn=f"arn:aws:s3:us-east-1:{ACCOUNT_ID}:job/{job_id}",
        status=state,
        description="",
        role_arn=ROLE,
        total=total,
        succeeded=succeeded,
        failed=failed,
        report_bucket=REPORTS,
        report_prefix="reports/c",
    )


@dataclass
class FakeBatch:
    """The App's batch parts as the command uses them; `events` records the order of their calls."""

    settings: Settings
    events: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # "bucket ENCTYPE" whose CreateJob fails
    progress: dict[str, list[JobStatus]] = field(default_factory=dict)  # job id -> DescribeJob answers in turn
    outcome_counts: dict[str, int] = field(default_factory=lambda: {"remediated": 3})
    specs: list[JobSpec] = field(default_factory=list)

    # app.backfill
    def estimate(self, specs: list[JobSpec]) -> str:
        self.events.append(f"estimate {len(specs)}")
        return f"Estimated fees of {len(specs)} S3 Batch Operations jobs: $0.75"

    def start(self, spec: JobSpec) -> str:
        name = f"{spec.bucket} {spec.encryption_filter}"
        self.events.append(f"start {name}")
        if name in self.refuse:
            raise AwsFailure(Failure.DENIED, "AccessDenied: not allowed to pass the role", "AccessDenied")
        self.specs.append(spec)
        job_id = f"job-{len(self.specs)}"
        self.progress.setdefault(job_id, [status(job_id, "Complete", 3, 3)])
        return job_id

    def from_inventory(
        self, uri: str, *, campaign: str, dry_run: bool = False, include_dsse_other_keys: bool = False
    ) -> JobSpec | None:
        self.events.append(f"inventory {uri}" + (" with its DSSE-KMS rows" if include_dsse_other_keys else ""))
        return (
            None if uri.endswith("empty/manifest.json") else JobSpec("example-bucket", "INVENTORY", campaign, dry_run)
        )

    # app.batch_jobs
    def describe(self, job_id: str) -> JobStatus:
        answers = self.progress[job_id]
        self.events.append(f"describe {job_id}")
        return answers.pop(0) if len(answers) > 1 else answers[0]

    # app.completions
    def summarize_run(self, job_ids: list[str]) -> JobSummary:
        return combine([self.summarize(job_id) for job_id in job_ids])

    def summarize(self, job_id: str) -> JobSummary:
        final = self.progress[job_id][-1]
        return JobSummary(
            job_id=job_id,
            job_arn=final.arn,
            status=final.status,
            bucket="example-bucket",
            counts=self.outcome_counts,
            total_tasks=final.total,
        )

    @property
    def backfill(self) -> FakeBatch:
        return self

    @property
    def batch_jobs(self) -> FakeBatch:
        return self

    @property
    def completions(self) -> FakeBatch:
        return self


class Fakes(list[FakeBatch]):
    """The fake batch parts of each run in turn; `preset`: the FakeBatch fields of the next ones."""

    def __init__(self) -> None:
        super().__init__()
        self.preset: dict[str, Any] = {}


@pytest.fixture
def batch(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """The fake batch parts a run connects to (one per run), on the settings the command built; nothing sleeps."""
    made = Fakes()

    def connect(args: Any, settings: Settings, *_: Any, **__: Any) -> FakeBatch:
        fake = FakeBatch(settings, **made.preset)
        made.append(fake)
        return fake

    monkeypatch.setattr(backfill, "connect", connect)
    monkeypatch.setattr(backfill, "POLLING", backfill.Polling(sleep=lambda _: None))
    for name, value in {
        "DSSE_KMS_KEY": PLACEHOLDER_KEY,
        "BATCH_TASK_FUNCTION": FUNCTION,
        "BATCH_JOB_ROLE_ARN": ROLE,
        "REPORT_BUCKET": REPORTS,
        "ACCOUNT_ID": ACCOUNT_ID,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("PROTECTED_BUCKETS", "EXCLUDED_BUCKETS", "ALERT_TOPIC_ARN", "BATCH_JOB_PRIORITY"):
        monkeypatch.delenv(name, raising=False)
    return made


@pytest.fixture
def run(batch: Fakes, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def invoke(*argv: str) -> tuple[int, str, str]:
        code = commands.main(["backfill", *argv], clock=lambda: NOW)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_prints_the_estimate_before_creating_any_job_then_each_job_id(run: Any, batch: Fakes) -> None:
    code, out, err = run("s3://example-bucket")

    [fake] = batch
    assert code == 0
    assert fake.events == [
        "estimate 3",
        "start example-bucket NOTSSE",
        "start example-bucket SSES3",
        "start example-bucket SSEKMS",
    ]
    lines = out.splitlines()
    assert lines[:2] == ["campaign backfill-2026-11-30", "Estimated fees of 3 S3 Batch Operations jobs: $0.75"]
    assert lines[2:5] == [
        "started  job-1  s3://example-bucket NOTSSE",
        "started  job-2  s3://example-bucket SSES3",
        "started  job-3  s3://example-bucket SSEKMS",
    ]
    assert f"completion reports under s3://{REPORTS}/reports/backfill-2026-11-30/job-<job id>/" in lines[5]
    assert err == ""


def test_the_flags_reach_every_job(run: Any, batch: Fakes) -> None:
    code, _, _ = run(
        "s3://example-bucket",
        "s3://example-other",
        "s3://example-bucket",  # named twice: one set of jobs
        "--dry-run",
        "--created-after",
        "2026-11-01",
        "--include-dsse-other-keys",
        "--priority",
        "42",
        "--campaign",
        "audit-2026.q4",
    )

    [fake] = batch
    assert code == 0
    assert [(s.bucket, s.encryption_filter) for s in fake.specs] == [
        (bucket, encryption)
        for bucket in ("example-bucket", "example-other")
        for encryption in ("NOTSSE", "SSES3", "SSEKMS", "DSSEKMS")
    ]
    assert {(s.campaign, s.dry_run, s.created_after, s.priority) for s in fake.specs} == {
        ("audit-2026.q4", True, datetime(2026, 11, 1, tzinfo=UTC), 42)
    }


def test_estimate_only_creates_nothing(run: Any, batch: Fakes) -> None:
    code, out, _ = run("s3://example-bucket", "--estimate-only")

    assert code == 0
    assert batch[0].events == ["estimate 3"]
    assert "Estimated fees of 3" in out
    assert "started" not in out


def test_a_bucket_outside_the_scope_gets_no_job(run: Any, batch: Fakes) -> None:
    code, _, err = run("s3://example-bucket", "s3://private-bucket", "--include", "example-*")

    assert code == 0
    assert {s.bucket for s in batch[0].specs} == {"example-bucket"}
    assert "s3://private-bucket is outside the protected scope (include example-*): no job" in err


def test_nothing_in_scope_creates_nothing_and_exits_0(run: Any, batch: Fakes) -> None:
    code, out, err = run("s3://private-bucket", "--exclude", "private-*")

    assert code == 0
    assert batch[0].events == []
    assert out == ""
    assert "nothing to do: no job created" in err


def test_a_job_that_cannot_be_created_is_reported_the_others_still_start_and_the_exit_is_1(
    run: Any, batch: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch.preset["refuse"] = {"example-bucket SSES3"}

    code, out, err = run("s3://example-bucket")

    assert code == 1
    assert [s.encryption_filter for s in batch[0].specs] == ["NOTSSE", "SSEKMS"]
    assert "s3://example-bucket SSES3: CreateJob failed: AccessDenied: not allowed to pass the role" in err
    assert "started  job-2  s3://example-bucket SSEKMS" in out


def test_from_inventory_makes_one_job_or_none(run: Any, batch: Fakes) -> None:
    code, out, _ = run("--from-inventory", "s3://inventory-bucket/example-bucket/daily/manifest.json")
    assert code == 0
    assert batch[0].events[0] == "inventory s3://inventory-bucket/example-bucket/daily/manifest.json"
    assert "started  job-1  s3://example-bucket INVENTORY" in out

    code, out, err = run("--from-inventory", "s3://inventory-bucket/empty/manifest.json")
    assert code == 0
    assert batch[1].events == ["inventory s3://inventory-bucket/empty/manifest.json"]
    assert "lists no object that is not DSSE-KMS" in err


def test_from_inventory_with_include_dsse_other_keys_puts_the_reports_dsse_rows_in_its_job_too(
    run: Any, batch: Fakes
) -> None:
    """S3 Inventory names no key: the DSSE-KMS rows go to the job, whose tasks read each object's key."""
    code, out, _ = run("--from-inventory", "s3://inventory-bucket/example-bucket/m.json", "--include-dsse-other-keys")
    assert code == 0
    assert batch[0].events[0] == "inventory s3://inventory-bucket/example-bucket/m.json with its DSSE-KMS rows"
    assert "started  job-1  s3://example-bucket INVENTORY" in out

    code, _, err = run("--from-inventory", "s3://inventory-bucket/empty/manifest.json", "--include-dsse-other-keys")
    assert code == 0
    assert "lists no object a job must read" in err


def test_json_output_is_one_document_with_the_estimate_and_the_jobs(run: Any) -> None:
    code, out, _ = run("s3://example-bucket", "--output", "json", "--campaign", "c1")

    document = json.loads(out)
    assert code == 0
    assert document["campaign"] == "c1"
    assert document["estimate"].startswith("Estimated fees of 3")
    assert document["jobs"][0] == {
        "bucket": "example-bucket",
        "encryption": "NOTSSE",
        "jobId": "job-1",
        "report": f"s3://{REPORTS}/reports/c1/job-job-1/",
    }
    assert document["exitCode"] == 0


class TestWait:
    def test_polls_until_every_job_has_ended_then_prints_the_buckets_one_summary(
        self, run: Any, batch: Fakes, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sleeps: list[float] = []
        monkeypatch.setattr(backfill, "POLLING", backfill.Polling(interval=7.0, sleep=sleeps.append))
        script = {
            "job-1": [
                status("job-1", "Preparing"),
                status("job-1", "Active", 10, 4),
                status("job-1", "Complete", 10, 10),
            ],
            "job-2": [status("job-2", "Complete", 0)],
            "job-3": [status("job-3", "Active", 5, 1), status("job-3", "Complete", 5, 5)],
        }
        batch.preset["progress"] = script

        code, out, err = run("s3://example-bucket", "--wait")

        assert code == 0
        assert sleeps == [7.0, 7.0]  # three rounds: a sleep between rounds, none after the last
        assert batch[0].events.count("describe job-2") == 1  # an ended job is not asked again
        assert out.count("S3 Batch Operations jobs job-1, job-2, job-3 on s3://example-bucket") == 1
        assert "Outcomes:  remediated 9" in out
        assert err.splitlines() == [
            "dsse-remediate: job job-1 (s3://example-bucket NOTSSE): Preparing",
            "dsse-remediate: job job-2 (s3://example-bucket SSES3): Complete",
            "dsse-remediate: job job-3 (s3://example-bucket SSEKMS): Active",
            "dsse-remediate: job job-1 (s3://example-bucket NOTSSE): Active",
            "dsse-remediate: job job-3 (s3://example-bucket SSEKMS): Complete",
            "dsse-remediate: job job-1 (s3://example-bucket NOTSSE): Complete",
        ]

    @pytest.mark.parametrize(
        ("final", "counts", "code"),
        [
            ("Complete", {"remediated": 5, "compliant": 2, "gone": 1}, 0),
            ("Complete", {"remediated": 5, "failed": 1}, 1),
            ("Complete", {"unremediable": 1}, 1),
            ("Complete", {"would-remediate": 4}, 1),
            ("Failed", {}, 1),
            ("Cancelled", {"remediated": 1}, 1),
        ],
    )
    def test_the_exit_code_says_whether_anything_needs_attention(
        self, run: Any, batch: Fakes, final: str, counts: dict[str, int], code: int
    ) -> None:
        batch.preset["progress"] = {"job-1": [status("job-1", final, 5, 5)]}
        batch.preset["outcome_counts"] = counts

        assert run("--from-inventory", "s3://inventory-bucket/example-bucket/manifest.json", "--wait")[0] == code

    def test_a_throttled_poll_is_asked_again_at_the_next_round(
        self, run: Any, batch: Fakes, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        throttled = AwsFailure(Failure.THROTTLED, "SlowDown: reduce your request rate", "SlowDown")
        real_describe = FakeBatch.describe
        answers: list[AwsFailure | None] = [throttled, None]

        def describe(self: FakeBatch, job_id: str) -> JobStatus:
            fault = answers.pop(0) if answers else None
            if fault is not None:
                raise fault
            return real_describe(self, job_id)

        monkeypatch.setattr(FakeBatch, "describe", describe)

        code, out, err = run("--from-inventory", "s3://inventory-bucket/example-bucket/manifest.json", "--wait")

        assert code == 0
        assert "job job-1: DescribeJob failed (SlowDown: reduce your request rate); asking again in 5s" in err
        assert "S3 Batch Operations job job-1" in out

    def test_a_poll_refused_ends_the_wait_with_exit_1(self, run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        def describe(self: FakeBatch, job_id: str) -> JobStatus:
            raise AwsFailure(Failure.DENIED, "AccessDenied: s3:DescribeJob", "AccessDenied")

        monkeypatch.setattr(FakeBatch, "describe", describe)

        code, out, err = run("--from-inventory", "s3://inventory-bucket/example-bucket/manifest.json", "--wait")
        assert code == 1
        assert "started  job-1" in out
        assert err == "dsse-remediate: AccessDenied: s3:DescribeJob\n"

        code, out, _ = run(
            "--from-inventory", "s3://i-bucket/example-bucket/manifest.json", "--wait", "--output", "json"
        )
        assert code == 1
        assert [job["jobId"] for job in json.loads(out)["jobs"]] == ["job-1"]  # created jobs are still reported

    def test_ctrl_c_while_waiting_leaves_the_jobs_running_and_exits_130(
        self, run: Any, batch: Fakes, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def ctrl_c(_: float) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(backfill, "POLLING", backfill.Polling(sleep=ctrl_c))
        batch.preset["progress"] = {"job-1": [status("job-1", "Active", 9, 1)]}

        code, out, err = run("--from-inventory", "s3://inventory-bucket/example-bucket/manifest.json", "--wait")

        assert code == 130
        assert "started  job-1" in out
        assert "the 1 created go on in S3 Batch Operations" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_follow_draws_a_progress_bar_per_job_in_place_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setenv("COLUMNS", "200")
    console = Console(json_mode=False, show_versions=False)
    fake = FakeBatch(Settings.from_env({"DSSE_KMS_KEY": PLACEHOLDER_KEY}))
    fake.progress = {
        "j1": [status("j1", "Active", 10, 5, 1), status("j1", "Active", 10, 8, 1), status("j1", "Complete", 10, 9, 1)],
        "j2": [status("j2", "Preparing"), status("j2", "Preparing"), status("j2", "Complete", 4, 4)],
    }
    jobs = [backfill.Started(JobSpec("b", enc, "c"), job_id) for job_id, enc in (("j1", "NOTSSE"), ("j2", "SSES3"))]

    final = backfill.follow(fake, jobs, console, backfill.Polling(sleep=lambda _: None))  # type: ignore[arg-type]

    assert [s.status for s in final] == ["Complete", "Complete"]
    drawn = terminal.getvalue().split("dsse-remediate: ")  # the notices of status changes clear the bars first
    assert drawn[2].endswith(
        "Preparing\n"
        "\r\x1b[K[############........]  60%  6/10  failed 1  Active  j1 s3://b NOTSSE"
        "\n\x1b[K[....................]   -   Preparing  j2 s3://b SSES3"
        "\x1b[A\r\x1b[K[##################..]  90%  9/10  failed 1  Active  j1 s3://b NOTSSE"  # drawn over
        "\n\x1b[K[....................]   -   Preparing  j2 s3://b SSES3"
        "\r\x1b[K\x1b[A\x1b[K"  # cleared for the next notice
    )
    assert drawn[-1].endswith("4/4  failed 0  Complete  j2 s3://b SSES3\r\x1b[K\x1b[A\x1b[K")  # none left behind


def test_a_job_progress_line_before_the_manifest_is_read_has_no_bar() -> None:
    assert job_progress_line("j s3://b NOTSSE", "New", 0, 0, 0, width=4) == "[....]   -   New  j s3://b NOTSSE"
    assert job_progress_line("j", "Active", 1, 3, 0, width=6) == "[##....]  33%  1/3  failed 0  Active  j"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "name the objects one way"),
        (["s3://example-bucket", "--all"], "name the objects one way"),
        (["s3://example-bucket/prefix/"], "backfill takes whole buckets"),
        (["example-bucket"], "is not an S3 URI"),
        (["s3://ab"], "is not a valid S3 bucket name"),
        (["--from-inventory", "s3://inventory-bucket"], "expected s3://bucket/.../manifest.json"),
        (["--from-inventory", "s3://i-bucket/m.json", "--created-after", "2026-01-01"], "does not apply"),
        (["s3://example-bucket", "--created-after", "2027-01-01"], "is in the future"),
        (["s3://example-bucket", "--wait", "--estimate-only"], "nothing to --wait for"),
    ],
)
def test_usage_errors_exit_2_before_any_call(
    argv: list[str], message: str, run: Any, batch: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_aws(*_: Any, **__: Any) -> Any:
        raise AssertionError("a usage error reached AWS")

    monkeypatch.setattr(backfill, "connect", no_aws)
    monkeypatch.setattr(backfill, "stack_environment", no_aws)

    code, out, err = run(*argv)

    assert (code, out) == (2, "")
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--campaign", "no spaces"], "is not a campaign label"),
        (["--campaign", "x" * 65], "is not a campaign label"),
        (["--campaign", "backfill-2026\n"], "is not a campaign label"),  # `$` would pass a trailing newline
        (["--campaign", "backfill-été"], "is not a campaign label"),
        (["--priority", "-1"], "outside 0-2147483647"),
        (["--created-after", "yesterday"], "is not an ISO 8601 time"),
    ],
)
def test_flag_values_are_checked_by_the_parser(argv: list[str], message: str, run: Any) -> None:
    code, _, err = run("s3://example-bucket", *argv)

    assert code == 2
    assert message in err


def test_without_the_stack_parts_it_says_how_to_name_them(
    run: Any, batch: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BATCH_TASK_FUNCTION", "BATCH_JOB_ROLE_ARN", "REPORT_BUCKET"):
        monkeypatch.delenv(name)

    code, _, err = run("s3://example-bucket")
    assert code == 2
    assert err == (
        "dsse-remediate: the stack's parts are needed: pass --stack NAME, or --task-function ARN "
        "(BATCH_TASK_FUNCTION), --job-role ARN (BATCH_JOB_ROLE_ARN), --report-bucket NAME (REPORT_BUCKET)\n"
    )
    assert batch == []

    code, _, _ = run("s3://example-bucket", "--estimate-only")  # an estimate needs none of them
    assert code == 0

    code, _, _ = run("s3://example-bucket", "--task-function", FUNCTION, "--job-role", ROLE, "--report-bucket", "r-b")
    assert code == 0
    settings = batch[-1].settings
    assert (settings.batch.task_function, settings.batch.job_role_arn, settings.batch.report_bucket) == (
        FUNCTION,
        ROLE,
        "r-b",
    )
