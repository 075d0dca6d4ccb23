"""The tests' clocks: a pinned one for tests that read the date, and the suite-wide time travel that proves none of
the others does.

The product reads wall-clock time only through the `model.Clock` that `wiring.App` hands to each part (and the CLI's
`main(clock=...)`). A test that checks a date the product writes (a campaign label, an alert's time, a window) pins
it with `PinnedClock`. A test on fake AWS whose objects moto dates with the real clock keeps its times relative to
`utc_now()`, so both move together.

`DSSE_TEST_TIME_TRAVEL=<days>` moves the whole process's clock (datetime, time, and so moto, botocore and the
product) that many days ahead for the run, and the `TZ` variable sets the machine's time zone: `make
test-time-travel` runs the whole suite a year ahead in a UTC+13:45 zone, which CI runs with the Lambda runtime's
suite. A test that passes today but not next year, or only in UTC, fails there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TIME_TRAVEL = "DSSE_TEST_TIME_TRAVEL"
# A fixed instant the unit tests' dates are written against: not the day the suite runs.
PINNED = datetime(2026, 11, 20, 9, 15, 2, tzinfo=UTC)


@dataclass
class PinnedClock:
    """A `model.Clock` that returns `now` until a test moves it."""

    now: datetime = PINNED

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now


def travel_days() -> float:
    """The days DSSE_TEST_TIME_TRAVEL asks for (0: none); a bad value is a usage error of the suite."""
    raw = os.environ.get(TIME_TRAVEL, "").strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{TIME_TRAVEL}={raw!r} is not a number of days") from None


@contextmanager
def travelled() -> Iterator[float]:
    """The process's clock moved DSSE_TEST_TIME_TRAVEL days ahead (ticking on), for as long as the context lasts."""
    days = travel_days()
    if not days:
        yield 0.0
        return
    import time_machine  # only for the time-travel run

    with time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True):
        yield days
