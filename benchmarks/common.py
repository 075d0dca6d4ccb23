"""What the benchmarks share: the fake AWS environment, the test suite's fidelity patches and the report tables."""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PLACEHOLDER_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
AWS_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL")  # would send clients to a real account or another endpoint


def use_fake_aws() -> None:
    """This process's environment as moto wants it, before any client exists: nothing can reach a real account."""
    for name in AWS_UNSET:
        os.environ.pop(name, None)
    os.environ.update(FAKE_AWS_ENV)


@contextmanager
def aws_fidelity_applied() -> Iterator[None]:
    """`tests.aws_fidelity.applied()`. Imported by name: mypy's scope excludes tests/, so it must not follow it."""
    fidelity: Any = importlib.import_module("tests.aws_fidelity")
    with fidelity.applied():
        yield


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def describe_calls(calls: Sequence[str]) -> str:
    """Call names in order, runs of one name collapsed: "UploadPartCopy x3"."""
    if not calls:
        return "(none)"
    runs = [(name, len(list(group))) for name, group in itertools.groupby(calls)]
    return ", ".join(name if count == 1 else f"{name} x{count}" for name, count in runs)
