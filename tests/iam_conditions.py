"""A test double for IAM's evaluation of Deny statements with the condition operators the product writes.

moto does not evaluate bucket-policy conditions on S3 requests, so the prevention policy is checked against this
small evaluator, which follows the IAM documentation:
- a request is denied when any Deny statement matches its action and resource and all its conditions hold
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
- `StringEquals` / `StringNotEquals`: a missing key makes `StringEquals` false and the negated `StringNotEquals`
  true; the `...IfExists` forms are true when the key is missing
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html);
- `Null: {"key": "false"}` holds when the key is present, `"true"` when it is absent (same page, "Condition
  operator to check existence of condition keys");
- the s3:x-amz-server-side-encryption* keys exist only when the request carries the header
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any


def denied(policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    statements = policy["Statement"]
    for statement in [statements] if isinstance(statements, dict) else statements:
        if statement["Effect"] != "Deny" or not _matches(statement["Action"], action):
            continue
        if not _matches(statement["Resource"], resource):
            continue
        if all(_holds(op, key, value, context) for op, pairs in statement.get("Condition", {}).items()
               for key, value in pairs.items()):  # fmt: skip
            return True
    return False


def _matches(patterns: str | list[str], value: str) -> bool:
    return any(fnmatchcase(value, p) for p in ([patterns] if isinstance(patterns, str) else patterns))


def _holds(operator: str, key: str, expected: str | list[str], context: Mapping[str, str]) -> bool:
    values = [expected] if isinstance(expected, str) else expected
    present = key in context
    if operator == "Null":
        return (not present) if values[0] == "true" else present
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if not present:
        return if_exists or base.startswith(("StringNot", "ArnNot"))
    equal = context[key] in values
    if base in ("StringEquals", "ArnEquals"):
        return equal
    if base in ("StringNotEquals", "ArnNotEquals"):
        return not equal
    raise NotImplementedError(f"condition operator {operator} is not modelled by this test double")
