"""FIPS endpoints: botocore's switch turns them on, and a Region without one for a service the product calls is refused
at the start (the functions' composition root, the CLI's connect), naming the services, before any call."""

from __future__ import annotations

import argparse
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

from dsse_remediation.aws import fips
from dsse_remediation.cli import session
from dsse_remediation.cli.arguments import UsageError, build_parser
from dsse_remediation.config import Settings
from dsse_remediation.exceptions import ConfigError
from dsse_remediation.wiring import App
from tests.helpers import PLACEHOLDER_KEY


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1", "us-gov-east-1"])
def test_every_service_the_product_calls_has_a_fips_endpoint_in_us_east_and_govcloud(region: str) -> None:
    assert fips.lacking_fips(region) == []
    fips.require_fips(region)  # nothing raised


def test_govcloud_fips_endpoints_are_the_ones_the_govcloud_guide_names() -> None:
    """ "use a FIPS 140-2 endpoint (https://s3-fips.us-gov-west-1.amazonaws.com ...)"
    (https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/govcloud-s3.html)."""
    assert fips.fips_endpoint("s3", "us-gov-west-1") == "s3-fips.us-gov-west-1.amazonaws.com"
    assert fips.fips_endpoint("kms", "us-gov-west-1") == "kms-fips.us-gov-west-1.amazonaws.com"
    assert fips.fips_endpoint("sns", "us-gov-west-1") == "sns.us-gov-west-1.amazonaws.com"  # the standard one is FIPS


def test_china_has_no_fips_endpoint_for_any_service_the_product_calls() -> None:
    assert fips.lacking_fips("cn-north-1") == list(fips.USED_SERVICES)


def test_fips_in_china_is_refused_naming_every_service_without_one() -> None:
    with pytest.raises(ConfigError) as refused:
        fips.require_fips("cn-north-1")
    message = str(refused.value)
    assert "cn-north-1 (aws-cn) has no FIPS endpoint for s3, s3control, kms, sns," in message
    assert "UseFipsEndpoints=false" in message


def test_a_region_with_some_fips_endpoints_names_only_the_missing_ones() -> None:
    missing = fips.lacking_fips("ca-central-1")
    assert "kms" not in missing
    assert "s3" not in missing
    assert "sns" in missing


def test_fips_without_a_region_is_refused() -> None:
    with pytest.raises(ConfigError, match="no AWS Region"):
        fips.require_fips(None)


def test_each_service_is_looked_up_under_the_endpoint_prefix_of_its_botocore_model() -> None:
    core = botocore.session.get_session()
    assert {name: core.get_service_model(name).endpoint_prefix for name in fips.USED_SERVICES} == fips.USED_SERVICES


def test_botocore_alone_would_send_to_a_fips_host_china_does_not_have() -> None:
    """Why the check exists: botocore builds the name from the partition's template and fails only when it connects."""
    kms = boto3.client("kms", region_name="cn-north-1", config=Config(use_fips_endpoint=True))
    assert kms.meta.endpoint_url == "https://kms-fips.cn-north-1.amazonaws.com.cn"


def test_the_functions_fail_at_cold_start_with_fips_on_in_china(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    with pytest.raises(ConfigError, match="no FIPS endpoint for s3"):
        App.from_env({"DSSE_KMS_KEY": PLACEHOLDER_KEY, "AWS_REGION": "cn-north-1"})


def test_the_functions_start_with_fips_on_in_govcloud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    app = App.from_env({"DSSE_KMS_KEY": PLACEHOLDER_KEY, "AWS_REGION": "us-gov-west-1"})
    assert app.settings.region == "us-gov-west-1"


def test_with_fips_off_china_starts_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "false")
    assert App.from_env({"DSSE_KMS_KEY": PLACEHOLDER_KEY, "AWS_REGION": "cn-north-1"}).settings.region == "cn-north-1"


def cli_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["check", "s3://example-protected-bucket", "--key", PLACEHOLDER_KEY, *argv])


def test_the_cli_fips_flag_sets_botocores_fips_setting_on_its_clients() -> None:
    args = cli_args("--fips", "--region", "us-gov-west-1")
    assert args.fips is True
    assert session.client_config(use_fips=True).use_fips_endpoint is True
    assert session.client_config().use_fips_endpoint is not True
    opened = session.open_session(args)
    assert opened.client("s3").meta.endpoint_url == "https://s3-fips.us-gov-west-1.amazonaws.com"
    assert opened.client("kms").meta.endpoint_url == "https://kms-fips.us-gov-west-1.amazonaws.com"


def test_the_cli_with_fips_in_china_is_refused_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    args = cli_args("--fips", "--region", "cn-north-1")
    monkeypatch.setattr(boto3.session.Session, "client", lambda *a, **k: made.append(a) or pytest.fail("a client"))
    settings = Settings(key=PLACEHOLDER_KEY, account_id="123456789012")
    with pytest.raises(UsageError, match=r"cn-north-1 \(aws-cn\) has no FIPS endpoint for s3"):
        session.connect(args, settings, 10)
    assert made == []


def test_the_cli_honours_aws_use_fips_endpoint_without_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    args = cli_args("--region", "cn-north-1")
    with pytest.raises(UsageError, match="no FIPS endpoint"):
        session.connect(args, Settings(key=PLACEHOLDER_KEY, account_id="123456789012"), 10)


def test_the_cli_without_fips_builds_standard_endpoints() -> None:
    opened = session.open_session(cli_args("--region", "us-gov-west-1"))
    assert opened.client("s3").meta.endpoint_url == "https://s3.us-gov-west-1.amazonaws.com"
