"""Wiring: build each path's service from the environment, once per cold start."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .aws import clients
from .aws.kms import KeyRing, KmsGateway
from .aws.s3 import S3Gateway
from .aws.sns import SnsPublisher
from .buckets import BucketRemediator
from .config import Settings
from .keyguard import KeyGuard
from .remediation import ObjectRemediator

OnAlertError = Callable[[Exception], None]


def _common(env: Mapping[str, str] | None) -> tuple[Settings, KeyRing, SnsPublisher | None]:
    settings = Settings.from_env(env)
    keys = KeyRing(settings.key_references, lambda: clients.kms(settings.region))
    topic = settings.alert_topic_arn
    publisher = SnsPublisher(lambda: clients.sns(settings.region), topic) if topic else None
    return settings, keys, publisher


def object_remediator(
    env: Mapping[str, str] | None = None, on_alert_error: OnAlertError | None = None
) -> ObjectRemediator:
    settings, keys, publisher = _common(env)
    s3 = S3Gateway(clients.s3(settings.region), settings.account_id)
    return ObjectRemediator(settings, keys, s3, publisher, on_alert_error)


def bucket_remediator(
    env: Mapping[str, str] | None = None, on_alert_error: OnAlertError | None = None
) -> BucketRemediator:
    settings, keys, publisher = _common(env)
    s3 = S3Gateway(clients.s3(settings.region), settings.account_id)
    objects = ObjectRemediator(settings, keys, s3, publisher, on_alert_error) if settings.sweep_after_reset else None
    kms = KmsGateway(clients.kms(settings.region))
    return BucketRemediator(settings, keys, s3, kms, publisher, objects, on_alert_error)


def key_guard(env: Mapping[str, str] | None = None, on_alert_error: OnAlertError | None = None) -> KeyGuard:
    settings, keys, publisher = _common(env)
    return KeyGuard(settings, keys, KmsGateway(clients.kms(settings.region)), publisher, on_alert_error)
