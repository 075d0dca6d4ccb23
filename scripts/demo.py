"""The embedded demo: the whole product against a local fake AWS (moto's server on 127.0.0.1), in under a minute.

Run it with `make demo`. It starts moto's server in this process (with tests/aws_fidelity.py, so S3 and KMS behave
as documented), creates a DSSE key, an alert topic with a queue subscribed to it and a few buckets, and writes
objects the way real users do. Each S3 and KMS call becomes the CloudTrail event it would produce; the events go
through the EventBridge patterns read from template.yaml; object events go through an SQS queue drained by the real
object handler in batches, bucket and key events invoke their handlers directly. The remediations' own copies
produce events too, which the rule filters out. It then changes a bucket's default encryption, creates a bucket and
disables the key, to show the bucket and key paths, brings the buckets that predate the deployment in with the
manual payload, and backfills a larger one on S3 Batch Operations (played by a local stand-in,
tests/batch_operations.py: moto runs no jobs), whose run ends in one summary alert. It prints a before/after table,
the alerts published and the invocations and calls spent, and exits 0 only if every object and bucket in scope ended
compliant with nothing lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import logging
import os
import re
import socket
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsse_remediation.batch.estimate import Estimate
    from dsse_remediation.batch.summary import JobSummary

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "layers" / "remediation")):  # this checkout's library, before any installed one
    if _path not in sys.path:
        sys.path.insert(0, _path)

from dsse_remediation.partitions import dns_suffix, partition_of  # noqa: E402 (after this checkout's path)


def demo_region(argv: list[str], environ: dict[str, str] | os._Environ[str]) -> str:
    """`--region R` (or `--region=R`), else REGION (`make demo REGION=us-gov-west-1`), else us-east-1."""
    for index, arg in enumerate(argv):
        if arg == "--region" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--region="):
            return arg.split("=", 1)[1]
    return environ.get("REGION") or "us-east-1"


MIB = 1024 * 1024
REGION = demo_region(sys.argv[1:], os.environ)
PARTITION = partition_of(REGION)  # aws, aws-us-gov, aws-cn: every ARN the demo writes is in it
DNS_SUFFIX = dns_suffix(PARTITION)
ACCOUNT = "123456789012"
WRITER = f"arn:{PARTITION}:sts::123456789012:assumed-role/data-pipeline/ingest-job"
ADMIN = f"arn:{PARTITION}:iam::123456789012:user/alice"
REMEDIATOR = f"arn:{PARTITION}:sts::123456789012:assumed-role/dsse-remediation/ObjectRemediation"
OBJECT, BUCKET, KEY = "ObjectRemediationFunction", "BucketRemediationFunction", "KeyGuardFunction"
JOBS = "BatchJobsFunction"
# The stack's batch parts, as its outputs name them (a version ARN: the job pins it as is).
TASK_FUNCTION = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:dsse-remediation-BatchTask:1"
JOB_ROLE = f"arn:{PARTITION}:iam::{ACCOUNT}:role/dsse-remediation-BatchJob"
REPORTS = "dsse-remediation-reports"


HELD = frozenset({"legacy-website"})  # converting it would break its readers: the gate holds it


@dataclass
class Write:
    bucket: str
    key: str
    how: str
    args: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    multipart: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_aws() -> Iterator[str]:
    """moto's server on loopback, with the fidelity patches the tests use (tests/aws_fidelity.py)."""
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


def use_local_aws(endpoint: str) -> None:
    """This process's environment for the fake AWS at `endpoint`: its credentials, the Region, Powertools quiet."""
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


def quiet() -> contextlib.AbstractContextManager[Any]:
    """The handlers' EMF metric lines go to stdout in Lambda; the demo keeps its own output readable."""
    return contextlib.redirect_stdout(io.StringIO())


