"""The Organization demo: two member accounts and the security account on one local fake AWS (moto's server).

Run it with `make demo` (after the single-account demo) or `python scripts/demo_org.py`. moto's server plays three
accounts of one Organization: the security account (moto's default account, the Organization's management account
here) and two member accounts created with Organizations and entered with STS AssumeRole, as a platform team would.

- The security account gets what org/security.yaml deploys: the results bus (its policy: only the Organization may
  put events), a log group and two rules with the stack's own pattern. moto has no SNS rule target, so the security
  channel's subscription is played by an SQS queue the rule targets directly (said plainly in the output).
- Each member account gets what the member stack deploys: its own DSSE key, a protected bucket, its local alert topic
  (the team's channel) and the forwarding rule of template.yaml (its pattern, its one target: the security bus),
  and the real object handler, built with the member's credentials and FORWARD_RESULTS / SECURITY_HUB_FINDINGS on.
- A non-compliant write in each member is remediated locally; both results reach the security channel and its log
  group through the forwarding rules; in one member an on-call dry run raises a Security Hub finding and the real
  run resolves it; a write by one member into the other's bucket stays the owner's business (no alert, no finding,
  nothing forwarded).

Exits 0 only if all of that happened, with nothing lost.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "layers" / "remediation"), str(ROOT / "scripts")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from dsse_remediation.partitions import partition_of  # noqa: E402 (after this checkout's path)

# scripts/demo.py's rule: --region, else REGION (`make demo REGION=...`), else us-east-1.
REGION: str = importlib.import_module("demo").demo_region(sys.argv[1:], os.environ)
PARTITION = partition_of(REGION)
SOURCE, DETAIL_TYPE = "dsse-remediation", "DSSE-KMS remediation result"
RESULTS_BUS = "dsse-remediation-results"
RESULTS_LOG_GROUP = "/dsse-remediation/results"
WRITER = "assumed-role/data-pipeline/ingest-job"


@dataclass
class Member:
    name: str
    account: str
    session: Any
    key_arn: str
    bucket: str
    inbox: str  # the team's channel: an SQS queue subscribed to the member's alert topic
    handler: ModuleType | None = None


def demo_module() -> Any:
    """scripts/demo.py (local_aws, the CloudTrail event builders): run from the repository root or scripts/."""
    sys.path[:0] = [str(ROOT / "scripts")]
    return importlib.import_module("demo")


def credentials_env(credentials: dict[str, Any]) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def forwarding_pattern(security_bus: str) -> dict[str, Any]:
    """ForwardResultsRule's pattern, as template.yaml resolves it for a member with SecurityBusArn set."""
    cfn: Any = importlib.import_module("tests.cfn")
    template = cfn.Resolved(
        {"DsseKmsKeyArn": f"arn:{PARTITION}:kms:{REGION}:111111111111:key/x", "SecurityBusArn": security_bus}
    )
    pattern: dict[str, Any] = template.resource("ForwardResultsRule")["Properties"]["EventPattern"]
    return pattern


