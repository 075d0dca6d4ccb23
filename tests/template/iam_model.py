"""The IAM-needs model of the contract tests: which IAM actions each AWS call of the code needs, on which resource, and
how a template's grants compare with them.

`Calls` records every call made through its clients (on fake AWS, or on a double such as tests/s3control_double.py)
and maps it to the (action, resource ARN) pairs IAM checks for it, following the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html and the KMS, SNS, SQS, Lambda,
EventBridge, Security Hub, Organizations and CloudTrail pages) and the S3 user guide where one call needs more than its
own action (a KMS key, a tagging or Object Lock action). `missing` and `unneeded` compare those needs with a template's
statements, matching resources as IAM does: a need counts only when a statement allows its action on its resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from dsse_remediation.config import Settings
from dsse_remediation.wiring import App
from tests.helpers import ACCOUNT_ID, REGION, Response

Need = tuple[str, str]  # (IAM action, ARN of the resource the call acts on)
# What Athena does with a query's result objects for its caller (the query-results statement of AWS's managed policy
# AmazonAthenaFullAccess: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonAthenaFullAccess.html).
ATHENA_RESULT_OBJECT_ACTIONS = (
    "s3:PutObject",
    "s3:GetObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
ClientSource = Callable[[str, str | None], Any]  # (service, region) -> a boto3 client
Fake = Callable[[str, Mapping[str, Any]], dict[str, Any]]  # (operation, params) -> the answer AWS would give


# The action IAM checks for an S3 call on a bucket, and for one on an object (Service Authorization Reference).
S3_BUCKET_ACTIONS: dict[str, str] = {
    "ListObjectsV2": "s3:ListBucket",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
    # What the reader-safety gate reads (aws/bucket_access.py); the S3 user guide's "Required permissions for Amazon S3
    # API operations" (using-with-s3-policy-actions.html) maps each, on the bucket resource type.
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "GetBucketAcl": "s3:GetBucketAcl",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetBucketTagging": "s3:GetBucketTagging",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
}
S3_OBJECT_ACTIONS: dict[str, str] = {  # GetObject: Calls.read_needed
    "HeadObject": "s3:GetObject",
    "GetObjectAcl": "s3:GetObjectAcl",
    "GetObjectTagging": "s3:GetObjectTagging",
    "DeleteObject": "s3:DeleteObject",
    "PutObject": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListObjectAnnotations": "s3:ListObjectAnnotations",
}
# A call that names a VersionId acts on that version: its action instead.
S3_VERSION_ACTIONS: dict[str, str] = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
}


def s3_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def queue_arn(url: str) -> str:
    """https://sqs.<region>.amazonaws.com/<account>/<name> -> arn:aws:sqs:<region>:<account>:<name>"""
    parsed = urlparse(url)
    account, name = parsed.path.strip("/").split("/")
    return f"arn:aws:sqs:{parsed.netloc.split('.')[1]}:{account}:{name}"


def fake_aws_client(service: str, region: str | None = None) -> Any:
    """A plain boto3 client: on fake AWS (mock_aws), moto answers it."""
    return boto3.client(service, region_name=region or REGION)


