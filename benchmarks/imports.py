"""Benchmark: the object remediation handler's cold-start import cost.

Fresh interpreters (`sys.executable`) time, with `time.perf_counter()` around the import statement only, (a)
`import boto3` and (b) `import app`, the handler, which imports boto3, Powertools and the X-Ray SDK and builds its
clients at import. The handler runs with tracing disabled (POWERTOOLS_TRACE_DISABLED=1) and, when aws_xray_sdk is
importable, enabled (POWERTOOLS_TRACE_DISABLED unset). Both handler variants set LAMBDA_TASK_ROOT as Lambda does:
without it Powertools turns tracing off by itself. Each variant runs `--runs` times, interleaved in rotating order
after one discarded warm-up each; the report gives median and min, the median ratio handler/boto3 against the target
of 1.5, then, from `python -X importtime`, the handler's 10 slowest imports by cumulative time and its direct imports.
The children share a bytecode cache in the temp directory (PYTHONPYCACHEPREFIX), so every timed run reads cached
bytecode, whatever PYTHONDONTWRITEBYTECODE says, and nothing is written into the source tree.

Run from the repository root (about 20 seconds with the default 15 runs):

    PYTHONPATH=layers/remediation:. python -m benchmarks.imports            # readable report
    PYTHONPATH=layers/remediation:. python -m benchmarks.imports --json     # one JSON document instead
    PYTHONPATH=layers/remediation:. python -m benchmarks.imports --runs 30  # more import samples

The exit status is 0: the import ratio is reported, never enforced. benchmarks/calls.py counts the API calls.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.common import AWS_UNSET, FAKE_AWS_ENV, PLACEHOLDER_KEY, ROOT, ms, table

FUNCTION_DIR = ROOT / "functions" / "object_remediation"
IMPORT_PATHS = (ROOT / "layers" / "remediation", ROOT, FUNCTION_DIR)
PYCACHE = Path(tempfile.gettempdir()) / "dsse-remediation-benchmarks-pycache"
UNSET_ENV = (*AWS_UNSET, "POWERTOOLS_TRACE_DISABLED", "PYTHONDONTWRITEBYTECODE")
TARGET_RATIO = 1.5
TOP_IMPORTS = 10
MARKER = "BENCHMARK"
REFERENCE = "boto3 + one S3 client (floor)"


@dataclass(frozen=True)
class ImportVariant:
    name: str
    statement: str
    env: Mapping[str, str] = field(default_factory=dict)
    probe_tracing: bool = False  # after the timed import, ask the X-Ray SDK whether tracing ended up enabled


@dataclass(frozen=True)
class Sample:
    seconds: float
    tracing_enabled: bool | None


@dataclass(frozen=True)
class ImportStats:
    variant: str
    median_s: float
    min_s: float
    tracing_enabled: bool | None  # what the X-Ray SDK reported in the child; None when not asked
    samples_s: list[float]


@dataclass(frozen=True)
class ImportTime:
    module: str
    self_us: int
    cumulative_us: int
    depth: int  # 0: the handler module itself, 1: what it imports directly, ...


@dataclass(frozen=True)
class ImportReport:
    runs: int
    xray_available: bool
    stats: list[ImportStats]
    ratios: dict[str, float]  # handler variant -> median handler / median boto3
    target_ratio: float
    importtime_variant: str
    slowest: list[ImportTime]  # by cumulative time
    direct: list[ImportTime]  # the handler's slowest direct imports, by cumulative time
    bytecode_cache: str


def import_variants(xray_available: bool) -> list[ImportVariant]:
    # What the template sets for every function (ACCOUNT_ID: the expected bucket owner of every read).
    handler_env = {"DSSE_KMS_KEY": PLACEHOLDER_KEY, "ACCOUNT_ID": "123456789012", "LAMBDA_TASK_ROOT": str(FUNCTION_DIR)}
    variants = [
        ImportVariant("boto3", "import boto3"),
        ImportVariant(REFERENCE, "import boto3; boto3.client('s3', region_name='us-east-1')"),
        ImportVariant(
            "handler, tracing disabled",
            "import app",
            {**handler_env, "POWERTOOLS_TRACE_DISABLED": "1"},
            probe_tracing=xray_available,
        ),
    ]
    if xray_available:
        variants.append(ImportVariant("handler, tracing enabled", "import app", handler_env, probe_tracing=True))
    return variants


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without AWS profiles or tracing switches, plus fake credentials and the import path."""
    env = {name: value for name, value in os.environ.items() if name not in UNSET_ENV}
    paths = [str(path) for path in IMPORT_PATHS]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env.update(FAKE_AWS_ENV)
    env.update({"PYTHONPATH": os.pathsep.join(paths), "PYTHONPYCACHEPREFIX": str(PYCACHE)})
    env.update(extra)
    return env


def run_python(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    process = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False
    )
    if process.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)!r} exited {process.returncode}:\n{process.stderr[-3000:]}")
    return process


def timing_code(variant: ImportVariant) -> str:
    lines = ["import time", "start = time.perf_counter()", variant.statement, "elapsed = time.perf_counter() - start"]
    probe = "None"
    if variant.probe_tracing:
        lines.append("import aws_xray_sdk")
        probe = "aws_xray_sdk.global_sdk_config.sdk_enabled()"
    lines.append(f"print({MARKER!r}, repr(elapsed), {probe})")
    return "\n".join(lines)


def time_import(variant: ImportVariant) -> Sample:
    stdout = run_python(["-c", timing_code(variant)], child_env(variant.env)).stdout
    line = next(line for line in stdout.splitlines() if line.startswith(MARKER + " "))
    _, seconds, tracing = line.split()
    return Sample(float(seconds), None if tracing == "None" else tracing == "True")


