"""Settings read once, at cold start, from the environment variables that template.yaml sets.

A bad value raises `ConfigError` naming the variable, what it holds and what was expected, so a broken
deployment fails on its first invocation with a message that says how to fix it.

`Settings` holds what every path reads (the key, the scope, the mode, the event paths' switches) and one part per
capability, each reading its own variables: `BatchSettings` (the batch path: backfill, backstop, job summaries),
`ResultSharing` (forwarding results and Security Hub findings to the security account), `CanarySettings` (the
canary's bucket and SLO) and `PostureSettings` (the scheduled posture's sample and Athena names). A part reads only
its part.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .exceptions import ConfigError
from .scope import Scope

GIB = 1024**3
MIB = 1024**2
# CopyObject copies at most 5 GB in one request; larger objects need a multipart copy.
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
MAX_SINGLE_COPY_BYTES = 5 * GIB
# UploadPartCopy parts are 5 MiB to 5 GiB, at most 10,000 of them.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
MIN_PART_BYTES = 5 * MIB
MAX_PARTS = 10_000
# A Batch Operations job's Priority: a non-negative 32-bit integer, higher runs first (API_control_CreateJob).
MAX_JOB_PRIORITY = 2_147_483_647

# Each pattern is matched against the whole value (`fullmatch`) with `re.ASCII`: Python's `$` also matches before a
# trailing newline, and its `\d` / `\w` take any Unicode digit or letter, where AWS identifiers are ASCII.
_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+", re.ASCII)
_ALIAS_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias/[A-Za-z0-9/_-]+", re.ASCII)
_ALIAS = re.compile(r"alias/[A-Za-z0-9/_-]+", re.ASCII)
_KEY_ID = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", re.ASCII)  # standard topics only
# An IAM role ARN: path optional (IAM paths are at most 512 characters, "/" or "/.../" of ASCII printables), role
# names 1-64 of [A-Za-z0-9+=,.@_-]; within what STS AssumeRole and s3control CreateJob take as RoleArn (2,048).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns ,
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html
_ROLE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[!-~]{0,510}/)?[\w+=,.@-]{1,64}", re.ASCII)
ROLE_NAME_RULES = "a role name is 1-64 ASCII letters, digits and +=,.@_-"


class Mode(StrEnum):
    REMEDIATE = "remediate"
    ALERT_ONLY = "alert-only"


def is_key_arn(value: str) -> bool:
    return bool(_KEY_ARN.fullmatch(value))


def is_role_arn(value: str) -> bool:
    """An IAM role's ARN, as STS AssumeRole and S3 Batch Operations CreateJob take one."""
    return bool(_ROLE_ARN.fullmatch(value))


def _check_key_reference(variable: str, value: str) -> str:
    """The value itself, checked as it will be used (from_env strips the variable first; nothing else does)."""
    if any(pattern.fullmatch(value) for pattern in (_KEY_ARN, _ALIAS_ARN, _ALIAS, _KEY_ID)):
        return value
    raise ConfigError(
        f"{variable}={value!r} is not a KMS key reference: expected a key ARN "
        "(arn:<partition>:kms:<region>:<account>:key/<id>), an alias (alias/<name>), an alias ARN or a key id"
    )


@dataclass(frozen=True)
class JobSettings:
    """What every S3 Batch Operations job is created with, each present (`BatchSettings.for_jobs`)."""

    function: str
    role_arn: str
    report_bucket: str
    account_id: str

    @property
    def partition(self) -> str:
        return self.role_arn.split(":")[1]  # aws, aws-cn, aws-us-gov: S3 ARNs must use the same

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"


