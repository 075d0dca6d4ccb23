"""Security Hub findings built from results, without AWS: ASFF with a deterministic id per resource, what a finding
says (never contents or metadata values), when the sink imports, resolves, or leaves Security Hub alone (bulk results
included), and that it never raises, whatever Security Hub answers. tests/integration/test_findings.py runs the
lifecycle on fake AWS."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dsse_remediation.aws.securityhub import SecurityHub
from dsse_remediation.exceptions import AwsFailure
from dsse_remediation.findings import (
    DESCRIPTION_LIMIT,
    RAISES,
    TITLE_LIMIT,
    FindingImportFailed,
    Findings,
    Where,
    asff,
    finding_id,
    partition_of,
)
from dsse_remediation.model import (
    BucketEncryption,
    BucketResult,
    Encryption,
    Failure,
    ObjectResult,
    Outcome,
    Source,
    Trigger,
)
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY, REGION, WRITER

WHERE = Where(ACCOUNT_ID, REGION)
NOW = datetime(2026, 11, 20, 9, 15, 4, 933000, tzinfo=UTC)
# What every finding holds (the ASFF required attributes, and those this stack sets to resolve one).
ATTRIBUTES = {
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "FindingProviderFields",
    "Title",
    "Description",
    "Resources",
    "Compliance",
    "RecordState",
    "ProductFields",
}


def object_result(outcome: Outcome = Outcome.UNREMEDIABLE, **fields: Any) -> ObjectResult:
    defaults: dict[str, Any] = {
        "bucket": "example-protected-bucket",
        "key": "reports/q3.csv",
        "outcome": outcome,
        "reason": "archived object: restore it first",
        "before": Encryption("AES256"),
        "expected_key_arn": PLACEHOLDER_KEY,
        "trigger": WRITER,
    }
    return ObjectResult(**(defaults | fields))


def bucket_result(outcome: Outcome = Outcome.WOULD_REMEDIATE, **fields: Any) -> BucketResult:
    defaults: dict[str, Any] = {
        "bucket": "example-protected-bucket",
        "outcome": outcome,
        "reason": "alert-only mode: would reset the default encryption",
        "before": BucketEncryption("AES256", bucket_key_enabled=True),
        "expected_key_arn": PLACEHOLDER_KEY,
    }
    return BucketResult(**(defaults | fields))


def test_an_unremediable_object_is_an_active_failed_high_finding_on_the_object() -> None:
    finding = asff(object_result(), WHERE, NOW)

    assert set(finding) == ATTRIBUTES
    assert finding["SchemaVersion"] == "2018-10-08"
    assert finding["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"
    assert (finding["GeneratorId"], finding["AwsAccountId"]) == ("dsse-remediation", ACCOUNT_ID)
    assert finding["Types"] == ["Software and Configuration Checks/AWS Security Best Practices"]
    assert finding["CreatedAt"] == finding["UpdatedAt"] == "2026-11-20T09:15:04.933Z"  # equal on creation
    assert finding["Severity"] == {"Label": "HIGH", "Original": "unremediable"}
    assert finding["FindingProviderFields"] == {"Severity": finding["Severity"], "Types": finding["Types"]}
    assert (finding["RecordState"], finding["Compliance"]) == ("ACTIVE", {"Status": "FAILED"})
    assert (
        finding["Title"]
        == "S3 object cannot be re-encrypted with DSSE-KMS: s3://example-protected-bucket/reports/q3.csv"
    )
    assert finding["Description"] == "archived object: restore it first"
    assert finding["Resources"] == [
        {
            "Type": "AwsS3Object",
            "Id": "arn:aws:s3:::example-protected-bucket/reports/q3.csv",
            "Partition": "aws",
            "Region": REGION,
        }
    ]
    assert finding["ProductFields"] == {
        "dsse-remediation/outcome": "unremediable",
        "dsse-remediation/expectedKmsKeyId": PLACEHOLDER_KEY,
        "dsse-remediation/encryptionBefore": "AES256",
        "dsse-remediation/actor": WRITER.actor,
    }


@pytest.mark.parametrize(
    ("outcome", "label", "state", "status"),
    [
        (Outcome.UNREMEDIABLE, "HIGH", "ACTIVE", "FAILED"),
        (Outcome.FAILED, "HIGH", "ACTIVE", "FAILED"),
        (Outcome.WOULD_REMEDIATE, "MEDIUM", "ACTIVE", "FAILED"),
        (Outcome.HELD, "HIGH", "ACTIVE", "FAILED"),  # the reader-safety gate: not DSSE, and a human must decide
        (Outcome.REMEDIATED, "INFORMATIONAL", "ARCHIVED", "PASSED"),
        (Outcome.COMPLIANT, "INFORMATIONAL", "ARCHIVED", "PASSED"),
    ],
)
def test_each_outcome_raises_or_resolves(outcome: Outcome, label: str, state: str, status: str) -> None:
    for result in (object_result(outcome), bucket_result(outcome)):
        finding = asff(result, WHERE, NOW)

        assert (finding["Severity"]["Label"], finding["RecordState"], finding["Compliance"]["Status"]) == (
            label,
            state,
            status,
        )
        assert finding["ProductFields"]["dsse-remediation/outcome"] == outcome.value


def test_a_bucket_finding_is_on_the_bucket() -> None:
    finding = asff(bucket_result(), WHERE, NOW)

    assert finding["Resources"][0]["Type"] == "AwsS3Bucket"
    assert finding["Resources"][0]["Id"] == "arn:aws:s3:::example-protected-bucket"
    assert finding["Title"].endswith(": s3://example-protected-bucket")
    assert finding["ProductFields"]["dsse-remediation/encryptionBefore"] == "AES256, Bucket Key on"
    assert "dsse-remediation/actor" not in finding["ProductFields"]  # a manual request names no writer


def test_ids_are_deterministic_per_resource_account_and_region() -> None:
    same = [finding_id(WHERE, object_result(o)) for o in (Outcome.UNREMEDIABLE, Outcome.REMEDIATED)]
    others = {
        finding_id(WHERE, object_result(key="reports/q4.csv")),
        finding_id(WHERE, bucket_result()),  # the bucket, not an object of it
        finding_id(Where("210987654321", REGION), object_result()),
        finding_id(Where(ACCOUNT_ID, "eu-west-1"), object_result()),
    }

    assert same[0] == same[1]
    assert re.fullmatch(rf"dsse-remediation/{ACCOUNT_ID}/{REGION}/[0-9a-f]{{64}}", same[0])
    assert len(others) == 4
    assert same[0] not in others


def test_long_keys_and_reasons_are_cut_to_asffs_limits() -> None:
    key = "deep/" + "k" * 1015  # 1,020 bytes: S3 allows 1,024
    finding = asff(object_result(key=key, reason="r" * 5000), WHERE, NOW)

    assert len(finding["Title"]) == TITLE_LIMIT
    assert finding["Title"].endswith("...")
    assert len(finding["Description"]) == DESCRIPTION_LIMIT
    assert finding["Resources"][0]["Id"].endswith(key)  # the resource itself is never cut
    assert finding["Id"] == finding_id(WHERE, object_result(key=key))


def test_a_finding_holds_no_more_than_the_result_says() -> None:
    """Results never carry contents or metadata values (ObjectState does; results keep only encryption and ids), and a
    finding holds only the documented attributes and product fields."""
    finding = asff(object_result(), WHERE, NOW)

    assert set(finding) == ATTRIBUTES
    assert set(finding["ProductFields"]) == {
        f"dsse-remediation/{name}" for name in ("outcome", "expectedKmsKeyId", "encryptionBefore", "actor")
    }
    assert all(isinstance(value, str) and value for value in finding["ProductFields"].values())


@pytest.mark.parametrize(
    ("region", "partition"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_the_partition_follows_the_region(region: str, partition: str) -> None:
    finding = asff(object_result(), Where(ACCOUNT_ID, region), NOW)

    assert partition_of(region) == partition
    assert finding["ProductArn"].startswith(f"arn:{partition}:securityhub:{region}:")
    assert finding["Resources"][0]["Id"].startswith(f"arn:{partition}:s3:::")


# --- the sink -------------------------------------------------------------------------------------------------------


class FakeHub:
    """Answers every lookup with `existing`; `failure` fails every import, `lookup_failure` every lookup."""

    def __init__(
        self,
        existing: dict[str, Any] | None = None,
        failure: AwsFailure | None = None,
        lookup_failure: AwsFailure | None = None,
    ) -> None:
        self.existing = existing
        self.failure = failure
        self.lookup_failure = lookup_failure
        self.calls: list[tuple[str, Any]] = []

    def import_findings(self, findings: list[dict[str, Any]]) -> None:
        self.calls.append(("import", findings))
        if self.failure:
            raise self.failure

    def finding(self, finding_id: str, product_arn: str) -> dict[str, Any] | None:
        self.calls.append(("get", (finding_id, product_arn)))
        if self.lookup_failure:
            raise self.lookup_failure
        return self.existing

    def resolve(self, finding_id: str, product_arn: str) -> None:
        self.calls.append(("resolve", (finding_id, product_arn)))


def sink(hub: Any, errors: list[Exception] | None = None, now: datetime = NOW) -> Findings:
    return Findings(hub, WHERE, errors.append if errors is not None else None, lambda: now)


def calls(hub: FakeHub) -> list[str]:
    return [call for call, _ in hub.calls]


IDENTIFIER = (finding_id(WHERE, object_result()), WHERE.product_arn)


@pytest.mark.parametrize("outcome", sorted(RAISES))
def test_a_problem_is_imported_after_one_lookup_of_its_finding(outcome: Outcome) -> None:
    """A new finding: nothing to look up found, CreatedAt equals UpdatedAt (asff-required-attributes.html)."""
    hub = FakeHub()

    sink(hub).record(object_result(outcome))

    [(first, looked_up), (second, [finding])] = hub.calls
    assert (first, second) == ("get", "import")
    assert looked_up == IDENTIFIER
    assert finding["Id"] == finding_id(WHERE, object_result())
    assert finding["RecordState"] == "ACTIVE"
    assert finding["CreatedAt"] == finding["UpdatedAt"] == "2026-11-20T09:15:04.933Z"


def test_a_remediated_result_archives_its_finding_then_resolves_its_workflow() -> None:
    """An import cannot set the Workflow of an existing finding; BatchUpdateFindings does (RESOLVED)."""
    hub = FakeHub()

    sink(hub).record(object_result(Outcome.REMEDIATED))

    [(first, _), (second, [finding]), (third, resolved)] = hub.calls
    assert (first, second, third) == ("get", "import", "resolve")
    assert (finding["RecordState"], finding["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert resolved == IDENTIFIER


# A finding first raised at T1 (and last updated a day later), seen again at NOW.
T1 = "2026-10-02T07:30:00.125Z"
RAISED = {
    "Id": IDENTIFIER[0],
    "ProductArn": IDENTIFIER[1],
    "CreatedAt": T1,
    "UpdatedAt": "2026-10-03T07:30:00.125Z",
    "RecordState": "ACTIVE",
    "Compliance": {"Status": "FAILED"},
    "Workflow": {"Status": "NEW"},
}
RESOLVED = RAISED | {"RecordState": "ARCHIVED", "Compliance": {"Status": "PASSED"}, "Workflow": {"Status": "RESOLVED"}}


@pytest.mark.parametrize("outcome", sorted(RAISES))
@pytest.mark.parametrize("existing", [RAISED, RESOLVED], ids=["active", "archived-and-resolved"])
def test_a_finding_raised_again_keeps_its_creation_and_is_updated_now(
    existing: dict[str, Any], outcome: Outcome
) -> None:
    """Raised again (an alert-only look, a retried failure) or recurring after its fix: the same finding record,
    created at T1 (CreatedAt: "when the potential security issue captured by a finding was created"), updated now.
    The import sends no Workflow: Security Hub itself turns a RESOLVED one back to NEW as it becomes ACTIVE again
    (API_Workflow.html)."""
    hub = FakeHub(existing)

    sink(hub, now=NOW).record(object_result(outcome))

    assert calls(hub) == ["get", "import"]
    [finding] = hub.calls[1][1]
    assert (finding["CreatedAt"], finding["UpdatedAt"]) == (T1, "2026-11-20T09:15:04.933Z")
    assert (finding["RecordState"], finding["Compliance"]["Status"]) == ("ACTIVE", "FAILED")
    assert set(finding) == ATTRIBUTES  # no Workflow: an import cannot set it on an existing finding


@pytest.mark.parametrize(
    ("result", "existing"),
    [(object_result(Outcome.REMEDIATED), RAISED), (object_result(Outcome.COMPLIANT), RAISED)],
    ids=["remediated", "compliant"],
)
def test_a_fixed_resource_keeps_the_creation_of_the_finding_it_resolves(
    result: ObjectResult, existing: dict[str, Any]
) -> None:
    hub = FakeHub(existing)

    sink(hub, now=NOW).record(result)

    assert calls(hub) == ["get", "import", "resolve"]
    [finding] = hub.calls[1][1]
    assert (finding["CreatedAt"], finding["UpdatedAt"]) == (T1, "2026-11-20T09:15:04.933Z")
    assert finding["RecordState"] == "ARCHIVED"


@pytest.mark.parametrize("outcome", [Outcome.WOULD_REMEDIATE, Outcome.REMEDIATED, Outcome.COMPLIANT])
def test_every_import_is_later_than_the_finding_it_updates_whatever_the_clock_says(outcome: Outcome) -> None:
    """Security Hub ignores an update whose UpdatedAt is earlier than the finding's (finding-update-
    batchimportfindings.html): a clock behind the finding's UpdatedAt (another function's, skewed) moves it 1 ms on."""
    ahead = RAISED | {"UpdatedAt": "2026-11-20T09:15:05.000Z"}
    hub = FakeHub(ahead)

    sink(hub, now=NOW).record(object_result(outcome))

    [finding] = hub.calls[1][1]
    assert (finding["CreatedAt"], finding["UpdatedAt"]) == (T1, "2026-11-20T09:15:05.001Z")


@pytest.mark.parametrize("existing", [RAISED, RAISED | {"RecordState": "ARCHIVED"}], ids=["active", "archived"])
@pytest.mark.parametrize("outcome", [Outcome.REMEDIATED, Outcome.COMPLIANT])
def test_a_suppressed_finding_is_never_resolved_over_the_persons_decision(
    outcome: Outcome, existing: dict[str, Any]
) -> None:
    """SUPPRESSED: someone "reviewed the finding and don't believe that any action is needed" (API_Workflow.html).
    The fix still archives an active finding; its workflow stays theirs."""
    suppressed = existing | {"Workflow": {"Status": "SUPPRESSED"}}
    hub = FakeHub(suppressed)

    sink(hub).record(object_result(outcome))

    archives = existing["RecordState"] == "ACTIVE" or outcome is Outcome.REMEDIATED
    assert calls(hub) == (["get", "import"] if archives else ["get"])


LOOKUP_THROTTLED = AwsFailure(Failure.THROTTLED, "ThrottlingException: Rate exceeded", "ThrottlingException")


@pytest.mark.parametrize("outcome", [*sorted(RAISES), Outcome.REMEDIATED])
def test_a_problem_or_a_fix_whose_lookup_fails_still_reaches_security_hub_and_the_lookup_is_counted(
    outcome: Outcome,
) -> None:
    """A finding's age matters less than the finding: without its finding record, the result is imported as a new
    one (CreatedAt now), and the failed lookup counted once."""
    errors: list[Exception] = []
    hub = FakeHub(RAISED, lookup_failure=LOOKUP_THROTTLED)

    sink(hub, errors).record(object_result(outcome))

    assert calls(hub)[:2] == ["get", "import"]
    [finding] = hub.calls[1][1]
    assert finding["CreatedAt"] == finding["UpdatedAt"] == "2026-11-20T09:15:04.933Z"
    [error] = errors
    assert isinstance(error, FindingImportFailed)
    assert error.code == "ThrottlingException"


def test_when_the_lookup_and_the_import_both_fail_the_failure_is_counted_once() -> None:
    errors: list[Exception] = []
    refused = AwsFailure(Failure.OTHER, "InvalidAccess: not subscribed", "InvalidAccess")
    hub = FakeHub(failure=refused, lookup_failure=LOOKUP_THROTTLED)

    sink(hub, errors).record(object_result(Outcome.FAILED))

    assert calls(hub) == ["get", "import"]
    [error] = errors
    assert error.code == "InvalidAccess"  # what kept the finding out of Security Hub


def test_a_compliant_result_whose_lookup_fails_imports_nothing() -> None:
    errors: list[Exception] = []
    hub = FakeHub(lookup_failure=LOOKUP_THROTTLED)

    sink(hub, errors).record(object_result(Outcome.COMPLIANT))

    assert calls(hub) == ["get"]
    [error] = errors
    assert error.code == "ThrottlingException"


@pytest.mark.parametrize("outcome", [Outcome.OUT_OF_SCOPE, Outcome.GONE])
def test_out_of_scope_and_gone_results_leave_security_hub_alone(outcome: Outcome) -> None:
    hub = FakeHub()

    sink(hub).record(object_result(outcome))
    sink(hub).record(bucket_result(outcome))

    assert hub.calls == []


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, ["get"]),  # nothing to resolve
        ({"RecordState": "ARCHIVED", "Workflow": {"Status": "RESOLVED"}}, ["get"]),
        ({"RecordState": "ARCHIVED", "Workflow": {"Status": "SUPPRESSED"}}, ["get"]),  # a person's decision stands
        ({"RecordState": "ARCHIVED", "Workflow": {"Status": "NEW"}}, ["get", "resolve"]),  # an earlier resolve failed
        ({"RecordState": "ARCHIVED"}, ["get", "resolve"]),  # no workflow: a finding starts NEW
    ],
)
def test_a_compliant_result_imports_nothing_without_an_active_finding(
    existing: dict[str, Any] | None, expected: list[str]
) -> None:
    hub = FakeHub(existing)

    sink(hub).record(object_result(Outcome.COMPLIANT))

    assert calls(hub) == expected


def test_a_compliant_result_resolves_the_active_finding_keeping_its_creation_and_updating_it_later() -> None:
    existing = {
        "RecordState": "ACTIVE",
        "CreatedAt": "2026-11-01T08:00:00.000Z",
        "UpdatedAt": "2026-11-20T09:15:05.000Z",
        "Workflow": {"Status": "NEW"},
    }
    hub = FakeHub(existing)

    sink(hub, now=NOW).record(object_result(Outcome.COMPLIANT))  # this clock is behind the finding's UpdatedAt

    [(first, looked_up), (second, [finding]), (third, resolved)] = hub.calls
    assert (first, second, third) == ("get", "import", "resolve")
    assert looked_up == resolved == IDENTIFIER
    assert (finding["RecordState"], finding["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert finding["CreatedAt"] == "2026-11-01T08:00:00.000Z"
    assert finding["UpdatedAt"] == "2026-11-20T09:15:05.001Z"
    assert sink(FakeHub(existing), now=NOW + timedelta(hours=1))._later(existing) == NOW + timedelta(hours=1)


# --- bulk results: Security Hub's quotas -----------------------------------------------------------------------------

BULK_TRIGGERS = [Trigger(source=Source.SWEEP), Trigger(source=Source.BATCH)]
EVENT_AND_MANUAL_TRIGGERS = [Trigger(source=s) for s in (Source.CLOUDTRAIL, Source.S3_NOTIFICATION, Source.MANUAL)]


@pytest.mark.parametrize("trigger", BULK_TRIGGERS, ids=lambda t: t.source.value)
@pytest.mark.parametrize("outcome", [Outcome.COMPLIANT, Outcome.REMEDIATED])
def test_a_sweeps_or_a_backfills_compliant_and_remediated_results_make_no_security_hub_call(
    outcome: Outcome, trigger: Trigger
) -> None:
    """BatchImportFindings allows 10 requests per second per account and Region, GetFindings fewer: a sweep or a
    Batch Operations job of a million objects must not spend them on objects that are fine."""
    hub = FakeHub({"RecordState": "ACTIVE"})

    sink(hub).record(object_result(outcome, trigger=trigger))
    sink(hub).record(bucket_result(outcome, trigger=trigger))

    assert hub.calls == []


@pytest.mark.parametrize("trigger", BULK_TRIGGERS, ids=lambda t: t.source.value)
@pytest.mark.parametrize("outcome", sorted(RAISES))
def test_a_sweeps_or_a_backfills_problems_still_raise_findings(outcome: Outcome, trigger: Trigger) -> None:
    hub = FakeHub()

    sink(hub).record(object_result(outcome, trigger=trigger))

    assert calls(hub) == ["get", "import"]  # one GetFindings (3 per second) and one BatchImportFindings each


@pytest.mark.parametrize("trigger", EVENT_AND_MANUAL_TRIGGERS, ids=lambda t: t.source.value)
def test_event_driven_and_manual_results_keep_raising_and_resolving(trigger: Trigger) -> None:
    hub = FakeHub({"RecordState": "ACTIVE"})

    for outcome in (Outcome.UNREMEDIABLE, Outcome.REMEDIATED, Outcome.COMPLIANT):
        sink(hub).record(object_result(outcome, trigger=trigger))

    assert calls(hub) == ["get", "import", "get", "import", "resolve", "get", "import", "resolve"]


# --- never raises ----------------------------------------------------------------------------------------------------


def test_an_import_failure_is_counted_and_never_raised() -> None:
    errors: list[Exception] = []
    hub = FakeHub(failure=AwsFailure(Failure.OTHER, "InvalidAccess: not subscribed", "InvalidAccess"))

    sink(hub, errors).record(object_result())
    sink(hub).record(bucket_result())  # without a counter: still quiet

    [error] = errors
    assert isinstance(error, FindingImportFailed)
    assert (error.code, error.metric, str(error)) == (
        "InvalidAccess",
        "FindingImportFailed",
        "InvalidAccess: not subscribed",
    )


class AnsweringClient:
    """A Security Hub client answering each operation with what it is given (no AWS): how Security Hub's answers
    reach the adapter, malformed ones included."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> Any:
            self.requests.append((operation, params))
            return self.answers.get(operation, {})

        return call


