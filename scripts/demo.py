"""The embedded demo: the object handler against a local fake AWS (moto's server on 127.0.0.1).

Run it with `make demo`. It starts moto's server in this process, creates a DSSE key, an alert topic with a queue
subscribed to it and three buckets, writes objects the way real users do, hands the handler the CloudTrail event
each write produces, then feeds the remediation's own copy events back in to show they cost one HeadObject each.
It prints a before/after table, the alerts published and the calls spent, and exits 0 only if every object in
scope ended DSSE-KMS under the key with its bytes, metadata, tags and storage class intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import os
import socket
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
REGION = "us-east-1"
WRITER = "arn:aws:sts::123456789012:assumed-role/data-pipeline/ingest-job"


@dataclass
class Write:
    bucket: str
    key: str
    how: str
    args: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    multipart: bool = False


@dataclass
class Row:
    write: Write
    before: dict[str, Any]
    outcome: str = ""
    after: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_aws() -> Iterator[str]:
    """moto's server on loopback, with the S3 fidelity patches the tests use (tests/aws_fidelity.py)."""
    from moto.server import ThreadedMotoServer

    from tests import aws_fidelity

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with aws_fidelity.applied():
            yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def quiet() -> contextlib.AbstractContextManager[Any]:
    """The handler's EMF metric lines go to stdout in Lambda; the demo keeps its own output readable."""
    return contextlib.redirect_stdout(io.StringIO())


def state(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    obj = s3.get_object(Bucket=bucket, Key=key)
    return {
        "sha256": hashlib.sha256(obj["Body"].read()).hexdigest(),
        "metadata": obj.get("Metadata", {}),
        "content_type": obj.get("ContentType"),
        "tags": {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]},
        "storage_class": obj.get("StorageClass", "STANDARD"),
        "grants": sorted(str(g) for g in s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]),
        "encryption": obj.get("ServerSideEncryption"),
        "kms_key_id": obj.get("SSEKMSKeyId"),
        "version_id": obj.get("VersionId"),
    }


