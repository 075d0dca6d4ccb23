"""The command line: its flags (argparse), its limits and exit codes, and the s3:// target it names.

Parent parsers share the flags between `check`, `fix` and `key`; argument groups keep `--help` readable. Everything
here is checked before any AWS call, so a usage error (exit 2) never reads or changes anything. Every command takes
the same AWS account flags (`--profile`, `--region`, `--role-arn`, `--external-id`, `--role-session-name`).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import __version__
from ..batch.requests import CAMPAIGN_RULES, is_campaign
from ..config import MAX_JOB_PRIORITY, ROLE_NAME_RULES, is_role_arn
from ..model import ObjectRequest
from ..remediation import validate
from ..scope import BUCKET_NAME_RULES, is_valid_bucket_name

PROG = "dsse-remediate"
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
# The most objects a recursive check/fix lists; above it a bucket belongs to `backfill` (S3 Batch Operations).
DEFAULT_MAX_OBJECTS = 100_000
EXIT_OK, EXIT_ATTENTION, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# The CSV report's columns, in order; named here because `--report --help` documents them.
MAX_PRIORITY = MAX_JOB_PRIORITY
REPORT_FIELDS = ("bucket", "key", "versionId", "outcome", "reason", "encryptionBefore", "encryptionAfter")
# Flag values are matched whole (`fullmatch`) with `re.ASCII`: Python's `$` also matches before a trailing newline
# and its `\w` takes any Unicode letter, which STS does not. A value STS would refuse must be a usage error here
# (exit 2), not an AssumeRole failure once the run has begun (exit 1); `--role-arn` is checked by config.is_role_arn.
# AssumeRole's own limits: RoleSessionName 2-64 of [\w+=,.@-], ExternalId 2-1224 of [\w+=,.@:/-], where \w is the
# ASCII letters, digits and "_" ("upper- and lower-case alphanumeric characters with no spaces").
# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
DEFAULT_SESSION_NAME = PROG
# `--security-bus` and the member stacks' SecurityBusArn: an EventBridge event bus ARN, as template.yaml's
# AllowedPattern takes it. https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html
EVENT_BUS_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):events:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"event-bus/(?P<name>[A-Za-z0-9._/-]{1,256})$"
)
DEFAULT_HOURS, MAX_HOURS = 24, 24 * 14  # org-status: FilterLogEvents over at most two weeks of results


class UsageError(ValueError):
    """The command line asks for something impossible; nothing was read or changed."""


def configuration(*, alerts: bool = True) -> argparse.ArgumentParser:
    """The flags that replace the Lambdas' environment variables, for a parent parser (`alerts`: `--no-alerts`, for
    the commands that may publish one)."""
    common = argparse.ArgumentParser(add_help=False)
    config = common.add_argument_group("configuration (flags, else the environment variables the Lambdas read)")
    config.add_argument("--key", metavar="KEY", help="the DSSE KMS key: key ARN or alias (else DSSE_KMS_KEY)")
    config.add_argument(
        "--include", metavar="PATTERNS", help="protected bucket patterns, comma-separated (else PROTECTED_BUCKETS; *)"
    )
    config.add_argument(
        "--exclude", metavar="PATTERNS", help="excluded bucket patterns, comma-separated (else EXCLUDED_BUCKETS)"
    )
    config.add_argument(
        "--bucket-key-map",
        metavar="MAP",
        help="a key per bucket category: pattern=keyArn,pattern=keyArn; first match wins, else --key "
        "(else BUCKET_KEY_MAP)",
    )
    if alerts:
        config.add_argument(
            "--no-alerts", action="store_true", help="publish no SNS alert even when ALERT_TOPIC_ARN is set"
        )
    add_output(config)
    add_account(common)
    return common


def add_output(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--output", choices=("text", "json"), default="text", help="json: one JSON document on stdout, nothing else"
    )


def add_account(parser: argparse.ArgumentParser) -> None:
    """The AWS account a command works in: the caller's credentials, or a role assumed with them (every command)."""
    account = parser.add_argument_group(
        "AWS account (the standard boto3 credential chain, a profile, or a role assumed with them)"
    )
    account.add_argument("--profile", help="AWS profile (else the standard boto3 credential chain)")
    account.add_argument("--region", help="AWS Region (else AWS_REGION / the profile's; else the key ARN's)")
    account.add_argument(
        "--fips",
        action="store_true",
        help="call every service on its FIPS endpoint (as AWS_USE_FIPS_ENDPOINT=true); a Region without one for a "
        "service the command may call is refused before any call, naming the services",
    )
    account.add_argument(
        "--role-arn",
        type=role_arn,
        metavar="ARN",
        help="assume this role (STS AssumeRole, with the credentials above) before anything else: every call of "
        "the run is made in the role's account, and buckets must belong to it (ExpectedBucketOwner)",
    )
    account.add_argument(
        "--external-id", type=external_id, metavar="ID", help="the external id the role's trust policy requires"
    )
    account.add_argument(
        "--role-session-name",
        type=session_name,
        metavar="NAME",
        help=f"the session name CloudTrail records for the role's calls (default {DEFAULT_SESSION_NAME})",
    )


