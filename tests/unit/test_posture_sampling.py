"""`--sample N`: the reservoir draws uniformly, and the Wilson score interval is the textbook one."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from dsse_remediation.posture.sampling import Estimate, Reservoir, wilson


class TestWilson:
    @pytest.mark.parametrize(
        ("successes", "trials", "low", "high"),
        [
            # Worked by hand from (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) with z = 1.96, to 5 places.
            (50, 100, 0.40383, 0.59617),
            (0, 10, 0.0, 0.27753),
            (10, 10, 0.72247, 1.0),
            (81, 263, 0.25528, 0.36621),
        ],
    )
    def test_matches_the_worked_values(self, successes: int, trials: int, low: float, high: float) -> None:
        found = wilson(successes, trials)

        assert found == pytest.approx((low, high), abs=5e-5)  # z = 1.959964 here, 1.96 by hand

    def test_no_trial_says_nothing(self) -> None:
        assert wilson(0, 0) == (0.0, 1.0)

    def test_narrows_as_the_sample_grows(self) -> None:
        small, large = wilson(9, 10), wilson(900, 1000)

        assert large[1] - large[0] < small[1] - small[0]


class TestEstimate:
    def test_a_sample_of_everything_is_exact(self) -> None:
        estimate = Estimate(checked=3, population=3, under_key=2, bytes_checked=30, bytes_under_key=10)

        assert estimate.exact
        assert estimate.interval() == (2 / 3, 2 / 3)
        assert estimate.byte_share == pytest.approx(1 / 3)

    def test_a_partial_sample_states_its_interval_and_confidence(self) -> None:
        answer = Estimate(checked=100, population=10_000, under_key=50, bytes_checked=1, bytes_under_key=1).answer()

        assert (answer["checked"], answer["population"], answer["confidence"]) == (100, 10_000, 0.95)
        assert (answer["low"], answer["dsseKeyShare"], answer["high"]) == (0.403832, 0.5, 0.596168)
        assert answer["estimated"] == ["dsse-key", "dsse-other-key"]


class TestReservoir:
    def test_keeps_everything_below_its_size(self) -> None:
        reservoir: Reservoir[int] = Reservoir(5, random.Random(1))
        for item in range(3):
            reservoir.offer(item)

        assert (reservoir.items, reservoir.seen) == ([0, 1, 2], 3)

    def test_holds_its_size_whatever_the_population(self) -> None:
        reservoir: Reservoir[int] = Reservoir(10, random.Random(1))
        for item in range(100_000):
            reservoir.offer(item)

        assert len(reservoir.items) == 10
        assert reservoir.seen == 100_000

    def test_a_seeded_draw_is_repeatable(self) -> None:
        def draw() -> list[int]:
            reservoir: Reservoir[int] = Reservoir(5, random.Random(42))
            for item in range(1000):
                reservoir.offer(item)
            return reservoir.items

        assert draw() == draw()

    def test_every_item_has_the_same_chance(self) -> None:
        rng, kept = random.Random(7), Counter[int]()
        for _ in range(4000):
            reservoir: Reservoir[int] = Reservoir(2, rng)
            for item in range(10):
                reservoir.offer(item)
            kept.update(reservoir.items)

        # Each of the 10 items is kept with probability 2/10: 800 of 4,000 draws, give or take sampling noise.
        assert all(700 < kept[item] < 900 for item in range(10)), kept
