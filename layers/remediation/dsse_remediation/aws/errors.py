"""AWS errors as the domain sees them: every ClientError and BotoCoreError becomes an AwsFailure with one `Failure`.

The adapters wrap their calls with `translated`; nothing above aws/ reads an AWS error code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import AwsFailure
from ..model import Failure

# Lambda spells them ResourceNotFoundException / AccessDeniedException (GetAlias of the Batch task function). KMS's and
# S3 Control's bare "NotFoundException" is left out: a missing key is not a missing object, and a job id unknown to
# DescribeJob is reported with its message.
NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404", "NotFound", "ResourceNotFoundException"})
ACCESS_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccessDeniedException"})
# A newer write (412) or a concurrent conditional write (409) changed the object under us.
RACE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
ARCHIVED = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})
# Grant* parameters sent to a bucket whose Object Ownership is BucketOwnerEnforced (ACLs disabled).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
ACLS_DISABLED = frozenset({"AccessControlListNotSupported"})
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
# "Try again later", as botocore's standard retry mode reads it (botocore/retries/standard.py), plus KMS's own.
# Left after botocore's retries, they make a resource `failed` (retried by the delivery), never `unremediable`.
THROTTLING = frozenset(
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
    }
)
SERVICE_FAULTS = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSInternalException",
        "DependencyTimeoutException",
    }
)

P = ParamSpec("P")
R = TypeVar("R")


def code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', '') or 'no message'}"


def classify(exc: ClientError | BotoCoreError) -> Failure:
    if isinstance(exc, BotoCoreError):
        return Failure.TRANSIENT  # connection errors, read timeouts: botocore retried them already
    found = code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    table = (
        (RACE, Failure.RACE),
        (NOT_FOUND, Failure.GONE),
        (ACCESS_DENIED, Failure.DENIED),
        (ARCHIVED, Failure.ARCHIVED),
        (KMS_KEY_UNUSABLE, Failure.KEY_UNUSABLE),
        (ACLS_DISABLED, Failure.ACLS_DISABLED),
    )
    for codes, failure in table:
        if found in codes:
            return failure
    unprefixed = found.removeprefix("KMS.")
    if unprefixed in THROTTLING:
        return Failure.THROTTLED
    if unprefixed in SERVICE_FAULTS or (isinstance(status, int) and status >= 500):
        return Failure.TRANSIENT
    if found in ("400", "BadRequest", "BadRequestException"):
        return Failure.BAD_REQUEST
    return Failure.OTHER


def failure(exc: ClientError | BotoCoreError) -> AwsFailure:
    if isinstance(exc, ClientError):
        return AwsFailure(classify(exc), message(exc), code(exc))
    return AwsFailure(Failure.TRANSIENT, str(exc), type(exc).__name__)


def translated(call: Callable[P, R]) -> Callable[P, R]:
    """An adapter method whose AWS errors reach the domain as AwsFailure."""

    @functools.wraps(call)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise failure(exc) from exc

    return wrapper
