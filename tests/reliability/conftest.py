"""Reliability suite: each test's own outcome, readable by a later test of the same module (the fuzz quota check)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from tests.reliability.harness import PASSED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.stash[PASSED] = report.passed
    return report
