"""FIPS endpoints: whether every service the product calls has one in a Region, checked before any work.

The SDK's own switch turns FIPS on: AWS_USE_FIPS_ENDPOINT=true or `use_fips_endpoint = true` in the profile (the
functions: the template's UseFipsEndpoints parameter sets the variable), botocore `Config(use_fips_endpoint=True)`
(the CLI's `--fips`). https://docs.aws.amazon.com/sdkref/latest/guide/feature-endpoints.html

What botocore does with it in a Region without a FIPS endpoint (botocore 1.44, checked offline): its endpoint rulesets
build `<service>-fips.<region>.<dnsSuffix>` for every Region of a partition whose partitions.json says `supportsFIPS`,
which all of aws, aws-us-gov and aws-cn say. So in cn-north-1 a KMS client sends to
kms-fips.cn-north-1.amazonaws.com.cn, an endpoint botocore's own endpoints.json does not list: in aws-cn it lists FIPS
endpoints for a handful of services (16 entries, e.g. EFS, EKS Auth) and for none the product uses. (An answer on AWS
re:Post, not the reference: "FIPS endpoints are available in ... AWS US East/West, AWS GovCloud (US) and AWS Canada
(Central)" and "the AWS SDK/CLI currently doesn't check for fips support in a region",
https://repost.aws/questions/QU5q3r8ouDRx-O17PW0A8YNw; the China endpoint pages,
https://docs.amazonaws.cn/en_us/general/latest/gr/endpoints-arns.html, were not read service by service.) The first
call then fails with a connection error; S3 and S3 Control refuse at the first call instead ("Partition does not
support FIPS"). Neither happens before the first event. Hence this check, at the composition root
(wiring.App.from_env) and at the CLI's connect: it reads the endpoints botocore publishes per Region
(botocore/data/endpoints.json, offline), where an endpoint that exists in FIPS form lists a variant tagged exactly
["fips"] (the Region's own, or the service's defaults; a global service's partition endpoint for its Regions). The
partition-wide default variant (`{service}-fips.{region}...`) is a template every service inherits, not a sign that
one exists, so it does not count.

FIPS endpoints of the services the product uses, as botocore 1.44's endpoints.json lists them:

    service (boto3)   us-east-1                          us-gov-west-1                          cn-north-1
    s3                s3-fips.us-east-1.amazonaws.com    s3-fips.us-gov-west-1.amazonaws.com    none
    s3control         s3-control-fips.us-east-1...       s3-control-fips.us-gov-west-1...       none
    kms               kms-fips.us-east-1...              kms-fips.us-gov-west-1...              none
    sns               sns-fips.us-east-1...              sns.us-gov-west-1... (the standard)    none
    events            events-fips.us-east-1...           events.us-gov-west-1... (standard)     none
    securityhub       securityhub-fips.us-east-1...      securityhub-fips.us-gov-west-1...      none
    cloudtrail        cloudtrail-fips.us-east-1...       cloudtrail.us-gov-west-1... (standard) none
    sts               sts-fips.us-east-1...              sts.us-gov-west-1... (standard)        none
    cloudwatch        monitoring-fips.us-east-1...       monitoring.us-gov-west-1... (standard) none
    sqs               sqs-fips.us-east-1...              sqs.us-gov-west-1... (standard)        none
    lambda            lambda-fips.us-east-1...           lambda-fips.us-gov-west-1...           none
    organizations     organizations-fips.us-east-1...    organizations.us-gov-west-1... (std)   none
    cloudformation    cloudformation-fips.us-east-1...   cloudformation.us-gov-west-1... (std)  none
    scheduler         none listed                        none listed                            none

In GovCloud several services' standard endpoints are their FIPS endpoints (the data lists the same host as the fips
variant). EventBridge Scheduler lists no FIPS variant anywhere; the product makes no Scheduler call (the template's
schedules are run by the Scheduler service itself), so it is not checked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import botocore.loaders

from ..exceptions import ConfigError
from ..partitions import partition_of

# Every service the library and the CLI call (boto3 name -> the endpoint prefix endpoints.json files it under; a test
# checks each against botocore's service model).
USED_SERVICES = {
    "s3": "s3",
    "s3control": "s3-control",
    "kms": "kms",
    "sns": "sns",
    "sqs": "sqs",
    "events": "events",
    "securityhub": "securityhub",
    "cloudtrail": "cloudtrail",
    "cloudwatch": "monitoring",
    "lambda": "lambda",
    "organizations": "organizations",
    "sts": "sts",
    "cloudformation": "cloudformation",  # the CLI's `backfill --stack`
}
FIPS = ["fips"]


@functools.cache
def _endpoints() -> dict[str, Any]:
    """botocore's endpoints.json, keyed by partition id."""
    data = botocore.loaders.create_loader().load_data("endpoints")
    return {partition["partition"]: partition for partition in data["partitions"]}


def fips_endpoint(service: str, region: str) -> str | None:
    """The FIPS endpoint botocore's data lists for a service (boto3 name) in a Region, or None when it lists none."""
    prefix = USED_SERVICES.get(service, service)
    partition = _endpoints().get(partition_of(region), {})
    entry = partition.get("services", {}).get(prefix)
    if entry is None:
        return None
    endpoints = entry.get("endpoints", {})
    if entry.get("isRegionalized") is False and entry.get("partitionEndpoint") in endpoints:
        found = _fips_variant(endpoints[entry["partitionEndpoint"]])  # a global service: one endpoint per partition
        return found.replace("{region}", region) if found else None
    if region not in endpoints:
        return None
    found = _fips_variant(endpoints[region]) or _fips_variant(entry.get("defaults", {}))
    if found is None:
        return None
    return found.replace("{region}", region).replace("{dnsSuffix}", str(partition.get("dnsSuffix", "")))


def _fips_variant(endpoint: dict[str, Any]) -> str | None:
    for variant in endpoint.get("variants", []):
        if variant.get("tags") == FIPS and variant.get("hostname"):
            return str(variant["hostname"])
    return None


def lacking_fips(region: str, services: Iterable[str] = USED_SERVICES) -> list[str]:
    """The services (boto3 names) without a FIPS endpoint in the Region."""
    return [service for service in services if fips_endpoint(service, region) is None]


def require_fips(region: str | None, services: Iterable[str] = USED_SERVICES) -> None:
    """ConfigError naming each service without a FIPS endpoint in the Region (before any work, not at the first
    call); nothing when every one has one."""
    if not region:
        raise ConfigError("FIPS endpoints are on but no AWS Region is set: which endpoints exist depends on the Region")
    missing = lacking_fips(region, services)
    if missing:
        raise ConfigError(
            f"FIPS endpoints are on (AWS_USE_FIPS_ENDPOINT / use_fips_endpoint / --fips) but {region} "
            f"({partition_of(region)}) has no FIPS endpoint for {', '.join(missing)}: deploy in a Region that has "
            "them (e.g. us-gov-west-1, us-gov-east-1, us-east-1) or turn FIPS endpoints off (UseFipsEndpoints=false)"
        )


def fips_on(session: Any | None = None) -> bool:
    """Whether botocore will use FIPS endpoints: its `use_fips_endpoint` setting (AWS_USE_FIPS_ENDPOINT, else the
    profile's use_fips_endpoint), read through a botocore session as botocore reads it."""
    import botocore.session

    core = session or botocore.session.get_session()
    return bool(core.get_config_variable("use_fips_endpoint"))
