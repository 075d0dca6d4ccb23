"""Batch Operations result codes and job arguments: what each outcome asks of the job, without any AWS."""

from __future__ import annotations

import pytest

from dsse_remediation.batch.tasks import (
    RESULT_STRING_LIMIT,
    JobArguments,
    ResultCode,
    parse_arguments,
    result_code,
    result_string,
)
from dsse_remediation.exceptions import InvalidRequest
from dsse_remediation.model import Failure, ObjectResult, Outcome

SUCCEEDED, TEMPORARY, PERMANENT = ResultCode.SUCCEEDED, ResultCode.TEMPORARY_FAILURE, ResultCode.PERMANENT_FAILURE


def result(outcome: Outcome, failure: Failure | None = None, reason: str = "why") -> ObjectResult:
    return ObjectResult(bucket="b", key="k", outcome=outcome, reason=reason, failure=failure)


@pytest.mark.parametrize(
    ("outcome", "failure", "expected"),
    [
        (Outcome.REMEDIATED, None, SUCCEEDED),
        (Outcome.COMPLIANT, None, SUCCEEDED),
        (Outcome.WOULD_REMEDIATE, None, SUCCEEDED),
        (Outcome.OUT_OF_SCOPE, None, SUCCEEDED),
        (Outcome.GONE, None, SUCCEEDED),
        (Outcome.UNREMEDIABLE, None, SUCCEEDED),  # SSE-C, noncurrent version, directory bucket, annotations
        (Outcome.UNREMEDIABLE, Failure.ARCHIVED, SUCCEEDED),
        (Outcome.UNREMEDIABLE, Failure.DENIED, PERMANENT),
        (Outcome.UNREMEDIABLE, Failure.KEY_UNUSABLE, PERMANENT),
        (Outcome.UNREMEDIABLE, Failure.SOURCE_KEY, SUCCEEDED),  # one object's own key: the job goes on
        (Outcome.HELD, None, PERMANENT),  # a job is one bucket, and the reader-safety gate holds it: stop the job
        (Outcome.FAILED, Failure.THROTTLED, TEMPORARY),
        (Outcome.FAILED, Failure.TRANSIENT, TEMPORARY),
        (Outcome.FAILED, Failure.RACE, TEMPORARY),
        (Outcome.FAILED, Failure.OUT_OF_TIME, TEMPORARY),  # not started, or stopped between parts: time ran out
        (Outcome.FAILED, Failure.OTHER, PERMANENT),
        (Outcome.FAILED, Failure.KEY_UNUSABLE, PERMANENT),
        (Outcome.FAILED, None, PERMANENT),  # S3 accepted the copy but reports another encryption
    ],
)
def test_each_outcome_asks_the_job_for_what_helps(
    outcome: Outcome, failure: Failure | None, expected: ResultCode
) -> None:
    assert result_code(result(outcome, failure)) is expected


def test_the_result_string_starts_with_the_outcome_so_the_report_alone_can_be_counted() -> None:
    assert result_string(result(Outcome.GONE, reason="deleted")) == "gone: deleted"


def test_a_long_reason_is_cut_to_the_limit() -> None:
    text = result_string(result(Outcome.FAILED, reason="x" * 5000))

    assert len(text) == RESULT_STRING_LIMIT
    assert text.startswith("failed: x")
    assert text.endswith("...")


class TestJobArguments:
    def test_none_given_is_a_real_run_without_a_campaign(self) -> None:
        assert parse_arguments(None) == JobArguments(dry_run=False, campaign=None)

    def test_dry_run_and_campaign_are_read_from_strings(self) -> None:
        assert parse_arguments({"dryRun": "TRUE", "campaign": "backfill-2026-11-30"}) == JobArguments(
            dry_run=True, campaign="backfill-2026-11-30"
        )

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ({"dryrun": "true"}, "unknown job.userArguments ['dryrun']"),  # a typo must not turn off the dry run
            ({"dryRun": "1"}, "must be 'true' or 'false'"),
            ({"dryRun": True}, "must be an object of strings"),
            ({"campaign": ""}, "campaign must be 1-64 letters, digits"),
            ({"campaign": "c" * 129}, "campaign must be 1-64 letters, digits"),
            (["dryRun"], "must be an object of strings"),
        ],
    )
    def test_anything_else_is_refused_with_what_is_expected(self, raw: object, message: str) -> None:
        with pytest.raises(InvalidRequest, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse_arguments(raw)
