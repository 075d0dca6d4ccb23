"""SQS adapter: put work on the object queue (a sweep's steps and the objects it lists)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..exceptions import AwsFailure
from ..model import Failure
from . import errors

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH = 10  # SendMessageBatch takes at most 10 entries


class QueueNotAccepted(AwsFailure):
    """SQS refused some entries of a batch (a 200 answer listing them as Failed): the caller retries the whole step."""

    def __init__(self, message: str) -> None:
        super().__init__(Failure.TRANSIENT, message, "SendMessageBatch.Failed")


class QueueSender:
    """Sends to one queue. The client is created on the first message: the object function builds its sweeper at
    cold start, and only a sweep step sends."""

    def __init__(self, client: Callable[[], SQSClient], queue_url: str) -> None:
        self._client_factory = client
        self._queue_url = queue_url

    @cached_property
    def _client(self) -> SQSClient:
        return self._client_factory()

    @errors.translated
    def send(self, body: Mapping[str, Any]) -> None:
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=_json(body))

    @errors.translated
    def send_batch(self, bodies: Sequence[Mapping[str, Any]]) -> None:
        """Every body, 10 per SendMessageBatch. A batch answers 200 with per-entry failures: those raise."""
        for start in range(0, len(bodies), BATCH):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(number), "MessageBody": _json(body)}
                for number, body in enumerate(bodies[start : start + BATCH])
            ]
            failed = self._client.send_message_batch(QueueUrl=self._queue_url, Entries=entries).get("Failed") or []
            if failed:
                first = failed[0]
                raise QueueNotAccepted(
                    f"SQS refused {len(failed)} of {len(entries)} messages: {first.get('Code')}: {first.get('Message')}"
                )


def _json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
