"""What the tests share besides fixtures (those stay in conftest.py): the sample events and their placeholders, the
object every test writes, snapshots of what remediation must keep, Lambda-shaped inputs, call recording and injected
AWS answers. Nothing here starts fake AWS: tests/unit may import all of it."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from dsse_remediation.aws.bucket_access import OPERATIONS
from dsse_remediation.aws.s3_objects import CONTENT_HEADERS
from dsse_remediation.config import BatchSettings, ResultSharing, Settings
from dsse_remediation.model import Trigger
from dsse_remediation.wiring import App
from tests.lambda_context import LambdaContext

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
EVENTS = Path(__file__).resolve().parent.parent / "events"
# The keys the events/ samples name; a test on fake AWS swaps them for its own keys (`key_ids`).
PLACEHOLDER_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111"
PLACEHOLDER_OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/2222bbbb-22bb-22bb-22bb-222222222222"
PLACEHOLDER_KEY_ID = PLACEHOLDER_KEY.rsplit("/", 1)[1]
PLACEHOLDER_OTHER_KEY_ID = PLACEHOLDER_OTHER_KEY.rsplit("/", 1)[1]
PLACEHOLDER_TOPIC = "arn:aws:sns:us-east-1:123456789012:dsse-alerts"
PLACEHOLDER_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/object-events"
OBJECT_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:dsse-remediation-object-events"
# The environment every test runs in: fake credentials (nothing can reach a real account) and Powertools switched to
# what a test can read. AWS_UNSET would send clients to a real account or another endpoint.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "DsseRemediationTests",
    "POWERTOOLS_SERVICE_NAME": "dsse-remediation",
}
AWS_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_USE_FIPS_ENDPOINT")  # FIPS: tests/unit/test_fips.py sets it


# --- events ---------------------------------------------------------------------------------------------------------


def load_event(name: str, **replacements: str) -> Any:
    """An events/ sample, with placeholder values (key ARNs, bucket names) swapped for the test's own."""
    text = (EVENTS / name).read_text(encoding="utf-8")
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


def key_ids(dsse_key: str, other_key: str) -> dict[str, str]:
    """load_event replacements: the placeholder keys (whole ARNs first, then bare ids) for the test's own keys, and,
    for keys of another Region or partition, the samples' Region and KMS host for the key's (a CloudTrail event names
    the Region it happened in)."""
    replacements = {
        PLACEHOLDER_KEY: dsse_key,
        PLACEHOLDER_OTHER_KEY: other_key,
        PLACEHOLDER_KEY_ID: dsse_key.rsplit("/", 1)[1],
        PLACEHOLDER_OTHER_KEY_ID: other_key.rsplit("/", 1)[1],
    }
    region = dsse_key.split(":")[3]
    if region != REGION:
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        replacements[f"kms.{REGION}.amazonaws.com"] = f"kms.{region}.{suffix}"
        replacements[f'"{REGION}"'] = f'"{region}"'
    return replacements


# A CloudTrail PutObject as the parser reads it: who wrote the object, from where, when (what an alert attributes).
WRITER = Trigger(
    source="cloudtrail",
    event_name="PutObject",
    event_id="8d6c1a4e-6f0f-4a59-9a9e-3b4b8e0d7a11",
    event_time="2026-11-20T09:15:02Z",
    actor="arn:aws:sts::123456789012:assumed-role/data-pipeline/ingest-job",
    source_ip="198.51.100.23",
)


def tls_only(bucket: str) -> dict[str, Any]:
    """A bucket policy statement that is not ours (deny plain HTTP): merging the prevention statements keeps it."""
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def sqs_record(body: str, message_id: str, receive_count: int = 1) -> dict[str, Any]:
    """One record of an SQS batch as Lambda's event source mapping delivers it."""
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1795166103843",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1795166103902",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": OBJECT_QUEUE_ARN,
        "awsRegion": REGION,
    }


