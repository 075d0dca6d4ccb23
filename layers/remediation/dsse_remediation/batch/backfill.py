"""Starting S3 Batch Operations jobs that bring a bucket's existing objects to DSSE-KMS: the backfill (the CLI) and
the backstop (scheduled) both go through `Backfill`, which checks, prices and starts the jobs `requests.plan` or
`from_inventory` describe. Its AWS calls are the adapters': BatchJobs (s3control, Lambda), InventoryStore (the S3
Inventory report), ReportFiles (the manifest written to the report bucket), StorageMetrics (CloudWatch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..aws.batch_jobs import BatchJobs
from ..aws.cloudwatch import StorageMetrics
from ..aws.report_files import ReportFiles
from ..aws.s3_inventory import InventoryStore
from ..config import Mode, Settings
from ..exceptions import AwsFailure, Held, InvalidRequest
from ..gate.safety import ReaderVerdict
from ..model import Clock, Failure, utc_now
from .estimate import Estimate, estimate
from .inventory import Inventory, parse_s3_uri
from .requests import (
    INVENTORY_FILTER,
    JobSpec,
    ManifestFile,
    check_bucket,
    check_campaign,
    check_spec,
    create_job_request,
)


class Backfill:
    """Builds, prices and starts the Batch Operations jobs of a backfill (the CLI) or a backstop run (scheduled)."""

    def __init__(
        self,
        settings: Settings,
        jobs: BatchJobs,
        inventories: InventoryStore,
        files: ReportFiles,
        metrics: StorageMetrics,
        clock: Clock = utc_now,
        readers: Callable[[str], ReaderVerdict] | None = None,
    ) -> None:
        self._settings = settings
        self._jobs = jobs
        self._inventories = inventories
        self._files = files
        self._metrics = metrics
        self._clock = clock
        self._readers = readers  # the reader-safety gate's verdict of a bucket (wiring.App always gives it)

    def held(self, bucket: str) -> str | None:
        """Why no job may start in this bucket (the reader-safety gate holds it), or None."""
        if self._readers is None:
            return None
        verdict = self._readers(bucket)
        return verdict.describe() if verdict.blocks else None

    def _refuse_held(self, bucket: str) -> None:
        if why := self.held(bucket):
            raise Held(f"no job for s3://{bucket}: converting it would break its readers or writers; {why}")

    def dry_run(self, spec: JobSpec) -> bool:
        """Whether the job's tasks only report: asked for, or the deployment is alert-only (MODE=alert-only)."""
        return spec.dry_run or self._settings.mode is Mode.ALERT_ONLY

    def request(self, spec: JobSpec) -> dict[str, Any]:
        """The CreateJob parameters of one job. Refuses (nothing is called) a bucket outside the protected scope, an
        unknown encryption filter and a deployment without the batch settings; then pins the task function's
        version (GetAlias)."""
        check_spec(spec)
        check_bucket(spec.bucket, self._settings.scope)
        config = self._settings.batch.for_jobs(self._settings.account_id)
        self._refuse_held(spec.bucket)
        return create_job_request(spec, config, self._jobs.pinned_version(config.function), self.dry_run(spec))

    def start(self, spec: JobSpec) -> str:
        """CreateJob for one spec; the job id. The job runs at once (ConfirmationRequired false)."""
        return self._jobs.create(self.request(spec))

    def estimate(self, specs: Sequence[JobSpec]) -> Estimate:
        """The fees of these jobs before any is created: an upper bound from each bucket's object count."""
        return estimate(specs, self._metrics, self._clock(), lambda spec: not self.dry_run(spec), self._settings.region)

    def from_inventory(
        self, manifest_uri: str, *, campaign: str, dry_run: bool = False, include_dsse_other_keys: bool = False
    ) -> JobSpec | None:
        """The job over an S3 Inventory report's objects that are not DSSE-KMS (with `include_dsse_other_keys`, its
        DSSE-KMS objects too: the inventory cannot say under which key, the task function reads it), its CSV manifest
        written to the report bucket (`manifests/<campaign>/inventory-<bucket>-<date>.csv`); None when no such object
        is listed (no job, no fee). Rows are streamed: an inventory of any size is read and written a part at a
        time."""
        check_campaign(campaign)
        config = self._settings.batch.for_jobs(self._settings.account_id)
        source_bucket, manifest_key = parse_s3_uri(manifest_uri)
        inventory = Inventory.parse(self._manifest(source_bucket, manifest_key), manifest_uri, source_bucket)
        check_bucket(inventory.source_bucket, self._settings.scope)
        self._refuse_held(inventory.source_bucket)
        created = inventory.created or self._clock()
        key = f"manifests/{campaign}/inventory-{inventory.source_bucket}-{created:%Y-%m-%d}.csv"
        archives = self._settings.remediate_restored_archives
        rows = inventory.select(self._data_rows(inventory), archives, dsse=include_dsse_other_keys)
        written = self._files.write_csv(config.report_bucket, key, rows)
        if written is None:
            return None
        etag, count = written
        return JobSpec(
            bucket=inventory.source_bucket,
            encryption_filter=INVENTORY_FILTER,
            campaign=campaign,
            dry_run=dry_run,
            priority=self._settings.batch.job_priority,
            manifest=ManifestFile(config.report_bucket, key, etag, count),
        )

    def _manifest(self, bucket: str, key: str) -> Any:
        try:
            return self._inventories.manifest(bucket, key)
        except AwsFailure as exc:
            if exc.failure is Failure.GONE:
                raise InvalidRequest(f"s3://{bucket}/{key} does not exist ({exc})") from None
            raise
        except ValueError:
            raise InvalidRequest(f"s3://{bucket}/{key} is not JSON: expected an S3 Inventory manifest.json") from None

    def _data_rows(self, inventory: Inventory) -> Iterator[list[str]]:
        for data_key in inventory.files:
            yield from self._inventories.rows(inventory.files_bucket, data_key)
