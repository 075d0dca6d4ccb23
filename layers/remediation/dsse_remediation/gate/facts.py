"""What read-only calls say about a bucket's readers and writers: the input of the gate's rules (rules.py).

Built by the adapter (aws/bucket_access.py) from GetBucketWebsite, GetBucketPolicy, GetBucketAcl,
GetPublicAccessBlock (the bucket's and the account's), GetBucketReplication, GetBucketTagging,
GetBucketVersioning, GetBucketLifecycleConfiguration, GetBucketNotificationConfiguration and, for the bucket's
DSSE key, kms:GetKeyPolicy. A configuration that does not exist is its empty value here (no website: False, no
policy: None, no replication: ()); a configuration the role may not read is `unreadable`, which the rules never take
for "none": the gate does not guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# ACL grantee groups (S3 User Guide, acl-overview: "Amazon S3 predefined groups").
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"


@dataclass(frozen=True)
class Grant:
    """One ACL grant: a grantee (a group URI, a canonical user id or an email) and its permission."""

    grantee: str
    permission: str  # READ | WRITE | READ_ACP | WRITE_ACP | FULL_CONTROL


@dataclass(frozen=True)
class PublicAccessBlock:
    """S3 Block Public Access settings (API_PublicAccessBlockConfiguration); all False when none is set."""

    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def __or__(self, other: PublicAccessBlock) -> PublicAccessBlock:
        """The settings in force: S3 applies the most restrictive of the bucket's and the account's."""
        return PublicAccessBlock(
            self.block_public_acls or other.block_public_acls,
            self.ignore_public_acls or other.ignore_public_acls,
            self.block_public_policy or other.block_public_policy,
            self.restrict_public_buckets or other.restrict_public_buckets,
        )


@dataclass(frozen=True)
class ReplicationRule:
    """One enabled replication rule and whether it replicates KMS-encrypted objects (replication-config-for-kms)."""

    rule_id: str
    destination_bucket: str
    kms_opt_in: bool  # SourceSelectionCriteria.SseKmsEncryptedObjects.Status == Enabled
    replica_kms_key: str | None  # Destination.EncryptionConfiguration.ReplicaKmsKeyID


@dataclass(frozen=True)
class BucketAccess:
    """A bucket's access configuration as the gate's rules read it."""

    bucket: str
    account_id: str  # the bucket owner's account (this deployment's)
    key_arn: str  # the DSSE key the bucket would be converted to
    website: bool = False
    policy: Mapping[str, Any] | None = None  # the bucket policy document, parsed
    acl: tuple[Grant, ...] = ()  # the bucket ACL's grants (not the owner's FULL_CONTROL)
    bucket_block: PublicAccessBlock = field(default_factory=PublicAccessBlock)
    account_block: PublicAccessBlock = field(default_factory=PublicAccessBlock)
    replication: tuple[ReplicationRule, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    key_policy: Mapping[str, Any] | None = None  # the DSSE key's policy document, parsed
    versioned: bool = False
    lifecycle_rules: int = 0  # enabled lifecycle rules (a copy restarts their ages)
    notifications: bool = False  # any event notification configuration (an ObjectCreated:Copy fires per copy)
    organization_id: str | None = None  # this account's Organization (aws:PrincipalOrgID), when known
    unreadable: tuple[str, ...] = ()  # the configurations that could not be read, with why

    @property
    def public_access_block(self) -> PublicAccessBlock:
        return self.bucket_block | self.account_block