def sqs_batch(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def sqs_batch_of(bodies: Iterable[str]) -> dict[str, Any]:
    """An SQS batch carrying these bodies, as records m0, m1, ..."""
    return sqs_batch(sqs_record(body, f"m{n}") for n, body in enumerate(bodies))


def invoke(handler: Any, event: Any, context: LambdaContext | None = None) -> Any:
    """A handler's answer to `event`, as Lambda serialises it (in a 300-s invocation unless `context` says else)."""
    return json.loads(json.dumps(handler.lambda_handler(event, context or LambdaContext())))


# --- objects, and what remediation must keep of them --------------------------------------------------------------

FULL_OBJECT: dict[str, Any] = {
    "Body": b"quarterly numbers\n" * 1000,
    "Metadata": {"owner": "finance", "classification": "internal"},
    "ContentType": "text/csv",
    "CacheControl": "max-age=3600",
    "ContentDisposition": 'attachment; filename="q3.csv"',
    "ContentEncoding": "identity",
    "ContentLanguage": "en-GB",
    "Expires": datetime(2030, 1, 1, tzinfo=UTC),
    "Tagging": "team=finance&retention=7y",
    "StorageClass": "STANDARD_IA",
    "WebsiteRedirectLocation": "/reports/latest.html",
}


def put(s3: Any, bucket: str, key: str, **extra: Any) -> None:
    """Write FULL_OBJECT (everything remediation must keep), with `extra` put arguments on top."""
    s3.put_object(Bucket=bucket, Key=key, **(FULL_OBJECT | extra))


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


def assert_remediated(before: Snapshot, after: Snapshot, key_arn: str) -> None:
    assert after.kept() == before.kept()
    assert (after.encryption, after.kms_key_id) == ("aws:kms:dsse", key_arn)


# --- calls made, and answers AWS gives -----------------------------------------------------------------------------


# The reader-safety gate's reads of a bucket (aws/bucket_access.py), made once per bucket per TTL, never per object.
GATE_READS = OPERATIONS


class CallLog:
    """Records the API calls a client makes (botocore `before-parameter-build` events, one per call)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    @property
    def without_gate(self) -> list[str]:
        """The calls of the path itself: without the reader-safety gate's reads of the bucket (GATE_READS)."""
        return [call for call in self.calls if call not in GATE_READS]

    @property
    def gate_reads(self) -> list[str]:
        return [call for call in self.calls if call in GATE_READS]

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.calls)

    def clear(self) -> None:
        self.calls.clear()


class Response:
    """The HTTP response a `before-call` handler answers with: it short-circuits the request."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""


def error_answer(code: str, status: int, message: str | None = None) -> tuple[Response, dict[str, Any]]:
    """What a `before-call` handler returns to make the call fail as AWS would."""
    error = {"Code": code, "Message": message or f"injected {code}"}
    return Response(status), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}


def inject_error(
    client: Any, operation: str, code: str, status: int, times: int = 1, message: str | None = None
) -> None:
    """Make `client`'s next `times` `operation` calls fail as AWS would, for errors moto cannot produce.

    A `before-call` handler that answers short-circuits the request; `CallLog` counts at
    `before-parameter-build`, so the call is still counted.
    """
    remaining = [times]

    def handler(**_: Any) -> Any:
        if remaining[0] <= 0:
            return None
        remaining[0] -= 1
        return error_answer(code, status, message)

    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", handler)


def once_before(client: Any, operation: str, action: Any) -> None:
    """Run `action()` just before `client`'s first `operation` call reaches S3 (a newer write racing the copy)."""
    done: list[bool] = []

    def handler(**_: Any) -> None:
        if not done:
            done.append(True)
            action()

    client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}", handler)


class Unreachable(Exception):
    """A unit test's client tried to send a request: tests/unit has no fake AWS. Not an OSError, so botocore neither
    retries it nor turns it into an AWS error the library would answer: the test fails with this message."""


def _delivered(**_: Any) -> Any:
    return Response(200), {"MessageId": "offline", "ResponseMetadata": {"HTTPStatusCode": 200}}


