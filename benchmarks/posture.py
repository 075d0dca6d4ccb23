"""Posture benchmark: `dsse-remediate posture` over a large S3 Inventory report, and over a scan.

1. Inventory (`--rows`, default 100,000 and 1,000,000). Each size runs in a fresh interpreter: a gzip-compressed CSV
   data file of that many rows is written to a temporary file, streaming (the rows are never held), in the layout S3
   Inventory writes (Bucket, Key URL-encoded, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus,
   ObjectLockRetainUntilDate; 70% current, 2% delete markers; SSE-S3, SSE-KMS, NOT-SSE, SSE-C and 20% DSSE-KMS).
   Then the posture's own read path runs over it: `posture.inventory.rows` (gzip, csv, URL-decoding, the MD5 check)
   into `posture.survey.Survey.inventory` through the CLI's pool (`cli.pool.run_pool`), `--sample 1000` for the
   DSSE-KMS rows with an in-memory HeadObject (every one under the key): what is measured is the report's reading
   and counting, not S3's transfer (GetObject's body is the same stream) nor HeadObject's latency. Reported: rows per
   second, and the peak RSS (`resource.getrusage` ru_maxrss) before the read and after it: the growth must not grow
   with the row count.
2. Scan (`--objects`, default 10,000). moto in-process with the tests/aws_fidelity.py patches: a bucket of that many
   small objects written into moto's backend, then the CLI's `main(["posture", "s3://...", "--source", "scan"])`
   (ListObjectVersions, one HeadObject per object, concurrency 8). Reported: objects per second. moto's in-process
   HeadObject dominates; on S3 the rate is bounded by HeadObject latency x concurrency instead. moto 5.2.5's
   ListObjectVersions deep-copies every version of the bucket to answer each page (O(n^2) time, and about 6 GiB at
   100,000 objects): here its copy of the bucket's version lists is a shallow one (`ShallowVersionLists`), which
   changes nothing it answers and leaves the CLI's own memory to be measured.

    PYTHONPATH=layers/remediation:. python -m benchmarks.posture
    PYTHONPATH=layers/remediation:. python -m benchmarks.posture --rows 100000 1000000 --objects 100000 --json
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import gzip
import hashlib
import importlib
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

from benchmarks.common import ACCOUNT_ID, REGION, ROOT, aws_fidelity_applied, table, use_fake_aws

BUCKET = "posture-benchmark"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1111aaaa-11aa-11aa-11aa-111111111111"
SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, EncryptionStatus, ObjectLockRetainUntilDate"
STATUSES = ("SSE-S3", "SSE-S3", "SSE-S3", "SSE-KMS", "NOT-SSE", "SSE-C", "DSSE-KMS", "DSSE-KMS")
SAMPLE = 1000


def peak_rss_mib() -> float:
    """ru_maxrss: kilobytes on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def inventory_rows(count: int, rng: random.Random) -> Iterator[list[str]]:
    for index in range(count):
        marker = rng.random() < 0.02
        current = marker or rng.random() < 0.7
        key = quote_plus(f"data/{index // 1000:05d}/object {index:08d}+v.parquet", safe="/")
        size = "" if marker else str(rng.randint(1, 10_000_000))
        status = "" if marker else rng.choice(STATUSES)
        version = f"{rng.getrandbits(128):032x}"
        yield [BUCKET, key, version, str(current).lower(), str(marker).lower(), size, status, ""]


