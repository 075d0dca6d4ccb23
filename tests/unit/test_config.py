"""Configuration is read once from the environment; a bad value fails with the variable named and the fix."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dsse_remediation.config import Mode, Settings
from dsse_remediation.exceptions import ConfigError
from dsse_remediation.scope import Scope
from tests.helpers import PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY
from tests.lambda_context import load_function

KEY, OTHER = PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY


def test_defaults_protect_every_bucket_in_remediate_mode() -> None:
    settings = Settings.from_env({"DSSE_KMS_KEY": KEY})

    assert settings.scope == Scope(include=("*",), exclude=())
    assert settings.mode is Mode.REMEDIATE
    assert settings.multipart_threshold == 5 * 1024**3
    assert settings.purge_noncurrent is False
    assert settings.alert_topic_arn is None
    assert (settings.sharing.forward_results, settings.sharing.security_hub_findings) == (False, False)


def test_full_configuration() -> None:
    settings = Settings.from_env(
        {
            "DSSE_KMS_KEY": "alias/dsse",
            "PROTECTED_BUCKETS": "finance-*, secrets-*",
            "EXCLUDED_BUCKETS": "finance-scratch",
            "BUCKET_KEY_MAP": f"secrets-*={OTHER}",
            "MODE": "alert-only",
            "MULTIPART_THRESHOLD_BYTES": "104857600",
            "PURGE_NONCURRENT_VERSIONS": "true",
            "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:dsse-alerts",
            "ENCRYPTION_CONTEXT": '{"purpose": "archive"}',
        }
    )

    assert settings.scope.contains("finance-ledger")
    assert not settings.scope.contains("finance-scratch")
    assert not settings.scope.contains("marketing-assets")
    assert settings.key_for("secrets-payments") == OTHER
    assert settings.key_for("finance-ledger") == "alias/dsse"
    assert settings.key_references == ("alias/dsse", OTHER)
    assert settings.mode is Mode.ALERT_ONLY
    assert settings.multipart_threshold == 100 * 1024**2
    assert settings.purge_noncurrent is True
    assert settings.encryption_context_header == "eyJwdXJwb3NlIjoiYXJjaGl2ZSJ9"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DSSE_KMS_KEY is not set"),
        ({"DSSE_KMS_KEY": "my key"}, "is not a KMS key reference"),
        ({"DSSE_KMS_KEY": KEY, "MODE": "fix"}, "MODE='fix' is not one of: remediate, alert-only"),
        ({"DSSE_KMS_KEY": KEY, "PROTECTED_BUCKETS": " , "}, "PROTECTED_BUCKETS is empty"),
        ({"DSSE_KMS_KEY": KEY, "PROTECTED_BUCKETS": "Finance/*"}, "invalid bucket patterns"),
        ({"DSSE_KMS_KEY": KEY, "PROTECTED_BUCKETS": "logs-202?"}, "invalid bucket patterns ['logs-202?']"),
        (
            {"DSSE_KMS_KEY": KEY, "BUCKET_KEY_MAP": "secrets-*=alias/x"},
            "BUCKET_KEY_MAP['secrets-*']='alias/x' is not a key ARN",
        ),
        ({"DSSE_KMS_KEY": KEY, "BUCKET_KEY_MAP": f'{{"a-*": "{OTHER}"}}'}, "is not pattern=keyArn"),
        ({"DSSE_KMS_KEY": KEY, "BUCKET_KEY_MAP": f"a b={OTHER}"}, "BUCKET_KEY_MAP['a b'] has invalid bucket patterns"),
        ({"DSSE_KMS_KEY": KEY, "SWEEP_AFTER_BUCKET_RESET": "true"}, "needs OBJECT_QUEUE_URL"),
        ({"DSSE_KMS_KEY": KEY, "MULTIPART_THRESHOLD_BYTES": "6000000000"}, "CopyObject's 5 GiB limit"),
        ({"DSSE_KMS_KEY": KEY, "MULTIPART_PART_SIZE_BYTES": "1024"}, "outside S3's part size limits"),
        ({"DSSE_KMS_KEY": KEY, "MULTIPART_THRESHOLD_BYTES": "lots"}, "is not a whole number"),
        ({"DSSE_KMS_KEY": KEY, "PURGE_NONCURRENT_VERSIONS": "maybe"}, "is not a boolean"),
        ({"DSSE_KMS_KEY": KEY, "ALERT_TOPIC_ARN": "dsse-alerts"}, "is not a standard SNS topic ARN"),
        (
            {"DSSE_KMS_KEY": KEY, "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts.fifo"},
            "is not a standard SNS topic ARN (FIFO topics",
        ),
        ({"DSSE_KMS_KEY": KEY, "ENCRYPTION_CONTEXT": '["a"]'}, "must be a JSON object of strings"),
        ({"DSSE_KMS_KEY": KEY, "FORWARD_RESULTS": "true"}, "FORWARD_RESULTS=true needs ACCOUNT_ID"),
        ({"DSSE_KMS_KEY": KEY, "SECURITY_HUB_FINDINGS": "true"}, "SECURITY_HUB_FINDINGS=true needs ACCOUNT_ID"),
        ({"DSSE_KMS_KEY": KEY, "SECURITY_HUB_FINDINGS": "on"}, "SECURITY_HUB_FINDINGS='on' is not a boolean"),
    ],
)
def test_bad_values_fail_loudly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(env)


ARABIC_INDIC_ACCOUNT = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662"  # "123456789012"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"key": KEY + "\n"}, "DSSE_KMS_KEY="),
        ({"key": KEY.replace("123456789012", ARABIC_INDIC_ACCOUNT)}, "DSSE_KMS_KEY="),
        ({"key": "alias/dsse\n"}, "DSSE_KMS_KEY="),
        ({"key": "alias/dssé"}, "DSSE_KMS_KEY="),
        ({"key": "1111aaaa-11aa-11aa-11aa-11111111111é"}, "DSSE_KMS_KEY="),
        ({"bucket_keys": (("secrets-*", OTHER + "\n"),)}, "BUCKET_KEY_MAP['secrets-*']="),
        ({"alert_topic_arn": "arn:aws:sns:us-east-1:123456789012:dsse-alerts\n"}, "ALERT_TOPIC_ARN="),
        ({"alert_topic_arn": "arn:aws:sns:us-east-1:123456789012:dsse-alértes"}, "ALERT_TOPIC_ARN="),
        ({"alert_topic_arn": f"arn:aws:sns:us-east-1:{ARABIC_INDIC_ACCOUNT}:dsse-alerts"}, "ALERT_TOPIC_ARN="),
    ],
)
def test_a_value_with_a_trailing_newline_or_a_non_ascii_character_is_refused(
    setting: dict[str, Any], message: str
) -> None:
    """Each value is checked whole and ASCII-only: Python's `$` passes a trailing newline, its `\\d` other scripts'
    digits, and the value checked is the value used (only from_env strips a variable)."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings(**({"key": KEY} | setting))


