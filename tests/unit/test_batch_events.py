"""The batch jobs function's payloads: a job status change, the backstop, a manual summary, and a clear InvalidEvent
for every other JSON value. Pure: no fake AWS."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dsse_remediation.batch.events import BackstopRequest, JobStatusChange, SummaryRequest, parse_batch_jobs_event
from dsse_remediation.exceptions import InvalidEvent
from dsse_remediation.model import Source
from tests.helpers import load_event

JOB_ID = "9c1d5e0b-fd60-4b6e-9ae7-c9ab5a41b3e6"


def test_a_job_completion_event_names_the_job_and_its_status_with_attribution() -> None:
    request = parse_batch_jobs_event(load_event("batch-job-status-complete.json"))

    assert isinstance(request, JobStatusChange)
    assert (request.job_id, request.status) == (JOB_ID, "Complete")
    assert request.trigger.source is Source.BATCH
    assert request.trigger.event_name == "JobStatusChanged"
    assert request.trigger.event_id == "5e2a7f90-3b7a-4a7e-8f0a-2d9b6c4e7a13"
    assert request.trigger.actor == "s3.amazonaws.com"


def test_a_status_that_is_not_final_is_still_a_status_change_for_the_completions_to_ignore() -> None:
    request = parse_batch_jobs_event(load_event("batch-job-status-active.json"))

    assert isinstance(request, JobStatusChange)
    assert request.status == "Active"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("backstop-scheduled.json", BackstopRequest(dry_run=False)),
        ("backstop-dry-run.json", BackstopRequest(dry_run=True)),
        ("manual-batch-job.json", SummaryRequest(job_id=JOB_ID, alert=False)),
    ],
)
def test_the_backstop_and_manual_samples_are_understood(sample: str, expected: Any) -> None:
    assert parse_batch_jobs_event(load_event(sample)) == expected


def test_a_manual_summary_may_ask_for_the_alert() -> None:
    assert parse_batch_jobs_event({"job": JOB_ID, "alert": True}) == SummaryRequest(JOB_ID, alert=True)


def _status(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("batch-job-status-complete.json"))
    for path, value in changes.items():
        where = event
        *parents, leaf = path.split("__")
        for name in parents:
            where = where[name]
        if value is ...:
            del where[leaf]
        else:
            where[leaf] = value
    return event


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        [{"job": JOB_ID}],
        "x",
        1,
        1.5,
        True,
        {},
        {"bucket": "example-protected-bucket"},
        {"backstop": None},
        {"backstop": True},
        {"backstop": {"dryRun": "yes"}},
        {"backstop": {"dryrun": True}},
        {"backstop": {}, "job": JOB_ID},
        {"job": None},
        {"job": 5},
        {"job": ""},
        {"job": "../../etc/passwd"},
        {"job": "x" * 37},
        {"job": JOB_ID, "alert": "yes"},
        {"job": JOB_ID, "dryRun": True},
        _status(source="aws.kms"),
        _status(**{"detail-type": "Object Created"}),
        _status(detail=[]),
        _status(detail__eventName="JobCreated"),
        _status(detail__eventSource="kms.amazonaws.com"),
        _status(detail__serviceEventDetails=...),
        _status(detail__serviceEventDetails=None),
        _status(detail__serviceEventDetails__jobId=...),
        _status(detail__serviceEventDetails__jobId=7),
        _status(detail__serviceEventDetails__status=""),
        _status(detail__serviceEventDetails__status=None),
    ],
)
def test_any_other_json_value_is_an_invalid_event_that_says_what_was_expected(value: Any) -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_batch_jobs_event(value)

    assert str(raised.value)  # a message for the person who sent it


@pytest.mark.parametrize(
    "value",
    [
        {"job": JOB_ID + "\n"},
        {"job": JOB_ID[:-1] + "é"},
        _status(detail__serviceEventDetails__jobId=JOB_ID + "\n"),
        _status(detail__serviceEventDetails__jobId=JOB_ID[:-1] + "é"),
    ],
)
def test_a_job_id_is_checked_whole_and_ascii_only(value: Any) -> None:
    """s3control's JobId is 5-36 of [a-zA-Z0-9_-]: a `$` would pass a trailing newline on to DescribeJob."""
    with pytest.raises(InvalidEvent, match="job"):
        parse_batch_jobs_event(value)


def test_the_optional_attribution_fields_of_a_status_change_may_be_missing() -> None:
    event = _status(detail__eventID=..., detail__eventTime=..., detail__userIdentity=..., id=..., time=...)

    request = parse_batch_jobs_event(event)

    assert isinstance(request, JobStatusChange)
    assert request.trigger.event_id is None
    assert request.trigger.actor is None
