"""The gate every write path asks before its first write in a bucket: the bucket's verdict, cached for a TTL, with
the owner's acceptance.

The verdict is read once per bucket per TTL (about ten read-only calls, aws/bucket_access.py), never per object: an
object adds only its own ACL, which the copy reads anyway where ACLs are enabled. A bucket configuration event
(PutBucketWebsite, PutBucketPolicy, PutBucketAcl, Put/DeletePublicAccessBlock, PutBucketReplication,
PutBucketLogging, a key policy change) reaches the bucket function, which forgets its cached verdict and reads it at
once; the other functions' cached verdicts expire within the TTL.

Acceptance is explicit and recorded, never guessed: the bucket tag `dsse-remediation:accept-reader-impact` (its value
says who accepted, e.g. a ticket), the stack parameter AcceptReaderImpactBuckets (bucket patterns), or the CLI's
`--accept-reader-impact`. An accepted unsafe bucket is converted, and every result and alert of it says by whom.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from ..scope import Scope
from .facts import BucketAccess
from .rules import evaluate, object_findings
from .safety import ACCEPT_TAG, ReaderVerdict

TTL_SECONDS = 300.0


class AccessReader(Protocol):
    def read(self, bucket: str, key_arn: str) -> BucketAccess: ...


class ReaderGate:
    def __init__(
        self,
        reader: AccessReader,
        accepted_patterns: tuple[str, ...] = (),
        accepted_by: str | None = None,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`accepted_patterns`: the stack parameter's bucket patterns; `accepted_by`: an acceptance of every bucket
        (the CLI's --accept-reader-impact, naming the caller)."""
        self._reader = reader
        self._patterns = accepted_patterns
        self._accepted_by = accepted_by
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, BucketAccess, ReaderVerdict]] = {}
        self._lock = threading.Lock()

    def verdict(self, bucket: str, key_arn: str) -> ReaderVerdict:
        """The bucket's verdict for conversion to `key_arn`, with its acceptance (AwsFailure when it cannot be read)."""
        return self._entry(bucket, key_arn)[1]

    def object_verdict(self, bucket: str, key_arn: str, grants: Mapping[str, str]) -> ReaderVerdict:
        """The bucket's verdict plus what one object's own ACL adds (a public-read object breaks like a public
        bucket). `grants`: the object's ACL as the copy would carry it (empty where ACLs are disabled)."""
        access, verdict = self._entry(bucket, key_arn)
        extra = object_findings(grants, access.public_access_block)
        if not extra:
            return verdict
        return replace(verdict, reasons=verdict.reasons + extra)

    def forget(self, bucket: str) -> None:
        """Drop the bucket's cached verdicts: a configuration event changed what it is."""
        with self._lock:
            for entry in [entry for entry in self._cache if entry[0] == bucket]:
                del self._cache[entry]

    def _entry(self, bucket: str, key_arn: str) -> tuple[BucketAccess, ReaderVerdict]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get((bucket, key_arn))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1], cached[2]
        access = self._reader.read(bucket, key_arn)
        verdict = replace(evaluate(access), accepted_by=self._acceptance(access))
        with self._lock:
            self._cache[(bucket, key_arn)] = (now, access, verdict)
        return access, verdict

    def _acceptance(self, access: BucketAccess) -> str | None:
        tagged = access.tags.get(ACCEPT_TAG, "").strip()
        if tagged:
            return f"the bucket tag {ACCEPT_TAG}={tagged}"
        for pattern in self._patterns:
            if Scope.matches(pattern, access.bucket):
                return f"the stack parameter AcceptReaderImpactBuckets ({pattern})"
        return self._accepted_by
