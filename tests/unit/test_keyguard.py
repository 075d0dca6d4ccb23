"""The key guard's reading of a new key policy (CloudTrail logs only the new one), without AWS: each statement, and
whether an Allow reaches outside the key's account. tests/integration/test_key_guard.py puts it on the alert."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dsse_remediation.keyguard import policy_summary
from tests.helpers import load_event

ACCOUNT = "123456789012"


def allow(principal: Any, sid: str = "S") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}


def test_the_sample_policy_flags_the_other_accounts_grant() -> None:
    policy = load_event("kms-put-key-policy.json")["detail"]["requestParameters"]["policy"]

    assert policy_summary(policy, ACCOUNT) == [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "outsideAccount": False,
        },
        {
            "Sid": "AllowExternalDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
            "Action": "kms:Decrypt",
            "outsideAccount": True,
        },
    ]


@pytest.mark.parametrize(
    ("principal", "outside"),
    [
        ("*", True),
        ({"AWS": "*"}, True),
        ({"AWS": ACCOUNT}, False),  # a bare account id
        ({"AWS": "444455556666"}, True),
        ({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/admin", "arn:aws:iam::444455556666:root"]}, True),
        ({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/admin"]}, False),
        ({"Service": "s3.amazonaws.com"}, False),  # a service principal acts for this account's callers
    ],
)
def test_an_allow_reaches_outside_the_account_when_any_principal_is_another_accounts_or_everyones(
    principal: Any, outside: bool
) -> None:
    [entry] = policy_summary({"Statement": [allow(principal)]}, ACCOUNT) or []

    assert entry["outsideAccount"] is outside


def test_a_deny_never_reaches_outside_and_a_single_statement_object_is_read() -> None:
    deny = allow("*") | {"Effect": "Deny"}

    assert policy_summary(json.dumps({"Statement": deny}), ACCOUNT) == [
        {"Sid": "S", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "outsideAccount": False}
    ]


@pytest.mark.parametrize("policy", [None, "not json", "[]", {"Version": "2012-10-17"}, 42])
def test_a_policy_that_cannot_be_read_has_no_summary(policy: Any) -> None:
    assert policy_summary(policy, ACCOUNT) is None


def test_statements_that_are_not_objects_are_skipped() -> None:
    assert policy_summary({"Statement": ["junk", allow({"AWS": ACCOUNT}, "Mine")]}, ACCOUNT) == [
        {
            "Sid": "Mine",
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Action": "kms:Decrypt",
            "outsideAccount": False,
        }
    ]
