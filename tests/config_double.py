"""AWS Config's PutEvaluations as the API Reference documents it, for the rule's tests.

moto 5.2.5 answers PutEvaluations only in TestMode ("PutEvaluations without TestMode is not yet implemented") and keeps
nothing. This double keeps what each call delivers, per result token, and refuses what Config refuses
(https://docs.aws.amazon.com/config/latest/APIReference/API_PutEvaluations.html,
https://docs.aws.amazon.com/config/latest/APIReference/API_Evaluation.html): at most 100 evaluations a call;
ComplianceType COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE ("AWS Config does not support the INSUFFICIENT_DATA value");
an Annotation of 1 to 256 characters; a ComplianceResourceId of 1 to 768 characters. TestMode records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto.config import models
from moto.config.exceptions import InvalidParameterValueException

ACCEPTED = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE")


class ConfigDouble:
    def __init__(self) -> None:
        self.delivered: dict[str, list[dict[str, Any]]] = {}  # result token -> evaluations kept
        self.calls: list[tuple[int, bool]] = []  # (evaluations, TestMode) per call
        self.refused: set[str] = set()  # resource ids answered in FailedEvaluations (a test's choice)

    def put_evaluations(
        self, evaluations: list[dict[str, Any]] | None = None, result_token: str | None = None, test_mode: bool = False
    ) -> dict[str, list[Any]]:
        evaluations = evaluations or []
        if not result_token:
            raise InvalidParameterValueException("ResultToken is required")
        if len(evaluations) > 100:
            raise InvalidParameterValueException("Evaluations: at most 100 items")
        for evaluation in evaluations:
            if evaluation.get("ComplianceType") not in ACCEPTED:
                raise InvalidParameterValueException(f"ComplianceType {evaluation.get('ComplianceType')!r}")
            if not 1 <= len(evaluation.get("Annotation") or "x") <= 256:
                raise InvalidParameterValueException("Annotation: 1 to 256 characters")
            if not 1 <= len(evaluation.get("ComplianceResourceId", "")) <= 768:
                raise InvalidParameterValueException("ComplianceResourceId: 1 to 768 characters")
        self.calls.append((len(evaluations), bool(test_mode)))
        failed = [e for e in evaluations if e["ComplianceResourceId"] in self.refused]
        if not test_mode:
            self.delivered.setdefault(result_token, []).extend(e for e in evaluations if e not in failed)
        return {"FailedEvaluations": failed}


@contextmanager
def applied(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConfigDouble]:
    double = ConfigDouble()

    def put_evaluations(self: Any, evaluations: Any = None, result_token: Any = None, test_mode: Any = False) -> Any:
        return double.put_evaluations(evaluations, result_token, test_mode)

    monkeypatch.setattr(models.ConfigBackend, "put_evaluations", put_evaluations)
    yield double
