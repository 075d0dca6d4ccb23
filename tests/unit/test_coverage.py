"""Coverage as CloudTrail documents its selectors (coverage/selectors.py, coverage/report.py): which trails record a
bucket's object writes (PutObject, CopyObject, CompleteMultipartUpload, PostObject), for every key or only a part,
and why a bucket is not covered. The AWS page behind each rule is cited in the modules' docstrings."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.coverage.report import (
    MAX_ADVANCED_VALUES,
    BucketCoverage,
    Trail,
    assess,
    coverage,
)
from dsse_remediation.coverage.selectors import (
    WRITE_EVENTS,
    AdvancedSelector,
    BasicSelector,
    DataResource,
    FieldSelector,
    parse_selectors,
)

REGION = "us-east-1"
ACCOUNT, MANAGEMENT = "123456789012", "999999999999"
OBJECTS = (
    FieldSelector("eventCategory", equals=("Data",)),
    FieldSelector("resources.type", equals=("AWS::S3::Object",)),
)


def advanced(*fields: FieldSelector, data: bool = True) -> AdvancedSelector:
    """An advanced selector: S3 object data events (the two required field selectors) and `fields`."""
    return AdvancedSelector((*OBJECTS, *fields) if data else fields)


def arn_field(**operators: tuple[str, ...]) -> FieldSelector:
    return FieldSelector("resources.ARN", **operators)


def names(**operators: tuple[str, ...]) -> FieldSelector:
    return FieldSelector("eventName", **operators)


def basic(*values: str, read_write: str = "All", kind: str = "AWS::S3::Object") -> BasicSelector:
    return BasicSelector(read_write, (DataResource(kind, values),))


def trail(*selectors: Any, name: str = "data-events", **fields: Any) -> Trail:
    """A logging trail of this account homed in this Region, unless `fields` say otherwise."""
    home = fields.pop("home_region", REGION)
    account = fields.pop("account", ACCOUNT)
    partition = fields.pop("partition", "aws")
    arn = f"arn:{partition}:cloudtrail:{home}:{account}:trail/{name}"
    return Trail(name, arn, home, logging=fields.pop("logging", True), selectors=selectors, **fields)


def covers(bucket: str, *trails: Trail, region: str = REGION, partition: str = "aws") -> BucketCoverage:
    return assess(bucket, trails, region, partition)


class TestAdvancedSelectors:
    def test_data_events_for_every_s3_object_cover_every_bucket(self) -> None:
        result = covers("finance-reports", trail(advanced()))

        assert (result.covered, result.missing, result.reason) == (True, (), None)
        assert result.trails == (f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/data-events",)

    def test_starts_with_the_bucket_arn_and_its_slash_covers_that_bucket_only(self) -> None:
        selected = trail(advanced(arn_field(starts_with=("arn:aws:s3:::finance-reports/",))))

        assert covers("finance-reports", selected).covered
        other = covers("finance-archive", selected)
        assert not other.covered
        assert other.reason == (
            "PutObject, CopyObject, CompleteMultipartUpload, PostObject: recorded by no trail (trail data-events: an "
            "advanced selector's resources.ARN condition leaves out this bucket)"
        )

    def test_starts_with_the_bucket_name_without_its_slash_is_a_prefix_of_every_bucket_so_named(self) -> None:
        selected = trail(advanced(arn_field(starts_with=("arn:aws:s3:::fin",))))

        assert covers("finance-reports", selected).covered
        assert covers("fintech", selected).covered
        assert not covers("payments", selected).covered

    def test_a_prefix_covers_only_part_of_the_bucket_and_says_which(self) -> None:
        result = covers("logs-archive", trail(advanced(arn_field(starts_with=("arn:aws:s3:::logs-archive/logs/",)))))

        assert not result.covered
        assert result.missing == WRITE_EVENTS
        assert result.partial == (
            "trail data-events records PutObject, CopyObject, CompleteMultipartUpload, PostObject for keys starting "
            "with 'logs/', not the whole bucket",
        )
        assert result.reason == f"only part of the bucket is recorded: {result.partial[0]}"

    def test_not_starts_with_leaves_out_each_bucket_it_names(self) -> None:
        """The User Guide's "exclude data events for two S3 buckets": NotStartsWith with both bucket ARNs."""
        excluding = trail(advanced(arn_field(not_starts_with=("arn:aws:s3:::scratch/", "arn:aws:s3:::tmp-data/"))))

        assert not covers("scratch", excluding).covered
        assert not covers("tmp-data", excluding).covered
        assert covers("finance-reports", excluding).covered

    def test_not_starts_with_a_prefix_of_the_bucket_leaves_the_rest_recorded_in_part(self) -> None:
        result = covers("finance", trail(advanced(arn_field(not_starts_with=("arn:aws:s3:::finance/tmp/",)))))

        assert result.partial == (
            "trail data-events records PutObject, CopyObject, CompleteMultipartUpload, PostObject for every key "
            "except keys starting with 'tmp/', not the whole bucket",
        )

    def test_starts_with_and_not_starts_with_in_one_field_selector_must_both_hold(self) -> None:
        field = arn_field(starts_with=("arn:aws:s3:::finance/",), not_starts_with=("arn:aws:s3:::finance/",))

        result = covers("finance", trail(advanced(field)))

        assert (result.covered, result.partial) == (False, ())
        assert "resources.ARN condition leaves out this bucket" in (result.reason or "")

    def test_not_equals_the_bucket_arn_with_its_slash_leaves_out_no_object(self) -> None:
        """Equals and NotEquals compare a whole object ARN: `arn:aws:s3:::bucket/` is no object's ARN. (The Terraform
        provider's docs once showed it excluding a bucket; it excludes nothing:
        https://github.com/hashicorp/terraform-provider-aws/issues/28582.)"""
        result = covers("finance", trail(advanced(arn_field(not_equals=("arn:aws:s3:::finance/",)))))

        assert result.covered

    def test_equals_an_object_arn_covers_that_key_only(self) -> None:
        result = covers("finance", trail(advanced(arn_field(equals=("arn:aws:s3:::finance/q3.csv",)))))

        assert not result.covered
        assert "for the key 'q3.csv', not the whole bucket" in result.partial[0]

    def test_ends_with_cannot_cover_a_whole_bucket(self) -> None:
        result = covers("finance", trail(advanced(arn_field(ends_with=(".csv", "finance/a")))))

        assert not result.covered
        assert "for keys ending in '.csv' or keys ending in 'finance/a' or the key 'a', not" in result.partial[0]

    def test_not_ends_with_leaves_the_bucket_recorded_in_part(self) -> None:
        result = covers("finance", trail(advanced(arn_field(not_ends_with=(".tmp",)))))

        assert not result.covered
        assert "every key except keys ending in '.tmp'" in result.partial[0]

    def test_read_only_true_records_no_write(self) -> None:
        result = covers("finance", trail(advanced(FieldSelector("readOnly", equals=("true",)))))

        assert not result.covered
        assert "(trail data-events: an advanced selector logs read-only events (readOnly true))" in (
            result.reason or ""
        )

    def test_read_only_false_records_every_write(self) -> None:
        assert covers("finance", trail(advanced(FieldSelector("readOnly", equals=("false",))))).covered

    def test_an_event_name_list_without_a_write_records_none(self) -> None:
        result = covers("finance", trail(advanced(names(equals=("GetObject", "DeleteObject")))))

        assert not result.covered
        assert "an advanced selector's eventName condition keeps no object write" in (result.reason or "")

    def test_an_event_name_list_with_some_writes_says_which_are_missing(self) -> None:
        result = covers("finance", trail(advanced(names(equals=("PutObject", "CopyObject", "DeleteObject")))))

        assert result.missing == ("CompleteMultipartUpload", "PostObject")
        assert result.reason == "CompleteMultipartUpload, PostObject: recorded by no trail"

    def test_not_equals_on_a_write_name_leaves_that_write_out(self) -> None:
        result = covers("finance", trail(advanced(names(not_equals=("PostObject",)))))

        assert (result.covered, result.missing) == (False, ("PostObject",))

    def test_starts_with_on_event_names_is_matched_as_a_prefix(self) -> None:
        result = covers("finance", trail(advanced(names(starts_with=("P",)))))

        assert result.missing == ("CopyObject", "CompleteMultipartUpload")

    @pytest.mark.parametrize(
        ("fields", "why"),
        [
            (
                (FieldSelector("eventCategory", equals=("Management",)),),
                "an advanced selector logs Management events, not data events",
            ),
            (
                (
                    FieldSelector("eventCategory", equals=("Data",)),
                    FieldSelector("resources.type", equals=("AWS::S3::AccessPoint",)),
                ),
                "an advanced selector logs AWS::S3::AccessPoint data events, not AWS::S3::Object",
            ),
            (
                (FieldSelector("resources.type", equals=("AWS::S3::Object",)),),
                "an advanced selector logs no eventCategory events, not data events",
            ),
        ],
    )
    def test_event_category_data_and_resource_type_s3_object_are_required(
        self, fields: tuple[FieldSelector, ...], why: str
    ) -> None:
        result = covers("finance", trail(advanced(*fields, data=False)))

        assert not result.covered
        assert f"(trail data-events: {why})" in (result.reason or "")

    def test_the_selectors_of_a_trail_add_up(self) -> None:
        logs = advanced(arn_field(starts_with=("arn:aws:s3:::finance/logs/",)))
        rest = advanced(
            arn_field(starts_with=("arn:aws:s3:::finance/",), not_starts_with=("arn:aws:s3:::finance/logs/",))
        )

        assert covers("finance", trail(logs, rest)).covered

    def test_trails_add_up_write_by_write(self) -> None:
        puts = trail(advanced(names(equals=("PutObject", "CopyObject"))), name="puts")
        uploads = trail(advanced(names(equals=("CompleteMultipartUpload", "PostObject"))), name="uploads")

        result = covers("finance", puts, uploads)

        assert result.covered
        assert [arn.rsplit("/", 1)[1] for arn in result.trails] == ["puts", "uploads"]

    def test_a_field_that_depends_on_who_writes_makes_the_selectors_writes_uncertain(self) -> None:
        who = FieldSelector("userIdentity.arn", not_starts_with=("arn:aws:sts::123456789012:assumed-role/etl",))

        result = covers("finance", trail(advanced(who)))

        assert not result.covered
        assert result.reason == (
            "PutObject, CopyObject, CompleteMultipartUpload, PostObject: recorded by no trail; trail data-events "
            "filters on userIdentity.arn: which writes it records depends on who writes, so none counts"
        )
        assert advanced(who).why_not("arn:aws:s3:::finance/") == (
            "an advanced selector filters on userIdentity.arn, which coverage cannot evaluate"
        )

    def test_event_source_s3_is_what_an_object_write_carries(self) -> None:
        assert covers("finance", trail(advanced(FieldSelector("eventSource", equals=("s3.amazonaws.com",))))).covered


