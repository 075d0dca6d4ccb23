"""The README's first command: the demo must pass, not just print."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import tested_partitions

ROOT = Path(__file__).resolve().parents[2]


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """scripts/<name> as `make demo` runs it, with no AWS or Powertools setting of the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_")) and k != "REGION"}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_demo_ends_with_everything_in_scope_compliant_and_nothing_lost() -> None:
    done = run_script("demo.py")

    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "RESULT: everything in scope is DSSE-KMS under the key but what the reader-safety gate held, nothing lost"
        in (done.stdout)
    )
    # the public website is held (every visitor would get 403), the public bucket whose owner accepted is converted
    assert "s3://legacy-website/index.html             a public website's page        AES256 -> AES256 (held)" in (
        done.stdout
    )
    assert "legacy-website       AES256 (held: it would break its readers)" in done.stdout
    assert "unsafe: the bucket hosts a static website" in done.stdout
    assert "legacy-downloads     DSSE-KMS under the key" in done.stdout
    assert "impact accepted by the bucket tag" in done.stdout
    # the remediations' own writes, built from S3's answers, are dropped by the rule: no invocation, no loop
    # and so are the compliant uploads, one of them under its bucket category's key (BUCKET_KEY_MAP)
    assert "{'PutObject': 3, 'CopyObject': 5, 'CompleteMultipartUpload': 1}" in done.stdout
    assert "finance-secrets      DSSE-KMS under its category key (BUCKET_KEY_MAP)" in done.stdout
    # objects that predate the deployment are swept after their bucket's reset
    assert "s3://finance-2019: 12 of 12 objects written before the deployment swept" in done.stdout
    assert "[critical] DSSE-KMS key DisableKey" in done.stdout
    assert "DSSE key after DisableKey: Enabled" in done.stdout
    # a larger bucket from before the deployment is backfilled on S3 Batch Operations (the local stand-in), its fees
    # estimated first, and the run ends in one summary alert
    assert "24 of 24 pre-existing objects DSSE under the key (bytes, metadata, tags, class kept)" in done.stdout
    assert "Estimated fees of 3 S3 Batch Operations jobs" in done.stdout
    assert "Outcomes:  remediated 24, unremediable 1" in done.stdout
    assert done.stdout.count("DSSE-KMS batch job") == 1
    # the posture an auditor keeps: a number per bucket and for the estate, rounded down, and the evidence file
    assert "legacy-website       0.00 % of bytes,   0.00 % of objects DSSE under its key" in done.stdout
    assert "finance-ledger      50.00 % of bytes,  50.00 % of objects DSSE under its key; 1 noncurrent" in done.stdout
    assert "finance-reports    100.00 % of bytes, 100.00 % of objects DSSE under its key" in done.stdout
    assert "estate: 99.99 % of bytes, 93.61 % of objects DSSE under the key" in done.stdout


@pytest.mark.slow
def test_the_organization_demo_reaches_the_security_account_from_both_members() -> None:
    done = run_script("demo_org.py")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "RESULT: every member remediated locally, the security account saw it all" in done.stdout
    assert done.stdout.count(" remediated ") >= 3  # both members' writes and the on-call fix, in the channel
    assert "ACTIVE/FAILED -> ARCHIVED/PASSED" in done.stdout  # a finding raised by the dry run, resolved
    assert "seen by analytics: out-of-scope, nothing forwarded" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("region", "partition"),
    [(region, partition) for partition, region in tested_partitions().items() if partition != "aws"],
)
def test_the_demos_pass_in_govcloud_and_china_with_that_partitions_arns(region: str, partition: str) -> None:
    """`make demo REGION=us-gov-west-1` (or cn-north-1): the same product, every ARN in the Region's partition."""
    done = run_script("demo.py", "--region", region)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Region {region} (partition {partition})" in done.stdout
    assert f"DSSE key arn:{partition}:kms:{region}:123456789012:key/" in done.stdout
    assert "RESULT: everything in scope is DSSE-KMS under the key" in done.stdout
    organization = run_script("demo_org.py", "--region", region)
    assert organization.returncode == 0, organization.stdout + organization.stderr
    assert "RESULT: every member remediated locally, the security account saw it all" in organization.stdout
