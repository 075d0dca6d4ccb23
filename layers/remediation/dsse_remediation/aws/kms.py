"""KMS adapter: resolve the configured key references to key ARNs, once per cold start."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..config import is_key_arn
from ..exceptions import ConfigError

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
            raise ConfigError(f"KMS key {ref!r} could not be resolved to a key ARN: {exc}") from exc
        if metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            raise ConfigError(f"KMS key {ref!r} is {metadata['KeySpec']}: DSSE-KMS needs a symmetric key")
        return metadata["Arn"]

    def arn(self, reference: str) -> str:
        return self._arns[reference]