def cloudtrail(source: str, name: str, params: dict[str, Any], response: Any = None, actor: str = WRITER,
               resources: list[dict[str, str]] | None = None) -> dict[str, Any]:  # fmt: skip
    """The EventBridge "AWS API Call via CloudTrail" event of one call (shapes as in events/)."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([name, params, response], sort_keys=True, default=str)))
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{source}",
        "account": ACCOUNT,
        "time": "2026-11-20T09:15:02Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.10",
            "userIdentity": {"type": "AssumedRole", "arn": actor, "accountId": ACCOUNT},
            "eventTime": "2026-11-20T09:15:02Z",
            "eventSource": f"{source}.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.23",
            "requestParameters": params,
            "responseElements": response,
            "resources": resources or [],
            "eventID": event_id,
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": source != "s3" or "key" not in params,
            "recipientAccountId": ACCOUNT,
        },
    }


def object_event(name: str, bucket: str, key: str, head: dict[str, Any], actor: str = WRITER) -> dict[str, Any]:
    response = {
        "x-amz-server-side-encryption": head.get("ServerSideEncryption"),
        "x-amz-server-side-encryption-aws-kms-key-id": head.get("SSEKMSKeyId"),
        "x-amz-version-id": head.get("VersionId"),
    }
    params = {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.{DNS_SUFFIX}", "key": key}
    return cloudtrail("s3", name, params, {k: v for k, v in response.items() if v}, actor)


def load(name: str) -> ModuleType:
    from tests.lambda_context import load_function

    with quiet():
        handler = load_function(name)
    local_s3control(handler.app)
    return handler


def local_s3control(app: Any) -> None:
    """S3 Control on the local fake: botocore's endpoint rules send each request to `<account id>.<endpoint host>`
    (the account's own S3 Control host on AWS), a name nothing resolves to on 127.0.0.1, whatever
    `inject_host_prefix` says; so the demo's S3 Control client sends to the endpoint itself. Only the demo does this."""
    client = app.client("s3control")

    def to_the_endpoint(request: Any, **_: Any) -> None:
        request.url = re.sub(r"^(https?://)\d{12}\.", r"\1", request.url)

    client.meta.events.register("before-sign.s3-control", to_the_endpoint)


class EventBus:
    """EventBridge as the stack wires it: the template's patterns, the object queue, direct invocations."""

    def __init__(self, sqs: Any, queue: str, handlers: dict[str, ModuleType]) -> None:
        from tests.cfn import Resolved, routes
        from tests.lambda_context import LambdaContext

        parameters = {
            "DsseKmsKeyArn": os.environ["DSSE_KMS_KEY"],
            "ProtectedBuckets": os.environ["PROTECTED_BUCKETS"],
            "ExcludedBuckets": os.environ["EXCLUDED_BUCKETS"],
            "BucketKeyMap": os.environ["BUCKET_KEY_MAP"],
        }
        template = Resolved(parameters)
        self.routes = routes(template)
        source = template.resource(OBJECT)["Properties"]["Events"]["ObjectEvents"]["Properties"]
        self.batch_size = int(source["BatchSize"])
        self.sqs = sqs
        self.queue = queue
        self.handlers = handlers
        self.context = LambdaContext()
        self.invocations: Counter[str] = Counter()
        self.unrouted: Counter[str] = Counter()
        self.answers: list[dict[str, Any]] = []

    def put(self, event: dict[str, Any]) -> None:
        found: Any = event
        targets = [name for name, patterns in self.routes.items() if any(p.matches_event(found) for p in patterns)]
        if not targets:
            self.unrouted[event["detail"]["eventName"]] += 1
        for target in targets:
            if target == OBJECT:
                self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps(event))
            else:
                self.invoke(target, event)

    def invoke(self, target: str, event: dict[str, Any]) -> dict[str, Any]:
        self.invocations[target] += 1
        with quiet():
            answer: dict[str, Any] = self.handlers[target].lambda_handler(event, self.context)
        self.answers.append(answer)
        return answer

    def drain(self) -> None:
        """The SQS event source: batches of the template's BatchSize, failed records left for a retry."""
        receive = {"QueueUrl": self.queue, "MaxNumberOfMessages": self.batch_size}
        while batch := self.sqs.receive_message(**receive).get("Messages", []):
            records = [
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                 "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                 "eventSourceARN": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:object-events", "awsRegion": REGION}
                for m in batch
            ]  # fmt: skip
            failed = {f["itemIdentifier"] for f in self.invoke(OBJECT, {"Records": records})["batchItemFailures"]}
            for message in batch:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])


