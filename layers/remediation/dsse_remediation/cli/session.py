"""Settings from the flags over the environment, and the App on the caller's AWS session.

The CLI runs with the caller's credentials (the standard boto3 chain, `--profile`, `--region`), not the Lambdas'
cached clients: the App's client factory is the session's. boto3 honours AWS_ENDPOINT_URL, so it runs against a
local fake too.

`--role-arn` makes the session a role's: STS AssumeRole (with `--external-id`, as `--role-session-name`) on the
caller's session, once per run and before any other call, whichever part of the command asks for the session first.
The assumed credentials are renewed by botocore before they expire (AssumeRole again), so a `backfill --wait` or a
long recursive `fix` outlives the role's session duration. The run then works in the role's account: its ACCOUNT_ID
(and so every ExpectedBucketOwner) is the role's.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import ClientError, ProfileNotFound

from .. import USER_AGENT
from ..aws import clients, errors, fips
from ..config import Settings
from ..exceptions import AwsFailure, ConfigError
from ..model import Clock, utc_now
from ..wiring import App
from .arguments import DEFAULT_SESSION_NAME, UsageError

# STS's Region when neither --region nor the profile names one: each partition's global endpoint Region.
STS_FALLBACK_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}

# `backfill --stack NAME`: the deployed stack's outputs and parameters, as the environment variables they set.
STACK_OUTPUTS = {
    "BatchTaskFunctionAlias": "BATCH_TASK_FUNCTION",
    "BatchJobRoleArn": "BATCH_JOB_ROLE_ARN",
    "ReportBucketName": "REPORT_BUCKET",
}
STACK_PARAMETERS = {
    "DsseKmsKeyArn": "DSSE_KMS_KEY",
    "ProtectedBuckets": "PROTECTED_BUCKETS",
    "ExcludedBuckets": "EXCLUDED_BUCKETS",
    "BucketKeyMap": "BUCKET_KEY_MAP",
    "Mode": "MODE",  # an alert-only stack's jobs are dry runs, and say so
}
# `backfill`'s flags for the stack's parts, and the environment variables they replace.
BATCH_FLAGS = {
    "task_function": "BATCH_TASK_FUNCTION",
    "job_role": "BATCH_JOB_ROLE_ARN",
    "report_bucket": "REPORT_BUCKET",
}


def load_settings(args: argparse.Namespace, environ: Mapping[str, str], fallback_key: str | None = None) -> Settings:
    """The Lambdas' settings, each flag given replacing its environment variable."""
    env = dict(environ)
    for flag, variable in BATCH_FLAGS.items():
        if getattr(args, flag, None):
            env[variable] = getattr(args, flag)
    if getattr(args, "priority", None) is not None:
        env["BATCH_JOB_PRIORITY"] = str(args.priority)
    if args.key:
        env["DSSE_KMS_KEY"] = args.key
    if not env.get("DSSE_KMS_KEY", "").strip():
        if fallback_key is None:
            raise UsageError("no DSSE key: pass --key <key ARN or alias> or set DSSE_KMS_KEY")
        env["DSSE_KMS_KEY"] = fallback_key
    if args.include is not None:
        env["PROTECTED_BUCKETS"] = args.include
    if args.exclude is not None:
        env["EXCLUDED_BUCKETS"] = args.exclude
    if args.bucket_key_map is not None:
        env["BUCKET_KEY_MAP"] = args.bucket_key_map
    if getattr(args, "remediate_restored_archives", False):
        env["REMEDIATE_RESTORED_ARCHIVES"] = "true"
    if getattr(args, "no_alerts", False) or getattr(args, "command", None) in (
        "check",
        "backfill",
    ):  # check only reports: it never alerts
        env.pop("ALERT_TOPIC_ARN", None)
    return Settings.from_env(env)


