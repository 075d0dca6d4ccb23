"""AWS Config adapter: PutEvaluations, the one write of the Config custom rule (config_rule.py), into Config's own
store (https://docs.aws.amazon.com/config/latest/APIReference/API_PutEvaluations.html). At most 100 evaluations a
call (the caller batches); FailedEvaluations are returned as text for the caller's answer, not raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors

if TYPE_CHECKING:
    from ..config_rule import Evaluation


class ConfigEvaluations:
    def __init__(self, client: Any) -> None:
        self._client = client

    @errors.translated
    def put(self, token: str, evaluations: list[Evaluation], test_mode: bool) -> list[str]:
        """Delivers `evaluations` under the invocation's result token; what Config refused, by bucket."""
        from ..config_rule import evaluation_requests

        if not evaluations:
            return []
        answer = self._client.put_evaluations(
            Evaluations=evaluation_requests(evaluations), ResultToken=token, TestMode=test_mode
        )
        return [
            f"{failed.get('ComplianceResourceId')}: Config refused the evaluation ({failed.get('ComplianceType')})"
            for failed in answer.get("FailedEvaluations", [])
        ]
