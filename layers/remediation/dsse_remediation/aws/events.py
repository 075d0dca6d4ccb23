"""EventBridge adapter: put each alert on this account's default bus, where the stack's forwarding rule (template.yaml
ForwardResultsRule) takes it to the security account's results bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from . import errors

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

    from ..alerts import Alert

# What the forwarding rule matches (template.yaml ForwardResultsRule, and the security account's rules), and what the
# functions' events:PutEvents grant is held to (its events:source and events:detail-type conditions).
SOURCE = "dsse-remediation"
DETAIL_TYPE = "DSSE-KMS remediation result"


class EventForwarder:
    """Puts one event per alert on the default bus of the client's account and Region (no EventBusName: the default
    bus, the only one the functions may put events on). The client is created on the first alert."""

    def __init__(self, client: Callable[[], EventBridgeClient]) -> None:
        self._client_factory = client

    @errors.translated
    def forward(self, alert: Alert) -> str:
        """The event id. PutEvents answers 200 even when its entry failed: FailedEntryCount and the entry's ErrorCode
        say so (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html)."""
        response = self._client_factory().put_events(
            Entries=[{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": alert.json_body}]
        )
        (entry,) = response["Entries"]
        if response.get("FailedEntryCount") or "EventId" not in entry:
            code, message = entry.get("ErrorCode", "Unknown"), entry.get("ErrorMessage", "")
            # Classified as any AWS error (errors.translated): ThrottlingException, InternalFailure are transient.
            raise ClientError({"Error": {"Code": code, "Message": message}}, "PutEvents")
        return entry["EventId"]
