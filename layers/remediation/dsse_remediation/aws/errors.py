"""Reading botocore errors by code, the way S3 and KMS document them."""

from __future__ import annotations

from botocore.exceptions import ClientError

NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
NO_BUCKET = frozenset({"NoSuchBucket"})
ACCESS_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
# A newer write (412) or a concurrent conditional write (409) changed the object under us.
RACE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
ARCHIVED = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})


def code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', '') or 'no message'}"


def is_kms_refusal(exc: ClientError) -> bool:
    """S3 relays KMS failures (disabled key, pending deletion, no grant) as `KMS.<Exception>` codes."""
    return code(exc).startswith("KMS.")
