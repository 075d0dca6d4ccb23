"""The composition root: the one place the object graph is built.

Handlers, the CLI, the demo, the tests and the benchmarks all build an `App` from Settings and a client factory, the
one seam: a factory `(service, region) -> boto3 client`. The Lambdas pass the cached clients of `aws.clients`; the CLI
passes its session's; tests pass clients whose calls they record or whose answers they fault. Every part is built on
first use, so a cold start pays only for what its path needs (the object function never creates a KMS client unless
an alias must be resolved, no SNS client until its first alert, no SQS client until a sweep step sends; likewise
EventBridge and Security Hub). The modules of the parts an event path never builds (the bucket path and the key guard
for the object function, the sweep's S3 listing and SQS adapters unless the sweep is on, the batch parts) are imported
in the property that builds them, for the same reason: tests/unit/test_cold_start.py lists them.

`on_alert_error` is called with every failure to deliver a report: an alert to SNS, its event to the default bus
(alerts.ForwardFailed), a finding to Security Hub (findings.FindingImportFailed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .alerts import Alerts, Context
from .aws import clients, fips
from .aws.kms import KeyRing, KmsGateway
from .aws.s3_objects import ObjectStore
from .aws.sns import SnsPublisher
from .config import Settings
from .exceptions import ConfigError
from .model import Clock, utc_now
from .remediation import ObjectRemediator
from .sweep import Sweeper

if TYPE_CHECKING:
    from .aws.batch_jobs import BatchJobs
    from .aws.bucket_access import BucketAccessReader
    from .aws.cloudtrail import TrailReader
    from .aws.cloudwatch import StorageMetrics
    from .aws.report_files import ReportFiles
    from .aws.s3_buckets import BucketStore
    from .aws.s3_inventory import InventoryStore
    from .batch.backfill import Backfill
    from .batch.backstop import Backstop
    from .batch.completion import Completions
    from .batch.tasks import BatchTasks
    from .buckets import BucketRemediator
    from .canary import Canary
    from .config_rule import BucketRule
    from .coverage_check import CoverageCheck
    from .deadline import Deadline
    from .findings import Findings
    from .gate.gate import (
        ReaderGate,  # imported when first used: the paths that never use them do not pay for them at cold start
    )
    from .keyguard import KeyGuard
    from .posture_run import AthenaFactory, ScheduledPosture

ClientFactory = Callable[[str, "str | None"], Any]
OnAlertError = Callable[[Exception], None]


class App:
    def __init__(
        self,
        settings: Settings,
        client: ClientFactory | None = None,
        on_alert_error: OnAlertError | None = None,
        clock: Clock = utc_now,
        *,
        accepted_by: str | None = None,
    ) -> None:
        """`accepted_by`: an acceptance of the reader impact of every bucket (the CLI's --accept-reader-impact)."""
        self.settings = settings
        self._accepted_by = accepted_by
        self.clock = clock  # the one wall clock every part reads (model.Clock)
        self._client_factory = client or clients.client  # read now: the cached clients of this process
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._on_alert_error = on_alert_error

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        client: ClientFactory | None = None,
        on_alert_error: OnAlertError | None = None,
        clock: Clock = utc_now,
    ) -> App:
        """What a Lambda builds at cold start: Settings from its environment variables (ConfigError names a bad one).
        With FIPS endpoints on (AWS_USE_FIPS_ENDPOINT=true, the template's UseFipsEndpoints), a Region lacking a FIPS
        endpoint for a service the product calls fails here, naming each, not at the first event (aws/fips.py)."""
        settings = Settings.from_env(env)
        if fips.fips_on():
            fips.require_fips(settings.region)
        return cls(settings, client, on_alert_error, clock)

    def client(self, service: str, region: str | None = None) -> Any:
        """One client per service and Region for the life of the App."""
        where = (service, region or self.settings.region)
        if where not in self._clients:
            self._clients[where] = self._client_factory(*where)
        return self._clients[where]

    @cached_property
    def keys(self) -> KeyRing:
        return KeyRing(self.settings.key_references, lambda: self.client("kms"))

    @cached_property
    def object_store(self) -> ObjectStore:
        return ObjectStore(self.client("s3"), self.settings.account_id, now=self.clock)

    @cached_property
    def bucket_store(self) -> BucketStore:
        from .aws.s3_buckets import BucketStore

        return BucketStore(self.client("s3"), self.settings.account_id)

    @cached_property
    def bucket_access(self) -> BucketAccessReader:
        """What the reader-safety gate reads about a bucket: S3 in the functions' Region, S3 Control and Organizations
        on first use, KMS in each key's Region."""
        from .aws.bucket_access import BucketAccessReader

        if not self.settings.account_id:
            raise ConfigError("the reader-safety gate needs ACCOUNT_ID: every read names the expected bucket owner")
        return BucketAccessReader(
            self.client("s3"),
            lambda: self.client("s3control"),
            lambda region: self.client("kms", region),
            lambda: self.client("organizations"),
            self.settings.account_id,
        )

    @cached_property
    def gate(self) -> ReaderGate:
        """The reader-safety gate every write path asks (gate/): the bucket's verdict per TTL, its acceptance."""
        from .gate.gate import ReaderGate

        return ReaderGate(self.bucket_access, self.settings.accept_reader_impact, self._accepted_by)

    @cached_property
    def trails(self) -> TrailReader:
        """CloudTrail in the App's Region, and in each trail's home Region (`dsse-remediate coverage`)."""
        from .aws.cloudtrail import TrailReader

        if not self.settings.region:
            raise ConfigError("reading the trails needs AWS_REGION: coverage is per Region")
        return TrailReader(lambda region: self.client("cloudtrail", region), self.settings.region)

    @cached_property
    def coverage_check(self) -> CoverageCheck:
        """The scheduled coverage check and its re-check on a trail change (the batch jobs function)."""
        from .coverage_check import CoverageCheck

        return CoverageCheck(self.settings, self.bucket_store, self.trails, self.alerts)

    @cached_property
    def kms(self) -> KmsGateway:
        return KmsGateway(self.client("kms"))

    @cached_property
    def alerts(self) -> Alerts:
        topic = self.settings.alert_topic_arn
        # The topic's own Region (its ARN), which may differ from the buckets'.
        publisher = SnsPublisher(lambda: self.client("sns", topic.split(":")[3]), topic) if topic else None
        forwarder = None
        if self.settings.sharing.forward_results:  # the functions' own default bus, in their own Region
            from .aws.events import EventForwarder

            forwarder = EventForwarder(lambda: self.client("events"))
        mode, account, region = self.settings.mode.value, self.settings.account_id, self.settings.region
        context = Context(mode=mode, account=account, region=region, clock=self.clock)
        return Alerts(publisher, context, self._on_alert_error, forwarder)

    @cached_property
    def findings(self) -> Findings | None:
        """The Security Hub sink of object and bucket results; None when SECURITY_HUB_FINDINGS is off."""
        if not self.settings.sharing.security_hub_findings:
            return None
        from .aws.securityhub import SecurityHub
        from .findings import Findings, Where

        account, region = self.settings.account_id, self.settings.region
        if not account or not region:
            raise ConfigError("SECURITY_HUB_FINDINGS=true needs ACCOUNT_ID and AWS_REGION: a finding names both")
        return Findings(
            SecurityHub(lambda: self.client("securityhub")), Where(account, region), self._on_alert_error, self.clock
        )

    @cached_property
    def objects(self) -> ObjectRemediator:
        return ObjectRemediator(
            self.settings, self.keys, self.object_store, self.alerts, self.findings, self.clock, self.gate
        )

    @cached_property
    def sweeper(self) -> Sweeper | None:
        """A bucket sweep's steps; None when the sweep is off."""
        if not self.settings.sweep_after_reset or not self.settings.object_queue_url:
            return None
        from .aws.sqs import QueueSender

        queue = QueueSender(lambda: self.client("sqs"), self.settings.object_queue_url)
        return Sweeper(self.settings, self.bucket_store, queue, self.alerts, self.clock)

    @cached_property
    def buckets(self) -> BucketRemediator:
        from .buckets import BucketRemediator

        return BucketRemediator(
            self.settings, self.keys, self.bucket_store, self.kms, self.alerts, self.sweeper, self.findings, self.gate
        )

    @cached_property
    def key_guard(self) -> KeyGuard:
        from .keyguard import KeyGuard

        return KeyGuard(self.settings, self.keys, self.kms, self.alerts)

    @cached_property
    def batch_tasks(self) -> BatchTasks:
        from .batch.tasks import BatchTasks

        return BatchTasks(self.objects)

    @cached_property
    def batch_jobs(self) -> BatchJobs:
        from .aws.batch_jobs import BatchJobs

        return BatchJobs(self.client("s3control"), self.client("lambda"), self.settings.account_id or "")

    @cached_property
    def report_files(self) -> ReportFiles:
        from .aws.report_files import ReportFiles

        return ReportFiles(self.client("s3"), self.settings.account_id)

    @cached_property
    def inventories(self) -> InventoryStore:
        from .aws.s3_inventory import InventoryStore

        return InventoryStore(self.client("s3"), self.settings.account_id)

    @cached_property
    def storage_metrics(self) -> StorageMetrics:
        from .aws.cloudwatch import StorageMetrics

        return StorageMetrics(lambda: self.client("cloudwatch"))

    @cached_property
    def backfill(self) -> Backfill:
        from .batch.backfill import Backfill

        gate, keys, settings = self.gate, self.keys, self.settings
        return Backfill(
            settings,
            self.batch_jobs,
            self.inventories,
            self.report_files,
            self.storage_metrics,
            self.clock,
            lambda bucket: gate.verdict(bucket, keys.arn(settings.key_for(bucket))),
        )

    @cached_property
    def completions(self) -> Completions:
        from .batch.completion import Completions

        return Completions(self.settings.batch, self.batch_jobs, self.report_files, self.alerts)

    @cached_property
    def backstop(self) -> Backstop:
        from .batch.backstop import Backstop

        return Backstop(
            self.settings,
            self.backfill,
            self.bucket_store,
            self.inventories,
            self.report_files,
            self.alerts,
            self.clock,
        )

    @cached_property
    def posture_athena(self) -> AthenaFactory | None:
        """Where the scheduled posture measures a report too large for one invocation: Athena, in the workgroup and
        Glue database the template names (POSTURE_ATHENA_WORKGROUP, POSTURE_GLUE_DATABASE); None when unset. Its
        sample is POSTURE_SAMPLE_SIZE (0, every DSSE-KMS row, is the survey's alone: Athena samples its default)."""
        posture = self.settings.posture
        if not posture.athena_workgroup or not posture.glue_database:
            return None
        from .aws.athena import AthenaQueries
        from .aws.s3_posture import PostureReader
        from .posture.athena_source import DEFAULT_SAMPLE, AthenaPosture
        from .posture_run import HEAD_CONCURRENCY, DeadlineQueries, bounded

        queries = AthenaQueries(self.client("athena"), posture.athena_workgroup)
        head = PostureReader(self.object_store, self.settings.account_id).head
        database, sample = posture.glue_database, posture.sample_size or DEFAULT_SAMPLE

        def source(deadline: Deadline) -> AthenaPosture:
            return AthenaPosture(
                DeadlineQueries(queries, deadline),
                database,
                head=head,
                parallel=bounded(HEAD_CONCURRENCY),
                sample=sample,
                clock=self.clock,
            )

        return source

    @cached_property
    def posture(self) -> ScheduledPosture:
        """The scheduled posture (posture_run.py, the batch jobs function): each in-scope bucket's inventory."""
        from .aws.s3_posture import PostureReader
        from .posture_run import ScheduledPosture

        reader = PostureReader(self.object_store, self.settings.account_id)
        return ScheduledPosture(
            self.settings,
            self.bucket_store,
            self.inventories,
            reader.head,
            reader,
            self.report_files,
            self.alerts,
            self.keys,
            self.clock,
            self.posture_athena,
        )

    @cached_property
    def bucket_rule(self) -> BucketRule:
        """The AWS Config custom rule (config_rule.py): each bucket's default and posture, to PutEvaluations."""
        from .aws.config_rules import ConfigEvaluations
        from .config_rule import BucketRule

        evaluations = ConfigEvaluations(self.client("config"))
        return BucketRule(self.settings, self.bucket_store, self.report_files, evaluations, self.keys, self.clock)

    @cached_property
    def canary(self) -> Canary:
        """The canary's ticks (canary.py), in the canary bucket CANARY_BUCKET names."""
        from .aws.s3_canary import CanaryObjects
        from .canary import Canary

        bucket = self.settings.canary.bucket
        if not bucket:
            raise ConfigError("the canary needs CANARY_BUCKET: the stack's canary bucket (template.yaml CanaryBucket)")
        objects = CanaryObjects(self.client("s3"), bucket, self.settings.account_id)
        return Canary(self.settings, objects, self.keys, self.alerts, self.clock)
