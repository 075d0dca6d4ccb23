"""Sets of one bucket's keys (coverage/keys.py): whether a set is every key, some keys or none is decided exactly, and
agrees with listing every key over a small alphabet for a few hundred random sets."""

from __future__ import annotations

import itertools
import random

import pytest

from dsse_remediation.coverage.keys import (
    EVERY,
    NOTHING,
    Exact,
    Extent,
    Keys,
    Prefix,
    Suffix,
    all_of,
    any_of,
    atoms,
    contains,
    describe,
    extent,
    negate,
)

LOGS, TMP = Prefix("logs/"), Prefix("logs/tmp/")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (EVERY, Extent.ALL),
        (NOTHING, Extent.NONE),
        (LOGS, Extent.PART),
        (Suffix(".csv"), Extent.PART),
        (Exact("a.csv"), Extent.PART),
        (any_of(LOGS, negate(LOGS)), Extent.ALL),
        (all_of(LOGS, negate(LOGS)), Extent.NONE),
        (all_of(TMP, negate(LOGS)), Extent.NONE),  # a prefix inside an excluded prefix
        (all_of(LOGS, negate(TMP)), Extent.PART),
        (all_of(Exact("logs/a"), negate(LOGS)), Extent.NONE),
        (any_of(Suffix("v"), negate(Suffix(".csv"))), Extent.ALL),  # every key ending in .csv ends in v
        (any_of(Suffix(".csv"), negate(Suffix("v"))), Extent.PART),  # "av" is in neither
        (all_of(Suffix(".csv"), negate(Suffix("v"))), Extent.NONE),
        (any_of(Prefix("a"), Prefix("b"), negate(any_of(Prefix("a"), Prefix("b")))), Extent.ALL),
        (all_of(negate(Exact("x")), negate(Prefix("y"))), Extent.PART),
    ],
)
def test_the_extent_of_a_set_is_decided_exactly(keys: Keys, expected: Extent) -> None:
    assert extent(keys) is expected


def test_unions_and_intersections_simplify_so_that_every_key_and_no_key_read_as_such() -> None:
    assert any_of(LOGS, EVERY) == EVERY
    assert any_of(NOTHING, LOGS) == LOGS
    assert all_of(EVERY, LOGS) == LOGS
    assert all_of(LOGS, NOTHING) == NOTHING
    assert negate(negate(LOGS)) == LOGS
    assert negate(EVERY) == NOTHING


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        (EVERY, "every key"),
        (LOGS, "keys starting with 'logs/'"),
        (any_of(Suffix(".csv"), Exact("a")), "keys ending in '.csv' or the key 'a'"),
        (all_of(LOGS, negate(TMP)), "keys starting with 'logs/' except keys starting with 'logs/tmp/'"),
        (negate(TMP), "every key except keys starting with 'logs/tmp/'"),
    ],
)
def test_a_set_is_described_in_words_for_a_reason(keys: Keys, words: str) -> None:
    assert describe(keys) == words


ALPHABET = "ab/"


def random_keys(rng: random.Random, depth: int = 0) -> Keys:
    atom = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 2)))
    choice = rng.randint(0, 6 if depth < 3 else 2)
    if choice == 0:
        return Prefix(atom)
    if choice == 1:
        return Suffix(atom)
    if choice == 2:
        return Exact(atom or "a")
    if choice == 3:
        return negate(random_keys(rng, depth + 1))
    parts = [random_keys(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return any_of(*parts) if choice in (4, 5) else all_of(*parts)


def every_key(keys: Keys) -> list[str]:
    """Every non-empty key over the atoms' alphabet and one other letter, up to twice the longest atom and one more:
    long enough to hold any prefix and suffix apart."""
    longest = max((len(text) for group in atoms(keys) for text in group), default=0)
    letters = ALPHABET + "z"
    return ["".join(p) for n in range(1, 2 * longest + 2) for p in itertools.product(letters, repeat=n)]


def test_the_extent_agrees_with_listing_every_key_for_random_sets() -> None:
    rng = random.Random(17)
    for _ in range(400):
        keys = random_keys(rng)
        inside = {contains(keys, key) for key in every_key(keys)}
        listed = Extent.PART if inside == {True, False} else Extent.ALL if inside == {True} else Extent.NONE
        assert extent(keys) is listed, keys
