"""What differs per AWS partition (aws, aws-us-gov, aws-cn): the partition of a Region, its DNS suffix, its console.

ARNs: `arn:<partition>:...`, the partition being `aws-us-gov` in the AWS GovCloud (US) Regions and `aws-cn` in the
China Regions (https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/using-govcloud-arns.html ,
https://docs.amazonaws.cn/en_us/general/latest/gr/ARNs.html). Which partition a Region belongs to and its DNS suffix
are botocore's own data (botocore/data/partitions.json, the partitions its endpoint rulesets resolve with: each
partition's `regionRegex`, its listed Regions and `outputs.dnsSuffix`), read offline, so the answer is the SDK's.

Consoles have their own host per partition, which botocore does not hold:
- aws: https://console.aws.amazon.com (AWS General Reference, "AWS Management Console endpoints and quotas",
  https://docs.aws.amazon.com/general/latest/gr/mgmt-console.html);
- aws-us-gov: https://console.amazonaws-us-gov.com ("sign in to the AWS GovCloud (US) console and open the IAM console
  at https://console.amazonaws-us-gov.com/iam", https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/configure-account.html);
- aws-cn: https://console.amazonaws.cn ("Amazon Web Services China use a region-specific console",
  https://docs.amazonaws.cn/en_us/aws/latest/userguide/services.html; the China guides link the console there, e.g.
  https://console.amazonaws.cn/iot/home in the AWS IoT Core Developer Guide for China).
The paths after the host (`/s3/buckets/<bucket>`, `/s3/object/<bucket>?prefix=<key>`, `/kms/home#/kms/keys/<id>`) are
the consoles' own deep links, which AWS does not document as an interface: a link that stops working opens the
service's console home in the right partition and Region all the same. Another partition has no link (None).
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import quote

import botocore.loaders

AWS = "aws"
GOVCLOUD = "aws-us-gov"
CHINA = "aws-cn"

CONSOLE_HOSTS = {
    AWS: "console.aws.amazon.com",
    GOVCLOUD: "console.amazonaws-us-gov.com",
    CHINA: "console.amazonaws.cn",
}


@functools.cache
def _partitions() -> tuple[dict[str, Any], ...]:
    """botocore's partitions.json (shipped with botocore; no network)."""
    data = botocore.loaders.create_loader().load_data("partitions")
    return tuple(data["partitions"])


def partition_of(region: str | None) -> str:
    """The partition of a Region as botocore resolves it: a listed Region, else the first partition whose regionRegex
    matches, else `aws` (botocore's rule for an unknown Region). No Region: `aws`."""
    if not region:
        return AWS
    for partition in _partitions():
        if region in partition.get("regions", {}):
            return str(partition["id"])
    for partition in _partitions():
        if re.match(partition["regionRegex"], region):
            return str(partition["id"])
    return AWS


def partition_of_arn(arn: str) -> str | None:
    """`arn:<partition>:...` -> the partition; None for something that is no ARN (an alias, a key id)."""
    parts = arn.split(":")
    return parts[1] if arn.startswith("arn:") and len(parts) > 2 and parts[1] else None


def dns_suffix(partition: str) -> str:
    """amazonaws.com (aws, aws-us-gov), amazonaws.com.cn (aws-cn): the suffix of the partition's service endpoints."""
    for known in _partitions():
        if known["id"] == partition:
            return str(known["outputs"]["dnsSuffix"])
    raise ValueError(f"{partition!r} is not a partition botocore knows")


def console_host(partition: str) -> str | None:
    """The AWS Management Console's host in the partition; None for a partition without a documented one here."""
    return CONSOLE_HOSTS.get(partition)


def s3_console_url(region: str, bucket: str, key: str | None = None) -> str | None:
    """The S3 console page of a bucket, or of an object, in the Region's own console."""
    host = console_host(partition_of(region))
    if host is None:
        return None
    where = f"region={quote(region, safe='')}"
    if key is None:
        return f"https://{host}/s3/buckets/{quote(bucket, safe='')}?{where}"
    return f"https://{host}/s3/object/{quote(bucket, safe='')}?{where}&prefix={quote(key, safe='')}"


def kms_console_url(key_arn: str) -> str | None:
    """The KMS console page of a key, by its ARN (its partition and Region); None for anything but a key ARN."""
    parts = key_arn.split(":")
    if not key_arn.startswith("arn:") or len(parts) < 6 or not parts[5].startswith("key/"):
        return None
    host = console_host(parts[1])
    if host is None:
        return None
    region, key_id = parts[3], parts[5].removeprefix("key/")
    return f"https://{host}/kms/home?region={quote(region, safe='')}#/kms/keys/{quote(key_id, safe='')}"


def s3_bucket_arn(partition: str, bucket: str) -> str:
    """`arn:<partition>:s3:::<bucket>`: S3 bucket ARNs name no Region and no account."""
    return f"arn:{partition}:s3:::{bucket}"


def s3_object_arn(partition: str, bucket: str, key: str) -> str:
    return f"{s3_bucket_arn(partition, bucket)}/{key}"