@dataclass
class Calls:
    """Records what each call made through `client()` needs. Looks at the state it needs (a copy source's
    encryption, a multipart upload's key) with its own, unrecorded, clients."""

    topic_key: str  # the alert topic is encrypted with the stack's AlertTopicKey: publishing uses it
    needs: set[Need] = field(default_factory=set)
    uploads: dict[tuple[str, str], str] = field(default_factory=dict)  # (bucket, key) -> its multipart upload's key
    # Answers for what moto does not serve ("service.Operation" -> answer(operation, params)): the request is still
    # built, and so checked against the service model, before the answer replaces AWS's.
    fakes: dict[str, Fake] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (service, operation, params)
    # HeadObject reports Object Lock settings only to callers with the retention and legal-hold read actions: the
    # object path needs them (it keeps them on its copy); the backstop only asks whether a report exists.
    lock_fields: bool = True
    # Where the clients come from: fake AWS, or a double's factory in front of it (S3ControlDouble.factory).
    clients: ClientSource = fake_aws_client
    # Athena: each workgroup's result location (s3://bucket/prefix/, the workgroup's enforced ResultConfiguration),
    # and each table's LOCATION as its DDL gave it (a SELECT reads the table's data with the caller's permissions).
    athena_results: dict[str, str] = field(default_factory=dict)
    athena_tables: dict[str, str] = field(default_factory=dict)

    def app(self, settings: Settings) -> App:
        """The composition root on clients whose calls are recorded."""
        return App(settings, self.client)

    def client(self, service: str, region: str | None = None) -> Any:
        client = self.clients(service, region)
        events = client.meta.service_model.service_id.hyphenize()  # s3control's events are named s3-control
        # A double hands out the same client every time: recorded once (unique_id), not once per hand-out.
        client.meta.events.register(
            f"provide-client-params.{events}", self._recorder(service), unique_id=f"needs-{id(self)}"
        )
        client.meta.events.register(f"before-call.{events}", self._faker(service), unique_id=f"fakes-{id(self)}")
        return client

    def _recorder(self, service: str) -> Callable[..., None]:
        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.requests.append((service, model.name, dict(params)))
            self.needs |= self.needed(service, model.name, params)

        return record

    def _faker(self, service: str) -> Callable[..., Any]:
        def fake(model: Any, **_: Any) -> Any:
            answer = self.fakes.get(f"{service}.{model.name}")
            if answer is None:
                return None
            (_, _, params) = [r for r in self.requests if r[:2] == (service, model.name)][-1]  # this call's
            return Response(200), answer(model.name, params)

        return fake

    def needed(self, service: str, operation: str, params: Mapping[str, Any]) -> set[Need]:
        if service == "s3control":
            return self.s3control_needed(operation, params)
        if service == "lambda":  # GetAlias acts on the function (the Lambda developer guide's resource table)
            assert operation == "GetAlias", operation
            name = params["FunctionName"]
            return {
                (
                    "lambda:GetAlias",
                    name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:{name}",
                )
            }
        if service == "kms":  # GetKeyPolicy too: kms:GetKeyPolicy on the key (key policy)
            return {(f"kms:{operation}", self.key_arn(params["KeyId"]))}
        if service == "cloudtrail":  # `coverage` (the CLI): DescribeTrails has no resource type; the status and the
            if operation == "DescribeTrails":  # event selectors act on the trail (Service Authorization Reference,
                return {("cloudtrail:DescribeTrails", "*")}  # list_awscloudtrail.html), named by its ARN
            assert operation in ("GetTrailStatus", "GetEventSelectors"), operation
            return {(f"cloudtrail:{operation}", params.get("Name") or params["TrailName"])}
        if service == "athena":
            return self.athena_needed(operation, params)
        if service in ("organizations", "config"):  # actions with no resource type: "*"
            return {(NO_RESOURCE_TYPE[(service, operation)], "*")}
        if service == "sns":  # an SSE topic: the publisher encrypts with the topic's key
            return {
                ("sns:Publish", params["TopicArn"]),
                ("kms:GenerateDataKey", self.topic_key),
                ("kms:Decrypt", self.topic_key),
            }
        if service == "sqs":  # SendMessageBatch is authorized by sqs:SendMessage; the queue is SSE-SQS (no KMS)
            return {("sqs:SendMessage", queue_arn(params["QueueUrl"]))}
        if service == "events":  # each entry's bus (EventBusName, else the default bus)
            assert operation == "PutEvents", operation
            return {
                (
                    "events:PutEvents",
                    f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{entry.get('EventBusName', 'default')}",
                )
                for entry in params["Entries"]
            }
        if service == "securityhub":  # BatchImportFindings acts on each finding's product, GetFindings and
            if operation == "BatchImportFindings":  # BatchUpdateFindings on the hub (Service Authorization Reference)
                return {("securityhub:BatchImportFindings", finding["ProductArn"]) for finding in params["Findings"]}
            assert operation in ("GetFindings", "BatchUpdateFindings"), operation
            return {(f"securityhub:{operation}", f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:hub/default")}
        assert service == "s3", service
        return self.s3_needed(operation, params)

    def s3control_needed(self, operation: str, params: Mapping[str, Any]) -> set[Need]:
        if operation == "CreateJob":  # no resource type (Service Authorization Reference); the role is passed
            tagged = {("s3:PutJobTagging", f"arn:aws:s3:{REGION}:{params['AccountId']}:job/*")}
            return {("s3:CreateJob", "*"), ("iam:PassRole", params["RoleArn"])} | (
                tagged if params.get("Tags") else set()
            )
        if operation == "ListJobs":  # no resource type (Service Authorization Reference)
            return {("s3:ListJobs", "*")}
        if operation == "GetPublicAccessBlock":  # the account's Block Public Access: no resource type
            return {("s3:GetAccountPublicAccessBlock", "*")}
        assert operation == "DescribeJob", operation
        return {("s3:DescribeJob", f"arn:aws:s3:{REGION}:{params['AccountId']}:job/{params['JobId']}")}

    def athena_needed(self, operation: str, params: Mapping[str, Any]) -> set[Need]:
        """Athena's actions act on the workgroup (Service Authorization Reference, list_amazonathena.html); the query
        then acts with the caller's permissions on the Glue Data Catalog ("permissions on the resource, its parent
        database and catalog", athena/latest/ug/fine-grained-access-to-glue-resources.html), on the workgroup's
        result location (AmazonAthenaFullAccess's query-result S3 actions) and on the table's data. Which Glue calls a
        statement makes is not documented call by call: modelled as GetDatabase, then GetTable (and CreateTable for
        a CREATE TABLE). Tables use partition projection: no partition call."""
        if operation != "StartQueryExecution":  # by id: the workgroup of the queries this run started
            assert operation in ("GetQueryExecution", "GetQueryResults", "StopQueryExecution"), operation
            (workgroup,) = set(self.athena_results) or {"primary"}
            return {(f"athena:{operation}", athena_workgroup(workgroup))}
        workgroup = params.get("WorkGroup", "primary")
        database = params["QueryExecutionContext"]["Database"]
        sql = params["QueryString"]
        catalog = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}:catalog"
        database_arn = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}:database/{database}"
        created = re.match(r"CREATE EXTERNAL TABLE (?:IF NOT EXISTS )?([a-z0-9_]+)", sql)
        table = created[1] if created else re.search(r"\bFROM ([a-z0-9_.]+)", sql)[1].split(".")[-1]  # type: ignore[index]
        table_arn = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}:table/{database}/{table}"
        glue = {"glue:GetTable", "glue:CreateTable"} if created else {"glue:GetTable"}
        needs: set[Need] = {("athena:StartQueryExecution", athena_workgroup(workgroup))}
        needs |= {("glue:GetDatabase", arn) for arn in (catalog, database_arn)}
        needs |= {(action, arn) for action in glue for arn in (catalog, database_arn, table_arn)}
        results = urlparse(self.athena_results[workgroup])
        bucket = s3_arn(results.netloc)
        objects = f"{bucket}/{results.path.strip('/')}/*"
        needs |= {("s3:GetBucketLocation", bucket), ("s3:ListBucketMultipartUploads", bucket)}
        needs |= {(action, objects) for action in ATHENA_RESULT_OBJECT_ACTIONS}
        key = self.bucket_key(results.netloc)  # the results take the result bucket's default encryption
        needs |= {("kms:GenerateDataKey", key), ("kms:Decrypt", key)} if key else set()
        if created:
            location = re.search(r"LOCATION '(s3://[^']+)'", sql)
            assert location, sql
            self.athena_tables[table] = location[1]
        else:  # the data: the table's LOCATION (the hive/ symlinks) and the data files they list, in its bucket
            data = urlparse(self.athena_tables[table])
            needs |= {
                ("s3:GetBucketLocation", s3_arn(data.netloc)),
                ("s3:ListBucket", s3_arn(data.netloc)),
                ("s3:GetObject", f"{s3_arn(data.netloc)}/*"),
            }
        return needs

    def s3_needed(self, operation: str, params: Mapping[str, Any]) -> set[Need]:
        if operation == "ListBuckets":  # no resource type
            return {("s3:ListAllMyBuckets", "*")}
        bucket = params["Bucket"]
        if operation in S3_BUCKET_ACTIONS:
            return {(S3_BUCKET_ACTIONS[operation], s3_arn(bucket))}
        obj = s3_arn(bucket, params.get("Key"))
        needs: set[Need] = set()
        if operation in S3_OBJECT_ACTIONS:
            action = S3_OBJECT_ACTIONS[operation]
            needs.add((S3_VERSION_ACTIONS.get(action, action) if "VersionId" in params else action, obj))
        # What else the call needs: its keys, the copy source, its other actions.
        extras: dict[str, Callable[[], set[Need]]] = {
            "HeadObject": lambda: self.head_needed(bucket, obj),
            "GetObject": lambda: self.read_needed(bucket, params["Key"], params.get("VersionId")),
            "PutObject": lambda: self.default_encryption_needed(bucket, params),
            "CopyObject": lambda: self.copy_needed(obj, params),
            "CreateMultipartUpload": lambda: self.create_upload_needed(bucket, obj, params),
            "UploadPart": lambda: self.upload_key_needed(bucket, params["Key"]),
            "UploadPartCopy": lambda: (
                self.copy_source_needed(params["CopySource"]) | self.upload_key_needed(bucket, params["Key"])
            ),
        }
        if operation in extras:
            needs |= extras[operation]()
        assert needs, f"no IAM mapping for s3:{operation}"
        return needs

    def head_needed(self, bucket: str, obj: str) -> set[Need]:
        """HeadObject reports Object Lock settings only to callers with the retention and legal-hold read actions; on a
        missing key it answers 404 only to callers with s3:ListBucket (403 otherwise)."""
        lock = {("s3:GetObjectRetention", obj), ("s3:GetObjectLegalHold", obj)} if self.lock_fields else set()
        return lock | {("s3:ListBucket", s3_arn(bucket))}

    def upload_key_needed(self, bucket: str, key_name: str) -> set[Need]:
        """UploadPart, UploadPartCopy: the parts are encrypted under the key of their multipart upload."""
        key = self.uploads.get((bucket, key_name))
        return {("kms:GenerateDataKey", key)} if key is not None else set()

    def create_upload_needed(self, bucket: str, obj: str, params: Mapping[str, Any]) -> set[Need]:
        """CreateMultipartUpload: what the write asks for, and the key its parts are encrypted with.

        "you must have permission to the kms:Decrypt and kms:GenerateDataKey actions on the key ... because Amazon S3
        must decrypt and read data from the encrypted file parts before it completes the multipart upload"
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions
        Without SSEKMSKeyId or ServerSideEncryption, the bucket's default encrypts the parts."""
        needs = self.write_extras(obj, params) | ({("s3:PutObjectTagging", obj)} if "Tagging" in params else set())
        if "SSEKMSKeyId" in params:
            key: str | None = params["SSEKMSKeyId"]
        else:
            key = self.bucket_key(bucket) if "ServerSideEncryption" not in params else None
        if key is not None:
            self.uploads[(bucket, params["Key"])] = key
            needs |= {("kms:GenerateDataKey", key), ("kms:Decrypt", key)}
        return needs

    def copy_needed(self, obj: str, params: Mapping[str, Any]) -> set[Need]:
        """CopyObject: reading the source with its tags and annotations, writing them onto the copy."""
        source = self.source_object(params["CopySource"])
        return (
            self.copy_source_needed(params["CopySource"])
            | {("s3:GetObjectTagging", source), ("s3:GetObjectAnnotation", source)}
            | {("s3:PutObjectTagging", obj), ("s3:PutObjectAnnotation", obj)}
            | self.write_extras(obj, params)
        )

    def read_needed(self, bucket: str, key: str, version: str | None) -> set[Need]:
        """GetObject: the object, the key it is encrypted with, and ListBucket where the object is missing (S3 answers
        404 rather than 403 only to callers allowed to list: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)."""
        needs: set[Need] = {("s3:GetObjectVersion" if version else "s3:GetObject", s3_arn(bucket, key))}
        s3 = boto3.client("s3", region_name=REGION)
        try:
            head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
        except ClientError:
            return needs | {("s3:ListBucket", s3_arn(bucket))}
        if head.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
            # moto leaves SSEKMSKeyId out of an object encrypted by its bucket's default: that default's key.
            key_id = head.get("SSEKMSKeyId") or self.bucket_key(bucket)
            assert key_id is not None, (bucket, key)
            needs.add(("kms:Decrypt", self.key_arn(key_id)))
        return needs

    def default_encryption_needed(self, bucket: str, params: Mapping[str, Any]) -> set[Need]:
        """A write that names no encryption takes the bucket's default: under a KMS key, the writer generates its
        data key."""
        if "ServerSideEncryption" in params:
            return self.write_extras(s3_arn(bucket, params["Key"]), params)
        key = self.bucket_key(bucket)
        return {("kms:GenerateDataKey", key)} if key else set()

    def bucket_key(self, bucket: str) -> str | None:
        """The KMS key of the bucket's default encryption (SSE-KMS or DSSE-KMS), if it has one."""
        try:
            rules = boto3.client("s3", region_name=REGION).get_bucket_encryption(Bucket=bucket)[
                "ServerSideEncryptionConfiguration"
            ]["Rules"]
        except ClientError:
            return None
        default = rules[0]["ApplyServerSideEncryptionByDefault"]
        key_id = default.get("KMSMasterKeyID")
        return self.key_arn(key_id) if default["SSEAlgorithm"] in ("aws:kms", "aws:kms:dsse") and key_id else None

    def write_extras(self, obj: str, params: Mapping[str, Any]) -> set[Need]:
        needs: set[Need] = set()
        if params.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
            needs.add(("kms:GenerateDataKey", self.key_arn(params["SSEKMSKeyId"])))
        if any(name.startswith("Grant") for name in params):
            needs.add(("s3:PutObjectAcl", obj))
        if "ObjectLockMode" in params:
            needs.add(("s3:PutObjectRetention", obj))
        if "ObjectLockLegalHoldStatus" in params:
            needs.add(("s3:PutObjectLegalHold", obj))
        return needs

    @staticmethod
    def source(copy_source: Any) -> tuple[str, str, str | None]:
        if isinstance(copy_source, Mapping):
            return copy_source["Bucket"], copy_source["Key"], copy_source.get("VersionId")
        path, _, query = str(copy_source).partition("?versionId=")
        bucket, key = path.lstrip("/").split("/", 1)
        return bucket, key, query or None

    def source_object(self, copy_source: Any) -> str:
        bucket, key, _ = self.source(copy_source)
        return s3_arn(bucket, key)

    def copy_source_needed(self, copy_source: Any) -> set[Need]:
        """Reading the source: its object, and the key it is encrypted with (SSE-KMS or DSSE-KMS) to decrypt it."""
        bucket, key, version = self.source(copy_source)
        needs: set[Need] = {("s3:GetObjectVersion" if version else "s3:GetObject", s3_arn(bucket, key))}
        head = boto3.client("s3", region_name=REGION).head_object(
            Bucket=bucket, Key=key, **({"VersionId": version} if version else {})
        )
        if head.get("ServerSideEncryption") in ("aws:kms", "aws:kms:dsse"):
            needs.add(("kms:Decrypt", self.key_arn(head["SSEKMSKeyId"])))
        return needs

    @staticmethod
    def key_arn(key_id: str) -> str:
        if key_id.startswith("arn:aws:kms:") and ":key/" in key_id:
            return key_id
        arn: str = boto3.client("kms", region_name=REGION).describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        return arn