def build_parser() -> argparse.ArgumentParser:
    common = configuration()
    resources = argparse.ArgumentParser(add_help=False)
    resources.add_argument("target", metavar="S3_URI", help="s3://bucket/key, s3://bucket, or s3://bucket/prefix/")
    what = resources.add_argument_group("what to look at")
    what.add_argument("-r", "--recursive", action="store_true", help="every object under the prefix (ListObjectsV2)")
    what.add_argument(
        "--all-versions",
        action="store_true",
        help="every version (ListObjectVersions). Noncurrent versions are only reported, never copied: "
        "copying one in place would put old data over newer data",
    )
    what.add_argument(
        "--concurrency",
        type=concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"objects handled at once, 1-{MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY}). Every copy makes S3 "
        "call KMS (GenerateDataKey, and Decrypt for a KMS-encrypted source) on the account's per-Region KMS "
        "request quota, which the remediation Lambdas and every other KMS user share: the default stays well below "
        "it; raise it with care. Objects above MULTIPART_THRESHOLD_BYTES copy COPY_CONCURRENCY parts each on top",
    )
    what.add_argument(
        "--max-objects",
        type=positive,
        default=DEFAULT_MAX_OBJECTS,
        metavar="N",
        help=f"a recursive run stops listing after N objects (default {DEFAULT_MAX_OBJECTS:,}; those are worked "
        f"on) and says to use `{PROG} backfill`: S3 Batch Operations lists, retries and reports at any size",
    )
    what.add_argument(
        "--report",
        metavar="FILE.csv",
        help="write one CSV row per resource: " + ", ".join(REPORT_FIELDS) + " (encryptionAfter is the encryption "
        "after the run: the same as before when nothing was changed)",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check and fix DSSE-KMS encryption of S3 objects and buckets under your KMS key.",
        epilog="exit codes: 0 everything in scope compliant afterwards; 1 something failed, is unremediable or "
        "would be remediated; 2 usage error; 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "check", parents=[resources, common], help="report only (a dry run): what is not DSSE-KMS under the key"
    )
    fix = commands.add_parser(
        "fix", parents=[resources, common], help="remediate: copy objects in place, reset defaults"
    )
    fix.add_argument("--dry-run", action="store_true", help="change nothing; print what would be done (as check)")
    fix.add_argument("--accept-reader-impact", action="store_true", help=ACCEPT_HELP)
    fix.add_argument(
        "--remediate-restored-archives",
        action="store_true",
        help="also copy restored GLACIER / DEEP_ARCHIVE objects: the copy is a new archived version, which ends "
        "the restore (else REMEDIATE_RESTORED_ARCHIVES; off: they are reported, not copied)",
    )
    key = commands.add_parser("key", parents=[common], help="a key's state and the bucket scopes that depend on it")
    key.add_argument("key_ref", metavar="KEY", help="key ARN, alias (alias/name), alias ARN or key id")
    add_backfill(commands)
    add_org_status(commands)
    add_coverage(commands)
    add_posture(commands)
    return parser


ACCEPT_HELP = (
    "convert buckets the reader-safety gate holds (converting them breaks a reader or a writer: a website, public "
    "or CloudFront OAI readers, another account without a key grant, replication, log delivery); the acceptance, "
    "with your identity, is in every result and alert"
)


