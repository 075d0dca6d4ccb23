"""Security Hub findings (SECURITY_HUB_FINDINGS=true): an object or bucket that is not DSSE-KMS under its key raises
one finding, the same finding is resolved once the resource is fixed, and nothing else reaches Security Hub.

moto 5.2 stores imported findings as given: it ignores GetFindings filters (the adapter checks the id again) and
does not set Workflow RESOLVED on an archived finding, which Security Hub does
(https://docs.aws.amazon.com/securityhub/latest/userguide/finding-update-batchimportfindings.html): the tests read
RecordState and Compliance, which this stack sets.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from dsse_remediation.config import Mode
from dsse_remediation.findings import FindingImportFailed
from dsse_remediation.model import BucketRequest, ObjectRequest, Outcome, Trigger
from dsse_remediation.scope import Scope
from dsse_remediation.wiring import App
from tests.helpers import ACCOUNT_ID, REGION, WRITER, Response, Wiring, inject_error, put

PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"
PARTNER = "210987654321"  # another account of the Organization, owner of a bucket this account writes into


@pytest.fixture
def hub(aws: None) -> Any:
    return boto3.client("securityhub", region_name=REGION)


@pytest.fixture
def errors() -> list[Exception]:
    return []


@pytest.fixture
def app(wiring: Wiring, errors: list[Exception]) -> Any:
    """An App with findings on, whose Security Hub calls are recorded (`app.hub_calls`); settings overridable."""

    def build(**overrides: Any) -> App:
        settings = wiring.settings(**({"security_hub_findings": True} | overrides))
        built = App(settings, wiring.client, errors.append)
        calls: list[str] = []
        built.client("securityhub").meta.events.register(
            "before-parameter-build.securityhub", lambda model, **_: calls.append(model.name)
        )
        built.hub_calls = calls  # type: ignore[attr-defined]
        return built

    return build


def findings(hub: Any) -> list[dict[str, Any]]:
    return list(hub.get_findings()["Findings"])


def test_an_unremediable_object_raises_a_finding_its_remediation_resolves(
    s3: Any, bucket: str, dsse_key: str, app: Any, hub: Any
) -> None:
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
        {"Type": "AwsS3Object", "Id": f"arn:aws:s3:::{bucket}/ledger.csv", "Partition": "aws", "Region": REGION}
    ]
    assert raised["ProductFields"] == {
        "dsse-remediation/outcome": "unremediable",
        "dsse-remediation/expectedKmsKeyId": dsse_key,
        "dsse-remediation/encryptionBefore": "AES256",
        "dsse-remediation/actor": WRITER.actor,
    }
    assert (raised["ProductArn"], raised["AwsAccountId"], raised["GeneratorId"]) == (
        PRODUCT,
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
    assert looked.hub_calls == ["GetFindings", "GetFindings", "BatchImportFindings"]
    [after] = findings(hub)
    assert after["Id"] == raised["Id"]
    assert (after["RecordState"], after["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert after["CreatedAt"] == raised["CreatedAt"]  # the same finding, resolved


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
    assert (resolved["Id"], resolved["RecordState"]) == (raised["Id"], "ARCHIVED")


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


def imported_with_failures(**_: Any) -> Any:
    """BatchImportFindings as Security Hub answers for an account where it is not enabled: 200, the finding refused."""
    failed = {"Id": "x", "ErrorCode": "InvalidAccess", "ErrorMessage": "Account is not subscribed to AWS Security Hub"}
    return Response(200), {"FailedCount": 1, "SuccessCount": 0, "FailedFindings": [failed]}


@pytest.mark.parametrize("fault", ["refused", "denied"])
def test_a_finding_that_cannot_be_imported_is_counted_never_a_failed_remediation(
    s3: Any, bucket: str, dsse_key: str, app: Any, errors: list[Exception], inbox: Any, fault: str
) -> None:
    put(s3, bucket, "q3.csv")
    looked = app()
    client = looked.client("securityhub")
    if fault == "refused":
        client.meta.events.register("before-call.securityhub.BatchImportFindings", imported_with_failures)
    else:
        inject_error(client, "BatchImportFindings", "AccessDeniedException", 403)

    result = looked.objects.handle(ObjectRequest(bucket, ("q3.csv",), trigger=WRITER))

    assert result.outcome is Outcome.REMEDIATED
    assert result.alert_error is None
    assert [m["body"]["outcome"] for m in inbox.messages()] == ["remediated"]  # the alert went out regardless
    [error] = errors
    assert isinstance(error, FindingImportFailed)
    assert error.metric == "FindingImportFailed"
    assert ("InvalidAccess" if fault == "refused" else "AccessDeniedException") in str(error)
