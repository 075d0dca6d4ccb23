"""The KMS key guard: every threat to the DSSE key is a critical alert; the opt-in revert undoes what it can."""

from __future__ import annotations

from typing import Any

import pytest

from dsse_remediation.config import Mode
from dsse_remediation.model import Outcome
from dsse_remediation.triggers import parse_key_event
from tests.helpers import key_ids, load_event

ALIAS = "alias/dsse-data"


@pytest.fixture
def on_event(dsse_key: str, other_key: str) -> Any:
    """The sample CloudTrail event, about the test's own keys, parsed as the handler parses it."""

    def load(name: str) -> Any:
        [key_event] = parse_key_event(load_event(name, **key_ids(dsse_key, other_key))).requests
        return key_event

    return load


def state(kms: Any, key: str) -> tuple[str, bool]:
    return kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], kms.get_key_rotation_status(KeyId=key)[
        "KeyRotationEnabled"
    ]


@pytest.mark.all_partitions
class TestRevertOff:
    """The default: alert, change nothing, say what a human must run."""

    @pytest.mark.parametrize(
        ("sample", "undo"),
        [
            ("kms-disable-key.json", "EnableKey"),
            ("kms-schedule-key-deletion.json", "CancelKeyDeletion then EnableKey"),
            ("kms-disable-key-rotation.json", "EnableKeyRotation"),
        ],
    )
    def test_alerts_critical_and_changes_nothing(
        self, kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any, inbox: Any, sample: str, undo: str
    ) -> None:
        kms.disable_key(KeyId=dsse_key)
        before = state(kms, dsse_key)

        result = make_key_guard().handle(on_event(sample))

        assert result.outcome is Outcome.WOULD_REMEDIATE
        assert f"a human must run {undo}" in result.reason
        assert result.actions == ()
        assert state(kms, dsse_key) == before
        [alert] = inbox.messages()
        assert alert["attributes"] == {
            "severity": "critical",
            "outcome": "would-remediate",
            "resourceType": "kms-key",
            "keyArn": dsse_key,
        }


@pytest.mark.all_partitions
class TestRevertOn:
    def test_disable_key_is_undone(self, kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any) -> None:
        kms.disable_key(KeyId=dsse_key)

        result = make_key_guard(key_guard_revert=True).handle(on_event("kms-disable-key.json"))

        assert (result.outcome, result.actions) == (Outcome.REMEDIATED, ("EnableKey",))
        assert state(kms, dsse_key)[0] == "Enabled"
        assert result.key_state == "Enabled"

    def test_scheduled_deletion_is_cancelled_and_the_key_enabled(
        self, kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any
    ) -> None:
        kms.schedule_key_deletion(KeyId=dsse_key, PendingWindowInDays=7)

        result = make_key_guard(key_guard_revert=True).handle(on_event("kms-schedule-key-deletion.json"))

        assert (result.outcome, result.actions) == (Outcome.REMEDIATED, ("CancelKeyDeletion", "EnableKey"))
        assert state(kms, dsse_key)[0] == "Enabled"

    def test_rotation_is_turned_back_on(self, kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any) -> None:
        result = make_key_guard(key_guard_revert=True).handle(on_event("kms-disable-key-rotation.json"))

        assert (result.outcome, result.actions) == (Outcome.REMEDIATED, ("EnableKeyRotation",))
        assert state(kms, dsse_key)[1] is True

    def test_dry_run_changes_nothing(self, kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any) -> None:
        kms.disable_key(KeyId=dsse_key)
        event = on_event("kms-disable-key.json")
        from dataclasses import replace

        result = make_key_guard(key_guard_revert=True).handle(replace(event, dry_run=True))

        assert result.outcome is Outcome.WOULD_REMEDIATE
        assert state(kms, dsse_key)[0] == "Disabled"


@pytest.mark.parametrize(
    ("sample", "change"),
    [
        ("kms-disable-key.json", "disable"),
        ("kms-schedule-key-deletion.json", "schedule-deletion"),
        ("kms-disable-key-rotation.json", "disable-rotation"),
    ],
)
def test_alert_only_never_writes_to_the_key_even_with_revert_on(
    kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any, calls: Any, inbox: Any, sample: str, change: str
) -> None:
    kms.enable_key_rotation(KeyId=dsse_key)
    {
        "disable": lambda: kms.disable_key(KeyId=dsse_key),
        "schedule-deletion": lambda: kms.schedule_key_deletion(KeyId=dsse_key, PendingWindowInDays=7),
        "disable-rotation": lambda: kms.disable_key_rotation(KeyId=dsse_key),
    }[change]()
    before = state(kms, dsse_key)

    result = make_key_guard(mode=Mode.ALERT_ONLY, key_guard_revert=True).handle(on_event(sample))

    assert result.outcome is Outcome.WOULD_REMEDIATE
    assert "alert-only mode writes nothing" in result.reason
    assert result.actions == ()
    assert state(kms, dsse_key) == before
    assert [c for c in calls.calls if not c.startswith(("Describe", "Get", "List"))] == []
    assert [m["body"]["severity"] for m in inbox.messages()] == ["critical"]


