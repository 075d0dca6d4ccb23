"""Sets of the object keys of one bucket, as CloudTrail's `resources.ARN` conditions and basic data resources select
them, and whether a set is every key of the bucket, some of them, or none.

An object's ARN is `arn:<partition>:s3:::<bucket>/<key>`, so within one bucket a condition on the ARN is a condition
on the key: a prefix (StartsWith), a suffix (EndsWith), one key (Equals), and their negations. A trail records a
write when any of its selectors does (a union); one selector's conditions must all hold (an intersection); the `Not`
operators exclude (a complement).

Whether such a set is every key, none or some is decided exactly, not by sampling: a key's membership depends only
on which prefixes start it, which suffixes end it and which exact keys it equals. For any key k, let P be the longest
prefix of the set's atoms that starts k and S the longest suffix that ends it; the key P + X + S, with X a character
no atom contains, is started, ended and equalled by exactly the same atoms as k unless k is itself one of the exact
keys. So the keys P + X + S over every prefix and suffix of the atoms (and none), plus the exact keys, take every
membership any key can take: the set is every key iff all of them are in it, and empty iff none is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class Extent(StrEnum):
    ALL = "all"  # every key of the bucket
    PART = "part"  # some keys, not all
    NONE = "none"


@dataclass(frozen=True)
class Prefix:
    """The keys that start with `text`; `Prefix("")` is every key."""

    text: str


@dataclass(frozen=True)
class Suffix:
    text: str


@dataclass(frozen=True)
class Exact:
    text: str


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Keys, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Keys, ...]


@dataclass(frozen=True)
class Not:
    part: Keys


Keys = Prefix | Suffix | Exact | AnyOf | AllOf | Not
EVERY: Keys = Prefix("")
NOTHING: Keys = AnyOf(())


def any_of(*parts: Keys) -> Keys:
    """The union, simplified: nothing drops out, every key absorbs the rest."""
    found: list[Keys] = []
    for part in parts:
        for item in part.parts if isinstance(part, AnyOf) else (part,):
            if item == EVERY:
                return EVERY
            if item not in found:
                found.append(item)
    return found[0] if len(found) == 1 else AnyOf(tuple(found))


def all_of(*parts: Keys) -> Keys:
    """The intersection, simplified: every key drops out, nothing absorbs the rest."""
    found: list[Keys] = []
    for part in parts:
        for item in part.parts if isinstance(part, AllOf) else (part,):
            if item == NOTHING:
                return NOTHING
            if item != EVERY and item not in found:
                found.append(item)
    if not found:
        return EVERY
    return found[0] if len(found) == 1 else AllOf(tuple(found))


def negate(part: Keys) -> Keys:
    if isinstance(part, Not):
        return part.part
    if part == EVERY:
        return NOTHING
    if part == NOTHING:
        return EVERY
    return Not(part)


def contains(keys: Keys, key: str) -> bool:
    match keys:
        case Prefix(text):
            return key.startswith(text)
        case Suffix(text):
            return key.endswith(text)
        case Exact(text):
            return key == text
        case AnyOf(parts):
            return any(contains(part, key) for part in parts)
        case AllOf(parts):
            return all(contains(part, key) for part in parts)
        case Not(part):
            return not contains(part, key)
    raise TypeError(keys)  # pragma: no cover (every Keys case is matched above)


def atoms(keys: Keys) -> tuple[set[str], set[str], set[str]]:
    """(prefixes, suffixes, exact keys) the set is built from."""
    prefixes, suffixes, exacts = set[str](), set[str](), set[str]()
    stack = [keys]
    while stack:
        match stack.pop():
            case Prefix(text):
                prefixes.add(text)
            case Suffix(text):
                suffixes.add(text)
            case Exact(text):
                exacts.add(text)
            case AnyOf(parts) | AllOf(parts):
                stack.extend(parts)
            case Not(part):
                stack.append(part)
    return prefixes, suffixes, exacts


def witnesses(keys: Keys) -> Iterator[str]:
    """One key for every membership a key can have (the module's docstring says why these suffice)."""
    prefixes, suffixes, exacts = atoms(keys)
    used = set("".join([*prefixes, *suffixes, *exacts]))
    filler = next(chr(code) for code in range(1, 0x110000) if chr(code) not in used)
    for head in sorted({"", *prefixes}):
        for tail in sorted({"", *suffixes}):
            yield head + filler + tail
    yield from sorted(exacts)


def extent(keys: Keys) -> Extent:
    """Every key, some or none: decided exactly."""
    if keys == EVERY:
        return Extent.ALL
    if keys == NOTHING:
        return Extent.NONE
    inside = outside = False
    for key in witnesses(keys):
        if contains(keys, key):
            inside = True
        else:
            outside = True
        if inside and outside:
            return Extent.PART
    return Extent.ALL if inside else Extent.NONE


def describe(keys: Keys) -> str:
    """The set in words, for a reason: "keys starting with 'logs/' except keys ending in '.tmp'"."""
    match keys:
        case Prefix(""):
            return "every key"
        case Prefix(text):
            return f"keys starting with {text!r}"
        case Suffix(text):
            return f"keys ending in {text!r}"
        case Exact(text):
            return f"the key {text!r}"
        case AnyOf(()):
            return "no key"
        case AnyOf(parts):
            return " or ".join(describe(part) for part in parts)
        case Not(part):
            return f"every key except {describe(part)}"
        case AllOf(parts):
            kept = [part for part in parts if not isinstance(part, Not)]
            left_out = [part.part for part in parts if isinstance(part, Not)]
            text = " and ".join(describe(part) for part in kept) if kept else "every key"
            return text + (" except " + " or ".join(describe(part) for part in left_out) if left_out else "")
    raise TypeError(keys)  # pragma: no cover (every Keys case is matched above)