def write_report(path: str, count: int) -> tuple[int, str]:
    """The gzip-compressed CSV data file, written a row at a time; (its size, its MD5)."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as zipped:
        text = io.TextIOWrapper(zipped, encoding="utf-8", newline="")
        csv.writer(text).writerows(inventory_rows(count, random.Random(18)))
        text.flush()
        text.detach()
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as done:
        for block in iter(lambda: done.read(1 << 20), b""):
            digest.update(block)
    return os.path.getsize(path), digest.hexdigest()


def measure_inventory(count: int) -> dict[str, Any]:
    from dsse_remediation.aws.s3_posture import HeadRead
    from dsse_remediation.cli.pool import run_pool
    from dsse_remediation.model import DSSE, Encryption
    from dsse_remediation.posture.inventory import Manifest, rows
    from dsse_remediation.posture.survey import Survey

    def head(bucket: str, key: str, version_id: str | None) -> HeadRead:
        return HeadRead(Encryption(DSSE, KEY_ARN), None)

    def parallel(items: Any, work: Any, done: Any) -> None:
        run_pool(items, work, failed=lambda item, exc: (item, exc), concurrency=8, on_done=done)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.csv.gz")
        started = time.perf_counter()
        size, md5 = write_report(path, count)
        write_seconds = time.perf_counter() - started
        document = {
            "sourceBucket": BUCKET,
            "destinationBucket": "arn:aws:s3:::posture-benchmark-reports",
            "fileFormat": "CSV",
            "fileSchema": SCHEMA,
            "creationTimestamp": "1767315600000",
            "files": [{"key": "data.csv.gz", "size": size, "MD5checksum": md5}],
        }
        manifest = Manifest.parse(document, "s3://posture-benchmark-reports/manifest.json", "posture-benchmark-reports")
        rss_before = peak_rss_mib()
        from datetime import UTC, datetime

        survey = Survey(BUCKET, KEY_ARN, head, parallel, datetime.now(UTC))
        started = time.perf_counter()
        with open(path, "rb") as body:
            survey.inventory(manifest, rows(manifest, manifest.files[0], body), SAMPLE, random.Random(18))
        seconds = time.perf_counter() - started
    counted = survey.tally.versions
    return {
        "rows": count,
        "gzipBytes": size,
        "versionsCounted": counted,
        "seconds": round(seconds, 2),
        "rowsPerSecond": round(count / seconds),
        "rssBeforeMiB": round(rss_before, 1),
        "rssPeakMiB": round(peak_rss_mib(), 1),
        "rssGrowthMiB": round(peak_rss_mib() - rss_before, 1),
        "writeSeconds": round(write_seconds, 1),
        "sample": survey.estimate.answer() if survey.estimate else None,
    }


class ShallowVersionLists:
    """moto.s3.models' `copy` module, but a list (a key's versions) is copied shallowly: see the module docstring."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return list(value) if isinstance(value, list) else copy.deepcopy(value, memo)


def measure_scan(count: int) -> dict[str, Any]:
    use_fake_aws()
    from moto import mock_aws
    from moto.s3 import models

    models.copy = ShallowVersionLists()  # type: ignore[assignment,attr-defined]
    with mock_aws(), aws_fidelity_applied():
        import boto3
        from moto.s3.models import s3_backends

        key_arn: str = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        backend = s3_backends[ACCOUNT_ID]["aws"]
        for index in range(count):
            backend.put_object(BUCKET, f"data/{index:07d}.csv", b"x" * 100, disable_notification=True)
        commands: Any = importlib.import_module("dsse_remediation.cli.commands")
        sink = io.StringIO()
        argv = ["posture", f"s3://{BUCKET}", "--source", "scan", "--key", key_arn, "--output", "json"]
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        with contextlib.redirect_stdout(sink):
            code = commands.main(argv)
        seconds = time.perf_counter() - started
    document = json.loads(sink.getvalue())
    counted = sum(document["total"]["current"]["objects"].values())
    return {
        "objects": count,
        "counted": counted,
        "exitCode": code,
        "seconds": round(seconds, 2),
        "objectsPerSecond": round(count / seconds),
        "rssBeforeMiB": round(rss_before, 1),
        "rssPeakMiB": round(peak_rss_mib(), 1),
    }


def child(kind: str, count: int) -> dict[str, Any]:
    """A fresh interpreter per measurement: one size's memory never counts in another's peak."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "remediation"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.posture", "--child", kind, str(count)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} {count}: the child failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, count = args.child
        measured = measure_inventory(int(count)) if kind == "inventory" else measure_scan(int(count))
        print(json.dumps(measured))
        return 0
    inventory = [child("inventory", rows) for rows in args.rows]
    scan = child("scan", args.objects) if args.objects else None
    if args.json:
        print(json.dumps({"inventory": inventory, "scan": scan}, indent=2))
        return 0
    print("posture over a gzipped CSV inventory (read, decode, count; DSSE rows sampled, HeadObject in memory)")
    headers = ("rows", "gzip", "time", "rows/s", "RSS before", "RSS peak", "growth")
    lines = [
        (
            f"{m['rows']:,}",
            f"{m['gzipBytes'] / 2**20:.1f} MiB",
            f"{m['seconds']:.1f} s",
            f"{m['rowsPerSecond']:,}",
            f"{m['rssBeforeMiB']:.0f} MiB",
            f"{m['rssPeakMiB']:.0f} MiB",
            f"{m['rssGrowthMiB']:.1f} MiB",
        )
        for m in inventory
    ]
    print("\n".join(table(headers, lines)))
    if scan is not None:
        print()
        print("posture scan on moto in-process (ListObjectVersions + HeadObject per object, concurrency 8)")
        print(
            f"{scan['objects']:,} objects ({scan['counted']:,} counted, exit {scan['exitCode']}): "
            f"{scan['seconds']:.1f} s, {scan['objectsPerSecond']:,} objects/s, RSS {scan['rssBeforeMiB']:.0f} MiB "
            f"(moto holding the objects) -> peak {scan['rssPeakMiB']:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