@dataclass(frozen=True)
class BatchSettings:
    """Backfill and backstop on S3 Batch Operations: what the batch jobs function and the CLI's `backfill` read."""

    task_function: str | None = None  # the task function's alias ARN; each job pins the version it points to
    job_role_arn: str | None = None  # the role Batch Operations assumes (trusts batchoperations.s3.amazonaws.com)
    report_bucket: str | None = None  # completion reports, generated manifests, the backstop's last-run record
    job_priority: int = 10
    # DSSE-KMS objects under any key are read too (S3 Inventory names no key; the manifest generator's DSSEKMS filter
    # takes none): the DSSEKMS job of a window, the DSSE-KMS rows of an inventory. One task and one HEAD each.
    backstop_include_dsse_other_keys: bool = False
    backstop_lookback_hours: int = 25  # the first backstop run's CreatedAfter window (no last run recorded yet)
    backstop_listing_limit: int = 10_000  # objects the backstop may list to see whether a bucket had writes

    def __post_init__(self) -> None:
        if not 0 <= self.job_priority <= MAX_JOB_PRIORITY:
            raise ConfigError(f"BATCH_JOB_PRIORITY={self.job_priority} must be between 0 and {MAX_JOB_PRIORITY}")
        if not 1 <= self.backstop_lookback_hours <= 24 * 366:
            raise ConfigError(f"BACKSTOP_LOOKBACK_HOURS={self.backstop_lookback_hours} must be between 1 and 8784")
        if not 0 <= self.backstop_listing_limit <= 1_000_000:
            raise ConfigError(f"BACKSTOP_LISTING_LIMIT={self.backstop_listing_limit} must be between 0 and 1000000")
        role = self.job_role_arn
        if role is not None and not is_role_arn(role):
            raise ConfigError(
                f"BATCH_JOB_ROLE_ARN={role!r} is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>; "
                f"{ROLE_NAME_RULES})"
            )

    def for_jobs(self, account_id: str | None) -> JobSettings:
        """The settings every job needs, or one ConfigError naming each missing variable."""
        wanted = {
            "BATCH_TASK_FUNCTION (the task function's alias ARN, stack output BatchTaskFunctionAlias)": (
                self.task_function
            ),
            "BATCH_JOB_ROLE_ARN (the role Batch Operations assumes, stack output BatchJobRoleArn)": self.job_role_arn,
            "REPORT_BUCKET (completion reports and manifests, stack output ReportBucket)": self.report_bucket,
            "ACCOUNT_ID (the account that owns the jobs and the buckets)": account_id,
        }
        missing = [name for name, value in wanted.items() if not value]
        if missing:
            raise ConfigError("S3 Batch Operations jobs need settings that are not set: " + "; ".join(missing))
        function, role, reports = self.task_function or "", self.job_role_arn or "", self.report_bucket or ""
        return JobSettings(function, role, reports, account_id or "")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BatchSettings:
        return cls(
            task_function=env.get("BATCH_TASK_FUNCTION", "").strip() or None,
            job_role_arn=env.get("BATCH_JOB_ROLE_ARN", "").strip() or None,
            report_bucket=env.get("REPORT_BUCKET", "").strip() or None,
            job_priority=_parse_int("BATCH_JOB_PRIORITY", env, 10),
            backstop_include_dsse_other_keys=_parse_bool(
                "BACKSTOP_INCLUDE_DSSE_OTHER_KEYS", env.get("BACKSTOP_INCLUDE_DSSE_OTHER_KEYS", "false")
            ),
            backstop_lookback_hours=_parse_int("BACKSTOP_LOOKBACK_HOURS", env, 25),
            backstop_listing_limit=_parse_int("BACKSTOP_LISTING_LIMIT", env, 10_000),
        )


@dataclass(frozen=True)
class ResultSharing:
    """Organizations (the member stack): every alert also goes to the account's default bus as an event, which the
    stack's forwarding rule sends to the security account (SecurityBusArn); object and bucket results become or
    resolve Security Hub findings. Both need the account id (Settings checks it)."""

    forward_results: bool = False
    security_hub_findings: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ResultSharing:
        return cls(
            forward_results=_parse_bool("FORWARD_RESULTS", env.get("FORWARD_RESULTS", "false")),
            security_hub_findings=_parse_bool("SECURITY_HUB_FINDINGS", env.get("SECURITY_HUB_FINDINGS", "false")),
        )


CANARY_PREFIX = "canary/"  # the one prefix the canary writes, reads and deletes under (template.yaml grants only it)