@dataclass(frozen=True)
class Role:
    """`--role-arn` and its companions, as AssumeRole takes them."""

    arn: str
    session_name: str = DEFAULT_SESSION_NAME
    external_id: str | None = None

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]

    @classmethod
    def of(cls, args: argparse.Namespace) -> Role | None:
        """The role the command line names (its flags checked by `arguments`), or None."""
        if getattr(args, "role_arn", None) is None:
            return None
        return cls(args.role_arn, args.role_session_name or DEFAULT_SESSION_NAME, args.external_id)


def open_session(args: argparse.Namespace) -> boto3.session.Session:
    """The run's session, made once (kept on `args`): the caller's, or with --role-arn the role's."""
    session: boto3.session.Session | None = getattr(args, "aws_session", None)
    if session is None:
        role = Role.of(args)
        try:
            core = botocore.session.Session(profile=args.profile)
            if getattr(args, "fips", False):  # every client of the session, the CLI's own and any other command's
                core.set_config_variable("use_fips_endpoint", True)
            session = boto3.session.Session(botocore_session=core, region_name=args.region)
        except ProfileNotFound as exc:
            raise UsageError(str(exc)) from None
        if role is not None:
            check_fips(args, session, args.region)  # AssumeRole is the run's first call: checked before it
            session = assume(session, role, args.profile, getattr(args, "fips", False))
        args.aws_session = session
    return session


def client_config(pool_size: int = 10, use_fips: bool = False) -> Config:
    """Every CLI client's configuration: the library's retries, the CLI's user agent, a connection pool as large as
    the work runs in parallel (10 to 256); with `--fips`, botocore's FIPS endpoints (use_fips_endpoint). Without it,
    AWS_USE_FIPS_ENDPOINT or the profile's use_fips_endpoint still apply: botocore reads them itself."""
    config = clients.config(f"{USER_AGENT} cli", max(10, min(pool_size, 256)))
    return config.merge(Config(use_fips_endpoint=True)) if use_fips else config


def fips_wanted(args: argparse.Namespace, session: boto3.session.Session | None = None) -> bool:
    """--fips, or botocore's own setting on the session (AWS_USE_FIPS_ENDPOINT, the profile's use_fips_endpoint)."""
    if getattr(args, "fips", False):
        return True
    return fips.fips_on(session._session if session is not None else None)


def check_fips(args: argparse.Namespace, session: boto3.session.Session, region: str | None) -> None:
    """With FIPS endpoints wanted, every service the CLI may call must have one in the Region: refused (UsageError,
    naming them) before any call. The Region: --region, else the session's."""
    if fips_wanted(args, session):
        try:
            fips.require_fips(region or session.region_name)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None


def assume(
    caller: boto3.session.Session, role: Role, profile: str | None = None, use_fips: bool = False
) -> boto3.session.Session:
    """A session on the role's credentials: AssumeRole now (a refusal is one clear error), and again whenever
    botocore finds them close to their expiry. The new session keeps the profile's configuration and Region."""
    sts = caller.client(
        "sts",
        region_name=caller.region_name or STS_FALLBACK_REGION.get(role.partition, "us-east-1"),
        config=client_config(use_fips=use_fips),
    )
    request: dict[str, str] = {"RoleArn": role.arn, "RoleSessionName": role.session_name}
    if role.external_id:
        request["ExternalId"] = role.external_id

    def fetch() -> dict[str, str]:
        try:
            credentials = sts.assume_role(**request)["Credentials"]
        except ClientError as exc:
            failure = errors.failure(exc)
            raise AwsFailure(failure.failure, f"cannot assume {role.arn}: {failure}", failure.code) from None
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "assume-role")
    core = botocore.session.Session(profile=profile)
    if use_fips:
        core.set_config_variable("use_fips_endpoint", True)
    core.register_component("credential_provider", CredentialResolver([_Assumed(credentials)]))
    return boto3.session.Session(botocore_session=core, region_name=caller.region_name)


