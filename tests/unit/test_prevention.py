"""The opt-in prevention policy, without AWS: what its statements deny and let through, evaluated with the IAM test
double (tests/iam_conditions.py, moto does not evaluate policy conditions), and how they are merged into a bucket
policy. tests/integration/test_bucket_remediation.py checks that this policy is the one S3 is given."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation import prevention
from tests.helpers import PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY, tls_only
from tests.iam_conditions import denied

DSSE_RULE = "aws:kms:dsse"
BUCKET = "example-protected-bucket"
OBJECTS = f"arn:aws:s3:::{BUCKET}/reports/q3.csv"
SSE, KEY_HEADER = prevention.SSE_HEADER, prevention.KEY_HEADER
FOREIGN = tls_only(BUCKET)


@pytest.fixture
def policy() -> dict[str, Any]:
    """The bucket policy a reset writes on a bucket that had none."""
    written, change = prevention.merged(None, BUCKET, PLACEHOLDER_KEY)
    assert change == "added"
    return written


class TestWhatItDenies:
    """Opt-in: deny writes that ask for other encryption; everything relying on the default keeps working."""

    @pytest.mark.parametrize(
        ("request_headers", "should_deny"),
        [
            pytest.param({}, False, id="upload-relying-on-the-default"),
            pytest.param({SSE: DSSE_RULE, "KEY": "DSSE"}, False, id="dsse-right-key"),
            pytest.param({SSE: DSSE_RULE}, True, id="dsse-no-key-header-aws-s3-key"),
            pytest.param({SSE: "AES256"}, True, id="sse-s3-header"),
            pytest.param({SSE: "aws:kms", "KEY": "DSSE"}, True, id="sse-kms"),
            pytest.param({SSE: DSSE_RULE, "KEY": "OTHER"}, True, id="dsse-other-key"),
        ],
    )
    def test_what_it_denies_and_lets_through(
        self, policy: dict[str, Any], request_headers: dict[str, str], should_deny: bool
    ) -> None:
        context = dict(request_headers)
        if "KEY" in context:
            context[KEY_HEADER] = {"DSSE": PLACEHOLDER_KEY, "OTHER": PLACEHOLDER_OTHER_KEY}[context.pop("KEY")]

        assert denied(policy, "s3:PutObject", OBJECTS, context) is should_deny

    def test_multipart_upload_parts_carry_no_header_and_pass(self, policy: dict[str, Any]) -> None:
        create = {SSE: DSSE_RULE, KEY_HEADER: PLACEHOLDER_KEY}

        assert not denied(policy, "s3:PutObject", OBJECTS, create)  # CreateMultipartUpload
        assert not denied(policy, "s3:PutObject", OBJECTS, {})  # UploadPart: authorized as s3:PutObject

    def test_only_object_writes_to_this_bucket_are_concerned(self, policy: dict[str, Any]) -> None:
        aes = {SSE: "AES256"}

        assert not denied(policy, "s3:GetObject", OBJECTS, aes)
        assert not denied(policy, "s3:PutObject", "arn:aws:s3:::another-bucket/reports/q3.csv", aes)

    def test_statements_follow_the_partition_of_the_key(self) -> None:
        key = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"

        resources = {s["Resource"] for s in prevention.statements(BUCKET, key)}

        assert resources == {f"arn:aws-us-gov:s3:::{BUCKET}/*"}


class TestMerging:
    def test_foreign_statements_are_kept_in_place_and_ours_appended(self) -> None:
        existing = {"Version": "2012-10-17", "Statement": [FOREIGN]}

        merged, change = prevention.merged(existing, BUCKET, PLACEHOLDER_KEY)

        assert change == "added"
        assert merged["Statement"] == [FOREIGN, *prevention.statements(BUCKET, PLACEHOLDER_KEY)]
        assert existing == {"Version": "2012-10-17", "Statement": [FOREIGN]}  # the caller's policy is not changed

    def test_merging_twice_changes_nothing(self) -> None:
        once, _ = prevention.merged({"Version": "2012-10-17", "Statement": [FOREIGN]}, BUCKET, PLACEHOLDER_KEY)

        twice, change = prevention.merged(once, BUCKET, PLACEHOLDER_KEY)

        assert (twice, change) == (once, None)

    def test_stale_statements_of_a_single_statement_policy_are_replaced(self) -> None:
        stale = prevention.statements(BUCKET, PLACEHOLDER_OTHER_KEY)[1]

        merged, change = prevention.merged({"Version": "2012-10-17", "Statement": stale}, BUCKET, PLACEHOLDER_KEY)

        assert change == "updated"
        assert merged["Statement"] == prevention.statements(BUCKET, PLACEHOLDER_KEY)


@pytest.mark.parametrize(
    ("blocked", "expected"),
    [
        (None, ("SSE-C",)),
        (("NONE",), ("SSE-C",)),
        (("SSE-C",), ("SSE-C",)),
        (("SSE-KMS",), ("SSE-KMS", "SSE-C")),
    ],
)
def test_sse_c_is_blocked_and_every_other_blocked_type_kept(
    blocked: tuple[str, ...] | None, expected: tuple[str, ...]
) -> None:
    assert prevention.blocking_sse_c(blocked) == expected


class TestTheIamTestDouble:
    """tests/iam_conditions.py follows the IAM documentation on the operators the product writes."""

    @staticmethod
    def deny_when(condition: dict[str, Any]) -> dict[str, Any]:
        return {"Statement": {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*", "Condition": condition}}

    @pytest.mark.parametrize(
        ("operator", "context", "holds"),
        [
            ("StringEquals", {}, False),  # a missing key makes StringEquals false
            ("StringNotEquals", {}, True),  # ... and its negation true
            ("StringNotEqualsIfExists", {}, True),
            ("StringEquals", {"k": "v"}, True),
            ("StringNotEquals", {"k": "v"}, False),
            ("StringNotEqualsIfExists", {"k": "w"}, True),
        ],
    )
    def test_string_operators_and_missing_keys(self, operator: str, context: dict[str, str], holds: bool) -> None:
        assert denied(self.deny_when({operator: {"k": "v"}}), "s3:PutObject", OBJECTS, context) is holds

    @pytest.mark.parametrize(
        ("null", "context", "holds"), [("false", {"k": "x"}, True), ("false", {}, False), ("true", {}, True)]
    )
    def test_null_checks_whether_the_key_is_present(self, null: str, context: dict[str, str], holds: bool) -> None:
        assert denied(self.deny_when({"Null": {"k": null}}), "s3:PutObject", OBJECTS, context) is holds

    def test_allow_statements_and_other_actions_deny_nothing(self) -> None:
        allow = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}

        assert not denied(allow, "s3:PutObject", OBJECTS, {})
        assert not denied(self.deny_when({}), "s3:GetObject", OBJECTS, {})

    def test_an_operator_it_does_not_model_is_refused_not_guessed(self) -> None:
        with pytest.raises(NotImplementedError, match="NumericLessThan"):
            denied(self.deny_when({"NumericLessThan": {"k": "1"}}), "s3:PutObject", OBJECTS, {"k": "0"})
