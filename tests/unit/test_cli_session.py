"""`--role-arn` offline: AssumeRole is answered by a botocore `before-call` handler that every session the CLI makes
starts with, so nothing is sent: a refusal is one line and exit 1, the run works in the role's account, and the
role's credentials are renewed before they expire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.handlers
import pytest

from dsse_remediation.cli import commands, session
from dsse_remediation.cli.arguments import build_parser
from tests.helpers import PLACEHOLDER_KEY, Response, error_answer

ROLE = "arn:aws:iam::111111111111:role/dsse-remediation-operator"


class Sts:
    """AssumeRole's answers, in turn, and the requests made (their API parameters)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def record(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(dict(params))

    def answer(self, **_: Any) -> Any:
        return self.answers.pop(0)


def credentials(key: str, expires_in: timedelta) -> tuple[Response, dict[str, Any]]:
    answer = {
        "Credentials": {
            "AccessKeyId": key,
            "SecretAccessKey": f"secret-of-{key}",
            "SessionToken": f"token-of-{key}",
            "Expiration": datetime.now(UTC) + expires_in,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:dsse-remediate", "Arn": ROLE},
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    return Response(200), answer


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Sts]:
    """`sts(answer, ...)`: AssumeRole answers for every botocore session made from now on."""

    def install(*answers: Any) -> Sts:
        fake = Sts(*answers)
        handlers = [
            ("provide-client-params.sts.AssumeRole", fake.record),
            ("before-call.sts.AssumeRole", fake.answer),  # an answer short-circuits the request: nothing is sent
        ]
        monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, *handlers])
        return fake

    return install


def args(*argv: str) -> Any:
    return build_parser().parse_args(["check", "s3://example-protected-bucket/a.csv", *argv])


def test_an_access_denied_from_assume_role_is_one_line_and_exit_1(
    sts: Callable[..., Sts], capsys: pytest.CaptureFixture[str]
) -> None:
    denied = "User: arn:aws:iam::123456789012:user/jane is not authorized to perform: sts:AssumeRole"
    sts(error_answer("AccessDenied", 403, denied))

    code = commands.main(["key", PLACEHOLDER_KEY, "--role-arn", ROLE])

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == f"dsse-remediate: cannot assume {ROLE}: AccessDenied: {denied}\n"


def test_assume_role_sends_the_session_name_and_the_external_id(sts: Callable[..., Sts]) -> None:
    fake = sts(credentials("ASIAFIRST", timedelta(hours=1)))

    session.open_session(args("--role-arn", ROLE, "--external-id", "dsse-2026"))

    assert fake.requests == [{"RoleArn": ROLE, "RoleSessionName": "dsse-remediate", "ExternalId": "dsse-2026"}]


def test_the_role_is_assumed_once_per_run_and_every_client_uses_its_credentials(sts: Callable[..., Sts]) -> None:
    fake = sts(credentials("ASIAFIRST", timedelta(hours=1)))
    namespace = args("--role-arn", ROLE, "--role-session-name", "audit-jane")

    first = session.open_session(namespace)
    again = session.open_session(namespace)

    assert again is first
    assert len(fake.requests) == 1
    assert fake.requests[0]["RoleSessionName"] == "audit-jane"
    frozen = first.client("s3")._request_signer._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.token) == ("ASIAFIRST", "token-of-ASIAFIRST")


def test_the_roles_credentials_are_renewed_before_they_expire(sts: Callable[..., Sts]) -> None:
    """botocore renews refreshable credentials 15 minutes before their expiry: a `backfill --wait` of hours, or a
    long `fix -r`, outlives one AssumeRole."""
    fake = sts(credentials("ASIAFIRST", timedelta(minutes=5)), credentials("ASIASECOND", timedelta(hours=1)))

    assumed = session.open_session(args("--role-arn", ROLE))

    frozen = assumed.get_credentials().get_frozen_credentials()  # type: ignore[union-attr]
    assert frozen.access_key == "ASIASECOND"
    assert len(fake.requests) == 2


def test_the_run_works_in_the_roles_account_whatever_account_id_says(sts: Callable[..., Sts]) -> None:
    sts(credentials("ASIAFIRST", timedelta(hours=1)))
    namespace = args("--role-arn", ROLE, "--key", PLACEHOLDER_KEY)
    settings = session.load_settings(namespace, {"ACCOUNT_ID": "123456789012"})

    app = session.connect(namespace, settings, 1)

    assert app.settings.account_id == "111111111111"  # every ExpectedBucketOwner names the role's account


def test_without_a_role_the_callers_session_is_used(sts: Callable[..., Sts]) -> None:
    fake = sts()

    caller = session.open_session(args())

    assert fake.requests == []
    assert caller.get_credentials().access_key == "testing"  # type: ignore[union-attr]
