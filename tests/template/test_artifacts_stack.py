"""The artifact bucket stack for the other Regions (org/artifacts.yaml), read as tests/cfn.py reads template.yaml.

Lambda reads a function's code only from a bucket in its own Region, so every Region the member StackSet targets
needs <prefix>-<Region>. The security stack creates it in its own Region; org/artifacts.yaml creates it, and nothing
else, everywhere else. It is the same bucket: readable by the Organization alone, over TLS, versioned, retained. The
stack is plain CloudFormation.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from tests.cfn import PSEUDO, Resolved

ORG = Path(__file__).resolve().parents[2] / "org"
ORGANIZATION = "o-a1b2c3d4e5"
PREFIX = "example-dsse-artifacts"
REGION = PSEUDO["AWS::Region"]


@cache
def _decoded(name: str) -> str:
    template, problems = decode(str(ORG / name))
    assert template is not None, problems
    return json.dumps(template)  # cached as text: every stack gets its own copy


def raw() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(_decoded("artifacts.yaml"))
    return found


def artifacts(**parameters: str) -> Resolved:
    template = raw()
    template.setdefault("Conditions", {})  # Resolved reads Conditions; this stack has none
    return Resolved({"OrganizationId": ORGANIZATION, "ArtifactBucketPrefix": PREFIX} | parameters, template=template)


def security() -> Resolved:
    parameters = {"OrganizationId": ORGANIZATION, "CreateArtifactBucket": "true", "ArtifactBucketPrefix": PREFIX}
    return Resolved(parameters, template=json.loads(_decoded("security.yaml")))


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return [found] if isinstance(found, dict) else list(found)


def bucket_arn(template: Resolved) -> str:
    return str(template.value({"Fn::GetAtt": ["ArtifactBucket", "Arn"]}))


class TestPlainCloudFormation:
    def test_no_transform_and_only_the_bucket_and_its_policy(self) -> None:
        template = raw()

        assert "Transform" not in template
        assert template["AWSTemplateFormatVersion"] == "2010-09-09"
        assert {name: r["Type"] for name, r in template["Resources"].items()} == {
            "ArtifactBucket": "AWS::S3::Bucket",
            "ArtifactBucketPolicy": "AWS::S3::BucketPolicy",
        }
        assert set(template["Parameters"]) == {"OrganizationId", "ArtifactBucketPrefix"}
        assert set(template["Outputs"]) == {"ArtifactBucketName"}
        assert "Conditions" not in template  # the bucket is the point of the stack: never optional here

    def test_the_output_is_the_bucket(self) -> None:
        template = artifacts()

        assert template.value(template.template["Outputs"]["ArtifactBucketName"]["Value"]) == template.value(
            {"Ref": "ArtifactBucket"}
        )


class TestArtifactBucket:
    def test_named_for_the_region_versioned_private_owner_enforced_and_retained(self) -> None:
        template = artifacts()
        resource = template.resource("ArtifactBucket")
        properties = template.value(resource["Properties"])

        assert properties["BucketName"] == f"{PREFIX}-{REGION}"
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}  # readable without a key grant
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")

    def test_only_the_organization_reads_it_and_only_over_tls(self) -> None:
        template = artifacts()
        policy = template.value(template.resource("ArtifactBucketPolicy")["Properties"])
        arn = bucket_arn(template)

        assert policy["Bucket"] == template.value({"Ref": "ArtifactBucket"})
        tls, read = statements(policy["PolicyDocument"])
        assert tls == {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        assert read == {
            "Sid": "OrganizationReadsArtifacts",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{arn}/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}},
        }

    def test_the_organization_is_the_parameter(self) -> None:
        template = artifacts(OrganizationId="o-zzzzzzzzzz99")
        _, read = statements(template.value(template.resource("ArtifactBucketPolicy")["Properties"])["PolicyDocument"])

        assert read["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzzzzzz99"}}

    @pytest.mark.parametrize("name", ["ArtifactBucket", "ArtifactBucketPolicy"])
    def test_the_same_resource_as_the_security_stacks_bucket(self, name: str) -> None:
        """One definition in two files: the bucket every Region's member stacks read is the same everywhere."""
        here, there = artifacts(), security()
        mine, theirs = here.resource(name), there.resource(name)

        assert there.exists(name)
        assert here.value(mine["Properties"]) == there.value(theirs["Properties"])
        assert {k: v for k, v in mine.items() if k not in ("Metadata", "Condition")} == {
            k: v for k, v in theirs.items() if k not in ("Metadata", "Condition")
        }
        assert mine.get("Metadata", {}).get("checkov") == theirs.get("Metadata", {}).get("checkov")


class TestParameters:
    @staticmethod
    def _accepts(name: str, value: str) -> bool:
        spec = raw()["Parameters"][name]
        return re.fullmatch(spec["AllowedPattern"], value) is not None

    def test_both_are_required(self) -> None:
        for spec in raw()["Parameters"].values():
            assert "Default" not in spec

    def test_the_organization_id_is_checked_as_in_the_security_stack(self) -> None:
        security_spec = json.loads(_decoded("security.yaml"))["Parameters"]["OrganizationId"]

        assert raw()["Parameters"]["OrganizationId"]["AllowedPattern"] == security_spec["AllowedPattern"]

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [
            ("example-dsse-artifacts", True),
            ("a" * 48, True),
            ("", False),  # no bucket without a prefix
            ("a" * 49, False),  # with -<Region> it could exceed 63 characters
            ("Example", False),
            ("example.artifacts", False),  # dots break virtual-hosted TLS names
            ("-example", False),
            ("example-", False),
        ],
    )
    def test_artifact_bucket_prefix(self, value: str, accepted: bool) -> None:
        assert self._accepts("ArtifactBucketPrefix", value) is accepted

    def test_the_prefix_accepts_what_the_security_stack_accepts_except_empty(self) -> None:
        mine = raw()["Parameters"]["ArtifactBucketPrefix"]["AllowedPattern"]
        theirs = json.loads(_decoded("security.yaml"))["Parameters"]["ArtifactBucketPrefix"]["AllowedPattern"]

        assert theirs == f"^$|{mine}"