def test_the_environment_is_stripped_before_it_is_checked_and_used() -> None:
    settings = Settings.from_env(
        {"DSSE_KMS_KEY": KEY + "\n", "ALERT_TOPIC_ARN": " arn:aws:sns:us-east-1:123456789012:dsse-alerts\n"}
    )

    assert (settings.key, settings.alert_topic_arn) == (KEY, "arn:aws:sns:us-east-1:123456789012:dsse-alerts")


def test_a_bucket_key_map_key_in_another_scripts_digits_is_not_a_key_arn() -> None:
    with pytest.raises(ConfigError, match="is not a key ARN"):
        Settings.from_env(
            {"DSSE_KMS_KEY": KEY, "BUCKET_KEY_MAP": f"secrets-*={OTHER.replace('123456789012', ARABIC_INDIC_ACCOUNT)}"}
        )


def test_bad_configuration_fails_at_cold_start_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSSE_KMS_KEY", KEY)
    monkeypatch.setenv("MODE", "fix-everything")

    with pytest.raises(ConfigError, match="MODE='fix-everything' is not one of: remediate, alert-only"):
        load_function("object_remediation")


def test_a_throttled_alias_lookup_at_cold_start_is_retried_not_a_configuration_error() -> None:
    from botocore.exceptions import ClientError

    from dsse_remediation.aws.kms import KeyRing
    from dsse_remediation.exceptions import AwsFailure
    from dsse_remediation.model import Failure

    class Throttled:
        def describe_key(self, KeyId: str) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "DescribeKey")

    with pytest.raises(AwsFailure, match="ThrottlingException") as raised:
        KeyRing(["alias/dsse"], lambda: Throttled())  # type: ignore[arg-type, return-value]
    assert raised.value.failure is Failure.THROTTLED


def test_the_organization_switches_need_the_account_they_report_for() -> None:
    env = {
        "DSSE_KMS_KEY": KEY,
        "ACCOUNT_ID": "123456789012",
        "FORWARD_RESULTS": "true",
        "SECURITY_HUB_FINDINGS": "TRUE",
    }

    settings = Settings.from_env(env)

    assert (settings.sharing.forward_results, settings.sharing.security_hub_findings) == (True, True)
