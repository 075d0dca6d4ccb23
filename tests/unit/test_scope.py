"""Which buckets are protected, and which names can be buckets at all: pure pattern matching, no AWS."""

from __future__ import annotations

import re

import pytest

from dsse_remediation.config import Settings
from dsse_remediation.exceptions import ConfigError, InvalidRequest
from dsse_remediation.scope import Scope, is_directory_bucket, is_valid_bucket_name, require_bucket_name
from tests.helpers import PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY


@pytest.mark.parametrize(
    ("include", "exclude", "bucket", "protected"),
    [
        ("*", "", "anything-at-all", True),
        ("finance-*, secrets-*", "", "finance-ledger", True),
        ("finance-*, secrets-*", "", "marketing-assets", False),
        ("finance-*", "finance-scratch", "finance-scratch", False),
        ("finance-*", "finance-scratch", "finance-scratch-2", True),  # a name is a whole-name pattern
        ("*", "*-tmp", "reports-tmp", False),
        ("Finance_*", "", "Finance_Reports.2017", True),  # legacy names: uppercase and '_'
        ("finance-*", "", "Finance-ledger", False),  # case-sensitive, as bucket names and EventBridge are
    ],
)
def test_a_bucket_is_protected_when_included_and_not_excluded(
    include: str, exclude: str, bucket: str, protected: bool
) -> None:
    assert Scope.parse(include, exclude).contains(bucket) is protected


def test_the_scope_reads_back_for_humans() -> None:
    assert Scope.parse("a-*, b", "a-tmp").describe() == "include a-*, b exclude a-tmp"
    assert Scope().describe() == "include *"


@pytest.mark.parametrize(
    ("include", "exclude", "message"),
    [
        (" , ", "", "PROTECTED_BUCKETS is empty"),
        ("logs-202?", "", "PROTECTED_BUCKETS has invalid bucket patterns ['logs-202?']"),
        ("*", "a/b", "EXCLUDED_BUCKETS has invalid bucket patterns ['a/b']"),
        ("[ab]-*", "", "invalid bucket patterns ['[ab]-*']"),  # EventBridge and IAM have no character classes
        ("finançe-*", "", "invalid bucket patterns ['finançe-*']"),  # bucket names are ASCII
        ("finance-*\nx", "", "invalid bucket patterns"),
    ],
)
def test_patterns_eventbridge_and_iam_cannot_read_alike_are_refused(include: str, exclude: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Scope.parse(include, exclude)


@pytest.mark.parametrize(
    ("name", "valid", "directory"),
    [
        ("example-protected-bucket", True, False),
        ("a.b-c", True, False),
        ("Finance_Reports.2017", True, False),  # legacy us-east-1 name
        ("x" * 255, True, False),  # legacy names may be that long
        ("fast-data--use1-az4--x-s3", True, True),
        ("ab", False, False),
        ("has space", False, False),
        ("x" * 256, False, False),
        ("slash/y", False, False),
        ("s3://bucket", False, False),
        # A name is the whole string (a `$` would let a trailing newline through) and ASCII (as S3's rules are).
        ("example-protected-bucket\n", False, False),
        ("Finance_Reports.2017\n", False, False),
        ("fast-data--use1-az4--x-s3\n", False, False),
        ("exämple-bucket", False, False),
        ("Legacy_Ünïcode", False, False),
    ],
)
def test_which_names_can_be_buckets(name: str, valid: bool, directory: bool) -> None:
    assert (is_valid_bucket_name(name), is_directory_bucket(name)) == (valid, directory)


def test_a_name_no_bucket_can_have_is_an_invalid_request_that_says_the_rules() -> None:
    with pytest.raises(InvalidRequest, match=r"bucket 'has space' is not a valid S3 bucket name \(3-63 characters"):
        require_bucket_name("has space")


@pytest.mark.parametrize("name", ["example-protected-bucket\n", "exämple-bucket"])
def test_a_name_with_a_trailing_newline_or_a_non_ascii_letter_is_refused_before_any_call(name: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(f"bucket {name!r} is not a valid S3 bucket name")):
        require_bucket_name(name)


def test_each_bucket_category_gets_its_key_and_the_rest_the_default() -> None:
    settings = Settings(key=PLACEHOLDER_KEY, bucket_keys=(("secrets-*", PLACEHOLDER_OTHER_KEY),))

    assert settings.key_for("secrets-vault") == PLACEHOLDER_OTHER_KEY
    assert settings.key_for("reports") == PLACEHOLDER_KEY
    assert settings.buckets_using(PLACEHOLDER_OTHER_KEY) == ["buckets matching secrets-*"]
    assert settings.buckets_using(PLACEHOLDER_KEY) == ["every protected bucket: include * (except secrets-*)"]
