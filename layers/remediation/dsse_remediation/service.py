"""Wiring: build the object remediator from the environment, once per cold start."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .aws import clients
from .aws.kms import KeyRing
from .aws.s3 import S3Gateway
from .aws.sns import SnsPublisher
from .config import Settings
from .remediation import ObjectRemediator


def object_remediator(
    env: Mapping[str, str] | None = None, on_alert_error: Callable[[Exception], None] | None = None
) -> ObjectRemediator:
    settings = Settings.from_env(env)
    keys = KeyRing(settings.key_references, lambda: clients.kms(settings.region))
    topic = settings.alert_topic_arn
    publisher = SnsPublisher(lambda: clients.sns(settings.region), topic) if topic else None
    return ObjectRemediator(
        settings, keys, S3Gateway(clients.s3(settings.region), settings.account_id), publisher, on_alert_error
    )
