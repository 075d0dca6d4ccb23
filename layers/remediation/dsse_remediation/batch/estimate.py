"""What a set of S3 Batch Operations jobs will cost, before any is created: an upper bound from each bucket's object
count (the rows of a written manifest, else CloudWatch's daily NumberOfObjects).

us-east-1 list prices, checked against https://aws.amazon.com/s3/pricing/ ("Batch Operations": $0.25 per job and
$1.00 per million objects processed; "Requests & data retrievals": GET/HEAD $0.0004 per 1,000, PUT/COPY $0.005 per
1,000) and https://aws.amazon.com/kms/pricing/ ($0.03 per 10,000 requests). Other Regions differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..aws.cloudwatch import StorageMetrics
from ..exceptions import AwsFailure
from .requests import JobSpec

JOB_FEE = 0.25
PER_OBJECT_FEE = 1.00 / 1_000_000
HEAD_FEE = 0.0004 / 1_000
COPY_FEE = 0.005 / 1_000
KMS_FEE = 0.03 / 10_000
# A DSSE-KMS write asks KMS for one data key (GenerateDataKey); reading an SSE-KMS or DSSE-KMS source adds a Decrypt.
# The ceiling assumes every object is a KMS-encrypted source that is rewritten.
KMS_REQUESTS_CEILING = 2
# NumberOfObjects is a daily metric: the latest datapoint of these last days is the count.
METRIC_LOOKBACK = timedelta(days=3)


@dataclass(frozen=True)
class BucketEstimate:
    bucket: str
    encryption_filters: tuple[str, ...]  # one job each
    objects: int | None  # an upper bound of the objects the bucket's jobs visit together; None: unknown
    source: str  # where the count comes from, or why it is unknown
    writes: bool = True  # False: every job is a dry run (HEAD only: no COPY, no KMS)

    @property
    def jobs(self) -> int:
        return len(self.encryption_filters)


@dataclass(frozen=True)
class Estimate:
    """The fees of a set of jobs, at us-east-1 list prices: an upper bound where every object count is known.

    Each object has one encryption type, so a bucket's jobs together visit at most its object count.
    """

    buckets: tuple[BucketEstimate, ...] = field(default_factory=tuple)

    @property
    def jobs(self) -> int:
        return sum(bucket.jobs for bucket in self.buckets)

    @property
    def objects(self) -> int:
        """Objects of the buckets whose count is known."""
        return sum(bucket.objects or 0 for bucket in self.buckets)

    @property
    def written_objects(self) -> int:
        return sum(bucket.objects or 0 for bucket in self.buckets if bucket.writes)

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(bucket.bucket for bucket in self.buckets if bucket.objects is None)

    @property
    def job_fees(self) -> float:
        return self.jobs * JOB_FEE

    @property
    def object_fees(self) -> float:
        return self.objects * PER_OBJECT_FEE

    @property
    def head_fees(self) -> float:
        return self.objects * HEAD_FEE

    @property
    def copy_ceiling(self) -> float:
        return self.written_objects * COPY_FEE

    @property
    def kms_ceiling(self) -> float:
        return self.written_objects * KMS_REQUESTS_CEILING * KMS_FEE

    @property
    def batch_fees(self) -> float:
        """What Batch Operations itself charges (jobs and objects processed)."""
        return self.job_fees + self.object_fees

    @property
    def total_ceiling(self) -> float:
        return self.batch_fees + self.head_fees + self.copy_ceiling + self.kms_ceiling

    def __str__(self) -> str:
        lines = [
            f"Estimated fees of {self.jobs} S3 Batch Operations job{'s' if self.jobs != 1 else ''} "
            "(us-east-1 list prices, before any job is created):"
        ]
        for bucket in self.buckets:
            count = f"at most {bucket.objects:,} objects" if bucket.objects is not None else "object count unknown"
            dry = "; dry run: HEAD only" if not bucket.writes else ""
            lines.append(
                f"  s3://{bucket.bucket}: {bucket.jobs} job{'s' if bucket.jobs != 1 else ''} "
                f"({', '.join(bucket.encryption_filters)}), {count} ({bucket.source}){dry}"
            )
        rows = [
            ("Job fees", f"{self.jobs} x $0.25", self.job_fees),
            ("Objects processed", f"{self.objects:,} x $1.00 per million", self.object_fees),
            ("HEAD requests", f"{self.objects:,} x $0.0004 per 1,000", self.head_fees),
            ("COPY requests, at most", f"{self.written_objects:,} x $0.005 per 1,000", self.copy_ceiling),
            (
                "KMS requests, at most",
                f"{self.written_objects * KMS_REQUESTS_CEILING:,} x $0.03 per 10,000",
                self.kms_ceiling,
            ),
        ]
        lines += [f"  {label:<24}{basis:<36}{_dollars(amount):>12}" for label, basis, amount in rows]
        lines.append(f"  {'Total, at most':<24}{'':<36}{_dollars(self.total_ceiling):>12}")
        lines.append(
            "  plus the task function's Lambda duration; COPY and KMS are ceilings (compliant objects are only read)."
        )
        if self.unknown:
            per_million = PER_OBJECT_FEE + HEAD_FEE + COPY_FEE + KMS_REQUESTS_CEILING * KMS_FEE
            lines.append(
                f"  Not counted: the objects of {', '.join(self.unknown)} (count unknown), at most "
                f"{_dollars(per_million * 1_000_000)} per million objects on top; their job fees are counted."
            )
        return "\n".join(lines)


def estimate(
    specs: Sequence[JobSpec],
    metrics: StorageMetrics,
    now: datetime,
    writes: Callable[[JobSpec], bool],
    region: str | None = None,
) -> Estimate:
    """The fees of these jobs; `writes(spec)` tells a job that may change objects from a dry run."""
    by_bucket: dict[str, list[JobSpec]] = {}
    for spec in specs:
        by_bucket.setdefault(spec.bucket, []).append(spec)
    return Estimate(
        tuple(bucket_estimate(bucket, group, metrics, now, writes, region) for bucket, group in by_bucket.items())
    )


def bucket_estimate(
    bucket: str,
    specs: Sequence[JobSpec],
    metrics: StorageMetrics,
    now: datetime,
    writes: Callable[[JobSpec], bool],
    region: str | None = None,
) -> BucketEstimate:
    """A bucket's jobs together: the rows of their written manifests, plus the bucket's CloudWatch object count when
    any job lists the bucket itself (the manifest generator)."""
    listed = [spec.manifest.objects for spec in specs if spec.manifest is not None]
    generated = [spec for spec in specs if spec.manifest is None]
    written = any(writes(spec) for spec in specs)
    filters = tuple(spec.encryption_filter for spec in specs)
    if None in listed:
        return BucketEstimate(bucket, filters, None, "a manifest without an object count", written)
    objects = sum(count for count in listed if count is not None)
    source = f"{objects:,} rows in the inventory manifest" if listed else ""
    if generated:
        try:
            found = metrics.object_count(bucket, now - METRIC_LOOKBACK, now)
        except AwsFailure as exc:
            return BucketEstimate(bucket, filters, None, f"CloudWatch did not answer ({exc})", written)
        if found is None:
            return BucketEstimate(
                bucket,
                filters,
                None,
                f"no AWS/S3 NumberOfObjects datapoint in {region or 'this Region'} in the last "
                f"{METRIC_LOOKBACK.days} days; the metric is daily and published in the bucket's own Region",
                written,
            )
        count, day = found
        objects += count
        metric = f"CloudWatch NumberOfObjects of {day:%Y-%m-%d}, every version and storage class"
        source = f"{source} + {metric}" if source else metric
    return BucketEstimate(bucket, filters, objects, source, written)


def _dollars(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.005 or amount == 0 else "< $0.01"