class TestBasicSelectors:
    def test_the_all_buckets_value_covers_every_bucket(self) -> None:
        assert covers("finance", trail(basic("arn:aws:s3"))).covered

    def test_a_bucket_with_its_slash_covers_that_bucket(self) -> None:
        selected = trail(basic("arn:aws:s3:::finance/"))

        assert covers("finance", selected).covered
        assert not covers("payments", selected).covered

    def test_a_bucket_and_a_prefix_covers_only_part_of_it(self) -> None:
        result = covers("finance", trail(basic("arn:aws:s3:::finance/reports")))

        assert not result.covered
        assert "for keys starting with 'reports', not the whole bucket" in result.partial[0]

    def test_read_only_records_no_write(self) -> None:
        result = covers("finance", trail(basic("arn:aws:s3", read_write="ReadOnly")))

        assert not result.covered
        assert "a basic selector logs read-only events (ReadWriteType ReadOnly)" in (result.reason or "")

    def test_write_only_records_every_write(self) -> None:
        assert covers("finance", trail(basic("arn:aws:s3", read_write="WriteOnly"))).covered

    def test_lambda_data_resources_record_no_s3_write(self) -> None:
        result = covers("finance", trail(basic("arn:aws:lambda", kind="AWS::Lambda::Function")))

        assert "a basic selector logs no S3 data events" in (result.reason or "")

    def test_management_events_only_record_no_write(self) -> None:
        result = covers("finance", trail(BasicSelector()))

        assert not result.covered


