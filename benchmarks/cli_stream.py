"""CLI benchmark: peak RSS and time-to-first-fix of `dsse-remediate fix s3://bucket/prefix/ --recursive`.

What runs: in a fresh interpreter per variant, moto (`mock_aws()` with the `tests/aws_fidelity.py` patches) holds one
DSSE key and a bucket with `--objects` small SSE-S3 objects under one prefix, written straight into moto's backend in
batches (100,000 PutObject calls through boto3 would take minutes and measure nothing of the CLI). Then the CLI's
`main` runs `fix s3://bucket/prefix/ --recursive` (or `check`, with `--command check`) in that process, with its
default concurrency, its stdout going to a sink that notes when the first result line arrives and counts the lines.

What is reported, per variant: time-to-first-fix (from calling `main` to the first object's result line), the whole
run's time and objects per second, the peak RSS of the process (`resource.getrusage`, ru_maxrss) once the objects
are written and after the run, and the growth between the two. With `fix` the growth includes moto's memory for the
100,000 copies, the same in both variants, so the difference between variants is the CLI's; with `check` nothing is
copied and the growth is the CLI's alone. The exit status is 1 when a variant does not exit as expected (0 for fix,
1 for check: every object is non-compliant) or does not report every object.

Variants: `after` is the library this file sits beside; `--before DIR` adds the library found in DIR (the
`layers/remediation` of another checkout), e.g. the last commit before a change:

    git worktree add /tmp/cli-before <commit>
    PYTHONPATH=layers/remediation:. python -m benchmarks.cli_stream --before /tmp/cli-before/layers/remediation
    PYTHONPATH=layers/remediation:. python -m benchmarks.cli_stream --objects 10000 --json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ACCOUNT_ID, FAKE_AWS_ENV, REGION, ROOT

AFTER = ROOT / "layers" / "remediation"
BUCKET = "example-protected-bucket"
PREFIX = "exports/2026/"
BODY = b"cli stream benchmark object\n"
BATCH = 10_000
UNSET_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "ALERT_TOPIC_ARN", "PROTECTED_BUCKETS", "EXCLUDED_BUCKETS", "MODE")


@dataclass(frozen=True)
class Measurement:
    variant: str
    library: str  # where dsse_remediation was imported from
    command: str
    objects: int
    exit_code: int
    result_lines: int
    first_fix_seconds: float
    run_seconds: float
    write_seconds: float
    rss_written_mib: float  # peak RSS once the objects are in moto
    rss_peak_mib: float  # peak RSS after the run

    @property
    def growth_mib(self) -> float:
        return self.rss_peak_mib - self.rss_written_mib

    @property
    def ok(self) -> bool:
        expected = 0 if self.command == "fix" else 1  # check finds every object not compliant
        return self.exit_code == expected and self.result_lines == self.objects


class FirstLine:
    """A stdout that keeps nothing: it notes when the first line comes and counts the lines."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.lines = 0

    def write(self, text: str) -> int:
        if text and self.first is None:
            self.first = time.perf_counter()
        self.lines += text.count("\n")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextlib.contextmanager
def fake_aws() -> Iterator[None]:
    for name in UNSET_ENV:
        os.environ.pop(name, None)
    os.environ.update(FAKE_AWS_ENV)
    from moto import mock_aws

    fidelity: Any = importlib.import_module("tests.aws_fidelity")  # by name: mypy's scope excludes tests/
    with mock_aws(), fidelity.applied():
        yield


def write_objects(count: int) -> str:
    """The key and `count` SSE-S3 objects under PREFIX, written into moto's backend BATCH at a time; the key ARN."""
    import boto3
    from moto.s3.models import s3_backends

    key_arn: str = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    backend = s3_backends[ACCOUNT_ID]["aws"]
    for start in range(0, count, BATCH):
        for index in range(start, min(start + BATCH, count)):
            backend.put_object(BUCKET, f"{PREFIX}{index:07d}.csv", BODY, disable_notification=True)
    head = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}{0:07d}.csv")
    assert head["ServerSideEncryption"] == "AES256", head  # what `fix` copies: SSE-S3, the default
    return key_arn


def measure(variant: str, command: str, objects: int) -> Measurement:
    """One variant in this process: write the objects, then run the CLI once."""
    with fake_aws():
        started = time.perf_counter()
        key_arn = write_objects(objects)
        write_seconds = time.perf_counter() - started
        cli: Any = importlib.import_module("dsse_remediation.cli")
        rss_written = peak_rss_mib()
        sink, notes = FirstLine(), FirstLine()
        argv = [command, f"s3://{BUCKET}/{PREFIX}", "--recursive", "--key", key_arn]
        started = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(notes):
            code = cli.main(argv)
        run_seconds = time.perf_counter() - started
        first = (sink.first or started) - started
    return Measurement(
        variant=variant,
        command=command,
        library=str(Path(importlib.import_module("dsse_remediation").__file__ or "").resolve().parent),
        objects=objects,
        exit_code=code,
        result_lines=sink.lines - SUMMARY_LINES,
        first_fix_seconds=first,
        run_seconds=run_seconds,
        write_seconds=write_seconds,
        rss_written_mib=rss_written,
        rss_peak_mib=peak_rss_mib(),
    )


SUMMARY_LINES = 7  # the summary table after the result lines: blank, title, header, 1 outcome, rule, total, verdict


def run_variant(variant: str, library: Path, command: str, objects: int) -> Measurement:
    """A fresh interpreter per variant, so one variant's memory never counts in the other's peak."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(library), str(ROOT)])}
    child = ["--child", variant, "--command", command, "--objects", str(objects)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cli_stream", *child],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{variant}: the child failed ({done.returncode}):\n{done.stderr}")
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(**fields)


def report(measurements: Sequence[Measurement]) -> list[str]:
    headers = (
        "variant",
        "command",
        "objects",
        "first result",
        "run",
        "objects/s",
        "RSS written",
        "RSS peak",
        "growth",
        "ok",
    )
    rows = [
        (
            m.variant,
            m.command,
            f"{m.objects:,}",
            f"{m.first_fix_seconds:.2f} s",
            f"{m.run_seconds:.1f} s",
            f"{m.objects / m.run_seconds:.0f}" if m.run_seconds else "-",
            f"{m.rss_written_mib:.0f} MiB",
            f"{m.rss_peak_mib:.0f} MiB",
            f"{m.growth_mib:.0f} MiB",
            "yes" if m.ok else f"NO (exit {m.exit_code}, {m.result_lines} lines)",
        )
        for m in measurements
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, tuple("-" * width for width in widths), *rows]
    table = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines]
    return [
        *table,
        "",
        *(f"{m.variant}: {m.library} (objects written in {m.write_seconds:.1f} s)" for m in measurements),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli_stream", description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=100_000, help="objects under the prefix (default 100,000)")
    parser.add_argument(
        "--command",
        choices=("fix", "check"),
        default="fix",
        help="fix (default) copies every object; check copies none, so moto's memory stays as written and the "
        "growth is the CLI's alone",
    )
    parser.add_argument("--before", type=Path, help="a library directory (layers/remediation) to measure first")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    parser.add_argument("--child", metavar="VARIANT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asdict(measure(args.child, args.command, args.objects))))
        return 0
    variants = [("before", args.before)] if args.before else []
    measurements = [run_variant(name, path, args.command, args.objects) for name, path in [*variants, ("after", AFTER)]]
    if args.json:
        print(json.dumps([{**asdict(m), "growth_mib": m.growth_mib} for m in measurements], indent=2))
    else:
        print("\n".join(report(measurements)))
    return 0 if all(m.ok for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
