"""Security Hub adapter: import findings (BatchImportFindings), read one back by its id (GetFindings), resolve one
(BatchUpdateFindings)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from botocore.exceptions import ClientError

from . import errors


class SecurityHub:
    """This account's hub in the client's Region. The client is created on the first call."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client_factory = client

    @errors.translated
    def import_findings(self, findings: Sequence[Mapping[str, Any]]) -> None:
        """BatchImportFindings answers 200 with FailedCount and FailedFindings[] for findings it refused (Security Hub
        not enabled: InvalidAccess; a malformed finding: InvalidInput)
        (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html)."""
        response = self._client_factory().batch_import_findings(Findings=list(findings))
        if response.get("FailedCount"):
            _refused(response.get("FailedFindings"), "BatchImportFindings")

    @errors.translated
    def finding(self, finding_id: str, product_arn: str) -> dict[str, Any] | None:
        """The finding with this id from this product, or None (Security Hub filters on both; no RecordState filter:
        an archived finding is read too). Read before every import, for the CreatedAt and UpdatedAt it must keep and
        follow (findings.py)."""
        response = self._client_factory().get_findings(
            Filters={
                "Id": [{"Value": finding_id, "Comparison": "EQUALS"}],
                "ProductArn": [{"Value": product_arn, "Comparison": "EQUALS"}],
            }
        )
        found = response.get("Findings") or []
        return dict(found[0]) if found else None

    @errors.translated
    def resolve(self, finding_id: str, product_arn: str) -> None:
        """Set the finding's Workflow to RESOLVED. A provider's import cannot change the Workflow of an existing
        finding; BatchUpdateFindings can, and answers 200 with UnprocessedFindings[] for those it could not update
        (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html)."""
        response = self._client_factory().batch_update_findings(
            FindingIdentifiers=[{"Id": finding_id, "ProductArn": product_arn}], Workflow={"Status": "RESOLVED"}
        )
        if response.get("UnprocessedFindings"):
            _refused(response["UnprocessedFindings"], "BatchUpdateFindings")


def _refused(failures: Any, operation: str) -> NoReturn:
    """The first refusal of a batch as the ClientError errors.translated classifies; a batch that says it refused
    without saying what (no FailedFindings, an unexpected shape) is still a refusal, of code Unknown."""
    first = failures[0] if isinstance(failures, Sequence) and failures and isinstance(failures[0], Mapping) else {}
    code, message = str(first.get("ErrorCode") or "Unknown"), str(first.get("ErrorMessage") or "")
    raise ClientError({"Error": {"Code": code, "Message": message}}, operation)
