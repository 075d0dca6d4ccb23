"""tests/unit: no fake AWS and no network, so each test here is about code alone and runs in milliseconds.

A test that asks for fake AWS (the `aws` fixture, or one built on it: s3, kms, bucket, inbox, make_remediator, ...)
fails at once: it belongs in tests/integration. Sockets are refused too, as serverless-test-samples' unit tests do, so a
client made anywhere cannot reach a real endpoint. The composition root and the handlers are available offline: on
clients that record their calls and refuse to send any (`tests.helpers.Unreachable`), but for SNS Publish, answered as
delivered (`Wiring.published`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from dsse_remediation.aws import clients
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY, PLACEHOLDER_TOPIC, CallLog, Unreachable, Wiring
from tests.lambda_context import load_function


def _refuse(*args: Any, **_: Any) -> Any:
    where = [arg for arg in args if not isinstance(arg, socket.socket)][:2]
    raise Unreachable(f"a unit test reached for the network {where!r}; move it to tests/integration")


@pytest.fixture(autouse=True)
def _no_aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "aws" in request.fixturenames:
        pytest.fail("tests/unit uses no fake AWS: a test that needs moto belongs in tests/integration", pytrace=False)
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)


@pytest.fixture
def offline(calls: CallLog) -> Wiring:
    """The composition root on the placeholder key and topic; `offline.app(**settings)` builds an App whose clients
    record their calls (`calls`) and send none."""
    return Wiring(PLACEHOLDER_KEY, PLACEHOLDER_TOPIC, calls, offline=True)


@pytest.fixture
def offline_handler(monkeypatch: pytest.MonkeyPatch, offline: Wiring) -> Callable[[str], ModuleType]:
    """functions/<name>/app.py imported as at a cold start, configured for the placeholders, on offline clients."""

    def load(name: str) -> ModuleType:
        for variable, value in {
            "DSSE_KMS_KEY": PLACEHOLDER_KEY,
            "ALERT_TOPIC_ARN": PLACEHOLDER_TOPIC,
            "EXCLUDED_BUCKETS": "example-excluded-*",
            "ACCOUNT_ID": ACCOUNT_ID,
        }.items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setattr(clients, "client", offline.client)
        return load_function(name)

    return load