def add_org_status(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "org-status",
        help="per account and Region of the Organization: the member stack, its mode and key, its coverage, canary "
        "and posture, recent outcomes",
        description="One row per active account of the Organization and Region the StackSet targets: whether the "
        "member stack is deployed (the stack instance's status), its Mode, key (DsseKmsKeyArn), SecurityBusArn and "
        "SecurityHubFindings (the instance's parameter overrides over the StackSet's parameters), and with "
        "--results-log-group the outcomes of the last --hours counted from the security account's results log "
        "group, and with --security-bus whether each stack forwards its results there. Run it where the "
        "Organization can be listed (the management account or a delegated administrator) and the StackSet is "
        "administered; the log group is read in the same account and Region.",
        epilog="exit codes: 0 every active account has the stack (status CURRENT) in every Region the StackSet "
        "targets (the management account excepted for a service-managed StackSet, which never deploys there), no "
        "failed or unremediable outcome in the window, and (--security-bus) every stack forwards its results to the "
        "security bus; 1 otherwise, or an AWS call failed; 2 usage error",
    )
    status.add_argument("--stack-set", required=True, metavar="NAME", help="the member stack's StackSet")
    status.add_argument(
        "--call-as",
        choices=("SELF", "DELEGATED_ADMIN"),
        default="SELF",
        help="SELF in the management account; DELEGATED_ADMIN in a delegated administrator account (default SELF)",
    )
    status.add_argument(
        "--results-log-group",
        metavar="NAME",
        help="the security stack's results log group (output ResultsLogGroupName, /dsse-remediation/results): "
        "count each account and Region's outcomes over the last --hours",
    )
    status.add_argument(
        "--security-bus",
        type=event_bus_arn,
        metavar="ARN",
        help="the security stack's results bus (output ResultsBusArn): every stack must forward its results there "
        "(its SecurityBusArn); one that forwards to another bus, or to none, needs attention. Without it, where "
        "the stacks forward is shown (set / off) but not checked",
    )
    status.add_argument(
        "--hours",
        type=hours,
        default=DEFAULT_HOURS,
        metavar="N",
        help=f"the window of --results-log-group, 1-{MAX_HOURS} hours (default {DEFAULT_HOURS})",
    )
    add_output(status)
    add_account(status)