class TestTrails:
    def test_a_stopped_trail_records_nothing_and_says_so(self) -> None:
        result = covers("finance", trail(advanced(), logging=False))

        assert (result.covered, result.trails) == (False, ())
        assert result.reason == (
            "trail data-events would record its writes but is not logging (StartLogging); PutObject, CopyObject, "
            "CompleteMultipartUpload, PostObject: recorded by no trail that is logging"
        )

    def test_a_single_region_trail_of_another_region_does_not_log_here(self) -> None:
        elsewhere = trail(advanced(), home_region="eu-west-1")

        result = covers("finance", elsewhere)

        assert not result.covered
        assert result.reason is not None
        assert result.reason.startswith("no trail logs in us-east-1")

    def test_a_multi_region_trail_homed_elsewhere_logs_here(self) -> None:
        assert covers("finance", trail(advanced(), home_region="eu-west-1", multi_region=True)).covered

    def test_an_organization_trail_of_the_management_account_covers_a_member_account(self) -> None:
        org = trail(advanced(), name="org", account=MANAGEMENT, organization=True, multi_region=True)

        result = covers("finance", org)

        assert result.covered
        assert result.trails == (f"arn:aws:cloudtrail:{REGION}:{MANAGEMENT}:trail/org",)
        assert org.describe(REGION) == f"home {REGION}, multi-Region, Organization trail of {MANAGEMENT}"

    def test_a_trail_that_could_not_be_read_counts_for_nothing_and_says_why(self) -> None:
        unread = Trail("org", f"arn:aws:cloudtrail:{REGION}:{MANAGEMENT}:trail/org", REGION, problem="denied")

        result = covers("finance", unread)

        assert result.reason == (
            "trail org: denied; its coverage is unknown; PutObject, CopyObject, CompleteMultipartUpload, PostObject: "
            "recorded by no trail that is logging"
        )

    def test_one_trail_covering_is_enough_whatever_the_others_do(self) -> None:
        stopped = trail(basic("arn:aws:s3"), name="old", logging=False)

        result = covers("finance", stopped, trail(advanced()))

        assert (result.covered, len(result.trails)) == (True, 1)


