"""Security Hub findings (SECURITY_HUB_FINDINGS=true): an object or bucket that is not DSSE-KMS under its key raises
one finding, the same finding is archived and its workflow RESOLVED once the resource is fixed, bulk work (sweeps)
spends no Security Hub call on what is fine, and nothing else reaches Security Hub.

A finding is one record per resource: raised again, resolved and recurring, it keeps the CreatedAt it was created with
and each update is later than the last.

moto 5.2.5 stores imported findings as given; tests/aws_fidelity.py makes GetFindings apply its filters (13) and
BatchImportFindings ignore updates that are not later, keep the customer's Workflow, start it NEW and reopen it (14).
moto does not serve BatchUpdateFindings (404 "Not yet implemented"): `resolving` below answers it as Security Hub
does, on the findings moto stores.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.securityhub.models import securityhub_backends

from dsse_remediation.aws.securityhub import SecurityHub
from dsse_remediation.config import Mode
from dsse_remediation.findings import FindingImportFailed, Findings, Where
from dsse_remediation.model import BucketRequest, Encryption, ObjectRequest, ObjectResult, Outcome, Source, Trigger
from dsse_remediation.partitions import partition_of
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests.helpers import ACCOUNT_ID, REGION, WRITER, Response, Wiring, inject_error, put

PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"
PARTNER = "210987654321"  # another account of the Organization, owner of a bucket this account writes into


@pytest.fixture
def hub(aws: None, region: str) -> Any:
    return boto3.client("securityhub", region_name=region)


@pytest.fixture
def errors() -> list[Exception]:
    return []


class BatchUpdateFindings:
    """BatchUpdateFindings as Security Hub serves it (https://docs.aws.amazon.com/securityhub/1.0/APIReference/
    API_BatchUpdateFindings.html), for moto 5.2.5, which does not: each identified finding (Id and ProductArn) that
    exists takes the Workflow asked for; one that does not is answered in UnprocessedFindings. Requests are recorded
    (`requests`). Registered on a client: `provide-client-params` keeps the request (already checked against the
    service model), `before-call` answers it."""

    def __init__(self, region: str = REGION) -> None:
        self.requests: list[dict[str, Any]] = []
        self.region = region

    def register(self, client: Any) -> None:
        client.meta.events.register(
            "provide-client-params.securityhub.BatchUpdateFindings", lambda params, **_: self.requests.append(params)
        )
        client.meta.events.register("before-call.securityhub.BatchUpdateFindings", self.answer)

    def answer(self, **_: Any) -> Any:
        request = self.requests[-1]
        stored = securityhub_backends[ACCOUNT_ID][self.region].findings
        processed, unprocessed = [], []
        for identifier in request["FindingIdentifiers"]:
            wanted = (identifier["Id"], identifier["ProductArn"])
            found = [f for f in stored if (f.id, f.data.get("ProductArn")) == wanted]
            for finding in found:
                finding.data["Workflow"] = dict(request["Workflow"])
            if found:
                processed.append(identifier)
            else:
                unprocessed.append(
                    {"FindingIdentifier": identifier, "ErrorCode": "FindingNotFound", "ErrorMessage": "no such finding"}
                )
        return Response(200), {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}


@pytest.fixture
def resolving(region: str) -> BatchUpdateFindings:
    return BatchUpdateFindings(region)


@pytest.fixture
def app(wiring: Wiring, errors: list[Exception], resolving: BatchUpdateFindings) -> Any:
    """An App with findings on, whose Security Hub calls are recorded (`app.hub_calls`) and whose BatchUpdateFindings
    `resolving` answers; settings overridable."""

    def build(**overrides: Any) -> App:
        settings = wiring.settings(**({"security_hub_findings": True} | overrides))
        built = App(settings, wiring.client, errors.append)
        calls: list[str] = []
        client = built.client("securityhub")
        client.meta.events.register("before-parameter-build.securityhub", lambda model, **_: calls.append(model.name))
        resolving.register(client)
        built.hub_calls = calls  # type: ignore[attr-defined]
        return built

    return build


def findings(hub: Any) -> list[dict[str, Any]]:
    return list(hub.get_findings()["Findings"])


@pytest.mark.all_partitions
def test_an_unremediable_object_raises_a_finding_its_remediation_resolves(
    s3: Any,
    bucket: str,
    dsse_key: str,
    app: Any,
    hub: Any,
    resolving: BatchUpdateFindings,
    errors: list[Exception],
    region: str,
) -> None:
    partition = partition_of(region)
    product = f"arn:{partition}:securityhub:{region}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"
    put(s3, bucket, "ledger.csv")
    first = app()
    inject_error(first.object_store.client, "CopyObject", "KMS.DisabledException", 400)

    refused = first.objects.handle(ObjectRequest(bucket, ("ledger.csv",), trigger=WRITER))
    [raised] = findings(hub)
    fixed = app().objects.handle(ObjectRequest(bucket, ("ledger.csv",), trigger=WRITER))
    [resolved] = findings(hub)

    assert (refused.outcome, fixed.outcome) == (Outcome.UNREMEDIABLE, Outcome.REMEDIATED)
    assert (raised["RecordState"], raised["Compliance"], raised["Severity"]["Label"]) == (
        "ACTIVE",
        {"Status": "FAILED"},
        "HIGH",
    )
    assert raised["Resources"] == [
        {
            "Type": "AwsS3Object",
            "Id": f"arn:{partition}:s3:::{bucket}/ledger.csv",
            "Partition": partition,
            "Region": region,
        }
    ]
    assert raised["ProductFields"] == {
        "dsse-remediation/outcome": "unremediable",
        "dsse-remediation/expectedKmsKeyId": dsse_key,
        "dsse-remediation/encryptionBefore": "AES256",
        "dsse-remediation/actor": WRITER.actor,
    }
    assert (raised["ProductArn"], raised["AwsAccountId"], raised["GeneratorId"]) == (
        product,
        ACCOUNT_ID,
        "dsse-remediation",
    )
    assert raised["Description"] == refused.reason
    assert resolved["Id"] == raised["Id"]
    assert (resolved["RecordState"], resolved["Compliance"], resolved["Severity"]["Label"]) == (
        "ARCHIVED",
        {"Status": "PASSED"},
        "INFORMATIONAL",
    )
    assert resolved["UpdatedAt"] > raised["UpdatedAt"]
    assert resolved["CreatedAt"] == raised["CreatedAt"]  # the same finding record, resolved
    # Resolved, not only archived: an import cannot set the Workflow of an existing finding, BatchUpdateFindings does.
    assert raised["Workflow"] == {"Status": "NEW"}
    assert resolved["Workflow"] == {"Status": "RESOLVED"}
    assert resolving.requests == [
        {"FindingIdentifiers": [{"Id": raised["Id"], "ProductArn": product}], "Workflow": {"Status": "RESOLVED"}}
    ]
    assert errors == []


def test_finding_ids_are_deterministic_so_repeats_update_one_finding(s3: Any, bucket: str, app: Any, hub: Any) -> None:
    put(s3, bucket, "a.csv")
    put(s3, bucket, "b.csv")

    for _ in range(2):  # two cold starts, the same results
        remediator = app(mode=Mode.ALERT_ONLY).objects
        for key in ("a.csv", "b.csv"):
            assert remediator.handle(ObjectRequest(bucket, (key,))).outcome is Outcome.WOULD_REMEDIATE

    found = findings(hub)
    assert len(found) == 2
    assert {f["Severity"]["Label"] for f in found} == {"MEDIUM"}
    for finding in found:
        assert re.fullmatch(rf"dsse-remediation/{ACCOUNT_ID}/{REGION}/[0-9a-f]{{64}}", finding["Id"])


def test_a_compliant_object_resolves_an_active_finding_and_imports_nothing_without_one(
    s3: Any, bucket: str, dsse_key: str, app: Any, hub: Any
) -> None:
    put(s3, bucket, "fixed-by-hand.csv")
    put(s3, bucket, "always-fine.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    app(mode=Mode.ALERT_ONLY).objects.handle(ObjectRequest(bucket, ("fixed-by-hand.csv",)))
    [raised] = findings(hub)
    # Its owner fixes it: the next look finds it compliant.
    put(s3, bucket, "fixed-by-hand.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)

    looked = app()
    compliant = looked.objects.handle(ObjectRequest(bucket, ("always-fine.csv",)))
    calls_for_the_compliant_one = list(looked.hub_calls)
    resolved = looked.objects.handle(ObjectRequest(bucket, ("fixed-by-hand.csv",)))

    assert (compliant.outcome, resolved.outcome) == (Outcome.COMPLIANT, Outcome.COMPLIANT)
    assert calls_for_the_compliant_one == ["GetFindings"]  # looked up, nothing imported
    assert looked.hub_calls == ["GetFindings", "GetFindings", "BatchImportFindings", "BatchUpdateFindings"]
    [after] = findings(hub)
    assert after["Id"] == raised["Id"]
    assert (after["RecordState"], after["Compliance"]["Status"], after["Workflow"]) == (
        "ARCHIVED",
        "PASSED",
        {"Status": "RESOLVED"},
    )
    assert after["CreatedAt"] == raised["CreatedAt"]  # the same finding, resolved


def test_a_finding_raised_again_in_alert_only_mode_keeps_its_creation(s3: Any, bucket: str, app: Any, hub: Any) -> None:
    """Each alert-only look raises the object's finding again: the same finding record, its age kept (CreatedAt),
    its UpdatedAt moved on."""
    put(s3, bucket, "plain.csv")

    looks = []
    for _ in range(2):  # two cold starts, the same object still not DSSE
        app(mode=Mode.ALERT_ONLY).objects.handle(ObjectRequest(bucket, ("plain.csv",)))
        looks.extend(findings(hub))

    first, again = looks
    assert again["Id"] == first["Id"]
    assert again["CreatedAt"] == first["CreatedAt"]
    assert again["UpdatedAt"] > first["UpdatedAt"]
    assert again["Workflow"] == {"Status": "NEW"}


def test_a_finding_keeps_its_creation_through_its_resolution_and_recurrence(
    dsse_key: str, hub: Any, resolving: BatchUpdateFindings, errors: list[Exception]
) -> None:
    """One object over a month, on a fixed clock: raised at T1, raised again at T2, fixed at T3 (archived, resolved),
    written unencrypted again at T4. One finding record throughout: CreatedAt stays T1; UpdatedAt follows the clock,
    and at T5, a clock 10 minutes behind the finding (another function's), still moves on; Security Hub reopens the
    resolved workflow when the finding turns ACTIVE again (API_Workflow.html)."""
    resolving.register(hub)
    clock = iter(
        [
            datetime(2026, 10, 1, 8, tzinfo=UTC),  # T1
            datetime(2026, 10, 2, 8, tzinfo=UTC),  # T2
            datetime(2026, 10, 20, 8, tzinfo=UTC),  # T3
            datetime(2026, 10, 30, 8, tzinfo=UTC),  # T4
            datetime(2026, 10, 30, 7, 50, tzinfo=UTC),  # T5: behind T4
        ]
    )
    sink = Findings(SecurityHub(lambda: hub), Where(ACCOUNT_ID, REGION), errors.append, lambda: next(clock))

    def seen(outcome: Outcome) -> tuple[str, str, str, str]:
        sink.record(
            ObjectResult(
                bucket="example-protected-bucket",
                key="reports/q3.csv",
                outcome=outcome,
                reason=f"{outcome.value} at this look",
                before=Encryption("AES256"),
                expected_key_arn=dsse_key,
                trigger=WRITER,
            )
        )
        [finding] = findings(hub)
        return finding["CreatedAt"], finding["UpdatedAt"], finding["RecordState"], finding["Workflow"]["Status"]

    lifecycle = [
        seen(outcome)
        for outcome in (
            Outcome.WOULD_REMEDIATE,
            Outcome.FAILED,
            Outcome.REMEDIATED,
            Outcome.UNREMEDIABLE,
            Outcome.UNREMEDIABLE,
        )
    ]

    t1 = "2026-10-01T08:00:00.000Z"
    assert lifecycle == [
        (t1, t1, "ACTIVE", "NEW"),
        (t1, "2026-10-02T08:00:00.000Z", "ACTIVE", "NEW"),
        (t1, "2026-10-20T08:00:00.000Z", "ARCHIVED", "RESOLVED"),
        (t1, "2026-10-30T08:00:00.000Z", "ACTIVE", "NEW"),  # recurred: reopened by Security Hub
        (t1, "2026-10-30T08:00:00.001Z", "ACTIVE", "NEW"),  # never earlier than the finding: never ignored
    ]
    assert len(resolving.requests) == 1
    assert errors == []
    assert next(clock, None) is None  # one clock reading per result


def test_an_update_that_is_not_later_is_ignored_as_security_hub_ignores_it(hub: Any) -> None:
    """tests/aws_fidelity.py 14: what the product's UpdatedAt rule protects against (finding-update-
    batchimportfindings.html)."""
    created = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    finding = {
        "SchemaVersion": "2018-10-08",
        "Id": "a-finding",
        "ProductArn": PRODUCT,
        "GeneratorId": "g",
        "AwsAccountId": ACCOUNT_ID,
        "CreatedAt": created.isoformat(),
        "UpdatedAt": created.isoformat(),
        "Severity": {"Label": "HIGH"},
        "Title": "first",
        "Description": "d",
        "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}],
    }
    hub.batch_import_findings(Findings=[finding])

    for moment, title in ((created, "same time"), (created - timedelta(seconds=1), "earlier")):
        answer = hub.batch_import_findings(Findings=[finding | {"UpdatedAt": moment.isoformat(), "Title": title}])
        assert answer["FailedCount"] == 0
    later = (created + timedelta(milliseconds=1)).isoformat()
    hub.batch_import_findings(Findings=[finding | {"UpdatedAt": later, "Title": "later", "Workflow": {"Status": "X"}}])

    [stored] = findings(hub)
    assert (stored["Title"], stored["UpdatedAt"], stored["Workflow"]) == ("later", later, {"Status": "NEW"})


def test_findings_never_carry_object_contents_or_metadata_values(s3: Any, bucket: str, app: Any, hub: Any) -> None:
    put(
        s3,
        bucket,
        "secret.csv",
        Body=b"TOP-SECRET-CONTENTS-7731",
        Metadata={"api-token": "do-not-leak-4242"},
        Tagging="project=tag-value-9911",
    )

    app(mode=Mode.ALERT_ONLY).objects.handle(ObjectRequest(bucket, ("secret.csv",)))

    [finding] = findings(hub)
    text = json.dumps(finding)
    for secret in ("TOP-SECRET-CONTENTS-7731", "do-not-leak-4242", "api-token", "tag-value-9911"):
        assert secret not in text


def test_a_bucket_default_gets_its_own_finding_resolved_by_its_reset(s3: Any, app: Any, hub: Any) -> None:
    s3.create_bucket(Bucket="team-data")

    would = app(mode=Mode.ALERT_ONLY).buckets.handle(BucketRequest("team-data"))
    [raised] = findings(hub)
    reset = app().buckets.handle(BucketRequest("team-data"))
    [resolved] = findings(hub)

    assert (would.outcome, reset.outcome) == (Outcome.WOULD_REMEDIATE, Outcome.REMEDIATED)
    assert raised["Resources"][0]["Type"] == "AwsS3Bucket"
    assert raised["Resources"][0]["Id"] == "arn:aws:s3:::team-data"
    assert raised["RecordState"] == "ACTIVE"
    assert (resolved["Id"], resolved["RecordState"], resolved["Workflow"]) == (
        raised["Id"],
        "ARCHIVED",
        {"Status": "RESOLVED"},
    )


def test_out_of_scope_and_other_accounts_buckets_raise_no_finding_and_forward_nothing(
    s3: Any, bucket: str, app: Any, hub: Any
) -> None:
    """Item 4 of the Organizations work: this account's writes into another account's bucket are that account's
    business (its own member stack remediates them): out-of-scope here, quietly, without a finding or an event."""
    put(s3, bucket, "theirs.csv")
    s3.create_bucket(Bucket="logs-archive")
    put(s3, "logs-archive", "excluded.csv")
    theirs = Trigger(source="cloudtrail", event_name="PutObject", actor=WRITER.actor, bucket_owner=PARTNER)
    looked = app(forward_results=True, scope=Scope(("*",), ("logs-*",)))
    events: list[str] = []
    looked.client("events").meta.events.register("before-parameter-build.events", lambda model, **_: events.append(1))

    results = [
        looked.objects.handle(ObjectRequest(bucket, ("theirs.csv",), trigger=theirs)),
        looked.objects.handle(ObjectRequest("logs-archive", ("excluded.csv",))),
        looked.buckets.handle(BucketRequest(bucket, trigger=theirs)),
    ]

    assert [r.outcome for r in results] == [Outcome.OUT_OF_SCOPE] * 3
    assert f"belongs to account {PARTNER}" in results[0].reason
    assert (findings(hub), looked.hub_calls, events) == ([], [], [])


def answered(operation: str, answer: dict[str, Any]) -> Any:
    """A `before-call` handler answering `operation` with `answer` (200), as Security Hub answers a batch it refused."""

    def handler(**_: Any) -> Any:
        return Response(200), answer

    return f"before-call.securityhub.{operation}", handler


NOT_SUBSCRIBED = {"ErrorCode": "InvalidAccess", "ErrorMessage": "Account is not subscribed to AWS Security Hub"}
FAULTS = {
    # BatchImportFindings as Security Hub answers for an account where it is not enabled: 200, the finding refused.
    "refused": answered(
        "BatchImportFindings", {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [NOT_SUBSCRIBED]}
    ),
    # A refusal that does not say which finding nor why: still a refusal (no IndexError).
    "refused-unsaid": answered("BatchImportFindings", {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": []}),
    # Imported, but the workflow could not be resolved.
    "unresolved": answered("BatchUpdateFindings", {"ProcessedFindings": [], "UnprocessedFindings": [NOT_SUBSCRIBED]}),
    # An answer this code does not expect at all.
    "malformed": answered("BatchImportFindings", {"FailedCount": 1, "FailedFindings": [None]}),
}


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("refused", "InvalidAccess"),
        ("refused-unsaid", "Unknown"),
        ("unresolved", "InvalidAccess"),
        ("malformed", "Unknown"),
        ("denied", "AccessDeniedException"),
    ],
)
def test_a_finding_that_cannot_be_imported_is_counted_never_a_failed_remediation(
    s3: Any, bucket: str, dsse_key: str, app: Any, errors: list[Exception], inbox: Any, fault: str, code: str
) -> None:
    put(s3, bucket, "q3.csv")
    looked = app()
    client = looked.client("securityhub")
    if fault == "denied":
        inject_error(client, "BatchImportFindings", "AccessDeniedException", 403)
    else:
        client.meta.events.register_first(*FAULTS[fault])

    result = looked.objects.handle(ObjectRequest(bucket, ("q3.csv",), trigger=WRITER))

    assert result.outcome is Outcome.REMEDIATED
    assert result.alert_error is None
    assert [m["body"]["outcome"] for m in inbox.messages()] == ["remediated"]  # the alert went out regardless
    [error] = errors
    assert isinstance(error, FindingImportFailed)
    assert (error.metric, error.code) == ("FindingImportFailed", code)


def test_a_get_findings_answer_this_code_does_not_expect_is_counted_never_raised(
    s3: Any, bucket: str, dsse_key: str, app: Any, errors: list[Exception]
) -> None:
    """`Findings.record` never raises: not on an AWS error, not on an answer of an unexpected shape."""
    put(s3, bucket, "fine.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    looked = app()
    looked.client("securityhub").meta.events.register_first(*answered("GetFindings", {"Findings": [None]}))

    result = looked.objects.handle(ObjectRequest(bucket, ("fine.csv",), trigger=WRITER))

    assert result.outcome is Outcome.COMPLIANT
    [error] = errors
    assert isinstance(error, FindingImportFailed)
    assert error.code == "TypeError"  # the finding `None` is no mapping


# --- bulk work: Security Hub's quotas ---------------------------------------------------------------------------------

SWEEP = Trigger(source=Source.SWEEP)


def test_a_sweep_raises_findings_for_its_problems_and_spends_no_call_on_what_is_fine(
    s3: Any, bucket: str, dsse_key: str, app: Any, hub: Any
) -> None:
    """BatchImportFindings allows 10 requests per second per account and Region (GetFindings fewer): a sweep's
    remediated and compliant objects, the bulk of it, make no Security Hub call; what it cannot fix still raises."""
    put(s3, bucket, "plain.csv")
    put(s3, bucket, "fine.csv", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=dsse_key)
    put(s3, bucket, "stuck.csv")
    swept = app()
    inject_error(swept.object_store.client, "CopyObject", "KMS.DisabledException", 400)

    stuck = swept.objects.handle(ObjectRequest(bucket, ("stuck.csv",), trigger=SWEEP))
    calls_for_the_problem = list(swept.hub_calls)
    fine = [swept.objects.handle(ObjectRequest(bucket, (key,), trigger=SWEEP)) for key in ("plain.csv", "fine.csv")]

    assert stuck.outcome is Outcome.UNREMEDIABLE
    assert [r.outcome for r in fine] == [Outcome.REMEDIATED, Outcome.COMPLIANT]
    assert calls_for_the_problem == swept.hub_calls == ["GetFindings", "BatchImportFindings"]
    [raised] = findings(hub)
    assert raised["Resources"][0]["Id"] == f"arn:aws:s3:::{bucket}/stuck.csv"
    # The same object fixed by an event-driven write later: resolved as ever.
    put(s3, bucket, "stuck.csv")
    assert app().objects.handle(ObjectRequest(bucket, ("stuck.csv",), trigger=WRITER)).outcome is Outcome.REMEDIATED
    [resolved] = findings(hub)
    assert (resolved["RecordState"], resolved["Workflow"]) == ("ARCHIVED", {"Status": "RESOLVED"})