def test_scheduled_deletion_alert_says_when_and_who(
    kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any, inbox: Any
) -> None:
    kms.schedule_key_deletion(KeyId=dsse_key, PendingWindowInDays=7)

    make_key_guard().handle(on_event("kms-schedule-key-deletion.json"))

    [alert] = inbox.messages()
    body = alert["body"]
    assert alert["subject"] == f"DSSE-KMS key ScheduleKeyDeletion: key/{dsse_key.rsplit('/', 1)[1]}"
    # DescribeKey's DeletionDate (ISO 8601) is preferred to the event's human-formatted deletionDate.
    assert body["deletionDate"] == kms.describe_key(KeyId=dsse_key)["KeyMetadata"]["DeletionDate"].isoformat()
    assert body["keyState"] == "PendingDeletion"
    assert body["trigger"]["actor"] == "arn:aws:iam::123456789012:user/alice"
    assert body["protects"] == ["every protected bucket: include *"]


def test_key_policy_change_is_for_a_human_and_flags_outside_principals(
    dsse_key: str, make_key_guard: Any, on_event: Any
) -> None:
    result = make_key_guard(key_guard_revert=True).handle(on_event("kms-put-key-policy.json"))

    assert result.outcome is Outcome.UNREMEDIABLE
    assert "human's decision" in result.reason
    assert result.actions == ()
    assert result.policy_statements is not None
    outside = {s["Sid"]: s["outsideAccount"] for s in result.policy_statements}
    assert outside == {"Enable IAM User Permissions": False, "AllowExternalDecrypt": True}


def test_deleted_key_material_is_for_a_human(make_key_guard: Any, on_event: Any) -> None:
    result = make_key_guard(key_guard_revert=True).handle(on_event("kms-delete-imported-key-material.json"))

    assert result.outcome is Outcome.UNREMEDIABLE
    assert "ImportKeyMaterial" in result.reason


@pytest.mark.parametrize("sample", ["kms-update-alias.json", "kms-delete-alias.json"])
def test_alias_events_matter_only_when_the_alias_is_the_configuration(
    kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any, inbox: Any, sample: str
) -> None:
    kms.create_alias(AliasName=ALIAS, TargetKeyId=dsse_key)

    configured_by_alias = make_key_guard(key=ALIAS).handle(on_event(sample))
    [alert] = inbox.messages()
    configured_by_arn = make_key_guard().handle(on_event(sample))  # e.g. an unrelated alias of the same key

    assert configured_by_alias.outcome is Outcome.UNREMEDIABLE
    assert configured_by_alias.key_arn == dsse_key
    assert alert["attributes"]["severity"] == "critical"
    assert configured_by_arn.outcome is Outcome.OUT_OF_SCOPE
    assert inbox.messages() == []


def test_reverted_deletion_reports_no_deletion_date(
    kms: Any, dsse_key: str, make_key_guard: Any, on_event: Any
) -> None:
    kms.schedule_key_deletion(KeyId=dsse_key, PendingWindowInDays=7)

    result = make_key_guard(key_guard_revert=True).handle(on_event("kms-schedule-key-deletion.json"))

    assert result.deletion_date is None


def test_events_on_other_keys_are_ignored_quickly(make_key_guard: Any, on_event: Any, calls: Any, inbox: Any) -> None:
    result = make_key_guard(key_guard_revert=True).handle(on_event("kms-disable-key-unrelated.json"))

    assert result.outcome is Outcome.OUT_OF_SCOPE
    assert calls.calls == []
    assert inbox.messages() == []


@pytest.mark.all_partitions
def test_manual_payload_reports_the_keys_state(kms: Any, dsse_key: str, make_key_guard: Any, inbox: Any) -> None:
    guard = make_key_guard()
    healthy = guard.handle(parse_key_event({"keyArn": dsse_key}).requests[0])
    kms.enable_key_rotation(KeyId=dsse_key)
    rotating = guard.handle(parse_key_event({"keyArn": dsse_key}).requests[0])

    assert (healthy.outcome, healthy.rotation_enabled) == (Outcome.WOULD_REMEDIATE, False)
    assert healthy.reason == "rotation is off"
    assert (rotating.outcome, rotating.key_state, rotating.rotation_enabled) == (Outcome.COMPLIANT, "Enabled", True)
    assert inbox.messages() == []
