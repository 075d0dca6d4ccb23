"""The lifecycle rule that would retire a bucket's noncurrent-version debt: printed, never applied.

A `NoncurrentVersionExpiration` action "Specifies when noncurrent object versions expire. Upon expiration, Amazon S3
permanently deletes the noncurrent object versions"; `NoncurrentDays` counts from when a version became noncurrent.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_NoncurrentVersionExpiration.html ,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html
What the rule cannot do, and the text says so: a lifecycle rule cannot filter on encryption, so it expires every
noncurrent version, DSSE ones included; PutBucketLifecycleConfiguration replaces the bucket's whole lifecycle
configuration (merge the rule into the existing rules); and versions under Object Lock retention or a legal hold are
not deleted until they are released (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html).
"""

from __future__ import annotations

from typing import Any

RULE_ID = "dsse-remediation-retire-noncurrent"
DEFAULT_NONCURRENT_DAYS = 1  # the least NoncurrentDays: a version is retired a day after it stops being current


def retire_noncurrent(days: int = DEFAULT_NONCURRENT_DAYS) -> dict[str, Any]:
    """One lifecycle Rule, as PutBucketLifecycleConfiguration's LifecycleConfiguration.Rules takes it."""
    return {
        "ID": RULE_ID,
        "Status": "Enabled",
        "Filter": {},  # every object of the bucket
        "NoncurrentVersionExpiration": {"NoncurrentDays": days},
    }


def configuration(rule: dict[str, Any]) -> dict[str, Any]:
    """The LifecycleConfiguration document `aws s3api put-bucket-lifecycle-configuration` takes."""
    return {"Rules": [rule]}
