"""The gate's rules (gate/rules.py) on the named buckets of tests/gate_matrix.py, and on one object's ACL: each
unsafe reason names who or what would break, says what to do and cites the AWS page; side effects never block."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dsse_remediation.gate.facts import ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY, Grant, PublicAccessBlock
from dsse_remediation.gate.rules import evaluate, object_findings
from dsse_remediation.gate.safety import Finding, Safety
from tests.gate_matrix import (
    BY_NAME,
    CASES,
    DISTRIBUTION,
    OTHER_ACCOUNT,
    OTHER_ROLE,
    PUBLIC_READ,
    Case,
    bucket,
    key_grant,
    key_policy,
    policy,
    statement,
)

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
STRANGER = "be2fe74dc7e8125d8f8fcae89d90e6dfdecabf896e1a69d55e949b009fd95a97"


def codes(findings: tuple[Finding, ...]) -> list[str]:
    return sorted(finding.code for finding in findings)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_bucket_of_the_matrix_gets_its_verdict(case: Case) -> None:
    verdict = evaluate(case.access)

    assert verdict.safety is case.safety
    assert codes(verdict.reasons) == sorted(case.reasons)
    assert codes(verdict.side_effects) == sorted(case.side_effects)
    assert verdict.accepted_by is None  # acceptance is the gate's, not the rules'
    assert verdict.blocks is (case.safety is Safety.UNSAFE)


def test_the_matrix_covers_every_reason_and_each_kind_of_control() -> None:
    reasons = {code for case in CASES for code in case.reasons}
    by_safety = {safety: [case for case in CASES if case.safety is safety] for safety in Safety}

    assert len(CASES) >= 15
    assert {
        "website-endpoint", "public-reader", "public-writer", "cloudfront-oai", "cloudfront-oac",
        "cross-account-reader", "cross-account-writer", "replication-without-kms", "server-access-logs",
        "elb-access-logs", "service-writer", "unreadable-configuration",
    } <= reasons  # fmt: skip
    assert len(by_safety[Safety.SAFE]) >= 5
    assert len(by_safety[Safety.SIDE_EFFECTS]) >= 3


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_finding_says_what_what_to_do_and_where_aws_says_so(case: Case) -> None:
    verdict = evaluate(case.access)

    for finding in verdict.reasons + verdict.side_effects:
        assert finding.what
        assert finding.fix
        assert finding.source.startswith("https://docs.aws.amazon.com/")


# --- what the reasons say -----------------------------------------------------------------------------------------


def test_an_oac_without_a_key_grant_names_the_distribution_and_the_grant_to_add() -> None:
    (reason,) = evaluate(BY_NAME["cloudfront-oac-without-key-grant"].access).reasons

    assert DISTRIBUTION in reason.what
    assert "kms:Decrypt" in reason.fix
    assert f'AWS:SourceArn "{DISTRIBUTION}"' in reason.fix
    assert "private-content-restricting-access-to-s3" in reason.source


def test_an_oac_grant_for_another_distribution_does_not_cover_this_one() -> None:
    elsewhere = {"StringEquals": {"AWS:SourceArn": DISTRIBUTION + "X"}}
    other = key_grant({"Service": "cloudfront.amazonaws.com"}, condition=elsewhere)
    access = replace(BY_NAME["cloudfront-oac-with-key-grant"].access, key_policy=key_policy(other))

    assert codes(evaluate(access).reasons) == ["cloudfront-oac"]


def test_a_cross_account_reader_is_named_with_the_key_statement_that_would_cover_it() -> None:
    (reason,) = evaluate(BY_NAME["cross-account-reader-without-key-grant"].access).reasons

    assert f"account {OTHER_ACCOUNT}" in reason.what
    assert f'"AWS": "arn:aws:iam::{OTHER_ACCOUNT}:root"' in reason.fix
    assert "key-policy-modifying-external-accounts" in reason.source


def test_a_grant_to_the_account_root_of_the_key_does_not_cover_another_account() -> None:
    access = bucket(policy=policy(statement({"AWS": OTHER_ROLE})))  # the key has its default policy only

    (reason,) = evaluate(access).reasons

    assert reason.code == "cross-account-reader"
    assert OTHER_ROLE in reason.what


def test_an_organization_reader_is_covered_by_a_key_grant_to_that_organization_only() -> None:
    case = BY_NAME["organization-reader-with-key-grant"]
    other_org = key_grant("*", condition={"StringEquals": {"aws:PrincipalOrgID": "o-another"}})

    assert evaluate(replace(case.access, key_policy=key_policy(other_org))).safety is Safety.UNSAFE
    assert (
        "this account's Organization"
        in evaluate(BY_NAME["organization-reader-without-key-grant"].access).reasons[0].fix
    )


def test_a_replication_rule_is_named_with_what_it_lacks() -> None:
    (reason,) = evaluate(BY_NAME["replication-without-kms-opt-in"].access).reasons

    assert "'to-dr'" in reason.what
    assert "example-dr-bucket" in reason.what
    assert "SseKmsEncryptedObjects" in reason.fix
    assert "ReplicaKmsKeyID" in reason.fix


def test_an_unreadable_configuration_is_never_taken_for_none() -> None:
    (reason,) = evaluate(BY_NAME["unreadable-bucket-policy"].access).reasons

    assert reason.what == "could not read the bucket policy (AccessDenied): the gate does not guess"
    assert "grant the gate's role the read" in reason.fix


def test_an_unreadable_key_policy_leaves_no_cross_account_grant_proven() -> None:
    case = BY_NAME["cross-account-reader-with-key-grant"]
    access = replace(case.access, key_policy=None, unreadable=("the key policy (AccessDeniedException)",))

    verdict = evaluate(access)

    assert codes(verdict.reasons) == ["cross-account-reader", "unreadable-configuration"]
    reader = next(reason for reason in verdict.reasons if reason.code == "cross-account-reader")
    assert "the key policy could not be read, so no grant could be proven" in reader.what


def test_a_website_needs_both_restrict_public_buckets_and_ignore_public_acls_to_be_neutralised() -> None:
    only_policy = bucket(website=True, bucket_block=PublicAccessBlock(restrict_public_buckets=True))
    only_acls = bucket(website=True, bucket_block=PublicAccessBlock(ignore_public_acls=True))

    assert "IgnorePublicAcls off" in evaluate(only_policy).reasons[0].what
    assert "RestrictPublicBuckets off" in evaluate(only_acls).reasons[0].what


def test_block_public_policy_alone_does_not_neutralise_an_existing_public_policy() -> None:
    blocks_new_grants_only = PublicAccessBlock(block_public_acls=True, block_public_policy=True)
    access = bucket(policy=policy(PUBLIC_READ), bucket_block=blocks_new_grants_only)

    assert codes(evaluate(access).reasons) == ["public-reader"]


def test_log_delivery_in_the_acl_is_a_writer_even_with_every_public_access_block() -> None:
    access = bucket(acl=(Grant(LOG_DELIVERY, "FULL_CONTROL"),), bucket_block=PublicAccessBlock(True, True, True, True))

    assert codes(evaluate(access).reasons) == ["server-access-logs"]


def test_a_canonical_user_allowed_to_write_by_the_bucket_acl_cannot_be_proven() -> None:
    assert codes(evaluate(bucket(acl=(Grant(STRANGER, "WRITE"),))).reasons) == ["canonical-user-writer"]


def test_the_same_reader_in_two_statements_is_one_reason() -> None:
    grant = statement({"AWS": OTHER_ACCOUNT}, sid="A")

    assert len(evaluate(bucket(policy=policy(grant, grant))).reasons) == 1


def test_side_effects_name_the_readers_outside_the_account() -> None:
    (effect,) = evaluate(BY_NAME["cross-account-reader-with-key-grant"].access).side_effects

    assert f"account {OTHER_ACCOUNT}" in effect.what
    assert "no S3 Bucket Keys" in effect.what
    assert effect.source.endswith("requests-per-second.html")


def test_the_verdict_describes_itself_in_one_line() -> None:
    assert evaluate(BY_NAME["private-bucket"].access).describe().startswith("safe: ")
    assert evaluate(BY_NAME["replication-opted-in"].access).describe().startswith("safe with side effects: ")
    assert evaluate(BY_NAME["cloudfront-oai"].access).describe().startswith("unsafe: ")


# --- one object's ACL, as the object path carries it (CopyObject Grant* parameters) -------------------------------

NO_BLOCK = PublicAccessBlock()


@pytest.mark.parametrize(
    "grants",
    [
        {"GrantRead": f'uri="{ALL_USERS}"', "GrantFullControl": f'id="{OWNER}"'},
        {"GrantFullControl": f'id="{OWNER}", uri="{AUTHENTICATED_USERS}"'},
    ],
)
def test_a_public_object_acl_is_unsafe_unless_ignore_public_acls(grants: dict[str, str]) -> None:
    (finding,) = object_findings(grants, NO_BLOCK)

    assert finding.code == "public-object-acl"
    assert "IgnorePublicAcls" in finding.fix
    assert object_findings(grants, PublicAccessBlock(ignore_public_acls=True)) == ()


def test_the_owners_full_control_alone_is_safe() -> None:
    assert object_findings({"GrantFullControl": f'id="{OWNER}"'}, NO_BLOCK) == ()
    assert object_findings({}, NO_BLOCK) == ()


def test_acp_grants_read_no_data() -> None:
    grants = {"GrantFullControl": f'id="{OWNER}"', "GrantReadACP": f'uri="{ALL_USERS}", id="{STRANGER}"'}

    assert object_findings(grants, NO_BLOCK) == ()


def test_another_canonical_user_that_reads_the_object_cannot_be_proven() -> None:
    grants = {"GrantFullControl": f'id="{OWNER}"', "GrantRead": f'id="{STRANGER}"'}

    (without_owner,) = object_findings(grants, NO_BLOCK)
    (with_owner,) = object_findings(grants, NO_BLOCK, owner_id=OWNER)

    assert without_owner.code == with_owner.code == "object-acl-reader"
    assert "at least one is not the owner" in without_owner.what
    assert STRANGER in with_owner.what
    assert OWNER not in with_owner.what
    assert object_findings({"GrantRead": f'id="{STRANGER}"'}, NO_BLOCK, owner_id=OWNER)[0].code == "object-acl-reader"
