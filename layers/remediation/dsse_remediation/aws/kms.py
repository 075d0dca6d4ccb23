"""KMS adapter: resolve the configured key references to key ARNs, once per cold start."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..config import is_key_arn
from ..exceptions import ConfigError
from . import errors

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class KeyRing:
    """Maps every configured key reference (ARN, alias, alias ARN, key id) to its key ARN.

    S3 reports `SSEKMSKeyId` as a key ARN, so compliance compares ARNs. Key ARNs need no call;
    aliases and ids cost one `kms:DescribeKey` each, at cold start.
    """

    def __init__(self, references: Iterable[str], kms: Callable[[], KMSClient]) -> None:
        self._arns: dict[str, str] = {}
        for ref in references:
            self._arns[ref] = ref if is_key_arn(ref) else self._describe(kms(), ref)

    @staticmethod
    def _describe(kms: KMSClient, ref: str) -> str:
        try:
            metadata = kms.describe_key(KeyId=ref)["KeyMetadata"]
        except ClientError as exc:
            found = errors.failure(exc)
            if found.failure.retryable:
                raise found from exc  # throttled at cold start: the invocation fails and is retried
            raise ConfigError(f"KMS key {ref!r} could not be resolved to a key ARN: {exc}") from exc
        if metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            raise ConfigError(f"KMS key {ref!r} is {metadata['KeySpec']}: DSSE-KMS needs a symmetric key")
        return metadata["Arn"]

    def arn(self, reference: str) -> str:
        return self._arns[reference]

    def references_of(self, key_arn: str) -> list[str]:
        """The configured references (ARN, alias, ...) that resolve to this key ARN."""
        return [ref for ref, arn in self._arns.items() if arn == key_arn]

    @property
    def arns(self) -> frozenset[str]:
        return frozenset(self._arns.values())

    @property
    def aliases(self) -> dict[str, str]:
        """Configured alias names (alias/...) and the key ARN each resolved to at cold start."""
        return {ref.split(":", 5)[-1]: arn for ref, arn in self._arns.items() if "alias/" in ref}


@dataclass(frozen=True)
class KeyFacts:
    arn: str
    state: str  # Enabled | Disabled | PendingDeletion | PendingImport | Unavailable | ...
    spec: str
    usage: str
    deletion_date: datetime | None = None

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    def unusable_for_dsse(self) -> str | None:
        """Why S3 could not encrypt with this key, or None. S3 does not check keys given to PutBucketEncryption."""
        if self.state != "Enabled":
            return f"the key is {self.state}"
        if self.spec != "SYMMETRIC_DEFAULT" or self.usage != "ENCRYPT_DECRYPT":
            return f"the key is {self.spec} for {self.usage}: DSSE-KMS needs a symmetric encryption key"
        return None


class KmsGateway:
    """KMS calls of the bucket and key paths."""

    def __init__(self, client: KMSClient) -> None:
        self._client = client

    @errors.translated
    def facts(self, key: str) -> KeyFacts:
        metadata = self._client.describe_key(KeyId=key)["KeyMetadata"]
        return KeyFacts(
            arn=metadata["Arn"],
            state=metadata.get("KeyState", "Unknown"),
            spec=metadata.get("KeySpec", "SYMMETRIC_DEFAULT"),
            usage=metadata.get("KeyUsage", "ENCRYPT_DECRYPT"),
            deletion_date=metadata.get("DeletionDate"),
        )

    @errors.translated
    def rotation_enabled(self, key_arn: str) -> bool:
        return bool(self._client.get_key_rotation_status(KeyId=key_arn).get("KeyRotationEnabled"))

    @errors.translated
    def enable_key(self, key_arn: str) -> None:
        self._client.enable_key(KeyId=key_arn)

    @errors.translated
    def cancel_key_deletion(self, key_arn: str) -> None:
        self._client.cancel_key_deletion(KeyId=key_arn)  # leaves the key Disabled: EnableKey follows

    @errors.translated
    def enable_key_rotation(self, key_arn: str) -> None:
        self._client.enable_key_rotation(KeyId=key_arn)
