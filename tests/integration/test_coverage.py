"""`dsse-remediate coverage` on moto: the trails that log in a Region read from CloudTrail (aws/cloudtrail.py), and the
command's JSON, text and exit codes for a seeded account.

The seeded account (us-east-1): four buckets, and two trails:
- `data-events`, a multi-Region trail homed in eu-west-1 (a shadow trail here), logging, with an advanced selector
  for the four object writes under `finance-reports/` and `logs-archive/logs/`;
- `legacy-audit`, homed here, with a basic selector for `analytics-raw/` writes, stopped.
So finance-reports is covered; logs-archive only under logs/; analytics-raw only by a stopped trail; media-uploads by
none. moto's CloudTrail where it differs from AWS: tests/aws_fidelity.py items 20 and 21.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from dsse_remediation import cli
from dsse_remediation.config import Settings
from dsse_remediation.coverage.report import Trail, assess
from dsse_remediation.coverage.selectors import WRITE_EVENTS, AdvancedSelector, BasicSelector
from dsse_remediation.wiring import App
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY, REGION
from tests.template.iam_model import Calls

HOME = "eu-west-1"
LOG_BUCKET = "example-trail-logs"  # in eu-west-1: outside the Region's scope
BUCKETS = ("analytics-raw", "finance-reports", "logs-archive", "media-uploads")
DATA_EVENTS = f"arn:aws:cloudtrail:{HOME}:{ACCOUNT_ID}:trail/data-events"
LEGACY = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/legacy-audit"
WRITES = [
    {"Field": "eventCategory", "Equals": ["Data"]},
    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
    {"Field": "eventName", "Equals": list(WRITE_EVENTS)},
]


def s3_writes(*arn_prefixes: str) -> list[dict[str, Any]]:
    """An advanced selector for the four object writes whose object ARN starts with one of `arn_prefixes`."""
    fields = [*WRITES, {"Field": "resources.ARN", "StartsWith": list(arn_prefixes)}]
    return [{"Name": "object writes", "FieldSelectors": fields}]


def cloudtrail(region: str, session: Any = boto3) -> Any:
    return session.client("cloudtrail", region_name=region)


def create_trail(name: str, region: str, *, session: Any = boto3, logging: bool = True, **options: Any) -> str:
    client = cloudtrail(region, session)
    arn: str = client.create_trail(Name=name, S3BucketName=LOG_BUCKET, **options)["TrailARN"]
    if logging:
        client.start_logging(Name=name)
    return arn


@pytest.fixture
def log_bucket(s3: Any) -> str:
    boto3.client("s3", region_name=HOME).create_bucket(
        Bucket=LOG_BUCKET, CreateBucketConfiguration={"LocationConstraint": HOME}
    )
    return LOG_BUCKET


@pytest.fixture
def seeded(s3: Any, log_bucket: str) -> None:
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket)
    create_trail("data-events", HOME, IsMultiRegionTrail=True)
    cloudtrail(HOME).put_event_selectors(
        TrailName="data-events",
        AdvancedEventSelectors=s3_writes("arn:aws:s3:::finance-reports/", "arn:aws:s3:::logs-archive/logs/"),
    )
    create_trail("legacy-audit", REGION, logging=False)
    cloudtrail(REGION).put_event_selectors(
        TrailName="legacy-audit",
        EventSelectors=[
            {
                "ReadWriteType": "WriteOnly",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::analytics-raw/"]}],
            }
        ],
    )


def app(client: Callable[[str, str | None], Any] | None = None) -> App:
    return App(Settings(key=PLACEHOLDER_KEY, account_id=ACCOUNT_ID, region=REGION), client)


class TestTrailReader:
    def test_this_regions_trails_and_multi_region_trails_homed_elsewhere_are_read_with_status_and_selectors(
        self, seeded: None
    ) -> None:
        data_events, legacy = app().trails.trails()

        assert (data_events.name, data_events.arn, data_events.home_region) == ("data-events", DATA_EVENTS, HOME)
        assert (data_events.multi_region, data_events.logging, data_events.kind) == (True, True, "advanced")
        [selector] = data_events.selectors
        assert isinstance(selector, AdvancedSelector)
        assert selector.name == "object writes"
        assert (legacy.arn, legacy.multi_region, legacy.logging, legacy.kind) == (LEGACY, False, False, "basic")
        resources = [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::analytics-raw/"]}]
        assert legacy.selectors == (BasicSelector.from_api({"ReadWriteType": "WriteOnly", "DataResources": resources}),)
        assert data_events.problem is legacy.problem is None

    def test_a_single_region_trail_of_another_region_is_not_one_of_this_regions(self, log_bucket: str) -> None:
        create_trail("eu-only", HOME)

        assert app().trails.trails() == []
        [eu_only] = App(Settings(key=PLACEHOLDER_KEY, region=HOME)).trails.trails()
        assert (eu_only.name, eu_only.applies_in(HOME), eu_only.applies_in(REGION)) == ("eu-only", True, False)

    def test_putting_basic_selectors_replaces_advanced_ones(self, log_bucket: str) -> None:
        create_trail("switched", REGION)
        client = cloudtrail(REGION)
        client.put_event_selectors(TrailName="switched", AdvancedEventSelectors=s3_writes("arn:aws:s3:::a/"))
        client.put_event_selectors(
            TrailName="switched", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}]
        )

        [switched] = app().trails.trails()

        assert switched.kind == "basic"

    def test_what_the_reads_need_from_iam(self, seeded: None) -> None:
        """DescribeTrails has no resource type; GetTrailStatus and GetEventSelectors act on the trail (Service
        Authorization Reference, list_awscloudtrail.html), which they name by its ARN."""
        calls = Calls(topic_key="unused")

        calls.app(Settings(key=PLACEHOLDER_KEY, account_id=ACCOUNT_ID, region=REGION)).trails.trails()

        assert calls.needs == {
            ("cloudtrail:DescribeTrails", "*"),
            ("cloudtrail:GetTrailStatus", DATA_EVENTS),
            ("cloudtrail:GetEventSelectors", DATA_EVENTS),
            ("cloudtrail:GetTrailStatus", LEGACY),
            ("cloudtrail:GetEventSelectors", LEGACY),
        }


@dataclass
class Organization:
    member: str
    session: Any  # the member account's
    trail: str  # the management account's organization trail


class TestOrganizationTrail:
    MEMBER_ROLE = "arn:aws:iam::{account}:role/dsse-remediation-operator"

    @pytest.fixture
    def organization(self, log_bucket: str) -> Organization:
        """The management account (moto's default) creates an organization, a member account and a multi-Region
        organization trail for S3 object writes of every bucket; the member's session is an assumed role."""
        organizations = boto3.client("organizations", region_name=REGION)
        organizations.create_organization(FeatureSet="ALL")
        status = organizations.create_account(AccountName="payments", Email="payments@example.com")
        member: str = status["CreateAccountStatus"]["AccountId"]
        arn = create_trail("org-trail", REGION, IsMultiRegionTrail=True, IsOrganizationTrail=True)
        cloudtrail(REGION).put_event_selectors(TrailName="org-trail", AdvancedEventSelectors=s3_writes("arn:aws:s3"))
        role = self.MEMBER_ROLE.format(account=member)
        credentials = boto3.client("sts", region_name=REGION).assume_role(RoleArn=role, RoleSessionName="test-setup")
        keys = credentials["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
            region_name=REGION,
        )
        return Organization(member, session, arn)

    def test_the_management_account_reads_its_organization_trail_whole(self, organization: Organization) -> None:
        [trail] = app().trails.trails()

        assert (trail.arn, trail.organization, trail.logging, trail.problem) == (organization.trail, True, True, None)
        assert assess("payments-ledger", [trail], REGION, "aws").covered

    def test_a_member_account_sees_it_and_its_status_but_an_unreadable_selector_leaves_coverage_unknown(
        self, organization: Organization
    ) -> None:
        def member_client(service: str, region: str | None) -> Any:
            return organization.session.client(service, region_name=region or REGION)

        [trail] = App(Settings(key=PLACEHOLDER_KEY, region=REGION), member_client).trails.trails()

        assert (trail.arn, trail.organization, trail.account, trail.logging) == (
            organization.trail,
            True,
            ACCOUNT_ID,
            True,
        )
        assert trail.problem is not None
        assert trail.problem.startswith("GetEventSelectors failed (TrailNotFoundException")
        result = assess("payments-ledger", [trail], REGION, "aws")
        assert not result.covered
        assert result.reason is not None
        assert result.reason.startswith("trail org-trail: GetEventSelectors failed (")
        assert "; its coverage is unknown" in result.reason


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """`dsse-remediate coverage ...`; no DSSE key configured: coverage reads none."""
    for name in ("DSSE_KMS_KEY", "PROTECTED_BUCKETS", "EXCLUDED_BUCKETS", "ACCOUNT_ID", "REPORT_BUCKET"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["coverage", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


class TestCommand:
    def test_the_json_document_names_every_in_scope_bucket_whether_covered_and_why_not(
        self, seeded: None, run: Any
    ) -> None:
        code, out, err = run("--output", "json")

        document = json.loads(out)
        assert (code, err, document["exitCode"]) == (1, "", 1)
        assert (document["account"], document["region"], document["uncovered"]) == (ACCOUNT_ID, REGION, 3)
        assert [t["name"] for t in document["trails"]] == ["data-events", "legacy-audit"]
        buckets = {b["bucket"]: b for b in document["buckets"]}
        assert list(buckets) == list(BUCKETS)
        assert {name: b["covered"] for name, b in buckets.items()} == {
            "analytics-raw": False,
            "finance-reports": True,
            "logs-archive": False,
            "media-uploads": False,
        }
        assert buckets["finance-reports"]["trails"] == [DATA_EVENTS]
        assert buckets["finance-reports"]["reason"] is None
        assert buckets["analytics-raw"]["reason"].startswith(
            "trail legacy-audit would record its writes but is not logging (StartLogging)"
        )
        assert buckets["logs-archive"]["partial"] == [
            "trail data-events records PutObject, CopyObject, CompleteMultipartUpload, PostObject for keys "
            "starting with 'logs/', not the whole bucket"
        ]
        assert buckets["media-uploads"]["reason"] == (
            "PutObject, CopyObject, CompleteMultipartUpload, PostObject: recorded by no trail (trail data-events: an "
            "advanced selector's resources.ARN condition leaves out this bucket)"
        )
        arns = document["suggestedSelector"]["FieldSelectors"][-1]["StartsWith"]
        assert arns == [f"arn:aws:s3:::{name}/" for name in ("analytics-raw", "logs-archive", "media-uploads")]

    def test_the_text_names_each_trail_and_each_bucket_and_suggests_a_selector(self, seeded: None, run: Any) -> None:
        code, out, _ = run()

        assert code == 1
        assert (
            f"  data-events  {DATA_EVENTS}  (home {HOME}, multi-Region)  logging, advanced selectors (8 values)" in out
        )
        assert f"  legacy-audit  {LEGACY}  (home {REGION})  NOT logging, basic selectors (1 value)" in out
        assert "covered    s3://finance-reports  by data-events\n" in out
        assert "uncovered  s3://media-uploads  PutObject, CopyObject, CompleteMultipartUpload, PostObject:" in out
        assert "3 of 4 in-scope bucket(s) not covered in us-east-1" in out
        assert '"StartsWith": [\n' in out

    def test_only_covered_buckets_in_scope_exit_0(self, seeded: None, run: Any) -> None:
        code, out, _ = run("--include", "finance-*")

        assert code == 0
        assert out.endswith("all 1 in-scope bucket(s) covered in us-east-1 (exit 0)\n")

    def test_the_scope_comes_from_the_environment_as_for_check_and_fix(
        self, seeded: None, run: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PROTECTED_BUCKETS", "*")
        monkeypatch.setenv("EXCLUDED_BUCKETS", "analytics-*,logs-*,media-*")

        code, out, _ = run("--output", "json")

        assert (code, [b["bucket"] for b in json.loads(out)["buckets"]]) == (0, ["finance-reports"])

    def test_starting_the_stopped_trail_covers_its_bucket(self, seeded: None, run: Any) -> None:
        cloudtrail(REGION).start_logging(Name="legacy-audit")

        code, out, _ = run("--include", "analytics-raw,finance-reports", "--output", "json")

        assert code == 0
        assert [b["trails"] for b in json.loads(out)["buckets"]] == [[LEGACY], [DATA_EVENTS]]

    def test_no_in_scope_bucket_exits_0(self, log_bucket: str, run: Any) -> None:
        code, out, _ = run()

        assert code == 0
        assert "no in-scope bucket in us-east-1 (include *) (exit 0)" in out

    def test_no_trail_at_all_is_said_per_bucket(self, s3: Any, run: Any) -> None:
        s3.create_bucket(Bucket="finance-reports")

        code, out, _ = run("--output", "json")

        [bucket] = json.loads(out)["buckets"]
        assert code == 1
        assert bucket["reason"].startswith("no trail logs in us-east-1 (none homed here, no multi-Region or")

    def test_a_malformed_key_variable_does_not_matter_to_coverage(
        self, seeded: None, run: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DSSE_KMS_KEY", "not a key")
        monkeypatch.setenv("BUCKET_KEY_MAP", "also=wrong")

        code, _, err = run("--include", "finance-*")

        assert (code, err) == (0, "")


def test_a_trail_list_is_what_the_domain_reads(seeded: None) -> None:
    """The adapter hands the domain Trail values, nothing of boto3."""
    assert all(isinstance(trail, Trail) for trail in app().trails.trails())
