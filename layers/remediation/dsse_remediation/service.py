"""Wiring: build each path's service from the environment, once per cold start."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .aws import clients
from .aws.kms import KeyRing, KmsGateway
from .aws.s3 import S3Gateway
from .aws.sns import SnsPublisher
from .aws.sqs import QueueSender
from .buckets import BucketRemediator
from .config import Settings
from .keyguard import KeyGuard
from .remediation import ObjectRemediator
from .sweep import Sweeper

OnAlertError = Callable[[Exception], None]


def _settings(env: Mapping[str, str] | None) -> tuple[Settings, SnsPublisher | None]:
    settings = Settings.from_env(env)
    topic = settings.alert_topic_arn
    publisher = SnsPublisher(lambda: clients.sns(settings.region), topic) if topic else None
    return settings, publisher


def _keys(settings: Settings) -> KeyRing:
    return KeyRing(settings.key_references, lambda: clients.kms(settings.region))


def _s3(settings: Settings) -> S3Gateway:
    return S3Gateway(clients.s3(settings.region), settings.account_id)


def object_remediator(
    env: Mapping[str, str] | None = None, on_alert_error: OnAlertError | None = None
) -> ObjectRemediator:
    settings, publisher = _settings(env)
    return ObjectRemediator(settings, _keys(settings), _s3(settings), publisher, on_alert_error)


def sweeper(env: Mapping[str, str] | None = None, on_alert_error: OnAlertError | None = None) -> Sweeper | None:
    """A sweep's listing steps, run by the object function; None when the sweep is off."""
    settings, publisher = _settings(env)
    return _sweeper(settings, publisher, on_alert_error)


def _sweeper(settings: Settings, publisher: SnsPublisher | None, on_alert_error: OnAlertError | None) -> Sweeper | None:
    if not settings.sweep_after_reset or not settings.object_queue_url:
        return None
    queue = QueueSender(clients.sqs(settings.region), settings.object_queue_url)
    return Sweeper(settings, _s3(settings), queue, publisher, on_alert_error)


def bucket_remediator(
    env: Mapping[str, str] | None = None, on_alert_error: OnAlertError | None = None
) -> BucketRemediator:
    settings, publisher = _settings(env)
    kms = KmsGateway(clients.kms(settings.region))
    sweep = _sweeper(settings, publisher, on_alert_error)
    return BucketRemediator(settings, _keys(settings), _s3(settings), kms, publisher, sweep, on_alert_error)


def key_guard(env: Mapping[str, str] | None = None, on_alert_error: OnAlertError | None = None) -> KeyGuard:
    settings, publisher = _settings(env)
    return KeyGuard(settings, _keys(settings), KmsGateway(clients.kms(settings.region)), publisher, on_alert_error)
