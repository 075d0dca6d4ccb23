"""What the reader-safety gate's rules read about a bucket (gate/facts.BucketAccess), from read-only calls.

Calls, and what each costs:
- per bucket, every read (9 S3 calls, each with ExpectedBucketOwner): GetBucketWebsite, GetBucketPolicy,
  GetBucketAcl, GetPublicAccessBlock, GetBucketReplication, GetBucketTagging, GetBucketVersioning,
  GetBucketLifecycleConfiguration, GetBucketNotificationConfiguration;
- per account, once per TTL: s3control GetPublicAccessBlock (the account's Block Public Access) and organizations
  DescribeOrganization (this account's Organization id, for aws:PrincipalOrgID);
- per DSSE key ARN, once per TTL: kms GetKeyPolicy (PolicyName `default`), in the key's Region.
A reader's first bucket costs 12 calls; every later bucket within the TTL 9 (one more for a key not yet read). The
account values and key policies are the same for every bucket, so the reader keeps them (what was read, or why it
could not be) for `ttl` seconds of its monotonic clock, ACCOUNT_TTL_SECONDS unless told: the TTL the gate keeps a
bucket's verdict for.

What each answer means:
- "does not exist", as the API reference documents it, is the empty value: NoSuchWebsiteConfiguration (no website),
  NoSuchBucketPolicy (no policy), NoSuchPublicAccessBlockConfiguration (nothing blocked, bucket or account),
  ReplicationConfigurationNotFoundError (no rules), NoSuchTagSet (no tags), NoSuchLifecycleConfiguration (no rules);
  GetBucketVersioning without Status (never enabled: "If the versioning state has never been set on a bucket, it has
  no versioning state", API_PutBucketVersioning.html) and GetBucketNotificationConfiguration with no configuration
  ("an empty NotificationConfiguration element") are answers, not errors.
- Versioning `Suspended` counts as versioned: suspending "stop[s] accruing new versions" but "existing objects in
  your bucket do not change" (VersionSuspendedBehavior.html), so the versions kept while it was enabled stay under
  their old encryption, and a copy in place of an object whose current version has a version id leaves that version
  behind as noncurrent ("Version 111111 is not overwritten", AddingObjectstoVersionSuspendedBuckets.html).
- Throttling and transient failures (aws/errors.py: Failure.retryable) raise AwsFailure: the caller's delivery
  retries the whole read. So does NoSuchBucket (Failure.GONE): there is no bucket to convert.
- Any other failure of one configuration (AccessDenied above all, a bucket another account owns included) is an
  entry of `unreadable`, "<configuration> (<operation>: <code>: <message>)", and that configuration's empty value:
  the rules call such a bucket unsafe, never "none".
- DescribeOrganization: AccessDeniedException or AWSOrganizationsNotInUseException is "no Organization known"
  (organization_id None); ConcurrentModificationException ("Try again later") is transient.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import AwsFailure
from ..gate.facts import BucketAccess, Grant, PublicAccessBlock, ReplicationRule
from ..model import Failure
from . import errors
from .s3_objects import owner_args

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

ACCOUNT_TTL_SECONDS = 300.0
# Every operation a read may make (the benchmarks and the tests tell the gate's reads from a path's own calls by it).
OPERATIONS = frozenset(
    {
        "GetBucketWebsite",
        "GetBucketPolicy",
        "GetBucketAcl",
        "GetPublicAccessBlock",
        "GetBucketReplication",
        "GetBucketTagging",
        "GetBucketVersioning",
        "GetBucketLifecycleConfiguration",
        "GetBucketNotificationConfiguration",
        "GetKeyPolicy",
        "DescribeOrganization",
    }
)
# Organizations' own answers for an account outside an Organization, or a role that may not ask.
NO_ORGANIZATION = frozenset({"AWSOrganizationsNotInUseException", "AccessDeniedException"})
TRY_AGAIN = frozenset({"ConcurrentModificationException"})  # Organizations: "Try again later"

T = TypeVar("T")
Answer = Mapping[str, Any]
Outcome = tuple[T, "str | None"]  # (the value, or its empty value; why it could not be read, or None)


class BucketAccessReader:
    """Builds a bucket's BucketAccess; keeps the account's values and the key policies for `ttl` seconds."""

    def __init__(
        self,
        s3: S3Client,
        s3control: Callable[[], Any],
        kms: Callable[[str], KMSClient],
        organizations: Callable[[], Any],
        account_id: str,
        ttl: float = ACCOUNT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s3 = s3
        self._s3control = s3control
        self._kms = kms  # by Region: a key policy is read in its key's Region
        self._organizations = organizations
        self._account = account_id
        self._owner, _ = owner_args(account_id)
        self._ttl = ttl
        self._clock = clock
        self._kept: dict[str, tuple[float, Any]] = {}  # "account-block" | "organization" | key ARN -> (when, outcome)
        self._lock = threading.Lock()

    @errors.translated
    def read(self, bucket: str, key_arn: str) -> BucketAccess:
        unreadable: list[str] = []

        def value(outcome: Outcome[T]) -> T:
            found, why = outcome
            if why is not None:
                unreadable.append(why)
            return found

        return BucketAccess(
            bucket=bucket,
            account_id=self._account,
            key_arn=key_arn,
            website=value(self._website(bucket)),
            policy=value(self._policy(bucket)),
            acl=value(self._acl(bucket)),
            bucket_block=value(self._bucket_block(bucket)),
            account_block=value(self._kept_for_ttl("account-block", self._account_block)),
            replication=value(self._replication(bucket)),
            tags=value(self._tags(bucket)),
            key_policy=value(self._kept_for_ttl(key_arn, lambda: self._key_policy(key_arn))),
            versioned=value(self._versioned(bucket)),
            lifecycle_rules=value(self._lifecycle_rules(bucket)),
            notifications=value(self._notifications(bucket)),
            organization_id=value(self._kept_for_ttl("organization", self._organization_id)),
            unreadable=tuple(unreadable),
        )

    # --- per bucket ----------------------------------------------------------------------------------------------

    def _website(self, bucket: str) -> Outcome[bool]:
        answer, why = self._ask("website", lambda: self._s3.get_bucket_website(Bucket=bucket, **self._owner))
        return answer is not None, why

    def _policy(self, bucket: str) -> Outcome[Mapping[str, Any] | None]:
        answer, why = self._ask("bucket policy", lambda: self._s3.get_bucket_policy(Bucket=bucket, **self._owner))
        return _document("bucket policy", answer) if why is None else (None, why)

    def _acl(self, bucket: str) -> Outcome[tuple[Grant, ...]]:
        answer, why = self._ask("bucket ACL", lambda: self._s3.get_bucket_acl(Bucket=bucket, **self._owner))
        return (acl_grants(answer) if answer else ()), why

    def _bucket_block(self, bucket: str) -> Outcome[PublicAccessBlock]:
        answer, why = self._ask(
            "bucket Block Public Access", lambda: self._s3.get_public_access_block(Bucket=bucket, **self._owner)
        )
        return block(answer), why

    def _replication(self, bucket: str) -> Outcome[tuple[ReplicationRule, ...]]:
        answer, why = self._ask("replication", lambda: self._s3.get_bucket_replication(Bucket=bucket, **self._owner))
        return (replication_rules(answer) if answer else ()), why

    def _tags(self, bucket: str) -> Outcome[Mapping[str, str]]:
        answer, why = self._ask("tags", lambda: self._s3.get_bucket_tagging(Bucket=bucket, **self._owner))
        return {tag["Key"]: tag["Value"] for tag in (answer or {}).get("TagSet", [])}, why

    def _versioned(self, bucket: str) -> Outcome[bool]:
        answer, why = self._ask("versioning", lambda: self._s3.get_bucket_versioning(Bucket=bucket, **self._owner))
        return (answer or {}).get("Status") in ("Enabled", "Suspended"), why

    def _lifecycle_rules(self, bucket: str) -> Outcome[int]:
        answer, why = self._ask(
            "lifecycle", lambda: self._s3.get_bucket_lifecycle_configuration(Bucket=bucket, **self._owner)
        )
        return sum(rule.get("Status") == "Enabled" for rule in (answer or {}).get("Rules", [])), why

    def _notifications(self, bucket: str) -> Outcome[bool]:
        answer, why = self._ask(
            "notifications", lambda: self._s3.get_bucket_notification_configuration(Bucket=bucket, **self._owner)
        )
        destinations = ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations")
        found = answer or {}
        return any(found.get(name) for name in destinations) or "EventBridgeConfiguration" in found, why

    # --- per account and per key, kept for the TTL -------------------------------------------------------------

    def _account_block(self) -> Outcome[PublicAccessBlock]:
        answer, why = self._ask(
            "account Block Public Access",
            lambda: self._s3control().get_public_access_block(AccountId=self._account),
        )
        return block(answer), why

    def _key_policy(self, key_arn: str) -> Outcome[Mapping[str, Any] | None]:
        region = key_arn.split(":")[3]
        answer, why = self._ask(
            "key policy", lambda: self._kms(region).get_key_policy(KeyId=key_arn, PolicyName="default")
        )
        return _document("key policy", answer) if why is None else (None, why)

    def _organization_id(self) -> Outcome[str | None]:
        answer, why = self._ask(
            "organization", lambda: self._organizations().describe_organization(), absent=NO_ORGANIZATION
        )
        return (answer or {}).get("Organization", {}).get("Id"), why

    def _kept_for_ttl(self, name: str, read: Callable[[], Outcome[T]]) -> Outcome[T]:
        """What `read` answered (a value, or why there is none) less than `ttl` seconds ago; else read it now."""
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and self._clock() - kept[0] < self._ttl:
            outcome: Outcome[T] = kept[1]
            return outcome
        when = self._clock()
        outcome = read()  # a retryable failure raises: nothing is kept
        with self._lock:
            self._kept[name] = (when, outcome)
        return outcome

    # --- errors ----------------------------------------------------------------------------------------------------

    def _ask(self, what: str, call: Callable[[], Any], absent: frozenset[str] = frozenset()) -> Outcome[Answer | None]:
        """(the answer, None); (None, None) when the configuration does not exist; (None, why) when it could not be
        read. Raises AwsFailure when asking again later may succeed, or when the bucket does not exist."""
        try:
            return call(), None
        except ClientError as exc:
            found = errors.code(exc)
            if found in MISSING or found in absent:
                return None, None
            failure = errors.failure(exc)
            if found in TRY_AGAIN:
                raise AwsFailure(Failure.TRANSIENT, errors.message(exc), found) from exc
            if failure.failure.retryable or failure.failure is Failure.GONE:
                raise failure from exc
            operation = exc.operation_name
            return None, f"{what} ({operation}: {errors.message(exc)})"
        except BotoCoreError as exc:
            raise errors.failure(exc) from exc


# Each read's documented "does not exist" (API reference, each operation's page and ErrorResponses.html).
MISSING = frozenset(
    {
        "NoSuchWebsiteConfiguration",
        "NoSuchBucketPolicy",
        "NoSuchPublicAccessBlockConfiguration",  # the bucket's (s3) and the account's (s3control)
        "ReplicationConfigurationNotFoundError",
        "NoSuchTagSet",
        "NoSuchLifecycleConfiguration",
    }
)


def _document(what: str, answer: Answer | None) -> Outcome[Mapping[str, Any] | None]:
    """A policy document (GetBucketPolicy's or GetKeyPolicy's `Policy`, a JSON string), parsed."""
    if answer is None:
        return None, None
    try:
        parsed = json.loads(answer["Policy"])
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"{what} (not a JSON policy document: {exc})"
    if not isinstance(parsed, dict):
        return None, f"{what} (not a JSON policy document: {type(parsed).__name__})"
    return parsed, None


def acl_grants(answer: Answer) -> tuple[Grant, ...]:
    """GetBucketAcl's grants but the owner's own FULL_CONTROL: each grantee as its group URI, canonical user id or
    email address (API_Grantee.html)."""
    owner = (answer.get("Owner") or {}).get("ID")
    found = []
    for grant in answer.get("Grants", []):
        grantee: Mapping[str, Any] = grant.get("Grantee") or {}
        name = grantee.get("URI") or grantee.get("ID") or grantee.get("EmailAddress") or ""
        permission = str(grant.get("Permission", ""))
        if grantee.get("Type") == "CanonicalUser" and name == owner and permission == "FULL_CONTROL":
            continue
        found.append(Grant(name, permission))
    return tuple(found)


def block(answer: Answer | None) -> PublicAccessBlock:
    """A PublicAccessBlockConfiguration (bucket or account); all False when none is set."""
    config: Mapping[str, Any] = (answer or {}).get("PublicAccessBlockConfiguration") or {}
    return PublicAccessBlock(
        block_public_acls=bool(config.get("BlockPublicAcls")),
        ignore_public_acls=bool(config.get("IgnorePublicAcls")),
        block_public_policy=bool(config.get("BlockPublicPolicy")),
        restrict_public_buckets=bool(config.get("RestrictPublicBuckets")),
    )


def replication_rules(answer: Answer) -> tuple[ReplicationRule, ...]:
    """The enabled rules: where each replicates to, whether it replicates KMS-encrypted objects (their
    SourceSelectionCriteria opt-in) and under which key (replication-config-for-kms-objects.html)."""
    found = []
    for rule in (answer.get("ReplicationConfiguration") or {}).get("Rules", []):
        if rule.get("Status") != "Enabled":
            continue
        destination: Mapping[str, Any] = rule.get("Destination") or {}
        criteria: Mapping[str, Any] = rule.get("SourceSelectionCriteria") or {}
        encrypted: Mapping[str, Any] = criteria.get("SseKmsEncryptedObjects") or {}
        found.append(
            ReplicationRule(
                rule_id=str(rule.get("ID", "")),
                destination_bucket=bucket_name(str(destination.get("Bucket", ""))),
                kms_opt_in=encrypted.get("Status") == "Enabled",
                replica_kms_key=(destination.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"),
            )
        )
    return tuple(found)


def bucket_name(arn: str) -> str:
    """arn:<partition>:s3:::<name> -> <name> (a replication Destination names its bucket by ARN)."""
    return arn.split(":::", 1)[1] if arn.startswith("arn:") and ":::" in arn else arn