def run() -> int:
    import boto3
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    demo = demo_module()
    with demo.local_aws() as endpoint:
        demo.use_local_aws(endpoint)
        security = boto3.Session(region_name=REGION)

        # The Organization: the security account creates it and two member accounts.
        org = security.client("organizations")
        organization = org.create_organization(FeatureSet="ALL")["Organization"]
        security_account = organization["MasterAccountId"]
        accounts = {
            name: org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
            for name in ("payments", "analytics")
        }

        # The security account, as org/security.yaml deploys it.
        events = security.client("events")
        bus_arn = events.create_event_bus(Name=RESULTS_BUS)["EventBusArn"]
        only_results_from_the_organization = {  # ResultsBusPolicy of org/security.yaml
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OrganizationResultsOnly",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": bus_arn,
                    "Condition": {
                        "StringEquals": {
                            "aws:PrincipalOrgID": organization["Id"],
                            "events:source": SOURCE,
                            "events:detail-type": DETAIL_TYPE,
                        }
                    },
                }
            ],
        }
        events.put_permission(EventBusName=RESULTS_BUS, Policy=json.dumps(only_results_from_the_organization))
        sqs = security.client("sqs")
        channel = sqs.create_queue(QueueName="security-channel")["QueueUrl"]
        channel_arn = sqs.get_queue_attributes(QueueUrl=channel, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        logs = security.client("logs")
        logs.create_log_group(logGroupName=RESULTS_LOG_GROUP)
        log_group_arn = f"arn:{PARTITION}:logs:{REGION}:{security_account}:log-group:{RESULTS_LOG_GROUP}"
        security_pattern = json.dumps({"source": [SOURCE], "detail-type": [DETAIL_TYPE]})
        for rule, target in (("ResultsToTopicRule", channel_arn), ("ResultsToLogsRule", log_group_arn)):
            events.put_rule(Name=rule, EventBusName=RESULTS_BUS, EventPattern=security_pattern)
            events.put_targets(Rule=rule, EventBusName=RESULTS_BUS, Targets=[{"Id": "1", "Arn": target}])

        # The member stacks.
        members = []
        sts = security.client("sts")
        for name, account in accounts.items():
            role = f"arn:{PARTITION}:iam::{account}:role/OrganizationAccountAccessRole"
            credentials = sts.assume_role(RoleArn=role, RoleSessionName="stackset-demo")["Credentials"]
            session = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=REGION,
            )
            key_arn = session.client("kms").create_key(Description=f"DSSE key of {name}")["KeyMetadata"]["Arn"]
            bucket = f"{name}-records-{account}"
            demo_module().create_bucket(session.client("s3"), bucket)
            member_sns, member_sqs = session.client("sns"), session.client("sqs")
            topic = member_sns.create_topic(Name="dsse-alerts")["TopicArn"]
            inbox = member_sqs.create_queue(QueueName="team-channel")["QueueUrl"]
            inbox_arn = member_sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]
            member_sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn["QueueArn"])
            member_events = session.client("events")
            member_events.put_rule(Name="ForwardResultsRule", EventPattern=json.dumps(forwarding_pattern(bus_arn)))
            member_events.put_targets(Rule="ForwardResultsRule", Targets=[{"Id": "SecurityBus", "Arn": bus_arn}])
            member = Member(name, account, session, key_arn, bucket, inbox)
            env = credentials_env(credentials) | {
                "DSSE_KMS_KEY": key_arn,
                "ALERT_TOPIC_ARN": topic,
                "ACCOUNT_ID": account,
                "FORWARD_RESULTS": "true",
                "SECURITY_HUB_FINDINGS": "true",
                "PROTECTED_BUCKETS": "*",
                "EXCLUDED_BUCKETS": "",
            }
            with environment(env):
                from dsse_remediation.aws import clients

                clients.client.cache_clear()  # this member's credentials, for every client its handler builds
                member.handler = demo.load("object_remediation")
                for service in ("s3", "kms", "events", "securityhub", "organizations"):
                    member.handler.app.client(service)
                member.handler.app.client("sns", REGION)
                clients.client.cache_clear()
            members.append(member)

        def invoke(member: Member, event: dict[str, Any]) -> dict[str, Any]:
            assert member.handler is not None
            answer: dict[str, Any] = demo.quiet_call(member.handler, event, demo_context())
            return answer

        ok = True
        print("\nOrganization", organization["Id"], "- security account", security_account)
        # 1. A non-compliant write in each member, remediated in that member.
        for member, (key, args) in zip(
            members,
            [
                ("2026/11/settlements.csv", {}),
                ("exports/users.parquet", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": None}),
            ],
            strict=True,
        ):
            s3 = member.session.client("s3")
            if args.get("SSEKMSKeyId", "") is None:
                args = args | {"SSEKMSKeyId": member.session.client("kms").create_key()["KeyMetadata"]["Arn"]}
            s3.put_object(Bucket=member.bucket, Key=key, Body=f"{member.name} data".encode(), **args)
            head = s3.head_object(Bucket=member.bucket, Key=key)
            event = demo.object_event(
                "PutObject", member.bucket, key, head, f"arn:{PARTITION}:sts::{member.account}:{WRITER}"
            )
            event["detail"]["resources"] = [
                {"type": "AWS::S3::Object", "ARN": f"arn:{PARTITION}:s3:::{member.bucket}/{key}"},
                {
                    "accountId": member.account,
                    "type": "AWS::S3::Bucket",
                    "ARN": f"arn:{PARTITION}:s3:::{member.bucket}",
                },
            ]
            [result] = invoke(member, event)["results"]
            after = s3.head_object(Bucket=member.bucket, Key=key)
            fixed = (after.get("ServerSideEncryption"), after.get("SSEKMSKeyId")) == ("aws:kms:dsse", member.key_arn)
            ok &= result["outcome"] == "remediated" and fixed
            print(
                f"  {member.name} ({member.account}): s3://{member.bucket}/{key} {head.get('ServerSideEncryption')} -> "
                f"{after.get('ServerSideEncryption')} under its own key: {result['outcome']}"
            )

        # 2. On-call in payments: a dry run raises a Security Hub finding, the real run resolves it. moto 5.2.5 has no
        #    BatchUpdateFindings (the call that sets Workflow RESOLVED): the demo answers it and keeps what it asked.
        payments, analytics = members
        assert payments.handler is not None
        resolved_ids: list[str] = []

        asked: list[dict[str, Any]] = []

        def keep(params: dict[str, Any], **_: Any) -> None:
            asked.append(dict(params))
            if params.get("Workflow") == {"Status": "RESOLVED"}:
                resolved_ids.extend(identifier["Id"] for identifier in params["FindingIdentifiers"])

        def batch_update_findings(**_: Any) -> Any:
            answer = {"ProcessedFindings": asked[-1]["FindingIdentifiers"], "UnprocessedFindings": []}
            return AWSResponse("https://securityhub.demo", 200, HTTPHeaders(), None), answer | {"ResponseMetadata": {}}

        hub_client = payments.handler.app.client("securityhub")
        hub_client.meta.events.register("before-parameter-build.securityhub.BatchUpdateFindings", keep)
        hub_client.meta.events.register("before-call.securityhub.BatchUpdateFindings", batch_update_findings)
        s3 = payments.session.client("s3")
        s3.put_object(Bucket=payments.bucket, Key="legacy/ledger-2019.csv", Body=b"old ledger")
        hub = payments.session.client("securityhub")
        dry = invoke(payments, {"bucket": payments.bucket, "key": "legacy/ledger-2019.csv", "dryRun": True})
        raised = [f for f in hub.get_findings()["Findings"] if "ledger-2019" in f["Resources"][0]["Id"]]
        invoke(payments, {"bucket": payments.bucket, "key": "legacy/ledger-2019.csv"})
        resolved = [f for f in hub.get_findings()["Findings"] if "ledger-2019" in f["Resources"][0]["Id"]]
        lifecycle = [(f["RecordState"], f["Compliance"]["Status"]) for f in (raised + resolved)]
        ok &= dry["results"][0]["outcome"] == "would-remediate"
        ok &= len(raised) == 1 and len(resolved) == 1 and raised[0]["Id"] == resolved[0]["Id"]
        ok &= lifecycle == [("ACTIVE", "FAILED"), ("ARCHIVED", "PASSED")]
        ok &= bool(raised) and set(resolved_ids) == {raised[0]["Id"]}
        print(
            f"\nSecurity Hub in payments: the dry run raised {raised[0]['Id'] if raised else '-'} "
            f"({' -> '.join('/'.join(state) for state in lifecycle)} after the real run, then Workflow RESOLVED: "
            "same id)"
        )

        # 3. analytics writes into payments' bucket: CloudTrail delivers the event to analytics too. Not its business.
        forwarded_before = count_logged(logs)
        foreign = demo.object_event(
            "PutObject",
            payments.bucket,
            "inbox/from-analytics.csv",
            {},
            f"arn:{PARTITION}:sts::{analytics.account}:{WRITER}",
        )
        foreign["detail"]["resources"] = [
            {"accountId": payments.account, "type": "AWS::S3::Bucket", "ARN": f"arn:{PARTITION}:s3:::{payments.bucket}"}
        ]
        [quiet] = invoke(analytics, foreign)["results"]
        ok &= quiet["outcome"] == "out-of-scope" and count_logged(logs) == forwarded_before
        print(f"analytics' write into payments' bucket, seen by analytics: {quiet['outcome']}, nothing forwarded")

        # The security view.
        print("\nSecurity channel (the security account; moto has no SNS rule target: a queue stands in for the")
        print("topic's subscription), every member's results with their account:")
        received = drain(sqs, channel)
        for message in received:
            detail = message.get("detail", message)
            print(f"  [{detail['severity']:>8}] {detail['account']} {detail['outcome']:<16} {detail['resource']}")
        senders = {m.get("detail", m)["account"] for m in received}
        ok &= senders == {payments.account, analytics.account}
        logged = count_logged(logs)
        print(f"Results log group {RESULTS_LOG_GROUP}: {logged} events (the dashboard's and org-status' source)")
        for member in members:
            team = drain(member.session.client("sqs"), member.inbox)
            print(f"{member.name}'s own channel: {len(team)} alert(s)")
            ok &= len(team) >= 1
        print("\nRESULT:", "every member remediated locally, the security account saw it all" if ok else "FAILED")
        return 0 if ok else 1


def demo_context() -> Any:
    from tests.lambda_context import LambdaContext

    return LambdaContext()


def drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    """Every message of a queue, bodies parsed: an SNS envelope's Message, else the body itself."""
    found = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            body = json.loads(message["Body"])
            found.append(json.loads(body["Message"]) if "Message" in body and "TopicArn" in body else body)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return found


def count_logged(logs: Any) -> int:
    return sum(len(page["events"]) for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=RESULTS_LOG_GROUP
    ))  # fmt: skip


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "remediation")]
    sys.exit(run())
