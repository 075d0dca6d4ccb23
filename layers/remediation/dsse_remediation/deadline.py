"""The time an invocation gives its work, and how long a copy is assumed to take.

Lambda ends an invocation at its timeout whatever it is doing: a copy cut off there is lost, the caller gets a function
error instead of an answer (Batch Operations no `TemporaryFailure`, SQS no batch item failures), and a multipart
upload is left behind. So the handlers carry a `Deadline` from the invocation's context into the remediation, which
- estimates a copy before starting it: one that cannot finish in the time left is not started (a fresh invocation can
  do it), one that no invocation could finish is `unremediable` and names the CLI command that can;
- checks the time left before each part of a multipart copy, and stops and aborts the upload when the next part could
  not finish;
- (the SQS batch) takes no new record once the time is up, so the untouched records are redelivered.
The CLI has no deadline (`NO_DEADLINE`).
https://docs.aws.amazon.com/lambda/latest/dg/python-context.html (get_remaining_time_in_millis)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .config import MAX_PARTS, MIB

# A function's timeout is at most 900 seconds. https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
LAMBDA_MAX_SECONDS = 900.0
# Kept back from an invocation's time for what must still happen once the work stops: the AbortMultipartUpload of a
# stopped copy (one small request; botocore's standard retry mode sleeps at most 1 s, then 2 s, before its 2nd and
# 3rd attempts), the answer, and Powertools' log and metric lines. It also absorbs a part or a CopyObject running a
# few seconds longer than estimated. Ten seconds is about 1% of the template's 900-s timeouts.
SAFETY_MARGIN_SECONDS = 10.0
# The assumed rate of one server-side copy request (a CopyObject, or the UploadPartCopy of one part). AWS documents no
# rate for copies; the AWS Storage Blog reports a 2 TB same-Region multipart copy inside Lambda's 15 minutes "under
# ideal conditions" (https://aws.amazon.com/blogs/storage/copying-objects-greater-than-5-gb-with-amazon-s3-batch-
# operations/). This is deliberately low: a copy estimated to fit then almost always does, and a wrong guess costs a
# retry or a pointer to the CLI, never a copy cut off (the time left is checked again before every part anyway).
ASSUMED_COPY_BYTES_PER_SECOND = 25 * MIB
# The assumed time of a request that moves no object data (HeadObject, the ACL reads, CreateMultipartUpload,
# CompleteMultipartUpload), and the latency of each copy request on top of its bytes. Typical S3 latencies are tens
# of milliseconds.
ASSUMED_REQUEST_SECONDS = 1.0
# The requests before a copy in one invocation (HeadObject, GetBucketOwnershipControls, GetObjectAcl), and those a
# multipart copy makes around its parts (ListObjectAnnotations, HeadObject, GetObjectTagging, CreateMultipartUpload,
# CompleteMultipartUpload).
REQUESTS_BEFORE_A_COPY = 3
MULTIPART_REQUESTS = 5


class RemainingTime(Protocol):
    """What a Lambda context offers: the milliseconds left before the invocation is stopped."""

    def get_remaining_time_in_millis(self) -> int: ...


class OutOfTime(Exception):
    """Stopped before a step the time left could not finish; nothing of that step was started."""


@dataclass(frozen=True)
class Deadline:
    """How much time the work of one invocation has: in all (`capacity`) and now (`remaining()`), both less the
    safety margin. `left` is the source of the time left now: for a Lambda, its context (below)."""

    capacity: float  # seconds: what the whole invocation gives the work; inf: no deadline
    left: Callable[[], float] = field(repr=False, compare=False)

    @classmethod
    def of(cls, context: RemainingTime, margin: float = SAFETY_MARGIN_SECONDS) -> Deadline:
        """The invocation's deadline, from its context. The time left is read from the context at every check: it
        is the runtime's own count towards the deadline Lambda enforces, and a test's context is its clock. Its
        first reading, at the start of the handler, is the function's timeout (the most any invocation gives)."""

        def left() -> float:
            return min(context.get_remaining_time_in_millis() / 1000, LAMBDA_MAX_SECONDS) - margin

        return cls(capacity=max(0.0, left()), left=left)

    def remaining(self) -> float:
        """Seconds left for the work now; 0 once the time is up."""
        return max(0.0, self.left())

    def expired(self) -> bool:
        return self.remaining() <= 0

    def allows(self, seconds: float) -> bool:
        """Whether work of about `seconds` can finish in the time left."""
        return seconds <= self.remaining()

    def require(self, seconds: float, what: str) -> None:
        """OutOfTime, naming `what`, unless work of about `seconds` can finish in the time left."""
        if not self.allows(seconds):
            raise OutOfTime(f"{what} would take about {seconds:.0f} s and {self.remaining():.0f} s are left")


NO_DEADLINE = Deadline(capacity=math.inf, left=lambda: math.inf)


@dataclass(frozen=True)
class CopyEstimate:
    """How long a copy in place is assumed to take, and how that was reckoned (for the reason a human reads)."""

    seconds: float
    basis: str

    @property
    def in_one_invocation(self) -> float:
        """The copy with the requests that precede it in an invocation."""
        return self.seconds + REQUESTS_BEFORE_A_COPY * ASSUMED_REQUEST_SECONDS


def request_seconds(size: int) -> float:
    """One copy request (CopyObject, or UploadPartCopy of one part) of `size` bytes."""
    return ASSUMED_REQUEST_SECONDS + size / ASSUMED_COPY_BYTES_PER_SECOND


def part_seconds(size: int) -> float:
    """What must fit before a part is started: the part, and the CompleteMultipartUpload that must follow it."""
    return request_seconds(size) + ASSUMED_REQUEST_SECONDS


def single_copy(size: int) -> CopyEstimate:
    rate = ASSUMED_COPY_BYTES_PER_SECOND // MIB
    return CopyEstimate(request_seconds(size), f"one CopyObject of {_size(size)} at an assumed {rate} MiB/s")


def multipart_copy(size: int, part_size: int, concurrency: int) -> CopyEstimate:
    """The parts `concurrency` at a time, plus the requests around them. A copy has at most 10,000 parts, so a part
    is at least a 10,000th of the object (s3transfer's ChunksizeAdjuster, which the copy uses, doubles it until so)."""
    part = max(part_size, -(-size // MAX_PARTS))
    parts = max(1, -(-size // part))
    rounds = -(-parts // concurrency)
    seconds = MULTIPART_REQUESTS * ASSUMED_REQUEST_SECONDS + rounds * request_seconds(min(part, size))
    rate = ASSUMED_COPY_BYTES_PER_SECOND // MIB
    basis = (
        f"a multipart copy of {_size(size)} in {parts:,} part(s) of {_size(part)}, {concurrency} at a time, at an "
        f"assumed {rate} MiB/s per part"
    )
    return CopyEstimate(seconds, basis)


def _size(size: int) -> str:
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", MIB), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} bytes"