def recorded_through(client: AnsweringClient, result: ObjectResult) -> list[Exception]:
    errors: list[Exception] = []
    sink(SecurityHub(lambda: client), errors).record(result)
    return errors


@pytest.mark.parametrize(
    ("answers", "outcome", "code"),
    [
        # FailedCount without FailedFindings: refused all the same, of an unknown code (no IndexError).
        ({"batch_import_findings": {"FailedCount": 1}}, Outcome.UNREMEDIABLE, "Unknown"),
        ({"batch_import_findings": {"FailedCount": 1, "FailedFindings": []}}, Outcome.UNREMEDIABLE, "Unknown"),
        ({"batch_import_findings": {"FailedCount": 2, "FailedFindings": ["?"]}}, Outcome.REMEDIATED, "Unknown"),
        # BatchUpdateFindings could not resolve it.
        (
            {"batch_update_findings": {"UnprocessedFindings": [{"ErrorCode": "AccessDenied", "ErrorMessage": "no"}]}},
            Outcome.REMEDIATED,
            "AccessDenied",
        ),
        # Answers this code does not expect: a finding that is not an object, a GetFindings answer that is a list.
        ({"get_findings": {"Findings": [None]}}, Outcome.COMPLIANT, "TypeError"),  # the finding None is no mapping
        ({"get_findings": []}, Outcome.COMPLIANT, "AttributeError"),
        ({"batch_import_findings": None}, Outcome.FAILED, "AttributeError"),
    ],
)
def test_whatever_security_hub_answers_record_never_raises_and_counts_the_failure(
    answers: dict[str, Any], outcome: Outcome, code: str
) -> None:
    errors = recorded_through(AnsweringClient(**answers), object_result(outcome))

    [error] = errors
    assert isinstance(error, FindingImportFailed)
    assert (error.code, error.metric) == (code, "FindingImportFailed")


def test_an_active_finding_with_malformed_dates_is_still_resolved_keeping_what_it_can() -> None:
    existing = {"Id": IDENTIFIER[0], "ProductArn": IDENTIFIER[1], "RecordState": "ACTIVE", "UpdatedAt": 7}
    client = AnsweringClient(get_findings={"Findings": [existing | {"CreatedAt": ["not", "a", "date"]}]})

    errors = recorded_through(client, object_result(Outcome.COMPLIANT))

    assert errors == []
    [(_, _), (imports, imported), (updates, resolved)] = client.requests
    assert (imports, updates) == ("batch_import_findings", "batch_update_findings")
    [finding] = imported["Findings"]
    assert finding["CreatedAt"] == finding["UpdatedAt"] == "2026-11-20T09:15:04.933Z"
    assert resolved == {
        "FindingIdentifiers": [{"Id": IDENTIFIER[0], "ProductArn": IDENTIFIER[1]}],
        "Workflow": {"Status": "RESOLVED"},
    }