@dataclass(frozen=True)
class CanarySettings:
    """The canary (canary.py): the stack-owned bucket it writes to (CANARY_BUCKET; None: no canary), and how long
    the event path may take to make its write DSSE-KMS (CANARY_SLO_SECONDS). The object function reads the bucket
    too: it is in its scope (Settings.from_env admits it, though the stack excludes it for every other path), and its
    remediated canary objects are routine, not news (no alert, no finding)."""

    bucket: str | None = None
    slo_seconds: int = 300

    def __post_init__(self) -> None:
        if not 1 <= self.slo_seconds <= 86_400:
            raise ConfigError(
                f"CANARY_SLO_SECONDS={self.slo_seconds} must be between 1 and 86400: the canary bucket's lifecycle "
                "expires a canary object after a day"
            )

    def owns(self, bucket: str, key: str) -> bool:
        """An object the canary wrote: under its prefix in its bucket."""
        return self.bucket is not None and bucket == self.bucket and key.startswith(CANARY_PREFIX)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CanarySettings:
        return cls(
            bucket=env.get("CANARY_BUCKET", "").strip() or None,
            slo_seconds=_parse_int("CANARY_SLO_SECONDS", env, 300),
        )


# The scheduled posture (posture_run.py): how many DSSE-KMS rows of an inventory it reads with HeadObject per bucket.
POSTURE_SAMPLE_DEFAULT = 100
POSTURE_SAMPLE_MAX = 100_000