class _Assumed(CredentialProvider):
    """The one credential provider of a role's session: the assumed, self-renewing credentials."""

    METHOD = "assume-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def stack_environment(args: argparse.Namespace) -> dict[str, str]:
    """`--stack NAME`: the environment variables the stack gives its functions (its outputs for the batch parts,
    its parameters for the key and the scope) and ACCOUNT_ID from the stack's ARN. One DescribeStacks call."""
    session = open_session(args)
    if not session.region_name:
        raise UsageError("no AWS Region for --stack: pass --region or set AWS_REGION")
    check_fips(args, session, session.region_name)
    cloudformation = session.client("cloudformation", config=client_config(use_fips=getattr(args, "fips", False)))
    try:
        [stack] = cloudformation.describe_stacks(StackName=args.stack)["Stacks"]
    except ClientError as exc:
        if errors.code(exc) == "ValidationError":  # CloudFormation's answer for a stack that does not exist
            raise UsageError(f"--stack {args.stack}: {errors.message(exc)}") from None
        raise
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    missing = [name for name in STACK_OUTPUTS if not outputs.get(name)]
    if missing:
        raise UsageError(
            f"stack {args.stack} has no output {', '.join(missing)}: is it a dsse-remediation stack with the batch "
            "parts (version 0.2 or later)? Else pass --task-function, --job-role and --report-bucket"
        )
    env = {variable: outputs[name] for name, variable in STACK_OUTPUTS.items()}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    env |= {variable: parameters[name] for name, variable in STACK_PARAMETERS.items() if name in parameters}
    # The stack excludes its own report bucket from the scope, as its functions' EXCLUDED_BUCKETS does.
    excluded = [p for p in env.get("EXCLUDED_BUCKETS", "").split(",") if p.strip()]
    env["EXCLUDED_BUCKETS"] = ",".join([*excluded, env["REPORT_BUCKET"]])
    env["ACCOUNT_ID"] = stack["StackId"].split(":")[4]
    return env


def connect(
    args: argparse.Namespace,
    settings: Settings,
    pool_size: int,
    on_alert_error: Callable[[Exception], None] | None = None,
    *,
    clock: Clock = utc_now,
    resolve_keys: bool = True,
) -> App:
    """The App on the caller's session (standard retries); the configured key references resolved to ARNs (unless
    `resolve_keys` is False: a command that reads no key); the account: ACCOUNT_ID, else the caller's (STS)."""
    session = open_session(args)
    region = args.region or session.region_name or settings.region or arn_region(settings.key)
    if not region:
        raise UsageError("no AWS Region: pass --region, set AWS_REGION, or give the key as a key ARN")
    settings = dataclasses.replace(settings, region=region)
    if (role := Role.of(args)) is not None:  # the run works in the role's account, whatever ACCOUNT_ID says
        settings = dataclasses.replace(settings, account_id=role.account)
    check_fips(args, session, region)
    config = client_config(pool_size, use_fips=getattr(args, "fips", False))

    def client(service: str, in_region: str | None) -> Any:
        return session.client(service, region_name=in_region, config=config)  # type: ignore[call-overload]

    # The account names the expected owner of every bucket read (the reader-safety gate, S3 Control): ACCOUNT_ID, else
    # the caller's. An acceptance of the reader impact is recorded with who accepted. One GetCallerIdentity at most.
    accepted = getattr(args, "accept_reader_impact", False)
    accepted_by = None
    if accepted or not settings.account_id:
        caller = client("sts", region).get_caller_identity()
        settings = dataclasses.replace(settings, account_id=settings.account_id or caller["Account"])
        accepted_by = f"{caller['Arn']} (dsse-remediate --accept-reader-impact)" if accepted else None
    app = App(settings, client, on_alert_error, clock, accepted_by=accepted_by)
    if resolve_keys:
        app.keys  # noqa: B018 (resolves the configured key references now: a bad one fails before any work)
    return app


def arn_region(reference: str) -> str | None:
    """The Region of an ARN (`arn:<partition>:kms:REGION:...`); None for an alias or a bare key id."""
    parts = reference.split(":")
    return parts[3] if reference.startswith("arn:") and len(parts) > 4 and parts[3] else None
