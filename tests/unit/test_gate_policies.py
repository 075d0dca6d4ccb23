"""How the gate reads IAM policy documents (gate/policies.py), as AWS evaluates them: who a bucket policy lets read
or write the objects, and whether a key policy lets a principal use the key. Where a document cannot be read with
certainty, the answer is the conservative one: a reader is present, a key grant is not."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.gate.policies import (
    ELB_ACCOUNTS,
    Grantee,
    Kind,
    Requester,
    elb_region,
    key_allows,
    readers,
    writers,
)
from tests.gate_matrix import (
    BUCKET,
    DISTRIBUTION,
    OAI,
    OBJECTS,
    ORG_ID,
    OTHER_ACCOUNT,
    OTHER_ROLE,
    ROOT_STATEMENT,
    key_grant,
    key_policy,
    policy,
    statement,
)
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY

THIRD_ACCOUNT = "777788889999"


def kinds(document: dict[str, Any], partition: str = "aws") -> list[tuple[Kind, str]]:
    return [(grantee.kind, grantee.name) for grantee in readers(document, BUCKET, partition).grantees]


def allowed(document: dict[str, Any] | None, requester: Requester, action: str = "kms:Decrypt") -> bool:
    return key_allows(document, PLACEHOLDER_KEY, action, requester, BUCKET).allowed


# --- the bucket policy: principals --------------------------------------------------------------------------------


def test_a_statement_may_be_one_object_or_a_list() -> None:
    as_object = {"Version": "2012-10-17", "Statement": statement("*")}

    assert kinds(as_object) == kinds(policy(statement("*"))) == [(Kind.PUBLIC, "*")]


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_everyone_is_public(principal: Any) -> None:
    found = readers(policy(statement(principal)), BUCKET)

    assert [g.kind for g in found.grantees] == [Kind.PUBLIC]
    assert found.public


@pytest.mark.parametrize("principal", [OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:root"])
def test_an_account_id_and_its_root_arn_both_mean_the_whole_account(principal: str) -> None:
    (grantee,) = readers(policy(statement({"AWS": principal})), BUCKET).grantees

    assert (grantee.kind, grantee.account) == (Kind.ACCOUNT, OTHER_ACCOUNT)


def test_a_role_and_a_session_are_principals_of_their_account() -> None:
    session = f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/reporting/alice"
    found = readers(policy(statement({"AWS": [OTHER_ROLE, session]})), BUCKET)

    assert [(g.kind, g.name, g.account) for g in found.grantees] == [
        (Kind.PRINCIPAL, OTHER_ROLE, OTHER_ACCOUNT),
        (Kind.PRINCIPAL, session, OTHER_ACCOUNT),
    ]
    assert not found.public


def test_cloudfront_identities_are_recognised_in_both_spellings() -> None:
    found = kinds(policy(statement({"AWS": OAI}), statement({"CanonicalUser": "79a59df900b949e55d96a1e698fbace"})))

    assert found == [(Kind.OAI, OAI), (Kind.CANONICAL_USER, "79a59df900b949e55d96a1e698fbace")]


def test_a_service_principal_keeps_its_source_arn_and_the_account_in_it() -> None:
    condition = {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}
    (grantee,) = readers(
        policy(statement({"Service": "cloudfront.amazonaws.com"}, condition=condition)), BUCKET
    ).grantees

    assert grantee == Grantee(Kind.SERVICE, "cloudfront.amazonaws.com", source_arn=DISTRIBUTION,
                              source_account=ACCOUNT_ID, sid="'Grant'")  # fmt: skip


def test_a_federated_principal_is_public_as_in_s3s_own_example() -> None:
    assert kinds(policy(statement({"Federated": "graph.facebook.com"}))) == [(Kind.PUBLIC, "graph.facebook.com")]


def test_allow_with_not_principal_is_never_read_as_a_closed_list() -> None:
    document = policy({"Effect": "Allow", "NotPrincipal": {"AWS": OTHER_ACCOUNT}, "Action": "s3:GetObject",
                       "Resource": OBJECTS})  # fmt: skip

    (grantee,) = readers(document, BUCKET).grantees

    assert grantee.kind is Kind.UNPROVEN
    assert "NotPrincipal" in grantee.doubt


# --- the bucket policy: what makes `Principal: "*"` non-public (S3 "The meaning of public") -----------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}, (Kind.ORGANIZATION, ORG_ID)),
        ({"StringEquals": {"aws:PrincipalAccount": OTHER_ACCOUNT}}, (Kind.ACCOUNT, OTHER_ACCOUNT)),
        ({"ArnEquals": {"aws:PrincipalArn": OTHER_ROLE}}, (Kind.PRINCIPAL, OTHER_ROLE)),
        ({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, (Kind.NETWORK, "aws:sourcevpce vpce-1a2b3c4d")),
        ({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, (Kind.NETWORK, "aws:sourceip 192.0.2.0/24")),
        ({"StringEquals": {"s3:DataAccessPointAccount": ACCOUNT_ID}},
         (Kind.ACCESS_POINT, f"s3:dataaccesspointaccount {ACCOUNT_ID}")),
        ({"StringEquals": {"aws:userid": "AIDAEXAMPLE"}}, (Kind.UNPROVEN, "aws:userid AIDAEXAMPLE")),
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}, (Kind.SERVICE, "*")),
    ],
)  # fmt: skip
def test_a_fixed_value_of_a_listed_key_names_who_reads(condition: dict[str, Any], expected: tuple[Kind, str]) -> None:
    found = readers(policy(statement("*", condition=condition)), BUCKET)

    assert kinds(policy(statement("*", condition=condition))) == [expected]
    assert not found.public


def test_the_narrowest_principal_scope_wins_because_conditions_are_anded() -> None:
    condition = {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d", "aws:PrincipalAccount": ACCOUNT_ID}}

    assert kinds(policy(statement("*", condition=condition))) == [(Kind.ACCOUNT, ACCOUNT_ID)]


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"Bool": {"aws:SecureTransport": "true"}},  # not a listed key
        {"StringLike": {"aws:Referer": "https://example.com/*"}},
        {"StringLike": {"aws:PrincipalOrgID": "o-*"}},  # a wildcard is not a fixed value
        {"StringEquals": {"aws:PrincipalOrgID": "${aws:PrincipalTag/org}"}},  # nor is a policy variable
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}},  # broader than /8
    ],
)
def test_without_a_fixed_listed_value_the_grant_is_public(condition: dict[str, Any] | None) -> None:
    found = readers(policy(statement("*", condition=condition)), BUCKET)

    assert [g.kind for g in found.grantees] == [Kind.PUBLIC]
    assert found.public


@pytest.mark.parametrize(
    "operator", ["StringNotEquals", "StringEqualsIfExists", "ForAnyValue:StringEquals", "StringEqualsPerhaps"]
)
def test_a_listed_key_under_an_operator_not_read_leaves_the_grantee_unproven_and_the_policy_not_public(
    operator: str,
) -> None:
    found = readers(policy(statement("*", condition={operator: {"aws:PrincipalOrgID": ORG_ID}})), BUCKET)

    (grantee,) = found.grantees
    assert grantee.kind is Kind.UNPROVEN
    assert "could not be proven" in grantee.doubt
    assert not found.public  # so RestrictPublicBuckets is not taken to neutralise it


def test_an_unknown_operator_on_another_key_keeps_the_reader_and_says_it_is_not_proven() -> None:
    (grantee,) = readers(policy(statement("*", condition={"Fancy": {"aws:Referer": "x"}})), BUCKET).grantees

    assert grantee.kind is Kind.PUBLIC
    assert "cannot read (Fancy)" in grantee.doubt
    assert "not proven" in grantee.doubt


def test_restrict_public_buckets_leaves_service_principals_only_when_the_policy_is_public() -> None:
    oac = statement({"Service": "cloudfront.amazonaws.com"})
    other = statement({"AWS": OTHER_ACCOUNT})

    public = readers(policy(statement("*"), oac, other), BUCKET)
    private = readers(policy(oac, other), BUCKET)

    assert [g.kind for g in public.restricted()] == [Kind.SERVICE]
    assert [g.kind for g in private.restricted()] == [Kind.SERVICE, Kind.ACCOUNT]


# --- the bucket policy: actions and resources ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", ["s3:GetObject", "s3:*", "s3:Get*", "*", "S3:getobject", ["s3:ListBucket", "s3:G?tObject"]]
)
def test_actions_match_with_wildcards_and_without_case(action: Any) -> None:
    assert kinds(policy(statement("*", action))) == [(Kind.PUBLIC, "*")]


def test_a_grant_of_other_actions_reads_nothing() -> None:
    document = policy(statement("*", ["s3:PutObject", "s3:ListBucket"]))

    assert kinds(document) == []
    assert [g.kind for g in writers(document, BUCKET).grantees] == [Kind.PUBLIC]


def test_not_action_grants_every_action_it_does_not_name() -> None:
    def not_action(names: list[str]) -> dict[str, Any]:
        return policy({"Effect": "Allow", "Principal": "*", "NotAction": names, "Resource": OBJECTS})

    assert kinds(not_action(["s3:PutObject"])) == [(Kind.PUBLIC, "*")]
    assert kinds(not_action(["s3:Get*"])) == []


@pytest.mark.parametrize(
    ("resource", "reads"),
    [
        (OBJECTS, True),
        (f"arn:aws:s3:::{BUCKET}/public/*", True),
        ("arn:aws:s3:::*", True),
        ("*", True),
        (f"arn:aws:s3:::{BUCKET}", False),  # the bucket, not its objects
        ("arn:aws:s3:::another-bucket/*", False),
    ],
)
def test_resources_are_matched_against_the_buckets_objects(resource: str, reads: bool) -> None:
    assert bool(kinds(policy(statement("*", resource=resource)))) is reads


def test_arns_are_partition_aware() -> None:
    gov = policy(
        statement({"AWS": f"arn:aws-us-gov:iam::{OTHER_ACCOUNT}:root"}, resource=f"arn:aws-us-gov:s3:::{BUCKET}/*")
    )

    assert kinds(gov, "aws-us-gov") == [(Kind.ACCOUNT, OTHER_ACCOUNT)]
    assert kinds(gov, "aws") == []
    assert kinds(policy(statement("*", resource=f"arn:aws-cn:s3:::{BUCKET}/*")), "aws-cn") == [(Kind.PUBLIC, "*")]


# --- the bucket policy: Deny --------------------------------------------------------------------------------------


def deny(principal: Any, **extra: Any) -> dict[str, Any]:
    return statement(principal, "s3:GetObject", effect="Deny", sid="Deny") | extra


def test_an_unconditional_deny_of_the_same_account_removes_its_grants() -> None:
    grants = (statement({"AWS": OTHER_ACCOUNT}), statement({"AWS": OTHER_ROLE}), statement({"AWS": THIRD_ACCOUNT}))

    assert kinds(policy(*grants, deny({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}))) == [
        (Kind.ACCOUNT, THIRD_ACCOUNT)
    ]


def test_a_deny_of_everyone_removes_every_grant() -> None:
    assert kinds(policy(statement("*"), statement({"Service": "cloudfront.amazonaws.com"}), deny("*"))) == []


@pytest.mark.parametrize(
    "weaker",
    [
        {"Condition": {"Bool": {"aws:SecureTransport": "false"}}},  # may not apply to the reader's requests
        {"Resource": f"arn:aws:s3:::{BUCKET}/private/*"},  # other objects stay readable
        {"Action": "s3:PutObject"},
    ],
)
def test_a_deny_that_may_not_cover_the_reader_removes_nothing(weaker: dict[str, Any]) -> None:
    assert kinds(policy(statement({"AWS": OTHER_ACCOUNT}), deny({"AWS": OTHER_ACCOUNT}, **weaker))) == [
        (Kind.ACCOUNT, OTHER_ACCOUNT)
    ]


def test_a_deny_with_not_principal_is_not_relied_upon_to_remove_readers() -> None:
    not_principal = {"Effect": "Deny", "NotPrincipal": {"AWS": ACCOUNT_ID}, "Action": "s3:*", "Resource": OBJECTS}

    assert kinds(policy(statement({"AWS": OTHER_ACCOUNT}), not_principal)) == [(Kind.ACCOUNT, OTHER_ACCOUNT)]


# --- writers ------------------------------------------------------------------------------------------------------


def test_log_delivering_services_and_the_elb_region_accounts_are_writers() -> None:
    document = policy(
        statement({"Service": "logging.s3.amazonaws.com"}, "s3:PutObject"),
        statement({"AWS": f"arn:aws:iam::{ELB_ACCOUNTS['eu-west-1']}:root"}, "s3:PutObject"),
    )

    found = [(g.kind, g.name) for g in writers(document, BUCKET).grantees]

    assert found == [(Kind.SERVICE, "logging.s3.amazonaws.com"), (Kind.ACCOUNT, "156460612806")]
    assert elb_region("156460612806") == "eu-west-1"
    assert elb_region(OTHER_ACCOUNT) is None


# --- the key policy -----------------------------------------------------------------------------------------------

OTHER = Requester(account=OTHER_ACCOUNT)
OTHER_PRINCIPAL = Requester(account=OTHER_ACCOUNT, principal_arn=OTHER_ROLE)
ORGANIZATION = Requester(organization=ORG_ID)
OAC = Requester(service="cloudfront.amazonaws.com", source_arn=DISTRIBUTION, source_account=ACCOUNT_ID)


def test_the_account_root_statement_delegates_to_iam_of_the_keys_own_account_only() -> None:
    assert allowed(key_policy(), Requester(account=ACCOUNT_ID))
    assert not allowed(key_policy(), OTHER)
    assert not allowed(key_policy(), OTHER_PRINCIPAL)
    assert "no key-policy statement allows kms:Decrypt" in key_allows(key_policy(), PLACEHOLDER_KEY, "kms:Decrypt",
                                                                      OTHER).why  # fmt: skip


@pytest.mark.parametrize("principal", [OTHER_ACCOUNT, f"arn:aws:iam::{OTHER_ACCOUNT}:root"])
def test_a_grant_to_another_account_covers_the_account_and_each_of_its_principals(principal: str) -> None:
    document = key_policy(key_grant({"AWS": principal}))

    assert allowed(document, OTHER)
    assert allowed(document, OTHER_PRINCIPAL)
    assert not allowed(document, Requester(account=THIRD_ACCOUNT))


def test_a_grant_to_one_principal_does_not_cover_its_whole_account() -> None:
    document = key_policy(key_grant({"AWS": OTHER_ROLE}))

    assert allowed(document, OTHER_PRINCIPAL)
    assert not allowed(document, OTHER)


@pytest.mark.parametrize(
    "action", ["kms:Decrypt", "kms:*", "kms:Decr*", "*", "KMS:decrypt", ["kms:Encrypt", "kms:Decrypt"]]
)
def test_key_actions_match_with_wildcards_and_without_case(action: Any) -> None:
    assert allowed(key_policy(key_grant({"AWS": OTHER_ACCOUNT}, action)), OTHER)


def test_a_grant_of_another_action_does_not_cover_decrypt_or_generate_data_key() -> None:
    document = key_policy(key_grant({"AWS": OTHER_ACCOUNT}, "kms:Encrypt"))

    assert not allowed(document, OTHER)
    assert not allowed(document, OTHER, "kms:GenerateDataKey")
    assert allowed(key_policy(key_grant({"AWS": OTHER_ACCOUNT}, "kms:GenerateDataKey*")), OTHER, "kms:GenerateDataKey")


def test_an_explicit_deny_wins_over_an_allow() -> None:
    grant = key_grant({"AWS": OTHER_ACCOUNT})
    denial = statement({"AWS": OTHER_ACCOUNT}, "kms:Decrypt", "*", effect="Deny", sid="NoOther")

    answer = key_allows(key_policy(grant, denial), PLACEHOLDER_KEY, "kms:Decrypt", OTHER)

    assert not answer.allowed
    assert "'NoOther' denies kms:Decrypt" in answer.why


def test_a_conditional_deny_counts_unless_it_certainly_does_not_apply() -> None:
    grant = key_grant("*", condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}})
    outside_org = statement("*", "kms:*", "*", {"StringNotEquals": {"aws:PrincipalOrgID": ORG_ID}}, "Deny")
    unreadable = statement("*", "kms:*", "*", {"Bool": {"aws:ViaAWSService": "false"}}, "Deny")

    assert allowed(key_policy(grant, outside_org), ORGANIZATION)  # the Organization's principals are not outside it
    assert not allowed(key_policy(grant, unreadable), ORGANIZATION)


def test_principal_star_scoped_by_caller_account_or_organization() -> None:
    by_account = key_policy(key_grant("*", condition={"StringEquals": {"kms:CallerAccount": OTHER_ACCOUNT}}))
    by_org = key_policy(key_grant({"AWS": "*"}, condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}))

    assert allowed(by_account, OTHER)
    assert not allowed(by_account, Requester(account=THIRD_ACCOUNT))
    assert allowed(by_org, ORGANIZATION)
    assert not allowed(by_org, Requester(organization="o-another"))
    unknown_org = key_allows(by_org, PLACEHOLDER_KEY, "kms:Decrypt", OTHER)
    assert not unknown_org.allowed  # whether that account is in the Organization is not known
    assert "could not be proven" in unknown_org.why


def test_kms_via_service_holds_for_s3_in_the_keys_region() -> None:
    def via(service: str) -> dict[str, Any]:
        condition = {"StringEquals": {"kms:ViaService": service, "kms:CallerAccount": OTHER_ACCOUNT}}
        return key_policy(key_grant("*", condition=condition))

    assert allowed(via("s3.us-east-1.amazonaws.com"), OTHER)
    assert not allowed(via("s3.eu-west-1.amazonaws.com"), OTHER)


def test_the_encryption_context_of_every_object_of_the_bucket() -> None:
    condition = {
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": OBJECTS},
        "StringEquals": {"kms:CallerAccount": OTHER_ACCOUNT},
    }

    assert allowed(key_policy(key_grant("*", condition=condition)), OTHER)


def test_a_service_principal_is_allowed_for_its_source_arn_only() -> None:
    distribution_only = {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}
    for_distribution = key_grant({"Service": "cloudfront.amazonaws.com"}, condition=distribution_only)
    any_distribution = key_grant({"Service": "cloudfront.amazonaws.com"})

    assert allowed(key_policy(for_distribution), OAC)
    assert not allowed(
        key_policy(for_distribution), Requester(service="cloudfront.amazonaws.com", source_arn=DISTRIBUTION + "X")
    )
    assert not allowed(key_policy(for_distribution), Requester(service="cloudfront.amazonaws.com"))  # any distribution
    assert allowed(key_policy(any_distribution), Requester(service="cloudfront.amazonaws.com"))


def test_principal_star_is_not_relied_upon_for_a_service_principal() -> None:
    assert not allowed(key_policy(key_grant("*")), OAC)
    assert allowed(key_policy(key_grant("*")), OTHER)


@pytest.mark.parametrize(
    "grant",
    [
        key_grant({"AWS": OTHER_ACCOUNT}, condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),
        key_grant({"AWS": OTHER_ACCOUNT}, condition={"ForAnyValue:StringEquals": {"kms:CallerAccount": OTHER_ACCOUNT}}),
        key_grant({"AWS": OTHER_ACCOUNT}, condition={"StringEqualsPerhaps": {"kms:CallerAccount": OTHER_ACCOUNT}}),
        {"Effect": "Allow", "Principal": {"AWS": OTHER_ACCOUNT}, "NotAction": "kms:Encrypt", "Resource": "*"},
    ],
)
def test_an_allow_that_cannot_be_read_with_certainty_is_not_a_grant(grant: dict[str, Any]) -> None:
    answer = key_allows(key_policy(grant), PLACEHOLDER_KEY, "kms:Decrypt", OTHER)

    assert not answer.allowed
    assert "could not be proven" in answer.why


def test_an_unreadable_key_policy_grants_nothing() -> None:
    answer = key_allows(None, PLACEHOLDER_KEY, "kms:Decrypt", OTHER)

    assert not answer.allowed
    assert "could not be read" in answer.why


def test_key_policy_arns_are_partition_aware() -> None:
    china_key = "arn:aws-cn:kms:cn-north-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
    document = policy(ROOT_STATEMENT, key_grant({"AWS": f"arn:aws-cn:iam::{OTHER_ACCOUNT}:root"}))

    assert key_allows(document, china_key, "kms:Decrypt", OTHER).allowed