@dataclass(frozen=True)
class PostureSettings:
    """The scheduled posture (the batch jobs function, posture_run.py): the DSSE-KMS rows of each bucket's inventory
    read with HeadObject (`sample_size`, POSTURE_SAMPLE_SIZE; 0 reads every one), and the Athena workgroup and Glue
    database (POSTURE_ATHENA_WORKGROUP, POSTURE_GLUE_DATABASE) a report too large for one invocation is queried with
    (None: such a report is reported as not measured)."""

    sample_size: int = POSTURE_SAMPLE_DEFAULT
    athena_workgroup: str | None = None
    glue_database: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.sample_size <= POSTURE_SAMPLE_MAX:
            raise ConfigError(
                f"POSTURE_SAMPLE_SIZE={self.sample_size} must be between 0 (every DSSE-KMS row) and "
                f"{POSTURE_SAMPLE_MAX}"
            )
        if bool(self.athena_workgroup) != bool(self.glue_database):
            raise ConfigError(
                "POSTURE_ATHENA_WORKGROUP and POSTURE_GLUE_DATABASE go together: Athena's queries need both "
                "(template.yaml PostureWorkGroup and PostureDatabase)"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PostureSettings:
        return cls(
            sample_size=_parse_int("POSTURE_SAMPLE_SIZE", env, POSTURE_SAMPLE_DEFAULT),
            athena_workgroup=env.get("POSTURE_ATHENA_WORKGROUP", "").strip() or None,
            glue_database=env.get("POSTURE_GLUE_DATABASE", "").strip() or None,
        )


@dataclass(frozen=True)
class Settings:
    key: str  # default DSSE key: key ARN, alias, alias ARN or key id (resolved to an ARN by KeyRing)
    scope: Scope = field(default_factory=Scope)
    bucket_keys: tuple[tuple[str, str], ...] = ()  # (bucket pattern, key reference), first match wins
    mode: Mode = Mode.REMEDIATE
    multipart_threshold: int = MAX_SINGLE_COPY_BYTES
    part_size: int = 512 * MIB
    copy_concurrency: int = 8
    purge_noncurrent: bool = False
    alert_topic_arn: str | None = None
    encryption_context: Mapping[str, str] | None = None
    account_id: str | None = None
    region: str | None = None
    prevention_policy: bool = False  # bucket path: add the deny-other-encryption bucket policy statements
    sweep_after_reset: bool = False  # bucket path: queue the bucket's objects for remediation after a reset
    sweep_max_objects: int = 1000
    object_queue_url: str | None = None  # the object queue, where a sweep queues its steps and its objects
    key_guard_revert: bool = False  # key path: undo DisableKey, ScheduleKeyDeletion, DisableKeyRotation
    # Remediating a restored GLACIER / DEEP_ARCHIVE object writes a new version in the archive class, which ends the
    # restore a reader asked for: only with this opt-in.
    remediate_restored_archives: bool = False
    # Buckets whose owners accepted that converting them breaks a reader or a writer (the stack parameter
    # AcceptReaderImpactBuckets; the gate also reads the bucket tag dsse-remediation:accept-reader-impact).
    accept_reader_impact: tuple[str, ...] = ()
    batch: BatchSettings = field(default_factory=BatchSettings)  # the batch path's part (Completions reads only it)
    sharing: ResultSharing = field(default_factory=ResultSharing)
    canary: CanarySettings = field(default_factory=CanarySettings)
    posture: PostureSettings = field(default_factory=PostureSettings)

    def __post_init__(self) -> None:
        _check_key_reference("DSSE_KMS_KEY", self.key)
        for pattern, key in self.bucket_keys:
            _check_key_reference(f"BUCKET_KEY_MAP[{pattern!r}]", key)
        if not MIN_PART_BYTES <= self.part_size <= MAX_SINGLE_COPY_BYTES:
            raise ConfigError(
                f"MULTIPART_PART_SIZE_BYTES={self.part_size} is outside S3's part size limits "
                f"({MIN_PART_BYTES}..{MAX_SINGLE_COPY_BYTES})"
            )
        if not 1 <= self.multipart_threshold <= MAX_SINGLE_COPY_BYTES:
            raise ConfigError(
                f"MULTIPART_THRESHOLD_BYTES={self.multipart_threshold} must be between 1 and "
                f"{MAX_SINGLE_COPY_BYTES} (CopyObject's 5 GiB limit)"
            )
        if not 1 <= self.sweep_max_objects <= 1_000_000:
            raise ConfigError(
                f"SWEEP_MAX_OBJECTS={self.sweep_max_objects} must be between 1 and 1000000; larger buckets are for "
                "the bulk backfill (S3 Batch Operations)"
            )
        if self.sweep_after_reset and not self.object_queue_url:
            raise ConfigError(
                "SWEEP_AFTER_BUCKET_RESET=true needs OBJECT_QUEUE_URL: the sweep queues the bucket's objects there"
            )
        if not 1 <= self.copy_concurrency <= 64:
            raise ConfigError(f"COPY_CONCURRENCY={self.copy_concurrency} must be between 1 and 64")
        sharing = self.sharing
        reports = {"FORWARD_RESULTS": sharing.forward_results, "SECURITY_HUB_FINDINGS": sharing.security_hub_findings}
        for variable, on in reports.items():
            if on and not self.account_id:
                raise ConfigError(
                    f"{variable}=true needs ACCOUNT_ID: the security account tells member accounts apart by it (and a "
                    "finding names its account)"
                )
        if self.alert_topic_arn is not None and not _TOPIC_ARN.fullmatch(self.alert_topic_arn):
            raise ConfigError(
                f"ALERT_TOPIC_ARN={self.alert_topic_arn!r} is not a standard SNS topic ARN (FIFO topics would need a "
                "message group id per alert)"
            )

    def key_for(self, bucket: str) -> str:
        """The key reference configured for this bucket: the first matching BUCKET_KEY_MAP entry, else the default."""
        for pattern, key in self.bucket_keys:
            if Scope.matches(pattern, bucket):
                return key
        return self.key

    def buckets_using(self, reference: str) -> list[str]:
        """The bucket scopes the configuration protects with this key reference, for humans to read."""
        scopes = [f"buckets matching {pattern}" for pattern, key in self.bucket_keys if key == reference]
        if reference == self.key:
            mapped = [pattern for pattern, _ in self.bucket_keys]
            rest = f" (except {', '.join(mapped)})" if mapped else ""
            scopes.append(f"every protected bucket: {self.scope.describe()}{rest}")
        return scopes

    @property
    def key_references(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.key, *(key for _, key in self.bucket_keys)]))

    @property
    def encryption_context_header(self) -> str | None:
        """`SSEKMSEncryptionContext` is a base64-encoded UTF-8 JSON object."""
        if not self.encryption_context:
            return None
        raw = json.dumps(dict(self.encryption_context), separators=(",", ":"), sort_keys=True)
        return base64.b64encode(raw.encode()).decode()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        key = env.get("DSSE_KMS_KEY", "").strip()
        if not key:
            raise ConfigError("DSSE_KMS_KEY is not set: give the DSSE KMS key ARN (or alias) to enforce")
        topic = env.get("ALERT_TOPIC_ARN", "").strip() or None
        bucket_keys = parse_bucket_key_map(env.get("BUCKET_KEY_MAP", ""))
        scope = Scope.parse(env.get("PROTECTED_BUCKETS", "*"), env.get("EXCLUDED_BUCKETS", ""))
        canary = CanarySettings.from_env(env)
        if canary.bucket:  # the canary's writes are the object path's to fix (template.yaml: set there only)
            scope = scope.admitting(canary.bucket)
        return cls(
            key=key,
            scope=scope,
            bucket_keys=bucket_keys,
            mode=_parse_enum("MODE", env.get("MODE", Mode.REMEDIATE.value), Mode),
            multipart_threshold=_parse_int("MULTIPART_THRESHOLD_BYTES", env, MAX_SINGLE_COPY_BYTES),
            part_size=_parse_int("MULTIPART_PART_SIZE_BYTES", env, 512 * MIB),
            copy_concurrency=_parse_int("COPY_CONCURRENCY", env, 8),
            purge_noncurrent=_parse_bool("PURGE_NONCURRENT_VERSIONS", env.get("PURGE_NONCURRENT_VERSIONS", "false")),
            alert_topic_arn=topic,
            encryption_context=_parse_string_map(
                "ENCRYPTION_CONTEXT", env.get("ENCRYPTION_CONTEXT", ""), '{"purpose": "archive"}'
            ),
            account_id=env.get("ACCOUNT_ID") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            prevention_policy=_parse_bool("PREVENTION_POLICY", env.get("PREVENTION_POLICY", "false")),
            sweep_after_reset=_parse_bool("SWEEP_AFTER_BUCKET_RESET", env.get("SWEEP_AFTER_BUCKET_RESET", "false")),
            sweep_max_objects=_parse_int("SWEEP_MAX_OBJECTS", env, 1000),
            object_queue_url=env.get("OBJECT_QUEUE_URL", "").strip() or None,
            key_guard_revert=_parse_bool("KEY_GUARD_REVERT", env.get("KEY_GUARD_REVERT", "false")),
            remediate_restored_archives=_parse_bool(
                "REMEDIATE_RESTORED_ARCHIVES", env.get("REMEDIATE_RESTORED_ARCHIVES", "false")
            ),
            accept_reader_impact=parse_accepted(env.get("ACCEPT_READER_IMPACT", "")),
            batch=BatchSettings.from_env(env),
            sharing=ResultSharing.from_env(env),
            canary=canary,
            posture=PostureSettings.from_env(env),
        )