def quiet_call(function: ModuleType, event: dict[str, Any], context: Any) -> Any:
    with quiet():
        return function.lambda_handler(event, context)


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
    }


def bucket_default(s3: Any, bucket: str) -> dict[str, Any]:
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return dict(rule["ApplyServerSideEncryptionByDefault"])


def writes(key_arn: str, team_key: str, secrets_key: str) -> list[Write]:
    csv = {"ContentType": "text/csv", "Metadata": {"owner": "finance"}, "Tagging": "team=finance"}
    return [
        Write("finance-reports", "2026/q3 summary.csv", "no headers (SSE-S3 default)", csv, b"region,revenue\n"),
        Write("finance-reports", "2026/plan.xlsx", "SSE-KMS, a team's key",
              {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": team_key, "StorageClass": "STANDARD_IA"}, b"PK plan"),
        Write("finance-reports", "2026/audit.pdf", "DSSE-KMS, the right key",
              {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": key_arn}, b"%PDF-1.7 audit"),
        Write("legacy-website", "index.html", "a public website's page",
              {"ContentType": "text/html", "ACL": "public-read", "CacheControl": "max-age=60"}, b"<h1>hello</h1>"),
        Write("legacy-downloads", "pub/catalog.pdf", "public bucket, impact accepted",
              {"ContentType": "application/pdf"}, b"%PDF-1.7 catalog"),
        Write("finance-ledger", "ledger/2026-11.json", "versioned bucket",
              {"ContentType": "application/json", "Tagging": "retention=7y"}, b'{"balance": 42}'),
        Write("finance-reports", "backups/db.tar.gz", "multipart upload (12 MiB)", {"Metadata": {"source": "nightly"}},
              bytes(range(256)) * (12 * MIB // 256), multipart=True),
        Write("finance-secrets", "vault/api-tokens.json", "category bucket, SSE-S3", {}, b'{"token": "..."}'),
        Write("finance-secrets", "vault/keys.json", "category bucket, its own key",
              {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": secrets_key}, b'{"k": 1}'),
        Write("scratch-space", "tmp/notes.txt", "out of scope (excluded)", {}, b"scratch"),
    ]  # fmt: skip


@dataclass
class Estate:
    """The account before the deployment: the keys, the alert channel, and the objects already there (with their
    state then, to show nothing was lost)."""

    key_arn: str
    team_key: str
    secrets_key: str
    topic: str
    inbox: str  # the security channel's queue, subscribed to the alert topic
    old_objects: list[str]  # in finance-2019: swept after the bucket's reset (step 5)
    old_before: dict[str, dict[str, Any]]
    backfilled: list[str]  # in finance-2018: backfilled on S3 Batch Operations (step 6)
    backfill_before: dict[str, dict[str, Any]]

    def key_of(self, bucket: str) -> str:
        """The key the bucket's objects must end under: its category's (BUCKET_KEY_MAP), else the key."""
        return str(self.secrets_key if bucket.startswith("finance-secrets") else self.key_arn)


@dataclass
class Backfill:
    """What `dsse-remediate backfill --wait` shows: the fees estimated first, the jobs, the run's summary."""

    estimate: Estimate
    job_ids: list[str]
    summary: JobSummary


def create_bucket(s3: Any, bucket: str, **params: Any) -> None:
    """CreateBucket in the demo's Region: outside us-east-1 with its LocationConstraint, as S3 requires
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html)."""
    if REGION != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": REGION}
    s3.create_bucket(Bucket=bucket, **params)


def create_estate(s3: Any, kms: Any, sns: Any, sqs: Any) -> Estate:
    key_arn = kms.create_key(Description="DSSE-KMS key (demo)")["KeyMetadata"]["Arn"]
    team_key = kms.create_key(Description="a team's SSE-KMS key")["KeyMetadata"]["Arn"]
    secrets_key = kms.create_key(Description="DSSE-KMS key of the secrets category (demo)")["KeyMetadata"]["Arn"]
    topic = sns.create_topic(Name="dsse-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="security-channel")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    for bucket in ("finance-reports", "finance-ledger", "finance-secrets", "scratch-space"):
        create_bucket(s3, bucket)
    s3.put_bucket_versioning(Bucket="finance-ledger", VersioningConfiguration={"Status": "Enabled"})
    # A public website (its Block Public Access turned off, as every public bucket made since April 2023 needs): DSSE
    # would break every visitor, so the reader-safety gate holds it. A public download bucket whose owner accepted
    # that impact (the tag) is converted, and the acceptance is in its results and alerts.
    create_bucket(s3, "legacy-website", ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket="legacy-website")
    s3.put_bucket_website(Bucket="legacy-website", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    create_bucket(s3, "legacy-downloads")
    s3.delete_public_access_block(Bucket="legacy-downloads")
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:{PARTITION}:s3:::legacy-downloads/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="legacy-downloads", Policy=json.dumps(public_read))
    s3.put_bucket_tagging(
        Bucket="legacy-downloads",
        Tagging={"TagSet": [{"Key": "dsse-remediation:accept-reader-impact", "Value": "CHG-1042 (J. Doe, web team)"}]},
    )
    # Objects written before the deployment: no event will ever mention them.
    create_bucket(s3, "finance-2019")
    old_objects = [f"statements/2019-{month:02d}.pdf" for month in range(1, 13)]
    for key in old_objects:
        s3.put_object(Bucket="finance-2019", Key=key, Body=key.encode(), Metadata={"year": "2019"})
    old_before = {key: state(s3, "finance-2019", key) for key in old_objects}
    # A larger bucket from before the deployment: brought in by a backfill on S3 Batch Operations (step 6).
    create_bucket(s3, "finance-2018")
    backfilled = [f"ledgers/2018 q{n % 4 + 1}/entry {n:03d}+final.csv" for n in range(24)]
    for n, key in enumerate(backfilled):
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": team_key} if n % 6 == 0 else {}
        s3.put_object(Bucket="finance-2018", Key=key, Body=key.encode(), Metadata={"year": "2018"}, **extra)
    s3.put_object(Bucket="finance-2018", Key="cold/2018-archive.tar", Body=b"cold", StorageClass="GLACIER")
    backfill_before = {key: state(s3, "finance-2018", key) for key in backfilled}
    create_bucket(s3, REPORTS)  # the stack's report bucket: DSSE-KMS under the key
    dsse_default = {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": key_arn}
    s3.put_bucket_encryption(
        Bucket=REPORTS,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": dsse_default, "BucketKeyEnabled": False}]
        },
    )
    return Estate(key_arn, team_key, secrets_key, topic, inbox, old_objects, old_before, backfilled, backfill_before)


def deploy(sqs: Any, estate: Estate) -> EventBus:
    """The stack: its object queue, its functions' settings and handlers, EventBridge in front of them."""
    queue = sqs.create_queue(QueueName="object-events")["QueueUrl"]
    os.environ.update(
        DSSE_KMS_KEY=estate.key_arn,
        ALERT_TOPIC_ARN=estate.topic,
        ACCOUNT_ID=ACCOUNT,
        PROTECTED_BUCKETS="finance-*,legacy-*",
        EXCLUDED_BUCKETS="scratch-*",
        MULTIPART_THRESHOLD_BYTES=str(8 * MIB),
        MULTIPART_PART_SIZE_BYTES=str(5 * MIB),
        KEY_GUARD_REVERT="true",
        BUCKET_KEY_MAP=f"finance-secrets*={estate.secrets_key}",  # one key per bucket category
        SWEEP_AFTER_BUCKET_RESET="true",
        OBJECT_QUEUE_URL=queue,
        BATCH_TASK_FUNCTION=TASK_FUNCTION,
        BATCH_JOB_ROLE_ARN=JOB_ROLE,
        REPORT_BUCKET=REPORTS,
    )
    handlers = {
        OBJECT: load("object_remediation"),
        BUCKET: load("bucket_remediation"),
        KEY: load("key_guard"),
        JOBS: load("batch_jobs"),
    }
    return EventBus(sqs, queue, handlers)


def count_calls() -> Counter[str]:
    """The calls the functions make, by "service:Operation"."""
    from dsse_remediation.aws import clients

    calls: Counter[str] = Counter()
    for service in ("s3", "kms", "sns", "sqs"):
        clients.client(service, REGION).meta.events.register(
            f"before-parameter-build.{service}", lambda model, _s=service, **_: calls.update([f"{_s}:{model.name}"])
        )
    return calls


def record_own_writes() -> list[dict[str, Any]]:
    """The remediation's own writes, as S3 answered them: each becomes the CloudTrail event it would produce."""
    from dsse_remediation.aws import clients

    own_writes: list[dict[str, Any]] = []

    def keep_params(params: dict[str, Any], context: Any, **_: Any) -> None:
        context["demo_params"] = dict(params)

    def record_write(http_response: Any, parsed: dict[str, Any], model: Any, context: Any, **_: Any) -> None:
        params = context.get("demo_params", {})
        if http_response.status_code == 200 and params:
            own_writes.append(object_event(model.name, params["Bucket"], params["Key"], parsed, REMEDIATOR))

    handler_s3 = clients.client("s3", REGION)
    for operation in ("CopyObject", "CompleteMultipartUpload"):
        handler_s3.meta.events.register(f"before-parameter-build.s3.{operation}", keep_params)
        handler_s3.meta.events.register(f"after-call.s3.{operation}", record_write)
    return own_writes


def write_objects(s3: Any, bus: EventBus, objects: list[Write]) -> dict[tuple[str, str], dict[str, Any]]:
    """Step 1: each write's CloudTrail event goes to EventBridge; the state of each object as written."""
    from boto3.s3.transfer import TransferConfig

    before = {}
    for w in objects:
        if w.multipart:
            config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
            s3.upload_fileobj(io.BytesIO(w.body), w.bucket, w.key, ExtraArgs=w.args, Config=config)
            name = "CompleteMultipartUpload"
        else:
            s3.put_object(Bucket=w.bucket, Key=w.key, Body=w.body, **w.args)
            name = "PutObject"
        before[(w.bucket, w.key)] = state(s3, w.bucket, w.key)
        bus.put(object_event(name, w.bucket, w.key, s3.head_object(Bucket=w.bucket, Key=w.key)))
    bus.drain()
    return before


def backfill(s3: Any, bus: EventBus) -> Backfill:
    """Step 6: what `dsse-remediate backfill s3://finance-2018 --wait` does, on S3 Batch Operations played locally."""
    from dsse_remediation.aws import clients
    from dsse_remediation.batch.requests import plan
    from dsse_remediation.wiring import App

    # Imported by name: mypy's scope excludes tests/ (the stand-in and the double are test code).
    stand_ins: Any = importlib.import_module("tests.batch_operations")
    doubles: Any = importlib.import_module("tests.s3control_double")

    double = doubles.S3ControlDouble(ACCOUNT, s3=s3)
    bus.handlers[JOBS].app._clients[("s3control", REGION)] = double.client  # the function's S3 Control: the double
    operator = App.from_env(client=double.factory(clients.client))  # the CLI's view of the stack
    specs = plan("finance-2018", campaign="backfill-demo", priority=operator.settings.batch.job_priority)
    estimate = operator.backfill.estimate(specs)
    job_ids = [operator.backfill.start(spec) for spec in specs]
    with quiet():
        task_function = load("batch_task")
    stand_in = stand_ins.BatchOperations(double, s3, lambda event, context: quiet_call(task_function, event, context))
    for job in stand_in.run_pending():
        bus.put(job.status_event())
    return Backfill(estimate, job_ids, operator.completions.summarize_run(job_ids))


def report_objects(
    s3: Any, estate: Estate, objects: list[Write], before: dict[tuple[str, str], dict[str, Any]]
) -> bool:
    """The written objects, before and after: whether each in scope ended DSSE under its key with nothing lost."""
    ok = True
    print(f"\n{'object':<42} {'written as':<30} {'encryption before -> after':<38} kept")
    for w in objects:
        b, a = before[(w.bucket, w.key)], state(s3, w.bucket, w.key)
        kept = all(b[f] == a[f] for f in ("sha256", "metadata", "content_type", "tags", "storage_class", "grants"))
        in_scope = not w.bucket.startswith("scratch-")
        compliant = a["encryption"] == "aws:kms:dsse" and a["kms_key_id"] == estate.key_of(w.bucket)
        held = w.bucket in HELD  # the reader-safety gate: nothing written
        ok &= kept and (compliant != held or not in_scope)
        after = (
            ("DSSE, its category key" if estate.key_of(w.bucket) != estate.key_arn else "DSSE, the key")
            if compliant
            else a["encryption"] + (" (held)" if held else "")
        )
        print(
            f"{'s3://' + w.bucket + '/' + w.key:<42.42} {w.how:<30.30} {b['encryption'] + ' -> ' + after:<38} "
            f"{'bytes, metadata, tags, class, ACL' if kept else 'CHANGED'}"
        )
    return ok


def report_swept(s3: Any, estate: Estate) -> bool:
    """finance-2019's objects, written before the deployment: swept after the bucket's reset."""
    old_objects = estate.old_objects
    swept = [key for key in old_objects if state(s3, "finance-2019", key)["kms_key_id"] == estate.key_arn]
    kept_old = all(
        state(s3, "finance-2019", key)[f] == estate.old_before[key][f]
        for key in old_objects
        for f in ("sha256", "metadata")
    )
    print(
        f"\ns3://finance-2019: {len(swept)} of {len(old_objects)} objects written before the deployment swept to "
        f"DSSE under the key ({'bytes and metadata kept' if kept_old else 'CHANGED'})"
    )
    return len(swept) == len(old_objects) and kept_old


def report_backfill(s3: Any, estate: Estate, run: Backfill) -> bool:
    """finance-2018's objects, backfilled on S3 Batch Operations: the fees estimated, the summary and alert."""
    backfilled = estate.backfilled
    remediated = [key for key in backfilled if state(s3, "finance-2018", key)["kms_key_id"] == estate.key_arn]
    kept_2018 = all(
        state(s3, "finance-2018", key)[f] == estate.backfill_before[key][f]
        for key in backfilled
        for f in ("sha256", "metadata", "tags", "storage_class")
    )
    ok = len(remediated) == len(backfilled) and kept_2018
    ok &= run.summary.counts.get("remediated") == len(backfilled)
    print(
        f"\nBackfill of s3://finance-2018 on S3 Batch Operations ({len(run.job_ids)} jobs, one per encryption type; "
        f"the service played by a local stand-in): {len(remediated)} of {len(backfilled)} pre-existing objects "
        f"DSSE under the key ({'bytes, metadata, tags, class kept' if kept_2018 else 'CHANGED'}); the GLACIER "
        "one reported. Fees estimated before the jobs were created:"
    )
    print("  " + str(run.estimate).replace("\n", "\n  "))
    print("What `dsse-remediate backfill --wait` prints, and the run's one alert says:")
    print("  " + run.summary.text().replace("\n", "\n  "))
    return ok


def report_buckets(s3: Any, estate: Estate) -> bool:
    """Each bucket's default encryption: DSSE-KMS under its key for every one in scope."""
    ok = True
    print(f"\n{'bucket':<20} default encryption after")
    for bucket in (
        "finance-reports", "finance-ledger", "legacy-website", "legacy-downloads", "finance-archive",
        "finance-2019", "finance-secrets", "scratch-space",
    ):  # fmt: skip
        default = bucket_default(s3, bucket)
        compliant = default == {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": estate.key_of(bucket)}
        ok &= compliant != (bucket in HELD) or bucket.startswith("scratch-")
        which = "its category key (BUCKET_KEY_MAP)" if estate.key_of(bucket) != estate.key_arn else "the key"
        after = "DSSE-KMS under " + which if compliant else default["SSEAlgorithm"]
        print(f"{bucket:<20} {after + (' (held: it would break its readers)' if bucket in HELD else '')}")
    return ok


def report_posture() -> bool:
    """7. The posture an auditor keeps: `dsse-remediate posture --all` over the demo's in-scope buckets (a scan: every
    version read with HeadObject), the evidence file written beside the build. Every bucket is 100 % DSSE under its
    key but the one the reader-safety gate held, whose objects stay SSE-S3 until someone accepts the impact."""
    from dsse_remediation import cli

    evidence = ROOT / ".aws-sam" / "demo" / "posture.html"
    evidence.parent.mkdir(parents=True, exist_ok=True)
    print("\nPosture (`dsse-remediate posture --all --html .aws-sam/demo/posture.html`):")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = cli.main(["posture", "--all", "--region", REGION, "--html", str(evidence), "--output", "json"])
    document = json.loads(output.getvalue())

    def down(percent: float) -> str:  # two decimals, rounded down like the document: never 100.00 while any is left
        return f"{int(percent * 100) / 100:6.2f}"

    for bucket in document["buckets"]:
        share = bucket["percentDsseUnderKey"]
        left = {state: n for state, n in bucket["current"]["objects"].items() if n and state != "dsse-key"}
        noncurrent = sum(bucket["noncurrent"]["objects"].values())
        print(
            f"  {bucket['bucket']:<18} {down(share['bytes'])} % of bytes, {down(share['objects'])} % of objects DSSE "
            f"under its key; {noncurrent} noncurrent version(s)" + (f"; left: {left}" if left else "")
        )
    total = document["total"]["percentDsseUnderKey"]
    print(
        f"  estate: {down(total['bytes']).strip()} % of bytes, {down(total['objects']).strip()} % of objects DSSE "
        f"under the key; evidence: {evidence.relative_to(ROOT)}"
    )
    # What is left is what the demo left on purpose: the bucket the gate held, the versioned ledger's old version (the
    # noncurrent debt: the lifecycle rule is printed, never applied) and the GLACIER object the backfill reported.
    unfinished = {bucket["bucket"] for bucket in document["buckets"] if not bucket["compliant"]}
    return code == 1 and unfinished == {*HELD, "finance-ledger", "finance-2018"} and evidence.stat().st_size > 0


def reader_impact(message: str) -> str | None:
    """The alert body's readerImpact (the SNS message is the JSON body, or per protocol with a "default")."""
    try:
        body = json.loads(message)
        body = json.loads(body["default"]) if "default" in body else body
    except (ValueError, KeyError, TypeError):
        return None
    impact = body.get("readerImpact") if isinstance(body, dict) else None
    return impact if isinstance(impact, str) else None


def print_alerts(sqs: Any, inbox: str) -> None:
    print("\nAlerts published to the SNS topic (what a subscribed security channel receives):")
    while batch := sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            envelope = json.loads(message["Body"])
            print(f"  [{envelope['MessageAttributes']['severity']['Value']:>8}] {envelope['Subject']}")
            impact = reader_impact(envelope["Message"])
            if impact:  # the reader-safety gate's verdict: why held, or who accepted the impact
                print(textwrap.fill(impact, 116, initial_indent=" " * 13, subsequent_indent=" " * 13))
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])


def run() -> int:
    import boto3

    print(f"Region {REGION} (partition {PARTITION})")
    with local_aws() as endpoint:
        use_local_aws(endpoint)
        s3: Any = boto3.client("s3", region_name=REGION)
        kms: Any = boto3.client("kms", region_name=REGION)
        sns: Any = boto3.client("sns", region_name=REGION)
        sqs: Any = boto3.client("sqs", region_name=REGION)

        estate = create_estate(s3, kms, sns, sqs)
        key_arn = estate.key_arn
        print(f"DSSE key {key_arn}, alert topic {estate.topic}")
        bus = deploy(sqs, estate)
        calls = count_calls()
        own_writes = record_own_writes()

        # 1. Objects written the way real users write them; each write's CloudTrail event goes to EventBridge.
        objects = writes(key_arn, estate.team_key, estate.secrets_key)
        before = write_objects(s3, bus, objects)
        object_calls = Counter(calls)

        # 2. The remediations' own writes produce CloudTrail events too (built from S3's real answers): dropped.
        copies = len(own_writes)
        for event in list(own_writes):
            bus.put(event)
        bus.drain()

        # 3. The bucket path: a team switches a bucket to SSE-KMS, another creates a bucket.
        kms_rule = {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": estate.team_key},
            "BucketKeyEnabled": True,
        }
        s3.put_bucket_encryption(Bucket="finance-ledger", ServerSideEncryptionConfiguration={"Rules": [kms_rule]})
        bus.put(
            cloudtrail("s3", "PutBucketEncryption", {"bucketName": "finance-ledger", "encryption": ""}, None, ADMIN)
        )
        create_bucket(s3, "finance-archive")
        bus.put(cloudtrail("s3", "CreateBucket", {"bucketName": "finance-archive"}, None, ADMIN))

        # 4. The key path: someone disables the DSSE key; the guard alerts and (KEY_GUARD_REVERT) re-enables it.
        kms.disable_key(KeyId=key_arn)
        key_resource = [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}]
        bus.put(cloudtrail("kms", "DisableKey", {"keyId": key_arn}, {"keyId": key_arn}, ADMIN, key_resource))

        # 5. Buckets that predate the deployment: on-call brings them in with the manual payload. The reset queues a
        #    sweep of the objects already there (SWEEP_AFTER_BUCKET_RESET): the object function lists the bucket page
        #    by page from its own queue and remediates every object, as it does event-driven writes.
        for bucket in ("finance-reports", "legacy-website", "legacy-downloads", "finance-2019", "finance-secrets"):
            bus.invoke(BUCKET, {"bucket": bucket})
        bus.drain()

        # 6. Backfill on S3 Batch Operations: what `dsse-remediate backfill s3://finance-2018 --wait` does. moto runs no
        #    Batch Operations jobs: tests/batch_operations.py plays the service (a LOCAL STAND-IN: it builds each
        #    job's manifest as the generator would, invokes the real task function once per object with schema 2.0
        #    payloads, writes the completion report in S3's CSV format); tests/s3control_double.py answers the
        #    s3control calls after checking each against the service model. Each job's JobStatusChanged event goes
        #    through the template's rule to the batch jobs function, which publishes one alert for the run.
        backfill_run = backfill(s3, bus)

        # The report.
        ok = report_objects(s3, estate, objects, before)
        ok &= report_swept(s3, estate)
        ok &= report_backfill(s3, estate, backfill_run)
        ok &= report_buckets(s3, estate)
        state_after = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
        ok &= state_after == "Enabled"
        print(f"\nDSSE key after DisableKey: {state_after} (KEY_GUARD_REVERT=true re-enabled it)")
        versions = s3.list_object_versions(Bucket="finance-ledger")["Versions"]
        print(f"Versioned bucket: {len(versions)} versions of ledger/2026-11.json (the old one kept, DSSE current)")
        print_alerts(sqs, estate.inbox)
        ok &= report_posture()

        s3_calls = {k: v for k, v in object_calls.items() if k.startswith("s3:")}
        print(
            f"\nCost: Lambda invocations {dict(bus.invocations)} (the object function takes {bus.batch_size} queued "
            "event(s) per invocation; 4 bucket invocations are the manual ones, and the object function's include the "
            "sweep's listing steps and its 12 objects); "
            f"S3 calls for the {len(objects)} writes: {sum(s3_calls.values())} {s3_calls}. "
            f"Events the rules dropped: {dict(bus.unrouted)} (the compliant uploads, one under its category key, "
            f"the out-of-scope one and the {copies} remediation writes: no loop). "
            "The SSE-KMS object under a team's key needs that key in the "
            "stack's SourceKmsKeyArns (kms:Decrypt), which this fake AWS does not enforce."
        )
        result = (
            "everything in scope is DSSE-KMS under the key but what the reader-safety gate held, nothing lost; "
            "the posture names what is left (the held bucket, an old version, an archived object)"
            if ok
            else "FAILED"
        )
        print("\nRESULT:", result)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "remediation")]
    sys.exit(run())
