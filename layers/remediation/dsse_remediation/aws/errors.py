"""Reading botocore errors by code, the way S3 and KMS document them."""

from __future__ import annotations

from botocore.exceptions import ClientError

NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
ACCESS_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
# A newer write (412) or a concurrent conditional write (409) changed the object under us.
RACE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
ARCHIVED = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})


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
