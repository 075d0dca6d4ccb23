"""The contract tests' fixtures: a world on fake AWS (the stack's keys, topic and queue) and the recorder of what the
code's calls need (`calls`: here an IAM-needs recorder, tests/template/iam_model.py, not tests/conftest.py's call
log)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
import pytest

from tests.cfn import Resolved
from tests.helpers import REGION
from tests.template.iam_model import Calls
from tests.template.scenarios import World


@pytest.fixture
def world(aws: None) -> World:
    kms = boto3.client("kms", region_name=REGION)
    template = Resolved()
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="AlertTopic")["TopicArn"]
    queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="ObjectEventsQueue")["QueueUrl"]
    # The scenarios' topic and queue are the template's, as tests/cfn.py resolves them.
    assert topic == template.value({"Ref": "AlertTopic"})
    assert queue_url == template.value({"Ref": "ObjectEventsQueue"})
    return World(
        dsse_key=kms.create_key()["KeyMetadata"]["Arn"],
        other_key=kms.create_key()["KeyMetadata"]["Arn"],
        category_key=kms.create_key()["KeyMetadata"]["Arn"],
        topic=topic,
        queue_url=queue_url,
    )


def findings_updated(_: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """BatchUpdateFindings, which moto 5.2.5 does not serve (404 "Not yet implemented"), as Security Hub answers it
    when every finding is updated (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html)."""
    return {"ProcessedFindings": list(params["FindingIdentifiers"]), "UnprocessedFindings": []}


@pytest.fixture
def calls(world: World) -> Calls:
    return Calls(
        topic_key=Resolved().value({"Fn::GetAtt": ["AlertTopicKey", "Arn"]}),
        fakes={"securityhub.BatchUpdateFindings": findings_updated},
    )
