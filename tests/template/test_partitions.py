"""The templates in the three partitions (aws, aws-us-gov, aws-cn) and with FIPS endpoints: no ARN names a partition
where the partition is not known, every resolved policy names the partition of its Region, what a partition lacks is
off there, and every function gets the SDK's FIPS switch from UseFipsEndpoints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.iam_lint import Resolver, foreign_arns, partition_of, policy_documents
from tests.cfn import OBJECT, Resolved, load
from tests.template.test_org_template import fake_layer_build, generate

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = {"us-east-1": "aws", "us-gov-west-1": "aws-us-gov", "cn-north-1": "aws-cn"}
ALL = frozenset(PARTITIONS.values())
PARTITION_LITERAL = re.compile(r"arn:(aws(?:-cn|-us-gov)?):")
# Text for people and input checks, not ARNs CloudFormation builds.
PROSE = frozenset({"Description", "ConstraintDescription", "AllowedPattern", "AssertDescription", "Metadata"})


def partition_conditions(template: dict[str, Any]) -> dict[str, str]:
    """Conditions of the form `!Equals [!Ref AWS::Partition, <partition>]`, by name."""
    found = {}
    for name, spec in template.get("Conditions", {}).items():
        operands = spec.get("Fn::Equals") if isinstance(spec, dict) else None
        if operands and {"Ref": "AWS::Partition"} in operands:
            found[name] = next(o for o in operands if isinstance(o, str))
    return found


def misplaced_literals(node: Any, conditions: dict[str, str], possible: frozenset[str], path: str) -> Iterator[str]:
    """Literal partition ARNs where the partition is not fixed to theirs: on every path from the template's root to a
    literal, the Fn::If branches taken on partition conditions must leave exactly that literal's partition."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and node["Fn::If"][0] in conditions:
            name, when_true, when_false = node["Fn::If"]
            partition = conditions[name]
            yield from misplaced_literals(when_true, conditions, possible & {partition}, f"{path}/If {name}")
            yield from misplaced_literals(when_false, conditions, possible - {partition}, f"{path}/If not {name}")
            return
        for key, value in node.items():
            if key not in PROSE:
                yield from misplaced_literals(value, conditions, possible, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from misplaced_literals(item, conditions, possible, f"{path}/{index}")
    elif isinstance(node, str):
        for match in PARTITION_LITERAL.finditer(node):
            if possible != {match[1]}:
                yield f"{path}: {node!r} names {match[1]} where the partition may be {sorted(possible)}"


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Organization's member template (scripts/org_template.py), as StackSets deploy it."""
    layer = fake_layer_build(tmp_path_factory.mktemp("layer-build"))
    return generate(tmp_path_factory.mktemp("org"), layer)


def templates(member: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from cfnlint.decode import decode

    found = {"template.yaml": load(), "member.json": member}
    for path in sorted((ROOT / "org").glob("*.yaml")):
        decoded, problems = decode(str(path))
        assert decoded is not None, problems
        found[f"org/{path.name}"] = dict(decoded)
    return found


class TestNoTemplateNamesAPartitionItDoesNotKnow:
    def test_no_literal_partition_arn_stands_outside_the_condition_of_its_partition(
        self, member: dict[str, Any]
    ) -> None:
        for name, template in templates(member).items():
            literals = list(misplaced_literals(template, partition_conditions(template), ALL, name))
            assert literals == [], "\n".join(literals)

    def test_the_check_finds_a_literal_aws_arn_in_a_policy(self) -> None:
        template = {"Resources": {"R": {"Properties": {"Resource": "arn:aws:s3:::bucket/*"}}}}
        assert list(misplaced_literals(template, {}, ALL, "t")) != []

    def test_the_check_finds_a_literal_under_the_wrong_partition_condition(self) -> None:
        template = {
            "Conditions": {"InChina": {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]}},
            "Resources": {"R": {"Fn::If": ["InChina", "arn:aws:s3:::a", "arn:aws-cn:s3:::a"]}},
        }
        assert len(list(misplaced_literals(template, partition_conditions(template), ALL, "t"))) == 2

    def test_descriptions_may_show_an_example_arn(self) -> None:
        template = {"Parameters": {"Key": {"Description": "e.g. arn:aws:kms:us-east-1:1:key/x"}}}
        assert list(misplaced_literals(template, {}, ALL, "t")) == []


@pytest.mark.parametrize("region", PARTITIONS)
class TestResolvedInEachPartition:
    def test_every_policy_arn_names_the_partition_of_the_region(self, region: str) -> None:
        template = Resolved({"BucketKeyMap": "", "ProtectedBuckets": "data-*,logs"}, region=region)
        statements = [
            statement
            for name, resource in template.template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function" and template.exists(name)
            for statement in template.function_statements(name)
        ]
        resources = [
            r for s in statements for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        ]
        arns = [r for r in resources if r.startswith("arn:")]
        assert arns, "the functions' policies name ARNs"
        assert {r.split(":")[1] for r in arns} == {PARTITIONS[region]}
        assert f"arn:{PARTITIONS[region]}:s3:::data-*/*" in resources

    def test_the_bucket_key_map_entries_become_arns_of_the_partition(self, region: str) -> None:
        partition = PARTITIONS[region]
        key = f"arn:{partition}:kms:{region}:123456789012:key/2222bbbb-22bb-22bb-22bb-222222222222"
        template = Resolved({"BucketKeyMap": f"secrets-*={key}"}, region=region)
        kms = [s for s in template.function_statements(OBJECT) if s.get("Sid") == "EncryptWithTheDsseKeys"]
        assert key in kms[0]["Resource"]
        assert f"arn:{partition}:s3:::secrets-*" in kms[0]["Resource"]

    def test_every_iam_policy_of_the_member_stack_names_only_its_partition(
        self, region: str, member: dict[str, Any]
    ) -> None:
        # The member template is the SAM-transformed stack: every role SAM generates, and the resource policies.
        resolver = Resolver(member, region)
        documents = [document for _, document in policy_documents(member, resolver)]
        assert len(documents) > 10
        assert [arn for d in documents for arn in foreign_arns(d, partition_of(region))] == []

    def test_lambda_tracing_is_on_where_lambda_has_x_ray_and_off_in_china(self, region: str) -> None:
        template = Resolved(region=region)
        in_china = PARTITIONS[region] == "aws-cn"
        assert template.value(template.template["Globals"]["Function"]["Tracing"]) == (
            "PassThrough" if in_china else "Active"
        )
        assert template.function_environment(OBJECT)["POWERTOOLS_TRACE_DISABLED"] == str(in_china).lower()


def rule_holds(template: Resolved, name: str) -> bool:
    rule = template.template["Rules"][name]
    if not template.value(rule["RuleCondition"]):
        return True
    return all(template.value(assertion["Assert"]) for assertion in rule["Assertions"])


class TestFipsEndpoints:
    def test_every_function_gets_the_sdk_fips_switch_from_the_parameter(self) -> None:
        for setting in ("true", "false"):
            template = Resolved({"UseFipsEndpoints": setting})
            functions = [
                n for n, r in template.template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
            ]
            assert functions
            for name in functions:
                assert template.function_environment(name)["AWS_USE_FIPS_ENDPOINT"] == setting, name

    def test_every_function_of_the_member_template_gets_it_too(self, member: dict[str, Any]) -> None:
        functions = {n: r for n, r in member["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
        assert functions
        for name, resource in functions.items():
            variables = resource["Properties"]["Environment"]["Variables"]
            assert variables["AWS_USE_FIPS_ENDPOINT"] == {"Ref": "UseFipsEndpoints"}, name

    def test_fips_is_off_by_default(self) -> None:
        assert Resolved().function_environment(OBJECT)["AWS_USE_FIPS_ENDPOINT"] == "false"

    @pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1"])
    def test_fips_endpoints_may_be_turned_on_in_the_us_and_govcloud(self, region: str) -> None:
        assert rule_holds(Resolved({"UseFipsEndpoints": "true"}, region=region), "FipsEndpointsExistInThisPartition")

    def test_china_refuses_fips_endpoints_with_a_message(self) -> None:
        template = Resolved({"UseFipsEndpoints": "true"}, region="cn-north-1")
        assert not rule_holds(template, "FipsEndpointsExistInThisPartition")
        assertion = template.template["Rules"]["FipsEndpointsExistInThisPartition"]["Assertions"][0]
        assert "China" in assertion["AssertDescription"]
        assert rule_holds(
            Resolved({"UseFipsEndpoints": "false"}, region="cn-north-1"), "FipsEndpointsExistInThisPartition"
        )


class TestMemberTemplateIsPartitionNeutral:
    def test_aws_managed_policies_are_named_through_the_partition_pseudo_parameter(
        self, member: dict[str, Any]
    ) -> None:
        arns = [
            arn
            for resource in member["Resources"].values()
            if resource["Type"] == "AWS::IAM::Role"
            for arn in resource["Properties"].get("ManagedPolicyArns", [])
        ]
        assert arns
        assert all(
            isinstance(a, dict) and a["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::aws:policy/") for a in arns
        )
