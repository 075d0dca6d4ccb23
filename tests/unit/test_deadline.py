"""The invocation's deadline and the copy estimates, without any AWS: what a context gives, when a copy may start."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import pytest

from dsse_remediation.batch.tasks import ResultCode, parse_batch_invocation
from dsse_remediation.config import GIB, MIB
from dsse_remediation.deadline import (
    LAMBDA_MAX_SECONDS,
    NO_DEADLINE,
    SAFETY_MARGIN_SECONDS,
    Deadline,
    OutOfTime,
    multipart_copy,
    part_seconds,
    single_copy,
)
from dsse_remediation.model import ObjectRequest, Outcome, Source, Trigger
from tests.helpers import CallLog, Wiring, invoke, sqs_batch_of
from tests.lambda_context import Clock, LambdaContext

TIB = 1024 * GIB
DEFAULT_PART, DEFAULT_CONCURRENCY = 512 * MIB, 8  # Settings' defaults
FULL = Deadline.of(LambdaContext(timeout_seconds=LAMBDA_MAX_SECONDS))  # the template's 900-s functions


class TestDeadlineFromTheContext:
    def test_the_margin_is_kept_back_from_the_invocations_time(self) -> None:
        deadline = Deadline.of(LambdaContext(timeout_seconds=300))

        assert deadline.capacity == deadline.remaining() == 300 - SAFETY_MARGIN_SECONDS

    def test_the_time_left_follows_the_context_and_ends_at_the_margin(self) -> None:
        clock = Clock()
        deadline = Deadline.of(LambdaContext(timeout_seconds=60, clock=clock))

        clock.advance(45)
        assert (deadline.remaining(), deadline.expired(), deadline.capacity) == (5, False, 50)
        clock.advance(5)
        assert (deadline.remaining(), deadline.expired()) == (0, True)
        clock.advance(30)  # past the timeout itself: still 0, never negative
        assert (deadline.remaining(), deadline.expired()) == (0, True)

    def test_no_invocation_gives_more_than_lambdas_900_seconds(self) -> None:
        deadline = Deadline.of(LambdaContext(timeout_seconds=3600))

        assert deadline.capacity == LAMBDA_MAX_SECONDS - SAFETY_MARGIN_SECONDS

    def test_a_timeout_within_the_margin_leaves_no_time(self) -> None:
        deadline = Deadline.of(LambdaContext(timeout_seconds=SAFETY_MARGIN_SECONDS / 2))

        assert (deadline.capacity, deadline.expired()) == (0, True)

    def test_work_that_does_not_fit_the_time_left_is_refused_naming_it(self) -> None:
        deadline = Deadline.of(LambdaContext(timeout_seconds=30))  # 20 s of work

        deadline.require(20, "a copy")
        with pytest.raises(OutOfTime, match="a copy would take about 21 s and 20 s are left"):
            deadline.require(21, "a copy")

    def test_the_command_line_has_no_deadline(self) -> None:
        assert (NO_DEADLINE.capacity, NO_DEADLINE.expired()) == (math.inf, False)
        assert NO_DEADLINE.allows(10 * 365 * 24 * 3600)


class TestCopyEstimates:
    def test_the_largest_single_copyobject_fits_one_invocation_with_room_to_spare(self) -> None:
        estimate = single_copy(5 * GIB)

        assert estimate.in_one_invocation < FULL.capacity / 2
        assert estimate.basis == "one CopyObject of 5.0 GiB at an assumed 25 MiB/s"

    @pytest.mark.parametrize(("size", "fits"), [(100 * GIB, True), (160 * GIB, True), (170 * GIB, False)])
    def test_with_the_default_parts_about_160_gib_fit_one_900_s_invocation(self, size: int, fits: bool) -> None:
        estimate = multipart_copy(size, DEFAULT_PART, DEFAULT_CONCURRENCY)

        assert (estimate.in_one_invocation <= FULL.capacity) is fits

    def test_parts_copied_at_once_shorten_the_copy(self) -> None:
        one, eight = (multipart_copy(40 * GIB, DEFAULT_PART, n).seconds for n in (1, 8))

        assert one > 7 * eight

    def test_a_copy_has_at_most_10000_parts(self) -> None:
        estimate = multipart_copy(5 * TIB, 5 * MIB, DEFAULT_CONCURRENCY)

        assert "in 10,000 part(s) of 524.3 MiB" in estimate.basis
        assert estimate.in_one_invocation > LAMBDA_MAX_SECONDS

    def test_a_part_may_start_only_with_time_for_it_and_the_completion(self) -> None:
        assert part_seconds(5 * MIB) > single_copy(5 * MIB).seconds


class TestNothingStartsOnceTheTimeIsUp:
    """Built offline (tests/unit/conftest.py): any AWS call would be recorded; none may be made."""

    def test_an_object_request_fails_to_be_retried_before_any_call(self, offline: Wiring, calls: CallLog) -> None:
        expired = Deadline.of(LambdaContext(timeout_seconds=1))
        request = ObjectRequest("example-protected-bucket", ("k.csv",), trigger=Trigger(Source.CLOUDTRAIL))

        result = offline.app().objects.handle(request, deadline=expired)

        assert (result.outcome, result.failure and result.failure.retryable) == (Outcome.FAILED, True)
        assert result.reason.startswith("not started: the invocation's time is up")
        assert calls.calls == []

    def test_a_batch_task_is_a_temporary_failure_before_any_call(self, offline: Wiring, calls: CallLog) -> None:
        invocation = parse_batch_invocation(
            {
                "invocationSchemaVersion": "2.0",
                "invocationId": "i1",
                "job": {"id": "j1"},
                "tasks": [{"taskId": "t1", "s3Bucket": "example-protected-bucket", "s3Key": "k.csv"}],
            }
        )

        [done] = offline.app().batch_tasks.run(invocation, Deadline.of(LambdaContext(timeout_seconds=1)))

        assert (done.code, done.text.split(":")[0]) == (ResultCode.TEMPORARY_FAILURE, "failed")
        assert calls.calls == []

    def test_sqs_records_are_all_returned_untouched(
        self, offline_handler: Callable[[str], ModuleType], calls: CallLog
    ) -> None:
        """Every record failed: Powertools raises, and the whole batch returns to the queue."""
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        handler = offline_handler("object_remediation")
        bodies = ['{"bucket": "example-protected-bucket", "key": "a.csv"}'] * 2

        with pytest.raises(BatchProcessingError, match="All records failed"):
            invoke(handler, sqs_batch_of(bodies), LambdaContext(timeout_seconds=1))
        assert calls.calls == []