def cloudtrail_event(name: str, bucket: str, key: str, response: dict[str, Any], actor: str = WRITER) -> dict[str, Any]:
    """The EventBridge "AWS API Call via CloudTrail" event of an S3 write (as in events/put-object-sse-s3.json)."""
    elements = {
        "x-amz-server-side-encryption": response.get("ServerSideEncryption"),
        "x-amz-server-side-encryption-aws-kms-key-id": response.get("SSEKMSKeyId"),
        "x-amz-version-id": response.get("VersionId"),
    }
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{bucket}/{key}/{response.get('ETag')}"))
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-20T09:15:02Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.10",
            "userIdentity": {"type": "AssumedRole", "arn": actor, "accountId": "123456789012"},
            "eventTime": "2026-11-20T09:15:02Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.23",
            "requestParameters": {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com", "key": key},
            "responseElements": {k: v for k, v in elements.items() if v},
            "eventID": event_id,
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": False,
            "recipientAccountId": "123456789012",
            "eventCategory": "Data",
        },
    }


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "object_remediation_app", ROOT / "functions/object_remediation/app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run() -> int:
    import boto3
    from boto3.s3.transfer import TransferConfig

    with local_aws() as endpoint:
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="demo",
            AWS_SECRET_ACCESS_KEY="demo",
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            POWERTOOLS_TRACE_DISABLED="1",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_METRICS_NAMESPACE="DsseRemediation",
            POWERTOOLS_LOG_LEVEL="WARNING",
            POWERTOOLS_SERVICE_NAME="dsse-remediation",
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        s3: Any = boto3.client("s3", region_name=REGION)
        kms: Any = boto3.client("kms", region_name=REGION)
        sns: Any = boto3.client("sns", region_name=REGION)
        sqs: Any = boto3.client("sqs", region_name=REGION)

        key_arn = kms.create_key(Description="DSSE-KMS key (demo)")["KeyMetadata"]["Arn"]
        team_key = kms.create_key(Description="a team's SSE-KMS key")["KeyMetadata"]["Arn"]
        topic = sns.create_topic(Name="dsse-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="security-channel")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        s3.create_bucket(Bucket="finance-reports")
        s3.create_bucket(Bucket="finance-ledger")
        s3.put_bucket_versioning(Bucket="finance-ledger", VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket="legacy-website", ObjectOwnership="ObjectWriter")
        s3.create_bucket(Bucket="scratch-space")
        os.environ.update(
            DSSE_KMS_KEY=key_arn,
            ALERT_TOPIC_ARN=topic,
            ACCOUNT_ID="123456789012",
            PROTECTED_BUCKETS="finance-*,legacy-*",
            EXCLUDED_BUCKETS="scratch-*",
            MULTIPART_THRESHOLD_BYTES=str(8 * MIB),
            MULTIPART_PART_SIZE_BYTES=str(5 * MIB),
        )

        writes = [
            Write(
                "finance-reports",
                "2026/q3 summary.csv",
                "no headers (SSE-S3 default)",
                {"ContentType": "text/csv", "Metadata": {"owner": "finance"}, "Tagging": "team=finance"},
                b"region,revenue\nemea,1200\n",
            ),
            Write(
                "finance-reports",
                "2026/plan.xlsx",
                "SSE-KMS, a team's key",
                {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": team_key, "StorageClass": "STANDARD_IA"},
                b"PK\x03\x04 plan",
            ),
            Write(
                "finance-reports",
                "2026/audit.pdf",
                "DSSE-KMS, the right key",
                {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": key_arn},
                b"%PDF-1.7 audit",
            ),
            Write(
                "legacy-website",
                "index.html",
                "public-read ACL grant",
                {"ContentType": "text/html", "ACL": "public-read", "CacheControl": "max-age=60"},
                b"<h1>hello</h1>",
            ),
            Write(
                "finance-ledger",
                "ledger/2026-11.json",
                "versioned bucket",
                {"ContentType": "application/json", "Tagging": "retention=7y"},
                b'{"balance": 42}',
            ),
            Write(
                "finance-reports",
                "backups/db.tar.gz",
                "multipart upload (12 MiB)",
                {"Metadata": {"source": "nightly"}},
                bytes(range(256)) * (12 * MIB // 256),
                multipart=True,
            ),
            Write("scratch-space", "tmp/notes.txt", "out of scope (excluded)", {}, b"scratch"),
        ]

        events, rows = [], []
        for w in writes:
            if w.multipart:
                config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
                s3.upload_fileobj(io.BytesIO(w.body), w.bucket, w.key, ExtraArgs=w.args, Config=config)
                response = s3.head_object(Bucket=w.bucket, Key=w.key)
                events.append(cloudtrail_event("CompleteMultipartUpload", w.bucket, w.key, response))
            else:
                response = s3.put_object(Bucket=w.bucket, Key=w.key, Body=w.body, **w.args)
                events.append(cloudtrail_event("PutObject", w.bucket, w.key, response))
            rows.append(Row(w, state(s3, w.bucket, w.key)))

        from tests.lambda_context import LambdaContext

        handler = load_handler()
        context = LambdaContext()
        calls: Counter[str] = Counter()
        from dsse_remediation.aws import clients

        clients.s3(REGION).meta.events.register(
            "before-parameter-build.s3", lambda model, **_: calls.update([model.name])
        )
        invocations = 0
        copy_events = []
        for row, event in zip(rows, events, strict=True):
            with quiet():
                [result] = handler.lambda_handler(event, context)["results"]
            invocations += 1
            row.outcome = result["outcome"]
            row.after = state(s3, row.write.bucket, row.write.key)
            if result["outcome"] == "remediated":
                copy_events.append(
                    cloudtrail_event(
                        "CopyObject",
                        row.write.bucket,
                        row.write.key,
                        {
                            "ServerSideEncryption": result["encryptionAfter"]["algorithm"],
                            "SSEKMSKeyId": result["encryptionAfter"]["kmsKeyId"],
                            "VersionId": result["versionIdAfter"],
                        },
                        actor="arn:aws:sts::123456789012:assumed-role/dsse-remediation/ObjectRemediation",
                    )
                )
        first_pass = Counter(calls)
        loop_outcomes: Counter[str] = Counter()
        for event in copy_events:
            invocations += 1
            with quiet():
                loop_outcomes.update(r["outcome"] for r in handler.lambda_handler(event, context)["results"])
        loop_calls = calls - first_pass

        print(f"\n{'object':<42} {'written as':<30} {'outcome':<15} {'encryption before -> after':<36} kept")
        ok = True
        for row in rows:
            b, a = row.before, row.after
            kept = all(b[f] == a[f] for f in ("sha256", "metadata", "content_type", "tags", "storage_class", "grants"))
            in_scope = row.outcome != "out-of-scope"
            compliant = a["encryption"] == "aws:kms:dsse" and a["kms_key_id"] == key_arn
            ok &= kept and (compliant or not in_scope)
            print(
                f"{'s3://' + row.write.bucket + '/' + row.write.key:<42.42} {row.write.how:<30.30} {row.outcome:<15} "
                f"{b['encryption'] + ' -> ' + ('DSSE, the key' if compliant else a['encryption']):<36} "
                f"{'bytes, metadata, tags, class, ACL' if kept else 'CHANGED'}"
            )
        ledger = s3.list_object_versions(Bucket="finance-ledger")["Versions"]
        print(f"\nVersioned bucket: {len(ledger)} versions of ledger/2026-11.json (the SSE-S3 one kept, DSSE current)")

        print("\nAlerts published to the SNS topic (what a subscribed security channel receives):")
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                envelope = json.loads(message["Body"])
                print(f"  [{envelope['MessageAttributes']['severity']['Value']:>6}] {envelope['Subject']}")
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

        print(
            f"\nCost: {invocations} handler invocations; {first_pass.total()} S3 calls for {len(rows)} writes "
            f"({dict(first_pass)}), then {dict(loop_calls)} for the {len(copy_events)} remediation copies' own "
            f"events ({dict(loop_outcomes)}: no loop)."
        )
        print("\nRESULT:", "every object in scope is DSSE-KMS under the key, nothing lost" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "remediation")]
    sys.exit(run())
