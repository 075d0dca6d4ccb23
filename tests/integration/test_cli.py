"""The `dsse-remediate` CLI against moto: outputs, exit codes, CSV, JSON, dry runs change nothing, concurrency."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
import pytest

from dsse_remediation import cli
from dsse_remediation.cli import commands, console, pool
from tests.helpers import REGION, assert_remediated, put, snapshot

PREFIX = "reports/2026/"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, dsse_key: str) -> str:
    """The CLI configured the way the Lambdas are: DSSE_KMS_KEY in the environment, no alert topic."""
    monkeypatch.setenv("DSSE_KMS_KEY", dsse_key)
    for name in ("ALERT_TOPIC_ARN", "PROTECTED_BUCKETS", "EXCLUDED_BUCKETS", "MODE"):
        monkeypatch.delenv(name, raising=False)
    return dsse_key


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], configured: str) -> Callable[..., tuple[int, str, str]]:
    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def encryption(s3: Any, bucket: str, key: str) -> tuple[str | None, str | None]:
    head = s3.head_object(Bucket=bucket, Key=key)
    return head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")


def test_check_one_object_reports_and_changes_nothing(s3: Any, bucket: str, run: Any) -> None:
    put(s3, bucket, "reports/q3.csv")
    before = snapshot(s3, bucket, "reports/q3.csv")

    code, out, err = run("check", f"s3://{bucket}/reports/q3.csv")

    assert code == 1
    assert f"would-remediate  s3://{bucket}/reports/q3.csv  dry run: would copy in place" in out
    assert "Summary: check" in out
    assert err == ""
    assert snapshot(s3, bucket, "reports/q3.csv") == before


def test_check_a_compliant_object_exits_0(s3: Any, bucket: str, dsse_key: str, run: Any) -> None:
    put(s3, bucket, "ok.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)

    code, out, _ = run("check", f"s3://{bucket}/ok.csv")

    assert code == 0
    assert out.startswith(f"compliant        s3://{bucket}/ok.csv")


def test_fix_one_object_remediates_and_keeps_everything(s3: Any, bucket: str, dsse_key: str, run: Any) -> None:
    put(s3, bucket, "reports/q3.csv")
    before = snapshot(s3, bucket, "reports/q3.csv")

    code, out, _ = run("fix", f"s3://{bucket}/reports/q3.csv")

    assert code == 0
    assert out.startswith(f"remediated       s3://{bucket}/reports/q3.csv  copied in place from AES256")
    assert_remediated(before, snapshot(s3, bucket, "reports/q3.csv"), dsse_key)


def test_key_flag_takes_an_alias_instead_of_the_environment(
    s3: Any, bucket: str, dsse_key: str, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSSE_KMS_KEY")
    put(s3, bucket, "a.csv")

    code, _, _ = run("fix", f"s3://{bucket}/a.csv", "--key", "alias/dsse-test")

    assert code == 0
    assert encryption(s3, bucket, "a.csv") == ("aws:kms:dsse", dsse_key)


def result_lines(out: str) -> list[tuple[str, str]]:
    """(outcome, resource) of each result line printed in text mode (in completion order)."""
    return [(m[1], m[2]) for m in re.finditer(r"^(\S+) +(s3://\S+)", out, re.MULTILINE)]


def populate(s3: Any, bucket: str, count: int = 25) -> list[str]:
    keys = [f"{PREFIX}{i:02d}.csv" for i in range(count)]
    for key in keys:
        put(s3, bucket, key, Body=key.encode())
    for outside in ("reports/2025/old.csv", "other/x.csv"):
        put(s3, bucket, outside)
    return keys


def test_fix_recursive_with_concurrency_remediates_every_object_under_the_prefix_only(
    s3: Any, bucket: str, dsse_key: str, run: Any
) -> None:
    keys = populate(s3, bucket)
    before = {key: snapshot(s3, bucket, key) for key in keys}
    outside = {key: snapshot(s3, bucket, key) for key in ("reports/2025/old.csv", "other/x.csv")}

    code, out, _ = run("fix", f"s3://{bucket}/{PREFIX}", "--recursive", "--concurrency", "4")

    assert code == 0
    assert sorted(result_lines(out)) == [("remediated", f"s3://{bucket}/{key}") for key in keys]
    for key in keys:
        assert_remediated(before[key], snapshot(s3, bucket, key), dsse_key)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted([*keys, *outside])  # none lost, none added
    for key, snap in outside.items():
        assert snapshot(s3, bucket, key) == snap
    assert re.search(r"^remediated +25$", out, re.MULTILINE)
    assert "everything in scope is DSSE-KMS under its key (exit 0)" in out


def test_fix_dry_run_changes_nothing(s3: Any, bucket: str, run: Any) -> None:
    keys = populate(s3, bucket, 5)
    before = {key: snapshot(s3, bucket, key) for key in keys}

    code, out, _ = run("fix", f"s3://{bucket}/{PREFIX}", "--recursive", "--dry-run")

    assert code == 1
    assert [outcome for outcome, _ in result_lines(out)] == ["would-remediate"] * 5
    assert "(dry run: nothing changed)" in out
    assert {key: snapshot(s3, bucket, key) for key in keys} == before


def test_json_output_is_one_json_document_and_nothing_else(s3: Any, bucket: str, dsse_key: str, run: Any) -> None:
    populate(s3, bucket, 3)
    put(s3, bucket, f"{PREFIX}ok.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)

    code, out, err = run("check", f"s3://{bucket}/{PREFIX}", "-r", "--output", "json")

    document = json.loads(out)
    assert code == 1
    assert err == ""
    assert set(document) == {"results", "summary"}
    assert [r["outcome"] for r in document["results"]] == ["would-remediate"] * 3 + ["compliant"]
    assert document["results"][0]["encryptionBefore"] == {"algorithm": "AES256", "kmsKeyId": None}
    summary = document["summary"]
    assert summary["outcomes"]["would-remediate"] == 3
    assert summary["outcomes"]["compliant"] == 1
    assert (summary["total"], summary["processed"], summary["exitCode"], summary["dryRun"]) == (4, 4, 1, True)


def test_report_writes_a_csv_row_per_object(s3: Any, bucket: str, dsse_key: str, run: Any, tmp_path: Path) -> None:
    keys = populate(s3, bucket, 4)
    report = tmp_path / "report.csv"

    code, _, _ = run("fix", f"s3://{bucket}/{PREFIX}", "--recursive", "--report", str(report))

    assert code == 0
    with report.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["bucket", "key", "versionId", "outcome", "reason", "encryptionBefore", "encryptionAfter"]
    assert [row[1] for row in rows[1:]] == keys
    assert {(row[0], row[3], row[5], row[6]) for row in rows[1:]} == {
        (bucket, "remediated", "AES256", f"aws:kms:dsse ({dsse_key})")
    }


def test_report_to_an_unwritable_path_is_a_usage_error(s3: Any, bucket: str, run: Any, tmp_path: Path) -> None:
    put(s3, bucket, "a.csv")
    before = snapshot(s3, bucket, "a.csv")

    code, _, err = run("fix", f"s3://{bucket}/a.csv", "--report", str(tmp_path / "missing" / "r.csv"))

    assert code == 2
    assert "cannot write the report" in err
    assert snapshot(s3, bucket, "a.csv") == before


def test_check_bucket_default_then_fix_it(s3: Any, bucket: str, dsse_key: str, run: Any) -> None:
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )

    code, out, _ = run("check", f"s3://{bucket}")
    assert code == 1
    assert f"would-remediate  s3://{bucket} (default encryption)  dry run: would reset the default encryption" in out
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    code, out, _ = run("fix", f"s3://{bucket}")
    assert code == 0
    assert out.startswith(f"remediated       s3://{bucket} (default encryption)")

    code, out, _ = run("check", f"s3://{bucket}")
    assert code == 0
    assert out.startswith(f"compliant        s3://{bucket} (default encryption)")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": dsse_key}


class TestKey:
    def test_prints_the_state_and_the_scopes_that_depend_on_it(self, kms: Any, dsse_key: str, run: Any) -> None:
        kms.enable_key_rotation(KeyId=dsse_key)

        code, out, _ = run("key", dsse_key, "--include", "data-*")

        assert code == 0
        assert f"key       {dsse_key}" in out
        assert "state     Enabled" in out
        assert "rotation  on" in out
        assert "protects  every protected bucket: include data-*" in out

    def test_a_disabled_key_by_alias_exits_1(self, kms: Any, dsse_key: str, run: Any) -> None:
        kms.disable_key(KeyId=dsse_key)

        code, out, _ = run("key", "alias/dsse-test", "--output", "json")

        [result] = json.loads(out)["results"]
        assert code == 1
        assert (result["keyArn"], result["keyState"], result["outcome"]) == (dsse_key, "Disabled", "would-remediate")
        assert "the key is Disabled" in result["reason"]

    def test_a_key_that_is_not_configured_is_out_of_scope(self, kms: Any, other_key: str, run: Any) -> None:
        code, out, _ = run("key", other_key)

        assert code == 0
        assert "outcome   out-of-scope" in out
        assert "state     Enabled" in out


def test_out_of_scope_bucket_is_reported_and_exits_0(s3: Any, bucket: str, run: Any) -> None:
    put(s3, bucket, "a.csv")
    before = snapshot(s3, bucket, "a.csv")

    code, out, _ = run("fix", f"s3://{bucket}/a.csv", "--exclude", "example-*")
    assert code == 0
    assert out.startswith(f"out-of-scope     s3://{bucket}/a.csv  bucket {bucket} is outside the protected scope")

    code, out, _ = run("fix", f"s3://{bucket}", "--recursive", "--exclude", bucket, "--output", "json")
    assert code == 0
    assert [r["outcome"] for r in json.loads(out)["results"]] == ["out-of-scope"]
    assert snapshot(s3, bucket, "a.csv") == before


class TestAllVersions:
    @pytest.fixture
    def versioned(self, s3: Any) -> str:
        s3.create_bucket(Bucket="example-versioned-bucket")
        s3.put_bucket_versioning(Bucket="example-versioned-bucket", VersioningConfiguration={"Status": "Enabled"})
        put(s3, "example-versioned-bucket", "ledger.json", Body=b"old")
        put(s3, "example-versioned-bucket", "ledger.json", Body=b"new")
        return "example-versioned-bucket"

    def test_noncurrent_versions_are_reported_never_copied(
        self, s3: Any, versioned: str, dsse_key: str, run: Any
    ) -> None:
        versions_before = s3.list_object_versions(Bucket=versioned)["Versions"]
        old = next(v["VersionId"] for v in versions_before if not v["IsLatest"])

        code, out, _ = run("fix", f"s3://{versioned}/ledger.json", "--all-versions", "--output", "json")

        results = json.loads(out)["results"]
        assert code == 1  # the noncurrent SSE-S3 version stays unremediable
        assert sorted(r["outcome"] for r in results) == ["remediated", "unremediable"]
        [noncurrent] = [r for r in results if r["outcome"] == "unremediable"]
        assert noncurrent["versionId"] == old
        assert "not the current version" in noncurrent["reason"]
        assert encryption(s3, versioned, "ledger.json") == ("aws:kms:dsse", dsse_key)
        old_head = s3.head_object(Bucket=versioned, Key="ledger.json", VersionId=old)
        assert old_head["ServerSideEncryption"] == "AES256"
        assert len(s3.list_object_versions(Bucket=versioned)["Versions"]) == len(versions_before) + 1


def test_alerts_only_with_a_topic_and_never_with_no_alerts(
    s3: Any, bucket: str, inbox: Any, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(s3, bucket, "a.csv")
    put(s3, bucket, "b.csv")

    assert run("fix", f"s3://{bucket}/a.csv")[0] == 0
    assert inbox.messages() == []

    monkeypatch.setenv("ALERT_TOPIC_ARN", inbox.topic_arn)
    assert run("fix", f"s3://{bucket}/a.csv", "--no-alerts")[0] == 0  # compliant now: nothing to say anyway
    assert run("fix", f"s3://{bucket}/b.csv", "--no-alerts")[0] == 0
    assert inbox.messages() == []

    put(s3, bucket, "c.csv")
    assert run("check", f"s3://{bucket}/c.csv")[0] == 1  # check only reports: no alert
    assert inbox.messages() == []
    assert run("fix", f"s3://{bucket}/c.csv")[0] == 0
    assert [m["subject"] for m in inbox.messages()] == [f"DSSE-KMS remediated: s3://{bucket}/c.csv"]


def test_ctrl_c_stops_submitting_finishes_running_work_and_exits_130(
    s3: Any, bucket: str, dsse_key: str, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = populate(s3, bucket)
    real_wait = pool.wait
    calls = [0]

    def interrupted_wait(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:  # Ctrl-C, as a terminal sends it, while the pool waits
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(pool, "wait", interrupted_wait)
    stopped: list[bool] = []
    real_run_pool = commands.run_pool

    def run_pool(*args: Any, stop: Any, **kwargs: Any) -> Any:
        return real_run_pool(*args, stop=lambda: (stopped.append(True), stop()), **kwargs)

    monkeypatch.setattr(commands, "run_pool", run_pool)

    code, out, err = run("fix", f"s3://{bucket}/{PREFIX}", "-r", "--concurrency", "2", "--output", "json")

    summary = json.loads(out)["summary"]
    assert code == 130
    assert "interrupted: starting nothing new" in err
    assert summary["interrupted"] is True
    assert 0 < summary["processed"] < len(keys)
    remediated = [key for key in keys if encryption(s3, bucket, key) == ("aws:kms:dsse", dsse_key)]
    assert len(remediated) == summary["outcomes"]["remediated"] == summary["processed"]  # no copy unreported
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert stopped == [True]  # running multipart copies were told to abort at their next part


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_stderr_only_on_a_terminal(
    s3: Any, bucket: str, configured: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(s3, bucket, 3)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(console.Console, "REDRAW_SECONDS", 0.0)

    code = cli.main(["check", f"s3://{bucket}/{PREFIX}", "-r", "--output", "json"])

    assert code == 1
    json.loads(capsys.readouterr().out)  # stdout is still only the document
    assert "3/3 objects (100%)" in terminal.getvalue()
    assert "remediated 0  failed 0" in terminal.getvalue()


def test_bucket_key_map_fixes_each_category_under_its_own_key(
    s3: Any, bucket: str, dsse_key: str, other_key: str, run: Any
) -> None:
    s3.create_bucket(Bucket="secrets-vault")
    put(s3, "secrets-vault", "token.txt")
    put(s3, bucket, "q3.csv")
    before = snapshot(s3, "secrets-vault", "token.txt")

    code_mapped, _, _ = run("fix", "s3://secrets-vault/token.txt", "--bucket-key-map", f"secrets-*={other_key}")
    code_default, _, _ = run("fix", f"s3://{bucket}/q3.csv", "--bucket-key-map", f"secrets-*={other_key}")

    assert (code_mapped, code_default) == (0, 0)
    assert_remediated(before, snapshot(s3, "secrets-vault", "token.txt"), other_key)
    assert encryption(s3, bucket, "q3.csv") == ("aws:kms:dsse", dsse_key)


def test_a_restored_archive_is_reported_unless_asked_for(s3: Any, bucket: str, dsse_key: str, run: Any) -> None:
    put(s3, bucket, "cold.csv", StorageClass="GLACIER")
    s3.restore_object(Bucket=bucket, Key="cold.csv", RestoreRequest={"Days": 1})

    code, out, _ = run("fix", f"s3://{bucket}/cold.csv")
    assert code == 1
    assert "unremediable" in out
    assert "end this restore" in out
    assert "Restore" in s3.head_object(Bucket=bucket, Key="cold.csv")

    code, out, _ = run("fix", f"s3://{bucket}/cold.csv", "--remediate-restored-archives")
    assert code == 0
    assert "so that restore ended" in out
    assert encryption(s3, bucket, "cold.csv") == ("aws:kms:dsse", dsse_key)


def test_a_legacy_bucket_name_is_accepted(s3: Any, dsse_key: str, run: Any) -> None:
    s3.create_bucket(Bucket="Legacy_Reports")
    put(s3, "Legacy_Reports", "a.csv")

    code, _, _ = run("fix", "s3://Legacy_Reports/a.csv")

    assert code == 0
    assert encryption(s3, "Legacy_Reports", "a.csv") == ("aws:kms:dsse", dsse_key)


class TestStreamedListing:
    """A recursive run works while it lists: pages of 3 keys here, so 10 objects take 4 ListObjectsV2 calls."""

    PAGE = 3

    @pytest.fixture
    def calls(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The S3 operations the CLI calls, in order; ListObjectsV2 pages of PAGE keys."""
        made: list[str] = []
        real_connect = commands.connect

        def connect(*args: Any, **kwargs: Any) -> Any:
            app = real_connect(*args, **kwargs)
            events = app.client("s3").meta.events
            events.register("provide-client-params.s3.ListObjectsV2", self.small_pages)
            events.register("before-call.s3", lambda model, **_: made.append(model.name))
            return app

        monkeypatch.setattr(commands, "connect", connect)
        return made

    def small_pages(self, params: dict[str, Any], **_: Any) -> None:
        params["MaxKeys"] = self.PAGE

    def test_the_first_object_is_fixed_before_the_listing_ends(
        self, s3: Any, bucket: str, dsse_key: str, run: Any, calls: list[str]
    ) -> None:
        keys = populate(s3, bucket, 10)

        code, out, _ = run("fix", f"s3://{bucket}/{PREFIX}", "-r", "--concurrency", "1")

        assert code == 0
        assert calls.count("ListObjectsV2") == 4
        assert calls.index("CopyObject") < calls.index("ListObjectsV2", 1)  # a copy before the second page
        assert [resource for _, resource in result_lines(out)] == [f"s3://{bucket}/{key}" for key in keys]
        assert "10 of 10 in " in out

    def test_a_listing_that_breaks_off_reports_what_was_listed_and_a_failed_result(
        self, s3: Any, bucket: str, dsse_key: str, run: Any, calls: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        keys = populate(s3, bucket, 10)
        pages = [0]

        def second_page_denied(**_: Any) -> Any:
            pages[0] += 1
            if pages[0] != 2:
                return None
            error = {"Code": "AccessDenied", "Message": "injected"}
            return _Denied(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

        real_connect = commands.connect

        def connect(*args: Any, **kwargs: Any) -> Any:
            app = real_connect(*args, **kwargs)
            app.client("s3").meta.events.register("before-call.s3.ListObjectsV2", second_page_denied)
            return app

        monkeypatch.setattr(commands, "connect", connect)

        code, out, _ = run("fix", f"s3://{bucket}/{PREFIX}", "-r", "--concurrency", "1", "--output", "json")

        document = json.loads(out)
        assert code == 1
        assert [(r["key"], r["outcome"]) for r in document["results"]] == [
            *((key, "remediated") for key in keys[: self.PAGE]),
            (PREFIX, "failed"),
        ]
        assert document["results"][-1]["reason"] == "ListObjectsV2 failed after 3 object(s): AccessDenied: injected"
        assert (document["summary"]["total"], document["summary"]["processed"]) == (4, 4)
        assert [encryption(s3, bucket, key)[0] for key in keys] == ["aws:kms:dsse"] * 3 + ["AES256"] * 7


class _Denied:
    status_code = 403
    headers: dict[str, str] = {}
    content = b""
    text = ""


class TestMaxObjects:
    """A recursive run is for prefixes one machine can list: above --max-objects it stops and points to backfill."""

    def test_above_the_limit_the_listing_stops_and_says_to_use_backfill(
        self, s3: Any, bucket: str, run: Any, calls: list[str]
    ) -> None:
        keys = populate(s3, bucket, 10)

        code, out, _ = run("check", f"s3://{bucket}/{PREFIX}", "-r", "--max-objects", "4", "--output", "json")

        document = json.loads(out)
        assert code == 1
        assert [(r["key"], r["outcome"]) for r in document["results"]] == [
            *((key, "would-remediate") for key in keys[:4]),
            (PREFIX, "failed"),
        ]
        assert document["results"][-1]["reason"] == (
            f"more than 4 objects under s3://{bucket}/{PREFIX}: the listing stopped there (--max-objects; those were "
            f"worked on). For buckets this large use `dsse-remediate backfill s3://{bucket}` (S3 Batch Operations)"
        )
        assert calls.count("ListObjectsV2") == 2  # pages of 3: the fifth key was read, no page after it

    def test_exactly_the_limit_is_a_complete_run(self, s3: Any, bucket: str, run: Any) -> None:
        populate(s3, bucket, 4)

        code, out, _ = run("fix", f"s3://{bucket}/{PREFIX}", "-r", "--max-objects", "4")

        assert code == 0
        assert "backfill" not in out
        assert "4 of 4 in " in out

    @pytest.fixture
    def calls(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The S3 operations the CLI calls; ListObjectsV2 pages of 3 keys."""
        made: list[str] = []
        real_connect = commands.connect

        def pages_of_3(params: dict[str, Any], **_: Any) -> None:
            params["MaxKeys"] = 3

        def connect(*args: Any, **kwargs: Any) -> Any:
            app = real_connect(*args, **kwargs)
            events = app.client("s3").meta.events
            events.register("provide-client-params.s3.ListObjectsV2", pages_of_3)
            events.register("before-call.s3", lambda model, **_: made.append(model.name))
            return app

        monkeypatch.setattr(commands, "connect", connect)
        return made


class TestRoleArn:
    """`--role-arn`: every call of the run is made with the role's credentials, in the role's account."""

    MEMBER = "111111111111"
    ROLE = f"arn:aws:iam::{MEMBER}:role/dsse-remediation-operator"
    BUCKET = "example-member-bucket"

    @pytest.fixture
    def member(self, s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
        """Account 111111111111 (moto's AssumeRole answers credentials that act in the role's account) with a bucket,
        an SSE-S3 object in it, and its own DSSE key; returns that account's session.

        A bucket is private to the account that owns it: "By default, all Amazon S3 resources ... are private. Only
        the resource owner can access them." https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-overview.html
        moto 5.2.5 lets every account use every bucket unless MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS is false (then another
        account's request is AccessDenied), so that is set here."""
        monkeypatch.setenv("MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS", "false")
        sts = boto3.client("sts", region_name=REGION)
        credentials = sts.assume_role(RoleArn=self.ROLE, RoleSessionName="test-setup")["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        session.client("s3").create_bucket(Bucket=self.BUCKET)
        put(session.client("s3"), self.BUCKET, "ledger.csv")
        return session

    @pytest.fixture
    def member_key(self, member: Any) -> str:
        arn: str = member.client("kms").create_key(Description="the member account's DSSE key")["KeyMetadata"]["Arn"]
        return arn

    def test_a_bucket_of_the_roles_account_is_fixed_through_the_role(
        self, member: Any, member_key: str, run: Any
    ) -> None:
        before = snapshot(member.client("s3"), self.BUCKET, "ledger.csv")

        code, out, err = run("fix", f"s3://{self.BUCKET}/ledger.csv", "--key", member_key, "--role-arn", self.ROLE)

        assert (code, err) == (0, "")
        assert out.startswith(f"remediated       s3://{self.BUCKET}/ledger.csv  copied in place from AES256")
        assert_remediated(before, snapshot(member.client("s3"), self.BUCKET, "ledger.csv"), member_key)

    def test_without_the_role_the_callers_account_cannot_see_it(self, member: Any, member_key: str, run: Any) -> None:
        before = snapshot(member.client("s3"), self.BUCKET, "ledger.csv")

        code, out, _ = run("fix", f"s3://{self.BUCKET}/ledger.csv", "--key", member_key, "--output", "json")

        [result] = json.loads(out)["results"]
        assert code == 1
        assert result["outcome"] == "unremediable"
        assert result["reason"].startswith("access denied reading the object (HeadObject 403)")
        assert snapshot(member.client("s3"), self.BUCKET, "ledger.csv") == before

    def test_assume_role_comes_before_any_other_call_with_the_external_id_and_session_name(
        self, member: Any, member_key: str, run: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sent: list[tuple[str, dict[str, Any]]] = []

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            sent.append((model.name, dict(params)))

        # Every botocore session the CLI makes starts with the built-in handlers: the recorder sees all its calls.
        monkeypatch.setattr(
            botocore.handlers,
            "BUILTIN_HANDLERS",
            [*botocore.handlers.BUILTIN_HANDLERS, ("provide-client-params", record)],
        )
        role = ["--role-arn", self.ROLE, "--external-id", "dsse-2026", "--role-session-name", "audit-jane"]

        code, out, _ = run("key", member_key, *role)

        assert code == 0
        assert "state     Enabled" in out  # DescribeKey found the key in the role's account
        assert sent[0] == (
            "AssumeRole",
            {"RoleArn": self.ROLE, "RoleSessionName": "audit-jane", "ExternalId": "dsse-2026"},
        )
        assert [name for name, _ in sent].count("AssumeRole") == 1
        assert "DescribeKey" in [name for name, _ in sent[1:]]
