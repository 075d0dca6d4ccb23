"""What a run amounts to: counts, exit codes, the summary table, the JSON summary and the key report."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import pytest

from dsse_remediation.cli.summary import Results, Run, key_report, summary_table
from dsse_remediation.model import BucketResult, KeyResult, ObjectResult, Outcome

O = Outcome  # noqa: E741 (the tables below read better short)


def run_of(counts: dict[Outcome, int], **extra: Any) -> Run:
    fields: dict[str, Any] = {
        "command": "fix",
        "target": "s3://example-bucket/reports/",
        "dry_run": False,
        "counts": Counter(counts),
        "total": sum(counts.values()),
        "elapsed": 2.0,
    }
    return Run(**{**fields, **extra})


@pytest.mark.parametrize(
    ("counts", "extra", "code"),
    [
        ({O.REMEDIATED: 3, O.COMPLIANT: 2, O.OUT_OF_SCOPE: 1, O.GONE: 1}, {}, 0),
        ({O.REMEDIATED: 3, O.FAILED: 1}, {}, 1),
        ({O.UNREMEDIABLE: 1}, {}, 1),
        ({O.WOULD_REMEDIATE: 2}, {"dry_run": True}, 1),
        ({O.REMEDIATED: 1}, {"interrupted": True}, 130),
        ({}, {}, 0),
    ],
)
def test_the_exit_code_says_whether_anything_in_scope_needs_attention(
    counts: dict[Outcome, int], extra: dict[str, Any], code: int
) -> None:
    assert run_of(counts, **extra).exit_code == code


def test_the_summary_table_counts_each_outcome_and_says_what_to_do() -> None:
    run = run_of({O.REMEDIATED: 9, O.FAILED: 1})

    assert summary_table(run) == (
        "\n"
        "Summary: fix s3://example-bucket/reports/\n"
        "outcome            count\n"
        "remediated             9\n"
        "failed                 1\n"
        "---------------  -------\n"
        "total                 10\n"
        "10 of 10 in 2.0s (5.0/s); 1 need attention: see the reasons above (exit 1)\n"
    )


def test_a_dry_run_that_finds_only_non_compliance_points_to_fix() -> None:
    table = summary_table(run_of({O.WOULD_REMEDIATE: 4, O.COMPLIANT: 1}, command="check", dry_run=True))

    assert "Summary: check s3://example-bucket/reports/ (dry run: nothing changed)" in table
    assert table.endswith("4 not compliant; run `dsse-remediate fix` to remediate (exit 1)\n")


def test_everything_compliant_exits_0() -> None:
    assert summary_table(run_of({O.COMPLIANT: 2})).endswith("everything in scope is DSSE-KMS under its key (exit 0)\n")


def test_an_interrupted_run_says_how_many_were_not_processed_and_still_run() -> None:
    run = run_of({O.REMEDIATED: 6}, total=10, interrupted=True, still_running=2)

    assert summary_table(run).endswith(
        "6 of 10 in 2.0s (3.0/s); interrupted: 4 not processed, 2 still running (exit 130)\n"
    )


def test_an_interrupted_streamed_listing_says_more_were_not_listed() -> None:
    run = run_of({O.REMEDIATED: 6}, total=8, interrupted=True, listing_complete=False)

    assert summary_table(run).endswith("interrupted: 2 not processed, more not listed (exit 130)\n")


def test_the_json_summary_has_every_outcome_and_the_run_facts() -> None:
    run = run_of({O.REMEDIATED: 2, O.FAILED: 1}, total=4, alert_errors=1)

    assert run.summary() == {
        "command": "fix",
        "target": "s3://example-bucket/reports/",
        "dryRun": False,
        "total": 4,
        "processed": 3,
        "outcomes": {
            "remediated": 2,
            "compliant": 0,
            "would-remediate": 0,
            "unremediable": 0,
            "out-of-scope": 0,
            "gone": 0,
            "failed": 1,
            "held": 0,
        },
        "interrupted": False,
        "stillRunning": 0,
        "alertErrors": 1,
        "elapsedSeconds": 2.0,
        "exitCode": 1,
    }


def test_results_are_counted_always_kept_only_when_asked_and_written_to_the_report_at_once() -> None:
    report = io.StringIO()
    writer = csv.DictWriter(report, fieldnames=("bucket", "key", "versionId", "outcome", "reason", *_ENCRYPTION))
    dropped, kept = Results(keep=False, report=writer), Results(keep=True)
    results = [
        ObjectResult(bucket="b", key="k", outcome=O.COMPLIANT, reason="ok"),
        BucketResult(bucket="b", outcome=O.REMEDIATED, reason="reset"),
        KeyResult(key_arn="arn:key", outcome=O.COMPLIANT, reason="enabled"),  # no CSV row: not a resource in S3
    ]

    for result in results:
        dropped.add(result)
        kept.add(result)

    assert dropped.counts == kept.counts == Counter({O.COMPLIANT: 2, O.REMEDIATED: 1})
    assert (dropped.kept, kept.kept) == ([], results)
    assert report.getvalue().splitlines() == ["b,k,,compliant,ok,,", "b,,,remediated,reset,,"]


_ENCRYPTION = ("encryptionBefore", "encryptionAfter")


def test_the_key_report_lists_the_key_facts_and_every_scope_it_protects() -> None:
    result = KeyResult(
        key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
        outcome=O.COMPLIANT,
        reason="the key is Enabled",
        key_state="Enabled",
        rotation_enabled=True,
        protects=("every protected bucket: include data-*", "secrets-*"),
    )

    assert key_report(result) == (
        "key       arn:aws:kms:us-east-1:123456789012:key/k\n"
        "outcome   compliant: the key is Enabled\n"
        "state     Enabled\n"
        "rotation  on\n"
        "deletion  -\n"
        "protects  every protected bucket: include data-*\n"
        "          secrets-*\n"
    )
