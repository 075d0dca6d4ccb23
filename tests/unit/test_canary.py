"""The canary's rules without AWS: its keys and payload, its settings, the object path's scope with the canary bucket
in it, the latency of a write, and the alert and heartbeat of a judged write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsse_remediation.alerts import Context
from dsse_remediation.canary import Probe, ProbeOutcome, canary_alert, canary_key, parse_canary_event, written_at
from dsse_remediation.config import CanarySettings, Settings
from dsse_remediation.exceptions import ConfigError, InvalidEvent
from dsse_remediation.model import DSSE, Encryption, Source, Trigger
from dsse_remediation.scope import Scope
from tests.clock import PINNED, PinnedClock
from tests.helpers import PLACEHOLDER_KEY

CANARY_BUCKET = "dsse-remediation-canarybucket-1a2b3c4d5e6f"


def test_a_canary_key_names_the_second_it_was_written_and_sorts_by_it() -> None:
    first, later = PINNED.replace(microsecond=0), PINNED.replace(microsecond=0) + timedelta(minutes=15)

    assert canary_key(first) == "canary/20261120T091502Z"
    assert written_at(canary_key(first)) == first
    assert sorted([canary_key(later), canary_key(first)]) == [canary_key(first), canary_key(later)]
    assert canary_key(first.astimezone(tz=None)) == canary_key(first)  # UTC whatever the zone


@pytest.mark.parametrize("key", ["canary/not-a-tick.txt", "canary/", "canary/20261120T091502Z.bak", "20261120T091502Z"])
def test_any_other_key_is_not_a_canary_write(key: str) -> None:
    assert written_at(key) is None


def test_the_canary_owns_its_prefix_in_its_bucket_only() -> None:
    canary = CanarySettings(bucket=CANARY_BUCKET)

    assert canary.owns(CANARY_BUCKET, "canary/20261120T091502Z")
    assert not canary.owns(CANARY_BUCKET, "notes/readme.txt")
    assert not canary.owns("example-protected-bucket", "canary/20261120T091502Z")
    assert not CanarySettings().owns(CANARY_BUCKET, "canary/20261120T091502Z")  # no canary, nothing is its


@pytest.mark.parametrize("slo", ["0", "86401"])
def test_an_slo_beyond_the_buckets_one_day_lifecycle_is_refused(slo: str) -> None:
    with pytest.raises(ConfigError, match="CANARY_SLO_SECONDS"):
        CanarySettings.from_env({"CANARY_BUCKET": CANARY_BUCKET, "CANARY_SLO_SECONDS": slo})


def test_with_canary_bucket_set_the_bucket_is_in_scope_though_the_stack_excludes_it_by_name() -> None:
    env = {
        "DSSE_KMS_KEY": PLACEHOLDER_KEY,
        "PROTECTED_BUCKETS": "finance-*",
        "EXCLUDED_BUCKETS": f"finance-tmp,dsse-remediation-reportbucket-9z8y,{CANARY_BUCKET}",
    }

    with_canary = Settings.from_env(env | {"CANARY_BUCKET": CANARY_BUCKET}).scope
    without = Settings.from_env(env).scope

    assert with_canary.contains(CANARY_BUCKET)
    assert not without.contains(CANARY_BUCKET)
    for scope in (with_canary, without):
        assert scope.contains("finance-ledger")
        assert not scope.contains("finance-tmp")
        assert not scope.contains("dsse-remediation-reportbucket-9z8y")


def test_an_exclusion_pattern_of_the_operators_still_excludes_the_canary_bucket() -> None:
    """Only the stack's own exclusion of it by name is taken back: ExcludedBuckets matching it is a configuration
    the canary then reports as broken (every write missed), not one it overrides."""
    scope = Scope.parse("*", f"dsse-remediation-*,{CANARY_BUCKET}").admitting(CANARY_BUCKET)

    assert not scope.contains(CANARY_BUCKET)
    assert Scope.parse("*", "").admitting(CANARY_BUCKET).include == ("*", CANARY_BUCKET)


@pytest.mark.parametrize(
    ("event_time", "now", "seconds"),
    [
        ("2026-11-20T09:15:02Z", PINNED + timedelta(seconds=42.5), 42.5),
        ("2026-11-20T09:15:02Z", PINNED + timedelta(hours=2, microseconds=1500), 7200.002),
        ("2026-11-20T09:15:02+00:00", PINNED, 0.0),
        ("2026-11-20T09:15:05Z", PINNED, 0.0),  # a write dated after the clock (clock skew): never below 0
        ("2026-11-20T09:15:02", PINNED + timedelta(seconds=1), 1.0),  # no zone: UTC
        ("yesterday", PINNED, None),
        (None, PINNED, None),  # manual requests, sweeps, Batch Operations tasks
    ],
)
def test_a_writes_latency_is_from_its_event_time_to_now(
    event_time: str | None, now: datetime, seconds: float | None
) -> None:
    trigger = Trigger(source=Source.CLOUDTRAIL if event_time else Source.MANUAL, event_time=event_time)

    assert trigger.seconds_since(now) == seconds


def probe(outcome: ProbeOutcome) -> Probe:
    passed = outcome is ProbeOutcome.PASSED
    return Probe(
        bucket=CANARY_BUCKET,
        key="canary/20261120T091502Z",
        written_at=PINNED,
        outcome=outcome,
        reason="still AES256 900 s after it was written" if not passed else "DSSE-KMS 37 s after it was written",
        age_seconds=900.0,
        slo_seconds=300,
        encryption=Encryption(DSSE, PLACEHOLDER_KEY) if passed else Encryption("AES256"),
        expected_key_arn=PLACEHOLDER_KEY,
        latency_seconds=37.0 if passed else None,
    )


CONTEXT = Context("remediate", "123456789012", "us-east-1", PinnedClock(PINNED + timedelta(minutes=15)))


def test_a_missed_write_alerts_high_with_where_to_look() -> None:
    alert = canary_alert(probe(ProbeOutcome.MISSED), CONTEXT)

    assert alert.attributes == {
        "severity": "high",
        "outcome": "failed",
        "resourceType": "canary",
        "bucket": CANARY_BUCKET,
    }
    assert alert.required
    assert alert.body["schema"] == "dsse-remediation.alert/v1"
    assert alert.body["time"] == "2026-11-20T09:30:02+00:00"
    assert (alert.body["writtenAt"], alert.body["ageSeconds"], alert.body["latencySeconds"]) == (
        "2026-11-20T09:15:02+00:00",
        900.0,
        None,
    )
    assert len(alert.body["check"]) == 4
    assert "Check, in the order the write travels:" in alert.text_body


def test_a_passed_write_is_a_heartbeat_of_severity_info_in_the_same_schema() -> None:
    heartbeat = canary_alert(probe(ProbeOutcome.PASSED), CONTEXT)

    assert (heartbeat.body["outcome"], heartbeat.body["severity"], heartbeat.body["resourceType"]) == (
        "compliant",
        "info",
        "canary",
    )
    assert (heartbeat.body["account"], heartbeat.body["region"]) == ("123456789012", "us-east-1")
    assert heartbeat.body["latencySeconds"] == 37.0
    assert "check" not in heartbeat.body
    assert heartbeat.subject.startswith("DSSE-KMS canary passed: s3://")


def test_the_canarys_answer_names_what_it_judged() -> None:
    answered = probe(ProbeOutcome.PASSED).answer()

    assert answered == {
        "key": "canary/20261120T091502Z",
        "outcome": "passed",
        "reason": "DSSE-KMS 37 s after it was written",
        "writtenAt": "2026-11-20T09:15:02+00:00",
        "ageSeconds": 900.0,
        "latencySeconds": 37.0,
        "encryption": {"algorithm": DSSE, "kmsKeyId": PLACEHOLDER_KEY},
    }
    assert datetime.fromisoformat(answered["writtenAt"]).tzinfo == UTC


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@given(JSON)
def test_every_json_value_but_a_tick_is_refused_before_anything_is_read(event: Any) -> None:
    if event == {"canary": {}}:
        parse_canary_event(event)
        return
    with pytest.raises(InvalidEvent):
        parse_canary_event(event)
