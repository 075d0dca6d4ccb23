"""`dsse-remediate`: check and fix the DSSE-KMS encryption of S3 objects and buckets from a terminal.

The same library as the Lambdas, with the caller's AWS credentials: the standard boto3 chain, `--profile`,
`--region`, or a role assumed with them (`--role-arn ARN [--external-id ID] [--role-session-name NAME]`: STS
AssumeRole before any other call, every call of the run in the role's account); boto3 honours `AWS_ENDPOINT_URL`, so
it runs against a local fake too.

    dsse-remediate check s3://bucket/key                  one object; report only
    dsse-remediate check s3://bucket                      the bucket's default encryption
    dsse-remediate check s3://bucket/prefix/ --recursive  every object under the prefix (S3 prefix semantics)
    dsse-remediate fix   <same targets> [--dry-run]       remediate; --dry-run reports what it would do
    dsse-remediate key   alias/dsse-data                  the key's state and the bucket scopes that depend on it
    dsse-remediate backfill s3://bucket --stack NAME [--wait]   existing objects at any scale: S3 Batch Operations
    dsse-remediate org-status --stack-set NAME [--results-log-group NAME]   the member stack across the Organization
    dsse-remediate coverage [--include P] [--output json]   which buckets' object writes a logging trail delivers

Options go after the command: `--key`, `--include`, `--exclude` (else DSSE_KMS_KEY, PROTECTED_BUCKETS,
EXCLUDED_BUCKETS), `--profile`, `--region`, `--all-versions`, `--concurrency N`, `--output text|json`,
`--report file.csv`, `--no-alerts`. The other settings the Lambdas read (BUCKET_KEY_MAP, ENCRYPTION_CONTEXT, MODE,
MULTIPART_*, PURGE_NONCURRENT_VERSIONS, ACCOUNT_ID, ...) come from the environment as well. `fix` publishes alerts
only when ALERT_TOPIC_ARN is set (and `--no-alerts` is not given); `check` never does.

Exit codes: 0 when everything in scope is compliant afterwards (compliant or remediated; out-of-scope and gone do
not count against it); 1 when anything failed, is unremediable or would be remediated (`check` or `--dry-run`
finding non-compliance); 2 for usage errors; 130 on Ctrl-C, which starts no new work, lets running single copies
finish, makes running multipart copies abort at their next part, and prints the partial summary.

`backfill` plans one S3 Batch Operations job per bucket and encryption type that is not DSSE-KMS (or one job over an
S3 Inventory report with `--from-inventory`), prints their estimated fees before creating anything, creates them and
prints their ids; the stack's task function remediates each object, and each job ends with one summary alert, which
`--wait` also prints. It finds the stack's task function, job role and report bucket with `--stack NAME`
(DescribeStacks), or `--task-function`, `--job-role`, `--report-bucket` (else BATCH_TASK_FUNCTION,
BATCH_JOB_ROLE_ARN, REPORT_BUCKET). Its exit code: 0 when every job was created (with `--wait`: every job complete and
nothing failed, unremediable or, in a dry run, to remediate), 1 otherwise, 2 and 130 as above.

`org-status` lists one row per active account of the Organization and Region the member StackSet targets: the stack
instance's status (or "not deployed"), its Mode, key, SecurityBusArn and SecurityHubFindings, and with
`--results-log-group` the outcomes of the last `--hours` (24) counted from the security account's results log group.
Exit 0 when every active account has the stack (CURRENT) in every targeted Region and no result in the window is
failed or unremediable; 1 otherwise; 2 for usage errors.

`coverage` says for every in-scope bucket of the account and Region whether the trails that log there (this Region's,
multi-Region, Organization trails) record its object writes for every key, and why not; it reads no key. Exit 0 when
every in-scope bucket is covered, 1 otherwise, 2 for usage errors.

A recursive run works while it lists (ListObjectsV2, or ListObjectVersions with `--all-versions`): the first object
is fixed as soon as the first page is read, and memory holds one page of keys and at most 2 x concurrency objects in
flight, whatever the size of the prefix; the results are counted, written to the CSV report as they come, and kept
only for the JSON document of `--output json`. It stops listing after `--max-objects` (100,000 by default) and says
to use `backfill`: one machine is not the place for millions of objects.

The modules, one concern each: `arguments` (the flags, limits, exit codes, the target), `session` (settings and the
App on the caller's session), `listing` (the keys, page by page), `pool` (the bounded worker pool and Ctrl-C;
standard library only), `console`, `summary` and `report` (what is printed and written), `commands` (the commands
and `main`), `backfill` (the backfill command: plan, estimate, start, follow), `org_status` (the Organization's
view: rows, outcome counts, the table), `coverage` (the trails' coverage of the buckets: the command around
coverage/).
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The `dsse-remediate` console script (pyproject.toml: `dsse_remediation.cli:main`).

    The commands are imported on call, not with the package, so that `dsse_remediation.cli.pool` imports without
    argparse, boto3 or botocore (it is tested alone)."""
    from .commands import main as run

    return run(argv)