def refuse_sending(client: Any) -> None:
    def refuse(request: Any, **_: Any) -> None:
        raise Unreachable(f"{request.method} {request.url}: a unit test reaches no AWS; move it to tests/integration")

    client.meta.events.register_first("before-send", refuse)


# --- the composition root as a test builds it ----------------------------------------------------------------------


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


def create_bucket(s3: Any, name: str, region: str = REGION, **params: Any) -> None:
    """CreateBucket in the Region: outside us-east-1 with its LocationConstraint, as S3 requires
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html, "LocationConstraint")."""
    if region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(Bucket=name, **params)


RECORDED = ("s3", "kms", "sqs")  # SNS is the alert inbox's business: its Publish calls are not counted


@dataclass
class Wiring:
    """The composition root as a test builds it: the test's settings, and fresh clients whose calls are recorded.

    On fake AWS (tests/conftest.py `wiring`) the key, topic and queue are real ones. `offline` (tests/unit): the
    placeholders, and clients that refuse to send anything (`Unreachable`) but SNS Publish, which is answered as
    delivered and kept in `published` (the parameters of each call)."""

    dsse_key: str
    topic_arn: str | None
    calls: CallLog
    offline: bool = False
    published: list[dict[str, Any]] = field(default_factory=list)
    region: str = REGION  # the functions' Region (tests/conftest.py `region`: one per partition where parametrised)

    def settings(self, **overrides: Any) -> Settings:
        """The test's Settings; the fields of a part (BatchSettings, ResultSharing) may be given flat, e.g.
        `report_bucket=...` or `forward_results=True`: each goes to its part."""
        for name, part in (("batch", BatchSettings), ("sharing", ResultSharing)):
            flat = {f.name: overrides.pop(f.name) for f in fields(part) if f.name in overrides}
            if flat:
                overrides[name] = replace(overrides.get(name, part()), **flat)
        defaults = {
            "key": self.dsse_key,
            "alert_topic_arn": self.topic_arn,
            "account_id": ACCOUNT_ID,
            "object_queue_url": self.object_queue_url,
        }
        return Settings(**(defaults | {"region": self.region} | overrides))

    @property
    def object_queue_url(self) -> str:
        """The object queue a sweep feeds (created on first use, on fake AWS)."""
        if self.offline:
            return PLACEHOLDER_QUEUE_URL
        sqs = boto3.client("sqs", region_name=self.region)
        url: str = sqs.create_queue(QueueName="object-events")["QueueUrl"]
        return url

    def client(self, service: str, region: str | None = None) -> Any:
        client = boto3.client(service, region_name=region or self.region)
        if service in RECORDED:
            client.meta.events.register(f"before-parameter-build.{service}", self.calls)
        if self.offline:
            if service == "sns":
                client.meta.events.register("provide-client-params.sns.Publish", self._publish)
                client.meta.events.register("before-call.sns.Publish", _delivered)
            refuse_sending(client)
        return client

    def _publish(self, params: dict[str, Any], **_: Any) -> None:
        self.published.append(dict(params))

    def app(self, **overrides: Any) -> App:
        return App(self.settings(**overrides), self.client)


# One Region per partition: a test marked `all_partitions` runs in each (conftest.pytest_generate_tests).
PARTITION_REGIONS = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}


def tested_partitions() -> dict[str, str]:
    """The partitions the run covers: all three, or those DSSE_TEST_PARTITIONS names (comma-separated). The Makefile's
    second suite (the Lambda runtime's Python, a year ahead) names `aws` alone: a partition's ARNs and endpoints depend
    on neither the Python version nor the date, and the first suite has run every partition."""
    wanted = [name.strip() for name in os.environ.get("DSSE_TEST_PARTITIONS", "").split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(PARTITION_REGIONS))
    if unknown:
        raise ValueError(f"DSSE_TEST_PARTITIONS: unknown partition(s) {unknown}; known: {list(PARTITION_REGIONS)}")
    return {name: region for name, region in PARTITION_REGIONS.items() if not wanted or name in wanted}