def add_coverage(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    coverage = commands.add_parser(
        "coverage",
        help="per in-scope bucket: whether a trail that is logging delivers its object writes to EventBridge",
        description="For every in-scope general purpose bucket of the account in the Region (ListBuckets), whether the "
        "trails that log there (this Region's, multi-Region trails homed elsewhere, Organization trails; "
        "DescribeTrails, GetTrailStatus, GetEventSelectors) record its object writes (PutObject, CopyObject, "
        "CompleteMultipartUpload, PostObject) for every key: the object path receives them only from such a trail. "
        "Basic and advanced event selectors are read as CloudTrail documents them; a bucket recorded only in part "
        "(a prefix, an EndsWith, some write events) is not covered, and the reason says which part.",
        epilog="exit codes: 0 every in-scope bucket is covered (or there is none); 1 a bucket is not covered, a "
        "trail could not be read, or an AWS call failed; 2 usage error",
    )
    scope = coverage.add_argument_group("which buckets (flags, else the environment variables the Lambdas read)")
    scope.add_argument(
        "--include", metavar="PATTERNS", help="protected bucket patterns, comma-separated (else PROTECTED_BUCKETS; *)"
    )
    scope.add_argument(
        "--exclude", metavar="PATTERNS", help="excluded bucket patterns, comma-separated (else EXCLUDED_BUCKETS)"
    )
    add_output(coverage)
    add_account(coverage)


def add_posture(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    posture = commands.add_parser(
        "posture",
        parents=[configuration(alerts=False)],
        help="per bucket: objects and bytes DSSE-KMS under the key or not, current and noncurrent versions",
        description="Per bucket, objects and bytes by state (dsse-key, dsse-other-key, sse-kms, sse-s3, sse-c, "
        "not-encrypted) for current and noncurrent versions (delete markers not counted), from a scan "
        "(ListObjectVersions, HeadObject per version) or an S3 Inventory report (DSSE-KMS rows read with HeadObject "
        "for their key), with the noncurrent-version debt and the lifecycle rule that would retire it (printed, "
        "never applied). Read-only.",
        epilog="exit codes: 0 every version in scope is DSSE-KMS under the key; 1 something is not, a bucket could "
        "not be read, or a sample leaves it uncertain; 2 usage error (nothing read or written); 130 interrupted",
    )
    posture.add_argument("buckets", nargs="*", metavar="S3_URI", help="s3://bucket: whole buckets")
    posture.add_argument("--all", action="store_true", help="every in-scope bucket of the account in the Region")
    posture.add_argument(
        "--from-inventory",
        metavar="S3_URI",
        help="an S3 Inventory report's manifest.json (s3://.../manifest.json): one bucket's figures from it",
    )
    posture.add_argument(
        "--source",
        choices=("auto", "scan", "inventory"),
        default="auto",
        help="auto: the newest report of the bucket's own usable inventory configuration, else a scan (default)",
    )
    posture.add_argument(
        "--sample",
        type=positive,
        metavar="N",
        help="with an inventory: read only N random DSSE-KMS versions per bucket and ESTIMATE the dsse-key / "
        "dsse-other-key split (95%% Wilson interval)",
    )
    posture.add_argument(
        "--concurrency",
        type=concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"HeadObject calls at once, 1-{MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY})",
    )
    posture.add_argument("--report", metavar="FILE.csv", help="write one CSV row per bucket and state")
    posture.add_argument(
        "--html", metavar="FILE", help="write the evidence: one self-contained HTML file (no network, inline SVG)"
    )
    posture.add_argument(
        "--athena-sql",
        action="store_true",
        help="print the Amazon Athena table (CREATE EXTERNAL TABLE over the report's hive/ folder) and the posture "
        "query for each bucket's inventory report, instead of reading it here (DSSE-KMS keys still need HeadObject)",
    )


def add_backfill(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backfill = commands.add_parser(
        "backfill",
        parents=[configuration(alerts=False)],
        help="existing objects at any scale: S3 Batch Operations jobs that run the stack's remediation per object",
        description="Plan S3 Batch Operations jobs (one per encryption type that is not DSSE-KMS, per bucket), print "
        "their estimated fees, create them and print their ids. Each job invokes the stack's task function for "
        "every object, and ends with one summary alert.",
        epilog="exit codes: 0 every job created (--wait: every job complete, nothing failed, unremediable or, in a "
        "dry run, to remediate); 1 a job could not be created, or (--wait) something needs attention; 2 usage "
        "error; 130 interrupted (created jobs go on)",
    )
    backfill.add_argument("buckets", nargs="*", metavar="S3_URI", help="s3://bucket: whole buckets")
    which = backfill.add_argument_group("which objects")
    which.add_argument(
        "--all",
        action="store_true",
        help="every in-scope bucket of the account in the Region (ListBuckets), the stack's report bucket excepted",
    )
    which.add_argument(
        "--from-inventory",
        metavar="S3_URI",
        help="an S3 Inventory report's manifest.json (with the EncryptionStatus field): one job over the objects "
        "it lists that are not DSSE-KMS, and none when there are none",
    )
    which.add_argument(
        "--created-after",
        type=timestamp,
        metavar="TIME",
        help="only objects created after TIME (ISO 8601: 2026-01-31 or 2026-01-31T12:00Z; UTC unless given)",
    )
    which.add_argument(
        "--include-dsse-other-keys",
        action="store_true",
        help="also a DSSEKMS job per bucket, for DSSE objects under another key: it lists the compliant objects too "
        "(one task and one HEAD each); with --from-inventory, the report's DSSE-KMS rows go into its job too",
    )
    jobs = backfill.add_argument_group("the jobs")
    jobs.add_argument(
        "--dry-run",
        action="store_true",
        help="the jobs change nothing and report what they would do (their fees still apply; see --estimate-only)",
    )
    jobs.add_argument("--estimate-only", action="store_true", help="print the estimated fees; create nothing")
    jobs.add_argument("--accept-reader-impact", action="store_true", help=ACCEPT_HELP)
    jobs.add_argument(
        "--wait",
        action="store_true",
        help="follow the jobs (a progress bar each on a terminal) and print each job's summary when all have ended",
    )
    jobs.add_argument(
        "--priority",
        type=priority,
        metavar="N",
        help=f"job priority 0-{MAX_PRIORITY}, higher first (else BATCH_JOB_PRIORITY; 10)",
    )
    jobs.add_argument(
        "--campaign",
        type=campaign_label,
        metavar="LABEL",
        help="a label in the jobs' descriptions, tags, report paths and alerts (default backfill-<UTC date>)",
    )
    stack = backfill.add_argument_group(
        "the stack's parts (--stack, or the flags; a flag wins; else BATCH_TASK_FUNCTION, BATCH_JOB_ROLE_ARN, "
        "REPORT_BUCKET)"
    )
    stack.add_argument(
        "--stack",
        metavar="NAME",
        help="the deployed stack (DescribeStacks): its outputs BatchTaskFunctionAlias, BatchJobRoleArn, "
        "ReportBucketName, and its key and bucket scope unless --key/--include/--exclude say otherwise",
    )
    stack.add_argument("--task-function", metavar="ARN", help="the task function's alias ARN (or a version ARN)")
    stack.add_argument("--job-role", metavar="ARN", help="the role S3 Batch Operations assumes for the jobs")
    stack.add_argument("--report-bucket", metavar="NAME", help="where completion reports and manifests are written")


def check_account(args: argparse.Namespace) -> None:
    """The role flags that only mean something together (after parsing, before anything else)."""
    if getattr(args, "role_arn", None) is None and (args.external_id or args.role_session_name):
        raise UsageError("--external-id and --role-session-name go with --role-arn")


def role_arn(raw: str) -> str:
    """`--role-arn`: an IAM role's ARN, checked here so that a typo is a usage error, not an AssumeRole failure."""
    if not is_role_arn(raw):
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/name; {ROLE_NAME_RULES})"
        )
    return raw


def external_id(raw: str) -> str:
    """`--external-id`: what AssumeRole accepts as ExternalId."""
    if not EXTERNAL_ID.fullmatch(raw):
        raise argparse.ArgumentTypeError(f"{raw!r} is not an external id (2-1224 ASCII letters, digits and +=,.@:/_-)")
    return raw


def session_name(raw: str) -> str:
    """`--role-session-name`: what AssumeRole accepts as RoleSessionName."""
    if not SESSION_NAME.fullmatch(raw):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a role session name (2-64 ASCII letters, digits and +=,.@_-)")
    return raw


def event_bus_arn(raw: str) -> str:
    """`--security-bus`: an event bus ARN, checked here so that a typo is a usage error, not a member flagged."""
    if not EVENT_BUS_ARN.match(raw):
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an EventBridge event bus ARN (arn:aws:events:us-east-1:123456789012:event-bus/name)"
        )
    return raw


