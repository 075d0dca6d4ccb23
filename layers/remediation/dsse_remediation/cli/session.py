"""Settings from the flags over the environment, and the App on the caller's AWS session.

The CLI runs with the caller's credentials (the standard boto3 chain, `--profile`, `--region`), not the Lambdas'
cached clients: the App's client factory is the session's. boto3 honours AWS_ENDPOINT_URL, so it runs against a
local fake too.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.exceptions import ProfileNotFound

from .. import USER_AGENT
from ..aws import clients
from ..config import Settings
from ..wiring import App
from .arguments import UsageError


def load_settings(args: argparse.Namespace, environ: Mapping[str, str], fallback_key: str | None = None) -> Settings:
    """The Lambdas' settings, each flag given replacing its environment variable."""
    env = dict(environ)
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
    if args.no_alerts or getattr(args, "command", None) == "check":  # check only reports: it never alerts
        env.pop("ALERT_TOPIC_ARN", None)
    return Settings.from_env(env)


def connect(
    args: argparse.Namespace,
    settings: Settings,
    pool_size: int,
    on_alert_error: Callable[[Exception], None] | None = None,
) -> App:
    """The App on the caller's session (standard retries); the configured key references resolved to ARNs."""
    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound as exc:
        raise UsageError(str(exc)) from None
    region = args.region or session.region_name or settings.region or arn_region(settings.key)
    if not region:
        raise UsageError("no AWS Region: pass --region, set AWS_REGION, or give the key as a key ARN")
    settings = dataclasses.replace(settings, region=region)
    config = clients.config(f"{USER_AGENT} cli", max(10, min(pool_size, 256)))

    def client(service: str, in_region: str | None) -> Any:
        return session.client(service, region_name=in_region, config=config)  # type: ignore[call-overload]

    app = App(settings, client, on_alert_error)
    app.keys  # noqa: B018 (resolves the configured key references now: a bad one fails before any work)
    return app


def arn_region(reference: str) -> str | None:
    """The Region of an ARN (`arn:aws:kms:REGION:...`); None for an alias or a bare key id."""
    parts = reference.split(":")
    return parts[3] if reference.startswith("arn:") and len(parts) > 4 and parts[3] else None
