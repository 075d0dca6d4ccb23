"""The grammar of IAM policy documents, shared by the bucket-policy and key-policy readings (policies.py): the
statement list, principals, conditions, the wildcard match, and condition operators evaluated in three values.

- `Statement` is one object or a list; Effect is Allow or Deny (IAM User Guide, reference_policies_elements).
- `*` matches any run of characters and `?` one character, in actions (case-insensitive) and resources; nothing else
  is special (reference_policies_elements_action, reference_policies_elements_resource).
- Condition operators: String*, Arn* (ArnEquals and ArnLike both take wildcards), Null, the `...IfExists` forms and
  the ForAnyValue/ForAllValues qualifiers; condition key names are case-insensitive
  (reference_policies_elements_condition_operators, reference_policies_condition-keys).

`holds` answers True, False or None (unknown). A key the caller does not know is unknown, never "absent": so
`...IfExists`, negated operators and Null on an unknown key are unknown, and so are the qualifiers, operators the
gate does not model (Numeric*, Date*, Bool, IpAddress) and values with policy variables. The caller decides which
side unknown falls on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

ACCOUNT_ID = re.compile(r"\d{12}")
ROOT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")
OPERATOR = re.compile(r"(?:(?P<qualifier>ForAnyValue|ForAllValues):)?(?P<base>[a-z]+?)(?P<if_exists>IfExists)?", re.I)
KNOWN_OPERATORS = frozenset(
    {
        *("stringequals", "stringnotequals", "stringequalsignorecase", "stringnotequalsignorecase"),
        *("stringlike", "stringnotlike", "arnequals", "arnlike", "arnnotequals", "arnnotlike", "null"),
        *("numericequals", "numericnotequals", "numericlessthan", "numericlessthanequals"),
        *("numericgreaterthan", "numericgreaterthanequals", "dateequals", "datenotequals", "datelessthan"),
        *("datelessthanequals", "dategreaterthan", "dategreaterthanequals", "bool", "binaryequals"),
        *("ipaddress", "notipaddress"),
    }
)
POSITIVE = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"})
NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}

Condition = tuple[str, str, tuple[str, ...]]  # (operator, key, values)


def all_hold(conditions: Iterable[Condition], context: Mapping[str, str]) -> bool | None:
    results = [holds(operator, key, values, context) for operator, key, values in conditions]
    if False in results:
        return False
    return None if None in results else True


def holds(operator: str, key: str, values: tuple[str, ...], context: Mapping[str, str]) -> bool | None:
    """One condition against what is known of the request (`context`, keys in lower case)."""
    match = OPERATOR.fullmatch(operator)
    known = context.get(key.lower())
    if match is None or match["qualifier"] or known is None:
        return None
    base = match["base"].lower()
    if base == "null":
        return values == ("false",) if values in (("false",), ("true",)) else None
    positive = NEGATED.get(base, base)
    if positive not in POSITIVE or positive == "ipaddress":
        return None
    hits = [value_matches(positive, known, value) for value in values]
    hit = True if True in hits else (None if None in hits else False)
    if hit is None or base == positive:
        return hit
    return not hit


def value_matches(operator: str, known: str, value: str) -> bool | None:
    """A known value (or a pattern of values: then only the same pattern is proven to match) against a policy value."""
    if "${" in value:
        return None
    if "*" in known or "?" in known:
        return True if known == value else None
    if operator == "stringequals":
        return known == value
    if operator == "stringequalsignorecase":
        return known.casefold() == value.casefold()
    return glob(value).fullmatch(known) is not None


def statements(policy: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    found = (policy or {}).get("Statement", [])
    return [s for s in ([found] if isinstance(found, Mapping) else found) if isinstance(s, Mapping)]


def effect(statement: Mapping[str, Any]) -> str:
    return str(statement.get("Effect", "")).lower()


def sid(statement: Mapping[str, Any]) -> str:
    return repr(str(statement["Sid"])) if statement.get("Sid") else "(no Sid)"


def principals(principal: Any) -> list[tuple[str, str]]:
    if principal == "*":
        return [("aws", "*")]
    if not isinstance(principal, Mapping):
        return []
    return [(str(kind).lower(), value) for kind, values in principal.items() for value in strings(values)]


def conditions(statement: Mapping[str, Any]) -> list[Condition]:
    block = statement.get("Condition") or {}
    if not isinstance(block, Mapping):
        return [("unreadable", "?", ())]
    return [
        (str(op), str(key), tuple(strings(values)))
        for op, pairs in block.items()
        for key, values in (pairs.items() if isinstance(pairs, Mapping) else [("?", ())])
    ]


def known(operator: str) -> bool:
    match = OPERATOR.fullmatch(operator)
    return match is not None and match["base"].lower() in KNOWN_OPERATORS


def account_of(value: str) -> str | None:
    if ACCOUNT_ID.fullmatch(value):
        return value
    match = ROOT.fullmatch(value)
    return match.group(1) if match else None


def arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and ACCOUNT_ID.fullmatch(parts[4]) else None


def strings(values: Any) -> list[str]:
    if values is None:
        return []
    return [str(v) for v in values] if isinstance(values, list | tuple) else [str(values)]


def matches(patterns: Any, value: str, fold: bool = False) -> bool:
    return any(glob(pattern, fold).fullmatch(value) for pattern in strings(patterns))


@lru_cache(maxsize=512)
def glob(pattern: str, fold: bool = False) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters (`/` included), `?` one character; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if fold else 0))
