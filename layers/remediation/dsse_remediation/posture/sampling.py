"""`--sample N`: HeadObject only N DSSE-KMS versions of a bucket, drawn uniformly at random, and estimate how many
of its DSSE-KMS versions are under the key, with a 95% Wilson score interval for the share.

The draw is a reservoir sample (Vitter's algorithm R): one pass over the inventory's rows, N rows held, each row with
the same chance N/population of being kept, whatever the population. The interval is Wilson's score interval for a
binomial proportion (Wilson 1927; the interval NIST's Engineering Statistics Handbook gives for a proportion, 7.2.4.1),
which stays within [0, 1] and behaves at shares of 0 or 1, where the normal approximation collapses to a point. It
treats the draws as independent (sampling with replacement): without replacement the true interval is narrower, so
this one is conservative. When every DSSE version was checked there is nothing to estimate: the share is exact.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
CONFIDENCE = 0.95
Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


class Reservoir(Generic[T]):
    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.seen = 0
        self.items: list[T] = []
        self._rng = rng

    def offer(self, item: T) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        slot = self._rng.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = item


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of successes/trials; (0, 1) with no trial."""
    if trials <= 0:
        return 0.0, 1.0
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


@dataclass(frozen=True)
class Estimate:
    checked: int  # DSSE versions read with HeadObject (those deleted since the inventory excepted)
    population: int  # DSSE versions the inventory lists
    under_key: int  # of those checked, DSSE under the key
    bytes_checked: int
    bytes_under_key: int

    @property
    def share(self) -> float:
        return self.under_key / self.checked if self.checked else 0.0

    @property
    def byte_share(self) -> float:
        """The bytes' share under the key in the sample (the byte estimate's ratio estimator)."""
        return self.bytes_under_key / self.bytes_checked if self.bytes_checked else self.share

    @property
    def exact(self) -> bool:
        return self.checked >= self.population

    def interval(self) -> tuple[float, float]:
        if self.exact:
            return self.share, self.share
        return wilson(self.under_key, self.checked)

    def answer(self) -> dict[str, Any]:
        low, high = self.interval()
        return {
            "checked": self.checked,
            "population": self.population,
            "confidence": CONFIDENCE,
            "dsseKeyShare": round(self.share, 6),
            "low": round(low, 6),
            "high": round(high, 6),
            "estimated": ["dsse-key", "dsse-other-key"],
            "method": "uniform reservoir sample; Wilson score interval (with replacement: conservative)",
        }


def seeded(seed: int | None = None) -> Callable[[], random.Random]:
    """The RNG factory: a fresh generator per bucket (a seed makes a run repeatable)."""
    return lambda: random.Random(seed)