def hours(raw: str) -> int:
    value = whole(raw)
    if not 1 <= value <= MAX_HOURS:
        raise argparse.ArgumentTypeError(f"{value} is outside 1-{MAX_HOURS}")
    return value


def campaign_label(raw: str) -> str:
    """`--campaign`: a label safe in an S3 prefix, a tag value and a job description (batch/requests.py's rule)."""
    if not is_campaign(raw):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a campaign label ({CAMPAIGN_RULES})")
    return raw


def timestamp(raw: str) -> datetime:
    """`--created-after`: ISO 8601, a date or a time; UTC unless it names its own offset."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO 8601 time (2026-01-31 or 2026-01-31T12:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def priority(raw: str) -> int:
    value = whole(raw)
    if not 0 <= value <= MAX_PRIORITY:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-{MAX_PRIORITY}")
    return value


def whole(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None


def concurrency(raw: str) -> int:
    """`--concurrency`: a whole number within 1-MAX_CONCURRENCY (argparse turns the error into exit 2)."""
    value = whole(raw)
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{value} is outside 1-{MAX_CONCURRENCY}")
    return value


def positive(raw: str) -> int:
    """A whole number of at least 1 (argparse turns the error into exit 2)."""
    value = whole(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


@dataclass(frozen=True)
class Target:
    """An s3:// URI: a bucket (`key` empty), an object, or a prefix (with --recursive)."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"


def parse_target(uri: str, recursive: bool, all_versions: bool) -> Target:
    """The target, or a UsageError saying what is wrong with it in one line."""
    if not uri.startswith("s3://"):
        raise UsageError(f"{uri!r} is not an S3 URI: expected s3://bucket, s3://bucket/key or s3://bucket/prefix/")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not is_valid_bucket_name(bucket):
        raise UsageError(f"{uri!r}: {bucket!r} is not a valid S3 bucket name ({BUCKET_NAME_RULES})")
    if not recursive and key.endswith("/"):
        raise UsageError(f"{uri} ends in '/': add --recursive to take every object under the prefix")
    if not recursive and not key and all_versions:
        raise UsageError("--all-versions needs an object key or --recursive (a bucket's default has no versions)")
    if key and not recursive:
        validate(ObjectRequest(bucket, (key,)))  # the key length limit: InvalidRequest, exit 2
    return Target(bucket, key)
