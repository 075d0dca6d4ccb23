"""One bucket's figures: objects and bytes by state for current and noncurrent versions, the largest versions that
are not DSSE under the key (a bounded heap), and the noncurrent-version debt. Memory does not grow with the number of
versions counted: counters, a heap of LARGEST entries, and the latest Object Lock date."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .states import STATES, State

LARGEST = 10  # largestNotDsse: the ten largest versions left


@dataclass(frozen=True, slots=True)
class Version:
    """One version (never a delete marker): what a listing or an inventory row says about it."""

    key: str
    version_id: str | None
    size: int
    current: bool
    lock_until: datetime | None = None  # ObjectLockRetainUntilDate, where set and readable


def zero() -> dict[State, int]:
    return dict.fromkeys(STATES, 0)


@dataclass
class Counts:
    objects: dict[State, int] = field(default_factory=zero)
    bytes: dict[State, int] = field(default_factory=zero)

    def add(self, state: State, size: int, objects: int = 1) -> None:
        self.objects[state] += objects
        self.bytes[state] += size

    def merge(self, other: Counts) -> None:
        for state in STATES:
            self.objects[state] += other.objects[state]
            self.bytes[state] += other.bytes[state]

    def answer(self) -> dict[str, dict[str, int]]:
        return {
            "objects": {state.value: self.objects[state] for state in STATES},
            "bytes": {state.value: self.bytes[state] for state in STATES},
        }


def percent(current: Counts, noncurrent: Counts) -> dict[str, float]:
    """The share of all versions (current and noncurrent) that is DSSE under the key, in percent to four decimals,
    rounded DOWN (integer arithmetic): one version left never reads 100.0. 100.0 when there are none."""
    shares = {}
    for unit in ("objects", "bytes"):
        done = getattr(current, unit)[State.DSSE_KEY] + getattr(noncurrent, unit)[State.DSSE_KEY]
        total = sum(getattr(current, unit).values()) + sum(getattr(noncurrent, unit).values())
        shares[unit] = done * 100 * 10_000 // total / 10_000 if total else 100.0
    return shares


@dataclass
class Debt:
    """Noncurrent versions that are not DSSE under the key: what a NoncurrentVersionExpiration rule would retire
    (Object Lock permitting)."""

    objects: int = 0
    bytes: int = 0
    locked: int = 0  # retention running at the time of the report: S3 keeps them until their retain-until date
    locked_until: datetime | None = None


class BucketTally:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.current = Counts()
        self.noncurrent = Counts()
        self.debt = Debt()
        self.vanished = 0  # listed, then gone before its HeadObject (deleted meanwhile): not counted
        self._largest: list[tuple[int, int, Version, State]] = []  # a min-heap of the LARGEST largest
        self._order = itertools.count()

    def add(self, version: Version, state: State) -> None:
        (self.current if version.current else self.noncurrent).add(state, version.size)
        if state is State.DSSE_KEY:
            return
        self.rank(version, state)
        if not version.current:
            self.add_debt(version.size, version.lock_until)

    def rank(self, version: Version, state: State) -> None:
        """A version that is not DSSE under the key, for largestNotDsse (the heap keeps the LARGEST largest)."""
        entry = (version.size, -next(self._order), version, state)  # equal sizes: the first seen stays
        if len(self._largest) < LARGEST:
            heapq.heappush(self._largest, entry)
        elif entry[:2] > self._largest[0][:2]:
            heapq.heapreplace(self._largest, entry)

    def add_debt(self, size: int, lock_until: datetime | None, objects: int = 1) -> None:
        self.debt.objects += objects
        self.debt.bytes += size
        if lock_until is not None and lock_until > self.now:
            self.debt.locked += objects
            if self.debt.locked_until is None or lock_until > self.debt.locked_until:
                self.debt.locked_until = lock_until

    @property
    def versions(self) -> int:
        return sum(self.current.objects.values()) + sum(self.noncurrent.objects.values())

    def largest(self) -> list[dict[str, Any]]:
        ranked = sorted(self._largest, key=lambda entry: entry[:2], reverse=True)
        return [
            {
                "key": version.key,
                "versionId": version.version_id,
                "size": version.size,
                "state": state.value,
                "current": version.current,
            }
            for _, _, version, state in ranked
        ]

    def compliant(self) -> bool:
        return all(
            counts.objects[state] == 0
            for counts in (self.current, self.noncurrent)
            for state in STATES
            if state is not State.DSSE_KEY
        )