class TestPartitions:
    @pytest.mark.parametrize(("partition", "region"), [("aws-us-gov", "us-gov-west-1"), ("aws-cn", "cn-north-1")])
    def test_the_all_buckets_value_of_one_partition_names_no_bucket_of_another(
        self, partition: str, region: str
    ) -> None:
        commercial = trail(basic("arn:aws:s3"), home_region=region, partition=partition)
        own = trail(basic(f"arn:{partition}:s3"), home_region=region, partition=partition)

        assert not covers("finance", commercial, region=region, partition=partition).covered
        assert covers("finance", own, region=region, partition=partition).covered

    def test_an_advanced_bucket_arn_names_its_partition(self) -> None:
        selector = advanced(arn_field(starts_with=("arn:aws-cn:s3:::finance/",)))

        assert covers("finance", trail(selector), partition="aws-cn").covered
        assert not covers("finance", trail(selector), partition="aws").covered


class TestParsing:
    def test_advanced_selectors_are_read_with_the_empty_operator_lists_cloudtrail_answers(self) -> None:
        answer = {
            "AdvancedEventSelectors": [
                {
                    "Name": "S3EventSelector",
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Data"], "StartsWith": [], "NotEquals": []},
                        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                        {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::finance/"], "NotStartsWith": []},
                    ],
                }
            ],
            "EventSelectors": [{"ReadWriteType": "ReadOnly"}],  # a trail has one kind: the advanced ones win
        }

        [selector] = parse_selectors(answer)

        assert isinstance(selector, AdvancedSelector)
        assert selector.name == "S3EventSelector"
        assert selector.value_count == 3
        assert covers("finance", trail(selector)).covered

    def test_basic_selectors_are_read_with_their_defaults(self) -> None:
        answer = {"EventSelectors": [{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::f/"]}]}]}

        assert parse_selectors(answer) == (
            BasicSelector("All", (DataResource("AWS::S3::Object", ("arn:aws:s3:::f/",)),)),
        )


class TestReport:
    def test_the_json_answer_names_each_bucket_whether_it_is_covered_by_which_trails_and_why_not(self) -> None:
        trails = [trail(advanced(arn_field(starts_with=("arn:aws:s3:::finance/",))))]

        report = coverage(["payments", "finance"], trails, REGION, "aws", ACCOUNT, "include *")
        answer = report.answer()

        assert [(b["bucket"], b["covered"]) for b in answer["buckets"]] == [("finance", True), ("payments", False)]
        assert set(answer["buckets"][0]) == {"bucket", "covered", "unknown", "trails", "missing", "partial", "reason"}
        assert answer["uncovered"] == 1
        assert answer["trails"][0]["selectorValues"] == 3

    def test_the_suggested_selector_names_the_uncovered_buckets_within_cloudtrails_limit(self) -> None:
        report = coverage(["a", "b"], [], REGION, "aws", ACCOUNT, "include *")

        suggestion = report.suggestion
        assert suggestion is not None
        fields = {f["Field"]: f for f in suggestion["FieldSelectors"]}
        assert fields["resources.ARN"] == {
            "Field": "resources.ARN",
            "StartsWith": ["arn:aws:s3:::a/", "arn:aws:s3:::b/"],
        }
        assert fields["eventName"]["Equals"] == list(WRITE_EVENTS)
        selector = AdvancedSelector.from_api(suggestion)
        assert all(covers(bucket, trail(selector)).covered for bucket in ("a", "b"))

    def test_above_the_limit_the_suggestion_records_every_buckets_writes(self) -> None:
        buckets = [f"bucket-{n:04d}" for n in range(MAX_ADVANCED_VALUES)]

        suggestion = coverage(buckets, [], REGION, "aws", ACCOUNT, "include *").suggestion

        assert suggestion is not None
        assert "resources.ARN" not in {f["Field"] for f in suggestion["FieldSelectors"]}
        assert sum(len(f["Equals"]) for f in suggestion["FieldSelectors"]) <= MAX_ADVANCED_VALUES

    def test_no_uncovered_bucket_no_suggestion(self) -> None:
        assert coverage(["a"], [trail(advanced())], REGION, "aws", ACCOUNT, "include *").suggestion is None