def parse_accepted(raw: str) -> tuple[str, ...]:
    """`ACCEPT_READER_IMPACT`: bucket names or patterns, comma-separated (the scope's pattern rules); empty: none."""
    if not raw.strip():
        return ()
    return Scope.parse(raw, "", variable="ACCEPT_READER_IMPACT").include


def parse_bucket_key_map(raw: str) -> tuple[tuple[str, str], ...]:
    """`BUCKET_KEY_MAP`: "pattern=keyArn,pattern=keyArn" (the template's BucketKeyMap list), in order; first match wins.

    Key ARNs only: the template grants KMS use on exactly these ARNs and the object rule compares them with the key
    ARN CloudTrail logs, so an alias here could never match.
    """
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        pattern, sep, key = (side.strip() for side in item.partition("="))
        if not sep or not pattern or not key:
            raise ConfigError(
                f"BUCKET_KEY_MAP entry {item!r} is not pattern=keyArn (e.g. finance-*=arn:<partition>:kms:...)"
            )
        Scope.parse(pattern, "", variable=f"BUCKET_KEY_MAP[{pattern!r}]")
        if not is_key_arn(key):
            raise ConfigError(
                f"BUCKET_KEY_MAP[{pattern!r}]={key!r} is not a key ARN "
                "(arn:<partition>:kms:<region>:<account>:key/<id>)"
            )
        pairs.append((pattern, key))
    return tuple(pairs)


def _parse_enum(variable: str, raw: str, enum: type[Mode]) -> Mode:
    try:
        return enum(raw.strip())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ConfigError(f"{variable}={raw!r} is not one of: {allowed}") from None


def _parse_int(variable: str, env: Mapping[str, str], default: int) -> int:
    raw = env.get(variable, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{variable}={raw!r} is not a whole number") from None


def _parse_bool(variable: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"{variable}={raw!r} is not a boolean (true or false)")


def _parse_string_map(variable: str, raw: str, example: str) -> dict[str, str] | None:
    """A JSON object of strings, e.g. `BUCKET_KEY_MAP` or `ENCRYPTION_CONTEXT`; None when unset. Order is kept."""
    if not raw.strip():
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{variable} is not valid JSON ({exc.msg}): expected {example}") from None
    if not isinstance(parsed, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
        raise ConfigError(f"{variable} must be a JSON object of strings: {example}")
    return parsed