def rotated(variants: Sequence[ImportVariant], run: int) -> list[ImportVariant]:
    start = run % len(variants)
    return [*variants[start:], *variants[:start]]


def sample_imports(variants: Sequence[ImportVariant], runs: int) -> dict[str, list[Sample]]:
    for variant in variants:
        time_import(variant)  # warm-up, discarded: fills the bytecode cache
    samples: dict[str, list[Sample]] = {variant.name: [] for variant in variants}
    for run in range(runs):
        for variant in rotated(variants, run):
            samples[variant.name].append(time_import(variant))
    return samples


def summarise(name: str, samples: Sequence[Sample]) -> ImportStats:
    seconds = [sample.seconds for sample in samples]
    states = {sample.tracing_enabled for sample in samples}
    tracing = states.pop() if len(states) == 1 else None
    return ImportStats(name, statistics.median(seconds), min(seconds), tracing, seconds)


def parse_importtime(line: str) -> ImportTime | None:
    """One `-X importtime` line: "import time:  <self us> | <cumulative us> | <module, indented 2 per level>"."""
    prefix = "import time:"
    if not line.startswith(prefix):
        return None
    parts = line[len(prefix) :].split("|")
    if len(parts) != 3 or not parts[0].strip().isdigit():
        return None  # the header line
    name = parts[2].rstrip()
    depth = (len(name) - len(name.lstrip()) - 1) // 2
    return ImportTime(name.strip(), int(parts[0]), int(parts[1]), depth)


def import_times(variant: ImportVariant) -> list[ImportTime]:
    """The imported module and everything it imports, slowest (cumulative) first; the module itself is at depth 0.

    `-X importtime` prints a module after the modules it imports, so its subtree is the run of deeper lines just
    before it; interpreter start-up imports (site, encodings) fall outside it.
    """
    stderr = run_python(["-X", "importtime", "-c", variant.statement], child_env(variant.env)).stderr
    rows = [row for row in map(parse_importtime, stderr.splitlines()) if row is not None]
    own = variant.statement.split()[-1]
    end = max(i for i, row in enumerate(rows) if row.module == own)
    start = end
    while start > 0 and rows[start - 1].depth > rows[end].depth:
        start -= 1
    base = rows[end].depth
    subtree = [ImportTime(r.module, r.self_us, r.cumulative_us, r.depth - base) for r in rows[start : end + 1]]
    return sorted(subtree, key=lambda row: row.cumulative_us, reverse=True)


def measure_imports(runs: int) -> ImportReport:
    xray_available = importlib.util.find_spec("aws_xray_sdk") is not None
    variants = import_variants(xray_available)
    samples = sample_imports(variants, runs)
    stats = [summarise(name, found) for name, found in samples.items()]
    boto3_median = stats[0].median_s
    ratios = {s.variant: s.median_s / boto3_median for s in stats[1:]}
    default_handler = variants[-1]  # tracing enabled when available: what a deployment gets by default
    times = import_times(default_handler)
    return ImportReport(
        runs=runs,
        xray_available=xray_available,
        stats=stats,
        ratios=ratios,
        target_ratio=TARGET_RATIO,
        importtime_variant=default_handler.name,
        slowest=times[:TOP_IMPORTS],
        direct=[row for row in times if row.depth == 1][:TOP_IMPORTS],
        bytecode_cache=str(PYCACHE),
    )


# --- report ----------------------------------------------------------------------------------------------------------


def yes_no(value: bool | None) -> str:
    return "-" if value is None else ("enabled" if value else "disabled")


def format_imports(report: ImportReport) -> list[str]:
    lines = [f"1. Cold-start import cost: a fresh interpreter per sample, {report.runs} runs per variant", ""]
    rows = [[s.variant, ms(s.median_s), ms(s.min_s), yes_no(s.tracing_enabled)] for s in report.stats]
    lines += table(["variant", "median", "min", "X-Ray SDK after import"], rows)
    lines.append("")
    if not report.xray_available:
        lines.append("aws_xray_sdk is not installed: only the tracing-disabled handler was measured.")
    for variant, ratio in report.ratios.items():
        verdict = "meets" if ratio <= report.target_ratio else "MISSES"
        note = f"{verdict} the target of <= {report.target_ratio}"
        if variant == REFERENCE:
            note = "reference: the least a handler that builds its S3 client at init can pay"
        lines.append(f"{variant} / boto3 (median): {ratio:.2f}  ({note})")
    title = f"{len(report.slowest)} slowest imports of the handler ({report.importtime_variant}), by cumulative time:"
    lines += ["", title, ""]
    lines += import_table(report.slowest)
    lines += ["", "The handler's direct imports (each counts only what earlier imports had not loaded yet):", ""]
    lines += import_table(report.direct)
    lines += ["", "(self time includes the code a module's body runs: app's builds the S3 client and the Tracer)"]
    return lines


def import_table(times: Sequence[ImportTime]) -> list[str]:
    rows = [[ms(t.cumulative_us / 1e6), ms(t.self_us / 1e6), t.module] for t in times]
    return table(["cumulative", "self", "module"], rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=15, help="import samples per variant (default 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the report")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.runs < 1:
        parser.error("--runs must be at least 1")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    imports = measure_imports(args.runs)
    python = sys.version.split()[0]
    if args.json:
        print(json.dumps({"python": python, "imports": asdict(imports)}, indent=2))
    else:
        print("\n".join([f"Python {python}", "", *format_imports(imports)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
