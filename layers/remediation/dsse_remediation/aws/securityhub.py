"""Security Hub adapter: import findings (BatchImportFindings) and read one back by its id (GetFindings)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
            failed = response["FailedFindings"][0]
            code, message = str(failed.get("ErrorCode", "Unknown")), str(failed.get("ErrorMessage", ""))
            raise ClientError({"Error": {"Code": code, "Message": message}}, "BatchImportFindings")

    @errors.translated
    def finding(self, finding_id: str, product_arn: str) -> dict[str, Any] | None:
        """The finding with this id from this product, or None. Security Hub filters on the id; the answer is checked
        again here (moto 5.2 ignores GetFindings filters and answers every finding)."""
        response = self._client_factory().get_findings(
            Filters={
                "Id": [{"Value": finding_id, "Comparison": "EQUALS"}],
                "ProductArn": [{"Value": product_arn, "Comparison": "EQUALS"}],
            }
        )
        found = [f for f in response.get("Findings", []) if f.get("Id") == finding_id]
        found = [f for f in found if f.get("ProductArn") == product_arn]
        return dict(found[0]) if found else None
