"""Every ARN, console link and endpoint the product produces follows the partition of its Region: aws (us-east-1), AWS
GovCloud (US) (us-gov-west-1, aws-us-gov) and China (cn-north-1, aws-cn). One test per producer, over the three."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from dsse_remediation import partitions, prevention
from dsse_remediation.alerts import Context, alert_for
from dsse_remediation.batch.requests import JobSpec, ManifestFile, create_job_request
from dsse_remediation.config import BatchSettings, Settings, is_key_arn
from dsse_remediation.coverage.report import coverage
from dsse_remediation.findings import Where, asff
from dsse_remediation.gate.policies import Requester, key_allows
from dsse_remediation.model import BucketResult, Encryption, KeyResult, ObjectResult, Outcome
from tests.clock import PinnedClock

ACCOUNT = "123456789012"
PARTITIONS = [
    pytest.param("us-east-1", "aws", "console.aws.amazon.com", "amazonaws.com", id="aws"),
    pytest.param("us-gov-west-1", "aws-us-gov", "console.amazonaws-us-gov.com", "amazonaws.com", id="aws-us-gov"),
    pytest.param("cn-north-1", "aws-cn", "console.amazonaws.cn", "amazonaws.com.cn", id="aws-cn"),
]
NOW = datetime(2026, 1, 2, 3, 4, 5)


def key_arn(region: str) -> str:
    return f"arn:{partitions.partition_of(region)}:kms:{region}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def object_result(region: str) -> ObjectResult:
    return ObjectResult(
        bucket="example-protected-bucket",
        key="reports/q3 final.csv",
        outcome=Outcome.UNREMEDIABLE,
        reason="the object is archived",
        before=Encryption("AES256"),
        expected_key_arn=key_arn(region),
    )


def bucket_result(region: str) -> BucketResult:
    return BucketResult(
        bucket="example-protected-bucket",
        outcome=Outcome.FAILED,
        reason="PutBucketEncryption was refused",
        expected_key_arn=key_arn(region),
    )


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_the_partition_dns_suffix_and_console_of_a_region_are_its_own(
    region: str, partition: str, console: str, suffix: str
) -> None:
    assert partitions.partition_of(region) == partition
    assert partitions.dns_suffix(partition) == suffix
    assert partitions.console_host(partition) == console


def test_a_region_botocore_does_not_know_is_in_aws_and_no_region_too() -> None:
    assert partitions.partition_of("xx-nowhere-9") == "aws"
    assert partitions.partition_of(None) == "aws"


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_an_object_alert_links_the_object_in_its_partitions_console(
    region: str, partition: str, console: str, suffix: str
) -> None:
    alert = alert_for(object_result(region), Context("remediate", ACCOUNT, region, PinnedClock()))
    link = f"https://{console}/s3/object/example-protected-bucket?region={region}&prefix=reports%2Fq3%20final.csv"
    assert f"Console:     {link}" in alert.text_body
    assert alert.body["expectedKmsKeyId"].startswith(f"arn:{partition}:kms:{region}:")


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_a_bucket_alert_links_the_bucket_in_its_partitions_console(
    region: str, partition: str, console: str, suffix: str
) -> None:
    alert = alert_for(bucket_result(region), Context("remediate", ACCOUNT, region, PinnedClock()))
    assert f"Console:     https://{console}/s3/buckets/example-protected-bucket?region={region}" in alert.text_body


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_a_key_alert_names_the_key_by_its_partitions_arn_and_links_it(
    region: str, partition: str, console: str, suffix: str
) -> None:
    arn = key_arn(region)
    result = KeyResult(key_arn=arn, outcome=Outcome.FAILED, reason="the key was disabled", event_name="DisableKey")
    alert = alert_for(result, Context("remediate", ACCOUNT, region, PinnedClock()))
    assert alert.attributes["keyArn"] == arn
    assert alert.body["resource"] == arn
    link = f"https://{console}/kms/home?region={region}#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert f"Console:     {link}" in alert.text_body


def test_an_alert_without_a_region_has_no_console_link_rather_than_a_wrong_one() -> None:
    alert = alert_for(object_result("us-east-1"), Context("remediate", ACCOUNT, None, PinnedClock()))
    assert "Console:" not in alert.text_body


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_a_security_hub_finding_names_its_product_and_resource_in_the_regions_partition(
    region: str, partition: str, console: str, suffix: str
) -> None:
    finding = asff(object_result(region), Where(ACCOUNT, region), NOW)
    assert finding["ProductArn"] == f"arn:{partition}:securityhub:{region}:{ACCOUNT}:product/{ACCOUNT}/default"
    [resource] = finding["Resources"]
    assert resource == {
        "Type": "AwsS3Object",
        "Id": f"arn:{partition}:s3:::example-protected-bucket/reports/q3 final.csv",
        "Partition": partition,
        "Region": region,
    }
    bucket = asff(bucket_result(region), Where(ACCOUNT, region), NOW)["Resources"][0]
    assert bucket["Id"] == f"arn:{partition}:s3:::example-protected-bucket"


def job_settings(region: str) -> Any:
    partition = partitions.partition_of(region)
    return BatchSettings(
        task_function=f"arn:{partition}:lambda:{region}:{ACCOUNT}:function:dsse-remediation-BatchTask:live",
        job_role_arn=f"arn:{partition}:iam::{ACCOUNT}:role/dsse-remediation-BatchJob",
        report_bucket="dsse-reports",
    ).for_jobs(ACCOUNT)


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_every_s3_arn_of_a_batch_operations_job_is_in_the_partition_of_its_role(
    region: str, partition: str, console: str, suffix: str
) -> None:
    config = job_settings(region)
    version = f"arn:{partition}:lambda:{region}:{ACCOUNT}:function:dsse-remediation-BatchTask:7"
    generated = create_job_request(JobSpec("example-protected-bucket", "SSES3", "c1"), config, version, False)
    assert generated["Report"]["Bucket"] == f"arn:{partition}:s3:::dsse-reports"
    generator = generated["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator["SourceBucket"] == f"arn:{partition}:s3:::example-protected-bucket"
    assert generator["ManifestOutputLocation"]["Bucket"] == f"arn:{partition}:s3:::dsse-reports"
    manifest = ManifestFile("dsse-reports", "manifests/c1.csv", '"etag"')
    listed = create_job_request(JobSpec("b", "INVENTORY", "c1", manifest=manifest), config, version, False)
    assert listed["Manifest"]["Location"]["ObjectArn"] == f"arn:{partition}:s3:::dsse-reports/manifests/c1.csv"


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_a_key_arn_of_any_partition_is_a_key_reference_and_its_prevention_policy_follows_it(
    region: str, partition: str, console: str, suffix: str
) -> None:
    arn = key_arn(region)
    assert is_key_arn(arn)
    assert Settings(key=arn, region=region).key == arn
    resources = {statement["Resource"] for statement in prevention.statements("example-protected-bucket", arn)}
    assert resources == {f"arn:{partition}:s3:::example-protected-bucket/*"}


@pytest.mark.parametrize(("region", "partition", "console", "suffix"), PARTITIONS)
def test_coverage_suggests_a_selector_on_object_arns_of_the_regions_partition(
    region: str, partition: str, console: str, suffix: str
) -> None:
    report = coverage(["example-protected-bucket"], [], region, partitions.partition_of(region), ACCOUNT, "*")
    selector = report.suggestion
    assert selector is not None
    [arns] = [f["StartsWith"] for f in selector["FieldSelectors"] if f["Field"] == "resources.ARN"]
    assert arns == [f"arn:{partition}:s3:::example-protected-bucket/"]


@pytest.mark.parametrize(
    "reference",
    ["alias/dsse", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws-cn:kms:cn-north-1:123456789012:alias/dsse"],
)
def test_only_a_key_arn_gets_a_kms_console_link(reference: str) -> None:
    assert partitions.kms_console_url(reference) is None


def test_a_partition_without_a_known_console_gets_no_link() -> None:
    assert partitions.s3_console_url("us-iso-east-1", "b") is None
    assert partitions.kms_console_url("arn:aws-iso:kms:us-iso-east-1:123456789012:key/k") is None


def via_s3(service: str) -> dict[str, Any]:
    """A key policy letting another account decrypt only through the named service (kms:ViaService)."""
    condition = {"StringEquals": {"kms:ViaService": service, "kms:CallerAccount": "210987654321"}}
    grant = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": condition}
    return {"Version": "2012-10-17", "Statement": [grant]}


def test_the_reader_gate_knows_s3s_via_service_in_govcloud_as_in_aws() -> None:
    reader = Requester(account="210987654321")
    gov_key = key_arn("us-gov-west-1")
    assert key_allows(via_s3("s3.us-gov-west-1.amazonaws.com"), gov_key, "kms:Decrypt", reader, "b").allowed
    assert not key_allows(via_s3("s3.us-gov-east-1.amazonaws.com"), gov_key, "kms:Decrypt", reader, "b").allowed


@pytest.mark.parametrize("service", ["s3.cn-north-1.amazonaws.com.cn", "s3.cn-north-1.amazonaws.com"])
def test_in_china_s3s_via_service_value_is_unknown_so_a_grant_on_it_is_not_taken_as_proven(service: str) -> None:
    """The KMS guide documents SERVICE.REGION.amazonaws.com; China's endpoints end in amazonaws.com.cn: not guessed."""
    answer = key_allows(via_s3(service), key_arn("cn-north-1"), "kms:Decrypt", Requester(account="210987654321"), "b")
    assert not answer.allowed