# --- what a template grants, and the comparison ---------------------------------------------------------------------


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def granted(statements: Iterable[Mapping[str, Any]]) -> set[Need]:
    """Every (action, resource pattern) pair the statements name."""
    return {
        (action, resource)
        for statement in statements
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }


def allow(needs: Iterable[Need]) -> list[dict[str, Any]]:
    """Allow statements granting exactly these (action, resource pattern) pairs."""
    return [{"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in needs]


def iam_match(pattern: str, arn: str) -> bool:
    """IAM's Resource matching: `*` any run of characters (`/` included), `?` one character, case-sensitive.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
    """
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def covers(statement: Mapping[str, Any], need: Need) -> bool:
    action, arn = need
    return (
        statement["Effect"] == "Allow"
        and action in as_list(statement["Action"])
        and any(iam_match(pattern, arn) for pattern in as_list(statement["Resource"]))
    )


# Calls whose action has no resource type (Service Authorization Reference): this account's Organization id, and
# AWS Config's PutEvaluations (the evaluations of the rule whose result token the call carries).
NO_RESOURCE_TYPE = {
    ("organizations", "DescribeOrganization"): "organizations:DescribeOrganization",
    ("config", "PutEvaluations"): "config:PutEvaluations",
}


def athena_workgroup(name: str) -> str:
    return f"arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/{name}"


def missing(needs: Iterable[Need], statements: list[dict[str, Any]]) -> set[Need]:
    return {need for need in needs if not any(covers(s, need) for s in statements)}


def inert(statement: Mapping[str, Any], resource: str, map_patterns: Iterable[str]) -> bool:
    """An S3 ARN in a KMS-only statement grants nothing: BucketKeyMap's patterns ride along with its keys (the
    template cannot take the keys alone out of the pairs). Exactly those patterns, nothing broader."""
    kms_only = all(action.startswith("kms:") for action in as_list(statement["Action"]))
    return kms_only and resource in {s3_arn(pattern) for pattern in map_patterns}


def unneeded(needs: set[Need], statements: list[dict[str, Any]], map_patterns: Iterable[str]) -> set[Need]:
    """Each (action, resource) a statement grants that no call needed."""
    patterns = list(map_patterns)
    found: set[Need] = set()
    for statement in statements:
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                if inert(statement, resource, patterns):
                    continue
                if not any(a == action and iam_match(resource, arn) for a, arn in needs):
                    found.add((action, resource))
    return found
