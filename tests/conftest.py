"""Shared fixtures: fake AWS (moto + the S3 fidelity patches), a DSSE key, an alert inbox, and object snapshots."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dsse_remediation.aws import clients
from dsse_remediation.aws.s3_objects import CONTENT_HEADERS
from dsse_remediation.buckets import BucketRemediator
from dsse_remediation.config import Settings
from dsse_remediation.keyguard import KeyGuard
from dsse_remediation.remediation import ObjectRemediator
from dsse_remediation.wiring import App
from tests import aws_fidelity

REGION = "us-east-1"
EVENTS = Path(__file__).resolve().parent.parent / "events"
PLACEHOLDER_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
PLACEHOLDER_OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/2222bbbb-22bb-22bb-22bb-222222222222"
PLACEHOLDER_KEY_ID = PLACEHOLDER_KEY.rsplit("/", 1)[1]
PLACEHOLDER_OTHER_KEY_ID = PLACEHOLDER_OTHER_KEY.rsplit("/", 1)[1]


def key_ids(dsse_key: str, other_key: str) -> dict[str, str]:
    """load_event replacements: the placeholder key ids (bare, and inside ARNs) for the test's own keys."""
    return {PLACEHOLDER_KEY_ID: dsse_key.rsplit("/", 1)[1], PLACEHOLDER_OTHER_KEY_ID: other_key.rsplit("/", 1)[1]}


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "DsseRemediationTests",
        "POWERTOOLS_SERVICE_NAME": "dsse-remediation",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    # The library caches its clients per process (once per cold start); each test is a fresh cold start, so faults
    # injected into one test's clients never reach the next test.
    clients.client.cache_clear()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(), aws_fidelity.applied():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def kms(aws: None) -> Any:
    return boto3.client("kms", region_name=REGION)


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
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="example-protected-bucket")
    return "example-protected-bucket"


@dataclass
class Inbox:
    """An SQS queue subscribed to the alert topic: what a security channel would receive."""

    sqs: Any
    queue_url: str
    topic_arn: str

    def messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                envelope = json.loads(message["Body"])
                found.append(
                    {
                        "subject": envelope.get("Subject"),
                        "body": json.loads(envelope["Message"]),
                        "attributes": {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
                    }
                )
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def inbox(aws: None) -> Inbox:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="dsse-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="security-channel")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return Inbox(sqs, url, topic)


class CallLog:
    """Records the S3 API calls a client makes (botocore `before-parameter-build` events, one per call)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.calls)

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def calls() -> CallLog:
    return CallLog()


RECORDED = ("s3", "kms", "sqs")  # SNS is the alert inbox's business: its Publish calls are not counted


@dataclass
class Wiring:
    """The composition root as a test builds it: the test's settings, and fresh clients whose calls are recorded."""

    dsse_key: str
    inbox: Inbox
    calls: CallLog

    def settings(self, **overrides: Any) -> Settings:
        defaults = {
            "key": self.dsse_key,
            "alert_topic_arn": self.inbox.topic_arn,
            "account_id": "123456789012",
            "object_queue_url": self.object_queue_url,
        }
        return Settings(**(defaults | {"region": REGION} | overrides))

    @property
    def object_queue_url(self) -> str:
        """The object queue a sweep feeds (created on first use)."""
        sqs = boto3.client("sqs", region_name=REGION)
        url: str = sqs.create_queue(QueueName="object-events")["QueueUrl"]
        return url

    def client(self, service: str, region: str | None = None) -> Any:
        client = boto3.client(service, region_name=region or REGION)
        if service in RECORDED:
            client.meta.events.register(f"before-parameter-build.{service}", self.calls)
        return client

    def app(self, **overrides: Any) -> App:
        return App(self.settings(**overrides), self.client)


@pytest.fixture
def wiring(dsse_key: str, inbox: Inbox, calls: CallLog) -> Wiring:
    return Wiring(dsse_key, inbox, calls)


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


@dataclass(frozen=True)
class Snapshot:
    """Everything of an object that remediation must keep, plus its encryption."""

    sha256: str
    metadata: dict[str, str]
    content: dict[str, Any]
    tags: dict[str, str]
    storage_class: str
    website_redirect: str | None
    grants: tuple[tuple[str, str], ...]
    encryption: str | None
    kms_key_id: str | None
    version_id: str | None

    def kept(self) -> dict[str, Any]:
        """The fields that must survive remediation unchanged."""
        return {
            "sha256": self.sha256,
            "metadata": self.metadata,
            "content": self.content,
            "tags": self.tags,
            "storage_class": self.storage_class,
            "website_redirect": self.website_redirect,
        }


def snapshot(s3: Any, bucket: str, key: str, version_id: str | None = None) -> Snapshot:
    extra = {"VersionId": version_id} if version_id else {}
    obj = s3.get_object(Bucket=bucket, Key=key, **extra)
    body = obj["Body"].read()
    tags = s3.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"]
    acl = s3.get_object_acl(Bucket=bucket, Key=key, **extra)
    grants = tuple(
        sorted(
            (g["Permission"], g["Grantee"].get("ID") or g["Grantee"].get("URI") or "") for g in acl.get("Grants", [])
        )
    )
    return Snapshot(
        sha256=hashlib.sha256(body).hexdigest(),
        metadata=dict(obj.get("Metadata", {})),
        content={f: obj[f] for f in CONTENT_HEADERS if obj.get(f) is not None},
        tags={t["Key"]: t["Value"] for t in tags},
        storage_class=obj.get("StorageClass", "STANDARD"),
        website_redirect=obj.get("WebsiteRedirectLocation"),
        grants=grants,
        encryption=obj.get("ServerSideEncryption"),
        kms_key_id=obj.get("SSEKMSKeyId"),
        version_id=obj.get("VersionId"),
    )


def load_event(name: str, **replacements: str) -> Any:
    """An events/ sample, with placeholder values (key ARNs, bucket names) swapped for the test's own."""
    text = (EVENTS / name).read_text(encoding="utf-8")
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


class _ErrorResponse:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""


def inject_error(client: Any, operation: str, code: str, status: int, times: int = 1) -> None:
    """Make `client`'s next `times` `operation` calls fail as AWS would, for errors moto cannot produce.

    A `before-call` handler that answers short-circuits the request; `CallLog` counts at
    `before-parameter-build`, so the call is still counted.
    """
    remaining = [times]

    def handler(**_: Any) -> Any:
        if remaining[0] <= 0:
            return None
        remaining[0] -= 1
        error = {"Code": code, "Message": f"injected {code}"}
        return _ErrorResponse(status), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}

    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", handler)
