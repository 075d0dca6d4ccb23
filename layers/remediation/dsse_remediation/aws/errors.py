"""Reading botocore errors by code, the way S3 and KMS document them."""

from __future__ import annotations

from botocore.exceptions import ClientError

NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
ACCESS_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
# A newer write (412) or a concurrent conditional write (409) changed the object under us.
RACE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
ARCHIVED = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})
# Grant* parameters sent to a bucket whose Object Ownership is BucketOwnerEnforced (ACLs disabled).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
ACLS_DISABLED = frozenset({"AccessControlListNotSupported"})
# Errors that say "try again later": throttling and service-side faults, as botocore's standard retry mode reads
# them (botocore/retries/standard.py), plus KMS's own. Left after retries, they make a resource `failed` (retried by
# the delivery), never `unremediable`.
TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "500",
        "502",
        "503",
        "504",
    }
)


def code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', '') or 'no message'}"


# S3 relays KMS failures as `KMS.<Exception>`. These say the key cannot be used until a human acts; any other
# KMS code (throttling, internal errors) is transient and left to retries.
# https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
KMS_KEY_UNUSABLE = frozenset(
    {
        "KMS.DisabledException",
        "KMS.KMSInvalidStateException",
        "KMS.NotFoundException",
        "KMS.AccessDeniedException",
        "KMS.KeyUnavailableException",
        "KMS.InvalidKeyUsageException",
    }
)


def is_kms_key_unusable(exc: ClientError) -> bool:
    return code(exc) in KMS_KEY_UNUSABLE


def is_transient(exc: ClientError) -> bool:
    """Throttling or a service fault (S3 relays KMS's as `KMS.<code>`): retry later, the resource is not at fault."""
    found = code(exc).removeprefix("KMS.")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return found in TRANSIENT or (isinstance(status, int) and status >= 500)
