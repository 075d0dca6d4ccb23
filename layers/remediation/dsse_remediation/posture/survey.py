"""One bucket's survey, from a listing (scan) or from an inventory report: versions in, a BucketTally out.

The reads are injected: `head` (HeadObject of one version: its encryption, or None when it is gone) and `parallel`
(the caller's bounded pool: `parallel(items, work, done)` runs `work` on each item, at most its concurrency at once,
pulling items only as slots free, and calls `done` with each result in the calling thread). So the survey streams:
neither the listing nor the inventory is held, only the pool's window and the tally's counters.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..model import Encryption
from .document import BucketPosture
from .inventory import Manifest, Row
from .sampling import Estimate, Reservoir
from .states import State, of_encryption, of_inventory
from .tally import BucketTally, Version

T = TypeVar("T")


class Read(Protocol):
    @property
    def encryption(self) -> Encryption: ...

    @property
    def lock_until(self) -> datetime | None: ...


Head = Callable[[str, str, "str | None"], "Read | None"]


class Parallel(Protocol):
    def __call__(self, items: Iterable[Any], work: Callable[[Any], Any], done: Callable[[Any], None]) -> None: ...


@dataclass
class Failures:
    count: int = 0
    first: str | None = None

    def add(self, message: str) -> None:
        self.count += 1
        self.first = self.first or message


def head_id(version: Version) -> str | None:
    """The VersionId HeadObject is given: none for a current unversioned ("null") object, the listed id otherwise."""
    if version.version_id in (None, "null") and version.current:
        return None
    return version.version_id


class Survey:
    def __init__(self, bucket: str, key_arn: str, head: Head, parallel: Parallel, now: datetime) -> None:
        self.bucket = bucket
        self.key_arn = key_arn
        self._head = head
        self._parallel = parallel
        self.tally = BucketTally(now)
        self.failures = Failures()
        self.estimate: Estimate | None = None
        self.rows = 0  # inventory rows read (every row: other buckets', delete markers)

    def _work(self, version: Version) -> tuple[Version, Read | Exception | None]:
        try:
            return version, self._head(self.bucket, version.key, head_id(version))
        except Exception as exc:  # one version's failure is counted, not the end of the survey
            return version, exc

    def _count(self, result: tuple[Version, Read | Exception | None]) -> None:
        version, read = result
        if isinstance(read, Exception):
            self.failures.add(f"HeadObject of {version.key} failed: {read}")
        elif read is None:
            self.tally.vanished += 1
        else:
            if read.lock_until is not None and version.lock_until is None:
                version = dataclasses.replace(version, lock_until=read.lock_until)
            self.tally.add(version, of_encryption(read.encryption, self.key_arn))

    def scan(self, versions: Iterable[Version]) -> None:
        """Every listed version read with HeadObject."""
        self._parallel(versions, self._work, self._count)

    def inventory(self, manifest: Manifest, rows: Iterable[Row], sample: int | None, rng: random.Random) -> None:
        """The report's rows of this bucket: states from EncryptionStatus, DSSE-KMS rows read with HeadObject (all,
        or a sample of `sample`)."""
        reservoir: Reservoir[Version] | None = Reservoir(sample, rng) if sample else None
        pending = {True: [0, 0], False: [0, 0]}  # DSSE versions not read (sampling): current -> [objects, bytes]

        def dsse_rows() -> Iterator[Version]:
            for row in rows:
                self.rows += 1
                if row.delete_marker or row.bucket != self.bucket:
                    continue
                version = Version(row.key, row.version_id, row.size, row.current, row.lock_until)
                state = of_inventory(row.encryption)
                if state is not None:
                    self.tally.add(version, state)
                elif reservoir is None:
                    yield version
                else:
                    reservoir.offer(version)
                    pending[version.current][0] += 1
                    pending[version.current][1] += version.size

        self._parallel(dsse_rows(), self._work, self._count)
        if reservoir is not None:
            self._sampled(reservoir, pending)

    def _sampled(self, reservoir: Reservoir[Version], pending: dict[bool, list[int]]) -> None:
        """The sample's DSSE versions are read; every DSSE version of the report is then split between dsse-key and
        dsse-other-key by the sample's shares (objects by count, bytes by the bytes' share): estimates."""
        found: list[tuple[Version, State]] = []

        def keep(result: tuple[Version, Read | Exception | None]) -> None:
            version, read = result
            if isinstance(read, Exception):
                self.failures.add(f"HeadObject of {version.key} failed: {read}")
            elif read is not None:
                found.append((version, of_encryption(read.encryption, self.key_arn)))

        self._parallel(reservoir.items, self._work, keep)
        under = [version for version, state in found if state is State.DSSE_KEY]
        self.estimate = Estimate(
            checked=len(found),
            population=reservoir.seen,
            under_key=len(under),
            bytes_checked=sum(version.size for version, _ in found),
            bytes_under_key=sum(version.size for version in under),
        )
        share, byte_share = self.estimate.share, self.estimate.byte_share
        for version, state in found:
            if state is not State.DSSE_KEY:
                self.tally.rank(version, state)
        for current, (objects, size) in pending.items():
            counts = self.tally.current if current else self.tally.noncurrent
            key_objects, key_bytes = round(objects * share), round(size * byte_share)
            counts.add(State.DSSE_KEY, key_bytes, key_objects)
            counts.add(State.DSSE_OTHER_KEY, size - key_bytes, objects - key_objects)
            if not current and objects - key_objects:
                self.tally.add_debt(size - key_bytes, None, objects - key_objects)


def posture_of(
    survey: Survey, kind: str, manifest: Manifest | None = None, unread: str = "version(s)"
) -> BucketPosture:
    """The bucket's figures once its survey is done (kind "scan" or "inventory", from `manifest`); versions that
    could not be read are left out of the figures and said so in the bucket's error (`unread` names them)."""
    error = None
    if survey.failures.count:
        error = (
            f"{survey.failures.count} {unread} could not be read, so the figures leave them out; the first: "
            f"{survey.failures.first}"
        )
    return BucketPosture(
        survey.bucket,
        survey.key_arn,
        kind,
        survey.tally,
        inventory_date=manifest.date if manifest else None,
        manifest=manifest.uri if manifest else None,
        estimate=survey.estimate,
        error=error,
        # an inventory of current versions only lists no noncurrent ones; a scan lists them all
        noncurrent_listed=manifest.versions if manifest else True,
    )
