"""boto3 clients, created once per process (cold start) and reused by every invocation."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from .. import USER_AGENT

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# "standard" retries: exponential backoff with jitter on throttling and transient errors, 6 attempts in all (the first
# call and 5 retries). `total_max_attempts` counts the first call; `max_attempts` would count retries only.
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
TOTAL_ATTEMPTS = 6


def config(user_agent_extra: str = USER_AGENT, max_pool_connections: int = 64) -> Config:
    """Every client's configuration: the Lambdas' (below) and the CLI's (its own user agent and pool size)."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
        user_agent_extra=user_agent_extra,
        max_pool_connections=max_pool_connections,
    )


_CONFIG = config()


@functools.cache
def client(service: str, region: str | None = None) -> Any:
    return boto3.session.Session().client(service, region_name=region, config=_CONFIG)  # type: ignore[call-overload]


def s3(region: str | None = None) -> S3Client:
    return client("s3", region)  # type: ignore[no-any-return]


def kms(region: str | None = None) -> KMSClient:
    return client("kms", region)  # type: ignore[no-any-return]


def sns(region: str | None = None) -> SNSClient:
    return client("sns", region)  # type: ignore[no-any-return]


def sqs(region: str | None = None) -> SQSClient:
    return client("sqs", region)  # type: ignore[no-any-return]
