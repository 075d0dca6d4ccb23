"""Shared fixtures: fake AWS (moto + the S3 fidelity patches), a DSSE key, an alert inbox, and the composition root on
recorded clients. What tests share besides fixtures is in tests/helpers.py."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from dsse_remediation.aws import clients
from dsse_remediation.buckets import BucketRemediator
from dsse_remediation.keyguard import KeyGuard
from dsse_remediation.remediation import ObjectRemediator
from tests import aws_fidelity
from tests.clock import PinnedClock, travelled
from tests.helpers import AWS_UNSET, FAKE_AWS_ENV, REGION, CallLog, Inbox, Wiring, create_bucket, tested_partitions

_TRAVEL = pytest.StashKey[AbstractContextManager[float]]()
_TRAVEL_NOTE = pytest.StashKey[str]()


@pytest.fixture(autouse=True, scope="session")
def _service_models_read_once() -> Iterator[None]:
    """botocore parses a service's JSON models once per botocore session, and every test makes new sessions (moto
    resets boto3's default session; the library's clients are a new cold start per test): one loader per data path,
    shared, parses each model once per process instead, about a third of a fake-AWS test's setup. The models are
    read-only data; what clients send and how moto answers is unchanged."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", functools.cache(botocore.loaders.create_loader))
        yield


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.all_partitions`: the test once per partition (tests/helpers.py tested_partitions), through the
    `region` fixture it uses: its fake AWS, its clients, the functions' AWS_REGION and the ARNs moto makes, all in
    that Region's partition."""
    if metafunc.definition.get_closest_marker("all_partitions") and "region" in metafunc.fixturenames:
        partitions = tested_partitions()
        metafunc.parametrize("region", list(partitions.values()), indirect=True, ids=list(partitions))


def pytest_configure(config: pytest.Config) -> None:
    """DSSE_TEST_TIME_TRAVEL=<days>: the whole run, collection included, that far in the future (tests/clock.py)."""
    config.addinivalue_line(
        "markers", "all_partitions: run once per partition (us-east-1, us-gov-west-1, cn-north-1) via `region`"
    )
    config.stash[_TRAVEL] = travelled()
    days = config.stash[_TRAVEL].__enter__()
    if days:
        config.stash[_TRAVEL_NOTE] = f"clock {days:g} days ahead, TZ={os.environ.get('TZ', '(unset)')}"


def pytest_report_header(config: pytest.Config) -> str | None:
    return config.stash.get(_TRAVEL_NOTE, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _TRAVEL in config.stash:
        config.stash[_TRAVEL].__exit__(None, None, None)


@pytest.fixture
def clock() -> PinnedClock:
    """A clock pinned at tests.clock.PINNED, for the tests that check a date the product writes."""
    return PinnedClock()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in AWS_UNSET:
        monkeypatch.delenv(name, raising=False)
    # The library caches its clients per process (once per cold start); each test is a fresh cold start, so faults
    # injected into one test's clients never reach the next test.
    clients.client.cache_clear()


@pytest.fixture
def region(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Region the test's fake AWS and the functions work in: us-east-1, or each partition's under
    `all_partitions`. AWS_REGION follows it, as a function's does."""
    chosen: str = getattr(request, "param", REGION)
    monkeypatch.setenv("AWS_REGION", chosen)
    monkeypatch.setenv("AWS_DEFAULT_REGION", chosen)
    return chosen


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(), aws_fidelity.applied():
        yield


@pytest.fixture
def s3(aws: None, region: str) -> Any:
    return boto3.client("s3", region_name=region)


@pytest.fixture
def kms(aws: None, region: str) -> Any:
    return boto3.client("kms", region_name=region)


@pytest.fixture
def dsse_key(kms: Any) -> str:
    arn: str = kms.create_key(Description="DSSE key under test")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/dsse-test", TargetKeyId=arn)
    return arn


@pytest.fixture
def other_key(kms: Any) -> str:
    arn: str = kms.create_key(Description="some team's SSE-KMS key")["KeyMetadata"]["Arn"]
    return arn


@pytest.fixture
def bucket(s3: Any, region: str) -> str:
    create_bucket(s3, "example-protected-bucket", region)
    return "example-protected-bucket"


@pytest.fixture
def inbox(aws: None, region: str) -> Inbox:
    sns = boto3.client("sns", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    topic = sns.create_topic(Name="dsse-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="security-channel")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return Inbox(sqs, url, topic)


@pytest.fixture
def calls() -> CallLog:
    return CallLog()


@pytest.fixture
def wiring(dsse_key: str, inbox: Inbox, calls: CallLog, region: str) -> Wiring:
    return Wiring(dsse_key, inbox.topic_arn, calls, region=region)


@pytest.fixture
def make_remediator(s3: Any, wiring: Wiring) -> Callable[..., ObjectRemediator]:
    """An ObjectRemediator on fresh clients whose calls are counted; settings overridable per test."""
    return lambda **overrides: wiring.app(**overrides).objects


@pytest.fixture
def make_bucket_remediator(s3: Any, wiring: Wiring) -> Callable[..., BucketRemediator]:
    """A BucketRemediator (with its sweep when `sweep_after_reset=True`) on fresh clients whose calls are counted."""
    return lambda **overrides: wiring.app(**overrides).buckets


@pytest.fixture
def make_key_guard(kms: Any, wiring: Wiring) -> Callable[..., KeyGuard]:
    return lambda **overrides: wiring.app(**overrides).key_guard
