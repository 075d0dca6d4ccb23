"""SNS adapter: publish one alert."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import errors

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

    from ..alerts import Alert


class SnsPublisher:
    """Publishes to one topic. The client is created on the first alert: compliant objects never need it."""

    def __init__(self, client: Callable[[], SNSClient], topic_arn: str) -> None:
        self._client_factory = client
        self._topic_arn = topic_arn

    @errors.translated
    def publish(self, alert: Alert) -> str:
        # MessageStructure=json: e-mail subscribers read the text, every other protocol gets the JSON body.
        # https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html
        response = self._client_factory().publish(
            TopicArn=self._topic_arn,
            Subject=alert.subject,
            MessageStructure="json",
            Message=json.dumps({"default": alert.json_body, "email": alert.text_body}),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in alert.attributes.items()
            },
        )
        return response["MessageId"]
