"""What the reliability suite shares: the handlers on fresh clients, a record of writes, and injected faults.

The handlers build their boto3 clients at import through `dsse_remediation.aws.clients`, whose cache lives as long as
the process. `load_handlers` empties that cache first, so handlers never inherit event hooks (injected errors) from
other tests; tests/conftest.py empties it before every test too. A module-long suite pins one set of clients instead
(`PinnedClients`), as a warm container keeps them.

Faults are injected at botocore's `before-send` event, once per HTTP attempt: botocore's standard retry mode then sees
them exactly as it would see S3's, KMS's or SNS's own answers (retrying 5xx, throttling and timeouts), where the
`before-call` short-circuit of `tests.helpers.inject_error` answers once per API call and skips the retry loop.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError

from dsse_remediation.aws import clients
from tests.helpers import REGION
from tests.lambda_context import load_function

SERVICES = ("s3", "kms", "sns", "sqs")
READ_PREFIXES = ("Head", "Get", "List", "Describe")
# moto's botocore stub answers every request whose URL it recognises, even when an earlier `before-send` handler
# already answered it; an injected answer points its request here first, so the fake service never carries it out.
NOWHERE = "https://fault-injected.invalid/"
PASSED = pytest.StashKey[bool]()  # set by tests/reliability/conftest.py: whether a test's call phase passed


class PinnedClients:
    """Stands in for `dsse_remediation.aws.clients.client` during a module-long suite: one client per service and
    Region for the whole suite, as a warm Lambda container keeps them across invocations, whatever empties the
    cache in between (tests/conftest.py does before every test, each test being a cold start there)."""

    def __init__(self, make: Callable[..., Any]) -> None:
        self._make = make
        self._made: dict[tuple[str, str | None], Any] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        if (service, region) not in self._made:
            self._made[(service, region)] = self._make.__wrapped__(service, region)
        return self._made[(service, region)]

    def cache_clear(self) -> None:
        """Kept: a warm container."""


def load_handlers(*names: str) -> dict[str, ModuleType]:
    """functions/<name>/app.py for each name, imported afresh (a cold start) on fresh library clients."""
    clients.client.cache_clear()
    return {name: load_function(name) for name in names}


def library_clients() -> list[Any]:
    """The clients the handlers use: `dsse_remediation.aws.clients`' cached ones, for this Region."""
    return [clients.client(service, REGION) for service in SERVICES]


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]

    @property
    def is_write(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES)


@dataclass
class CallRecorder:
    """Every API call the watched clients make, one entry per call (botocore `before-parameter-build`)."""

    calls: list[Call] = field(default_factory=list)
    _watched: list[Any] = field(default_factory=list)

    def watch(self, watched: Iterable[Any]) -> CallRecorder:
        """Record the calls of these clients too (watching a client twice records its calls once)."""
        for client in watched:
            if not any(client is seen for seen in self._watched):
                client.meta.events.register("before-parameter-build", self._record)
                self._watched.append(client)
        return self

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append(Call(model.service_model.service_name, model.name, dict(params)))

    @property
    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.is_write]

    def named(self, operation: str) -> list[Call]:
        return [call for call in self.calls if call.operation == operation]

    def clear(self) -> None:
        self.calls.clear()

    def close(self) -> None:
        for client in self._watched:
            client.meta.events.unregister("before-parameter-build", self._record)
        self._watched.clear()


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._body


def error_response(client: Any, operation: str, code: str, status: int, message: str) -> AWSResponse:
    """An error answer in the service's own protocol, as its endpoint would send it."""
    protocol = client.meta.service_model.protocol
    headers: dict[str, str] = {"x-amz-request-id": "INJECTED", "x-amzn-requestid": "INJECTED"}
    if protocol == "json":
        headers["content-type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "query":
        fault = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>INJECTED</RequestId></ErrorResponse>"
        ).encode()
        headers["content-type"] = "text/xml"
    elif operation == "HeadObject":
        body = b""  # HEAD answers carry no body: botocore reads the status code alone
    else:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            "<RequestId>INJECTED</RequestId></Error>"
        ).encode()
        headers["content-type"] = "application/xml"
    return AWSResponse(NOWHERE, status, headers, _Body(body))


Predicate = Callable[[AWSPreparedRequest], bool]


def part_number(number: int) -> Predicate:
    """Matches the UploadPartCopy / UploadPart request of one part."""

    def matches(request: AWSPreparedRequest) -> bool:
        return parse_qs(urlsplit(request.url).query).get("partNumber") == [str(number)]

    return matches


@dataclass
class Faults:
    """Injected faults on real clients, per HTTP attempt, and the attempts each operation made."""

    attempts: Counter[str] = field(default_factory=Counter)
    _registered: list[tuple[Any, str, Callable[..., Any]]] = field(default_factory=list)

    def answer(
        self,
        client: Any,
        operation: str,
        code: str,
        status: int,
        *,
        message: str | None = None,
        times: int | None = None,
        when: Predicate | None = None,
    ) -> None:
        """`operation` answers `code` / `status` on its next `times` attempts (None: every attempt)."""
        text = message or f"injected {code}"
        remaining = [times]

        def handler(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
            self.attempts[operation] += 1
            if not _due(remaining, when, request):
                return None
            request.url = NOWHERE
            return error_response(client, operation, code, status, text)

        self._register(client, operation, handler, first=True)

    def timeout(
        self,
        client: Any,
        operation: str,
        *,
        after_sending: bool = False,
        times: int | None = None,
        when: Predicate | None = None,
    ) -> None:
        """A botocore ReadTimeoutError on the next `times` attempts: before the request reaches the service, or
        (`after_sending`) once the service has carried it out and its answer is lost on the way back."""
        remaining = [times]

        def handler(request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
            if not event_name.endswith(f".{operation}"):
                return
            self.attempts[operation] += 1
            if _due(remaining, when, request):
                raise ReadTimeoutError(endpoint_url=request.url)

        self._register(client, operation, handler, first=not after_sending)

    def count(self, client: Any, operation: str) -> None:
        """Only count the attempts of `operation`."""

        def handler(**_: Any) -> None:
            self.attempts[operation] += 1

        self._register(client, operation, handler, first=True)

    def _register(self, client: Any, operation: str, handler: Callable[..., Any], first: bool) -> None:
        """`first`: before the fake service sees the request. Otherwise after it has answered: botocore calls the
        handlers of `before-send.<service>.<operation>` before those of plain `before-send`, where moto's stub is,
        so a handler that must run after the stub goes last on plain `before-send` and picks its operation itself."""
        if first:
            service = client.meta.service_model.service_id.hyphenize()
            event = f"before-send.{service}.{operation}"
            client.meta.events.register_first(event, handler)
        else:
            event = "before-send"
            client.meta.events.register_last(event, handler)
        self._registered.append((client, event, handler))

    def clear(self) -> None:
        for client, event, handler in self._registered:
            client.meta.events.unregister(event, handler)
        self._registered.clear()
        self.attempts.clear()


def _due(remaining: list[int | None], when: Predicate | None, request: AWSPreparedRequest) -> bool:
    if when is not None and not when(request):
        return False
    if remaining[0] is None:
        return True
    if remaining[0] <= 0:
        return False
    remaining[0] -= 1
    return True
