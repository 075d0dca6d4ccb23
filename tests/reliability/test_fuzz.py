"""Fuzzing: the three handlers fed generated bad and odd input (issue 8, "Reliability suite").

Whatever the input, it must hold that:
- a manual call (anything that is neither an EventBridge event nor an SQS batch) is answered with a dict, never an
  exception, and a bad one with {"error": {...}, "results": []};
- an EventBridge-shaped event is answered (an error, or results) or raises the library's HandlerFailed, so that
  EventBridge and Lambda retry it;
- in an SQS batch every good record is processed (its object ends DSSE-KMS under the key) and only bad records are
  reported in batchItemFailures;
- bad input writes nothing to AWS: the handlers' S3, KMS, SNS and SQS clients make no write call (botocore hooks, one
  entry per call), and the fake account's objects, bucket defaults and keys are as they were after each test.

The fake account is built once per module (bad input never reaches AWS, odd but valid input only reads it). Every
object the events/ samples name exists there, DSSE-KMS under the key, and every bucket default is DSSE-KMS under the
key, so a sample that survives its mutation and is still understood ends `compliant`, `gone` or `out-of-scope`: the
only writes such input may cause are the ones its answer reports (an alert for an alerting outcome, a key guard revert).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from dsse_remediation.aws import clients
from dsse_remediation.reporting import HandlerFailed
from tests import aws_fidelity
from tests.helpers import AWS_UNSET, FAKE_AWS_ENV, key_ids, load_event, sqs_batch, sqs_record
from tests.lambda_context import LambdaContext
from tests.reliability.harness import PASSED, REGION, Call, CallRecorder, PinnedClients, library_clients, load_handlers

# Under pytest-xdist the whole module runs on one worker (`--dist loadscope`, Makefile: the module's functions are one
# unit of work): the fake account is built once per module, and the quota test counts what every other test of the
# module generated, so it is skipped, not counted, when they ran elsewhere.
OBJECT, BUCKET, KEY = "object_remediation", "bucket_remediation", "key_guard"
QUOTA = 1_000  # generated inputs per handler, at least

FUZZ = settings(
    derandomize=True,  # the same inputs on every run and machine
    database=None,
    deadline=None,
    # No shrinking: a failure is reported with the input that found it, at once (shrinking inputs that go through
    # moto and Powertools' logging takes minutes per failing test).
    phases=(Phase.explicit, Phase.generate),
    report_multiple_bugs=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,  # tests/conftest.py's autouse environment: the same values every time
    ],
)


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)


PROTECTED, VERSIONED, EXCLUDED = "example-protected-bucket", "example-versioned-bucket", "example-excluded-bucket"
BATCH_PREFIX = "batch/"  # the fresh objects of the SQS batch tests; everything else must stay as it was
KEY_1024 = "limits/" + "文" * 339  # exactly 1,024 bytes of UTF-8
LONG_ENCODED_KEY = "inbox/" + "é" * 509  # 1,024 bytes decoded, 3,062 bytes URL-encoded
WORLD_OBJECTS = {
    PROTECTED: (
        "reports/2026/q3-summary.csv",
        "reports/2026/q4-plan.csv",
        "exports/customers.parquet",
        "exports/partner-feed.csv",
        "backups/db-2026-11-20.tar.gz",
        "inbox/Q3 report+final 100%/Ünïcødé 文件.txt",
        "inbox/Q3 report+final 100%.txt",
        "inbox/receipts/2026-11-20-receipt-4471.pdf",
        "archive/2019/Q4 ledger final.csv",
        KEY_1024,
        LONG_ENCODED_KEY,
    ),
    VERSIONED: ("ledger/2026-11.json",),
}
OBJECT_SAMPLES = (
    "put-object-sse-s3.json",
    "put-object-sse-kms-other-key.json",
    "put-object-dsse-right-key.json",
    "put-object-dsse-other-key.json",
    "copy-object-dsse-right-key.json",
    "complete-multipart-upload-sse-s3.json",
    "put-object-failed-access-denied.json",
    "put-object-versioned-sse-s3.json",
    "put-object-key-with-special-characters.json",
    "put-object-out-of-scope-bucket.json",
    "object-created-sse-s3.json",
    "post-object-sse-s3.json",
    "object-restore-completed.json",
    "put-object-other-account-bucket.json",
    "manual-object.json",
    "manual-object-dry-run.json",
)
BUCKET_SAMPLES = (
    "create-bucket.json",
    "create-bucket-out-of-scope.json",
    "delete-bucket-encryption.json",
    "put-bucket-encryption-sse-kms.json",
    "put-bucket-encryption-dsse-right-key.json",
    "put-bucket-encryption-two-rules.json",
    "put-bucket-encryption-failed.json",
    "manual-bucket.json",
    "manual-bucket-dry-run.json",
)
KEY_SAMPLES = (
    "kms-disable-key.json",
    "kms-schedule-key-deletion.json",
    "kms-disable-key-rotation.json",
    "kms-put-key-policy.json",
    "kms-delete-imported-key-material.json",
    "kms-update-alias.json",
    "kms-delete-alias.json",
    "kms-disable-key-unrelated.json",
    "manual-key.json",
)
ENVELOPE = ("source", "id", "time", "detail", "detail-type", "account", "region", "version", "resources")
MANUAL_OBJECT_FIELDS = ("bucket", "key", "versionId", "dryRun")
ALERTING = frozenset({"remediated", "would-remediate", "unremediable", "failed"})
NAMES_OF_FIELDS = (*ENVELOPE, *MANUAL_OBJECT_FIELDS, "keyArn", "Records", "eventSource", "requestParameters")


# --- the fake account ----------------------------------------------------------------------------------------------


@dataclass(repr=False)
class World:
    s3: Any  # an admin client: its calls are not recorded
    kms: Any
    key_arn: str
    other_key_arn: str
    handlers: dict[str, ModuleType]
    recorder: CallRecorder
    samples: dict[str, Any]
    generated: Counter[str] = field(default_factory=Counter)
    fresh: Iterator[int] = field(default_factory=itertools.count)

    def __repr__(self) -> str:
        return "World(the fake account)"  # hypothesis prints every argument of a failing test

    def sample(self, name: str) -> Any:
        return copy.deepcopy(self.samples[name])

    def state(self) -> dict[str, Any]:
        """Everything bad input must leave alone: objects (versions, ETags, dates, encryption), defaults, keys."""
        found: dict[str, Any] = {}
        for bucket in (PROTECTED, VERSIONED, EXCLUDED):
            versions = self.s3.list_object_versions(Bucket=bucket).get("Versions", [])
            found[bucket] = sorted(
                (v["Key"], v["VersionId"], v["ETag"], v["LastModified"].isoformat(), self._encryption(bucket, v))
                for v in versions
                if not v["Key"].startswith(BATCH_PREFIX)
            )
            found[f"{bucket} default"] = self.s3.get_bucket_encryption(Bucket=bucket)[
                "ServerSideEncryptionConfiguration"
            ]
        for key in (self.key_arn, self.other_key_arn):
            found[key] = self.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
        return found

    def _encryption(self, bucket: str, version: dict[str, Any]) -> tuple[str | None, str | None]:
        pinned = {"VersionId": version["VersionId"]} if version["VersionId"] != "null" else {}
        head = self.s3.head_object(Bucket=bucket, Key=version["Key"], **pinned)
        return head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as env, mock_aws(), aws_fidelity.applied():
        for name, value in FAKE_AWS_ENV.items():  # tests/conftest.py's, for the whole module
            env.setenv(name, value)
        for name in AWS_UNSET:
            env.delenv(name, raising=False)
        s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key(Description="DSSE key under test")["KeyMetadata"]["Arn"]
        other_key_arn = kms.create_key(Description="some team's SSE-KMS key")["KeyMetadata"]["Arn"]
        topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="dsse-alerts")["TopicArn"]
        dsse = {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": key_arn}
        for bucket in (PROTECTED, VERSIONED, EXCLUDED):
            s3.create_bucket(Bucket=bucket)
            rule = {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": key_arn}
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": rule, "BucketKeyEnabled": False}]
                },
            )
        s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
        for bucket, keys in WORLD_OBJECTS.items():
            for key in keys:
                s3.put_object(Bucket=bucket, Key=key, Body=b"fuzz\n", Tagging="team=finance", **dsse)
        s3.put_object(Bucket=EXCLUDED, Key="tmp/scratch.txt", Body=b"scratch\n", ServerSideEncryption="AES256")
        for name, value in {
            "DSSE_KMS_KEY": key_arn,
            "ALERT_TOPIC_ARN": topic_arn,
            "EXCLUDED_BUCKETS": "example-excluded-*",
            "ACCOUNT_ID": "123456789012",
            "KEY_GUARD_REVERT": "true",  # so that a misread event could write to the key: it must not
        }.items():
            env.setenv(name, value)
        env.setattr(clients, "client", PinnedClients(clients.client))  # one warm container for the whole module
        handlers = load_handlers(OBJECT, BUCKET, KEY)
        recorder = CallRecorder().watch(library_clients())
        samples = {
            name: load_event(name, **key_ids(key_arn, other_key_arn))
            for name in dict.fromkeys((*OBJECT_SAMPLES, *BUCKET_SAMPLES, *KEY_SAMPLES))
        }
        yield World(s3, kms, key_arn, other_key_arn, handlers, recorder, samples)
        recorder.close()


@pytest.fixture(autouse=True)
def _account_unchanged(world: World) -> Iterator[None]:
    before = world.state()
    yield
    assert world.state() == before, "the fake account changed during the test"


# --- calling a handler, and what every answer must satisfy ---------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    answer: dict[str, Any] | None
    failed: HandlerFailed | None  # raised for a retry
    writes: tuple[Call, ...]


def call(world: World, handler: str, event: Any) -> Reply:
    """Invoke a handler as Lambda does. Any exception other than HandlerFailed fails the test with the input."""
    world.generated[handler] += 1
    world.recorder.clear()
    try:
        answer = world.handlers[handler].lambda_handler(event, LambdaContext())
    except HandlerFailed as exc:
        return Reply(None, exc, tuple(world.recorder.writes))
    json.dumps(answer)  # Lambda serialises the answer
    return Reply(answer, None, tuple(world.recorder.writes))


def is_event_driven(event: Any) -> bool:
    return isinstance(event, dict) and ("detail-type" in event or "detail" in event)


def check(reply: Reply, event: Any, bad: bool | None = None) -> None:
    """`bad`: True when the input must be refused, None when it may or may not be understood."""
    if reply.failed is not None:
        assert is_event_driven(event), f"a manual call must be answered, not raise: {reply.failed!r}"
        unexplained = [w for w in reply.writes if w.operation != "Publish" and w.service != "kms"]
        assert unexplained == [], f"a failed invocation wrote {unexplained}"
        return
    answer = reply.answer
    assert isinstance(answer, dict), f"the answer is not a JSON object: {answer!r}"
    if "error" in answer:
        assert answer.get("results") == [], answer
        error = answer["error"]
        assert isinstance(error, dict), answer
        assert isinstance(error.get("type"), str), answer
        assert isinstance(error.get("message"), str), answer
        assert error["message"], answer
        assert reply.writes == (), f"a refused input wrote {reply.writes}"
        return
    assert bad is not True, f"bad input was not refused: {answer}"
    results = answer.get("results")
    assert isinstance(results, list), f"neither an error nor results: {answer}"
    if answer.get("ignored"):
        assert results == [], answer
        assert reply.writes == (), f"an ignored input wrote {reply.writes}"
        return
    outcomes = {result["outcome"] for result in results}
    for write in reply.writes:
        if write.operation == "Publish":
            assert outcomes & ALERTING, f"an alert was published for {outcomes}: {answer}"
        else:
            assert "remediated" in outcomes, f"{write.operation} was called for {outcomes}: {answer}"


# --- strategies ----------------------------------------------------------------------------------------------------

ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates included: valid JSON ("\ud800"), not UTF-8
SURROGATES = ("\ud800", "\udfff", "a\ud800b", "reports/\udc80.csv", "\ud83d")
ODD_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "../",
    "..",
    "../../etc/passwd",
    "./a",
    "/",
    "//",
    "\\",
    "%",
    "%00",
    "%2F..%2F",
    "%ZZ",
    "+",
    "\n",
    "\r\n",
    "\t",
    "\u200b",
    "\ufeff",
    "\U0001f642",
    "文件",
    "Ünïcødé",
    "<Key>x</Key>",
    "' OR 1=1 --",
    "${jndi:ldap://example.invalid/a}",
    "null",
    "true",
    "0",
    "arn:aws:kms:us-east-1:123456789012:key/",
    "s3://example-protected-bucket/a",
)
huge_strings = st.builds(
    lambda char, times: char * times,
    st.sampled_from(["a", "é", "文", "\U0001f642", "\x00", "/", "%41"]),
    st.sampled_from([1_025, 4_096, 65_536, 300_000]),
)
odd_strings = st.one_of(  # one kind in four is a lone surrogate
    st.sampled_from(SURROGATES),
    st.sampled_from(ODD_STRINGS),
    st.text(ANY_CHARACTER, max_size=24),
    huge_strings,
)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_strings,
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
top_level_non_objects = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_strings,
    st.lists(json_values, max_size=5),
)
random_objects = st.dictionaries(
    st.one_of(st.sampled_from(NAMES_OF_FIELDS), st.text(ANY_CHARACTER, max_size=8)),
    json_values,
    max_size=6,
)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def of_another_type(value: Any) -> st.SearchStrategy[Any]:
    return json_values.filter(lambda other: json_type(other) != json_type(value))


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value inside a JSON document (dict keys and list indexes), outermost first."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for name, child in children:
        yield (*prefix, name)
        yield from paths(child, (*prefix, name))


def leaf_paths(node: Any, kind: type) -> list[tuple[Any, ...]]:
    return [path for path in paths(node) if isinstance(get(node, path), kind)]


def get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def drop(document: Any, path: tuple[Any, ...]) -> None:
    """Remove one value; a path below an already removed one is skipped."""
    try:
        parent = get(document, path[:-1])
        del parent[path[-1]]
    except (KeyError, IndexError, TypeError):
        pass


def put(document: Any, path: tuple[Any, ...], value: Any) -> None:
    get(document, path[:-1])[path[-1]] = value


@st.composite
def without_envelope_fields(draw: st.DrawFn, world: World, names: tuple[str, ...]) -> Any:
    """An EventBridge sample missing some of source / id / time / detail / detail-type / ..."""
    event = world.sample(draw(st.sampled_from([n for n in names if not n.startswith("manual-")])))
    for name in draw(st.sets(st.sampled_from(ENVELOPE), min_size=1)):
        event.pop(name, None)
    return event


@st.composite
def truncated(draw: st.DrawFn, world: World, names: tuple[str, ...]) -> Any:
    """A sample with random paths removed (a field, a whole object, a list element), anywhere in it."""
    event = world.sample(draw(st.sampled_from(names)))
    every = list(paths(event))
    for path in draw(st.lists(st.sampled_from(every), min_size=1, max_size=5, unique=True)):
        drop(event, path)
    return event


@st.composite
def retyped(draw: st.DrawFn, world: World, names: tuple[str, ...]) -> Any:
    """A sample with values of the wrong JSON type at random paths."""
    event = world.sample(draw(st.sampled_from(names)))
    every = list(paths(event))
    for path in draw(st.lists(st.sampled_from(every), min_size=1, max_size=3, unique=True)):
        try:
            old = get(event, path)
        except (KeyError, IndexError, TypeError):
            continue
        put(event, path, draw(of_another_type(old)))
    return event


@st.composite
def odd_string_fields(draw: st.DrawFn, world: World, names: tuple[str, ...]) -> Any:
    """A sample with odd strings (lone surrogates, NUL, ../, huge, ...) in place of some of its strings."""
    event = world.sample(draw(st.sampled_from(names)))
    strings = leaf_paths(event, str)
    for path in draw(st.lists(st.sampled_from(strings), min_size=1, max_size=3, unique=True)):
        put(event, path, draw(odd_strings))
    return event


@st.composite
def utf8_of_size(draw: st.DrawFn, size: int, prefix: str = "fuzz/") -> str:
    """A key of exactly `size` UTF-8 bytes, multi-byte characters included, and no '%' or '+' (nothing to decode)."""
    text = prefix + "".join(draw(st.lists(st.sampled_from(["a", "-", " ", "é", "文", "\U0001f642"]), max_size=12)))
    filler = draw(st.sampled_from(["a", "é", "文", "\U0001f642"]))
    width = len(filler.encode())
    used = len(text.encode())
    text += filler * ((size - used) // width)
    return text + "a" * (size - len(text.encode()))


def wrong_type_for(name: str, fields: dict[str, type]) -> st.SearchStrategy[Any]:
    kind = fields[name]
    if kind is bool:
        return json_values.filter(lambda v: not isinstance(v, bool))
    return json_values.filter(lambda v: not isinstance(v, kind))


@st.composite
def manual_with_a_wrong_type(draw: st.DrawFn, base: dict[str, Any], fields: dict[str, type]) -> dict[str, Any]:
    payload = dict(base)
    for name in draw(st.sets(st.sampled_from(sorted(fields)), min_size=1)):
        payload[name] = draw(wrong_type_for(name, fields))
    return payload


@st.composite
def manual_with_missing_or_unknown_fields(
    draw: st.DrawFn, base: dict[str, Any], fields: dict[str, type], required: tuple[str, ...]
) -> dict[str, Any]:
    payload = dict(base)
    if draw(st.booleans()):
        for name in draw(st.sets(st.sampled_from(required), min_size=1)):
            payload.pop(name)
    else:
        unknown = draw(
            st.one_of(st.sampled_from(["dryrun", "Bucket", "Key", "version_id", "keyarn", "detail"]), odd_strings)
        )
        if unknown in fields:
            unknown += "_"
        payload[unknown] = draw(json_values)
    return payload


def bad_key(key: str) -> bool:
    """Keys S3 cannot have: empty, longer than 1,024 bytes of UTF-8, or not encodable as UTF-8 at all."""
    try:
        return not key or len(key.encode()) > 1024
    except UnicodeEncodeError:
        return True


def bad_version(version_id: str) -> bool:
    """Version ids the product can refuse without asking S3: empty, or not encodable as UTF-8 (a lone surrogate)."""
    try:
        version_id.encode()
    except UnicodeEncodeError:
        return True
    return not version_id


def bad_bucket(name: str) -> bool:
    """Names no bucket has ever had, legacy ones included (3-255 of a-z A-Z 0-9 . - _)."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
    return not 3 <= len(name) <= 255 or not set(name) <= allowed


buckets = st.one_of(
    st.sampled_from([PROTECTED, VERSIONED, EXCLUDED, "example-missing-bucket", "Legacy_Bucket.2017"]),
    st.from_regex(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z"),
    odd_strings,
)
object_keys = st.one_of(
    st.sampled_from([k for keys in WORLD_OBJECTS.values() for k in keys]),
    st.sampled_from(SURROGATES),
    odd_strings,
    st.integers(1_000, 1_100).flatmap(utf8_of_size),
)


# --- the object handler --------------------------------------------------------------------------------------------


@fuzz(150)
@given(event=top_level_non_objects)
def test_object_handler_refuses_every_json_value_that_is_not_an_object(world: World, event: Any) -> None:
    check(call(world, OBJECT, event), event, bad=True)


@fuzz(100)
@given(event=random_objects)
def test_object_handler_answers_any_json_object(world: World, event: Any) -> None:
    check(call(world, OBJECT, event), event)


@fuzz(150)
@given(
    payload=st.one_of(
        manual_with_a_wrong_type(
            {"bucket": PROTECTED, "key": "reports/2026/q3-summary.csv", "versionId": "v1", "dryRun": True},
            {"bucket": str, "key": str, "versionId": str, "dryRun": bool},
        ),
        manual_with_missing_or_unknown_fields(
            {"bucket": PROTECTED, "key": "reports/2026/q3-summary.csv", "dryRun": True},
            {"bucket": str, "key": str, "versionId": str, "dryRun": bool},
            ("bucket", "key"),
        ),
    )
)
def test_object_manual_payload_with_wrong_types_or_fields_gets_an_error(world: World, payload: Any) -> None:
    check(call(world, OBJECT, payload), payload, bad=True)


@fuzz(150)
@given(bucket=buckets, key=object_keys, version=st.none() | odd_strings, dry_run=st.booleans())
def test_object_manual_payload_with_odd_strings_is_answered(
    world: World, bucket: str, key: str, version: str | None, dry_run: bool
) -> None:
    payload: dict[str, Any] = {"bucket": bucket, "key": key, "dryRun": dry_run}
    if version is not None:
        payload["versionId"] = version
    refused = bad_bucket(bucket) or bad_key(key) or (version is not None and bad_version(version))
    check(call(world, OBJECT, payload), payload, bad=True if refused else None)


@fuzz(60)
@given(key=st.integers(1_020, 1_030).flatmap(utf8_of_size))
def test_object_key_of_1024_bytes_is_accepted_and_of_1025_refused(world: World, key: str) -> None:
    payload = {"bucket": PROTECTED, "key": key, "dryRun": True}
    reply = call(world, OBJECT, payload)
    check(reply, payload, bad=len(key.encode()) > 1024 or None)
    if len(key.encode()) <= 1024:
        assert reply.answer is not None
        assert [r["outcome"] for r in reply.answer["results"]] == ["gone"], reply.answer


def test_object_key_of_exactly_1024_bytes_that_exists_is_judged(world: World) -> None:
    payload = {"bucket": PROTECTED, "key": KEY_1024, "dryRun": True}
    reply = call(world, OBJECT, payload)
    assert reply.answer is not None
    assert [r["outcome"] for r in reply.answer["results"]] == ["compliant"], reply.answer


@fuzz(100)
@given(data=st.data())
def test_object_event_missing_envelope_fields_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(without_envelope_fields(world, OBJECT_SAMPLES))
    check(call(world, OBJECT, event), event)


@fuzz(120)
@given(data=st.data())
def test_object_truncated_event_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(truncated(world, OBJECT_SAMPLES))
    check(call(world, OBJECT, event), event)


@fuzz(120)
@given(data=st.data())
def test_object_event_with_wrong_types_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(retyped(world, OBJECT_SAMPLES))
    check(call(world, OBJECT, event), event)


@fuzz(100)
@given(data=st.data())
def test_object_event_with_odd_strings_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(odd_string_fields(world, OBJECT_SAMPLES))
    check(call(world, OBJECT, event), event)


@fuzz(100)
@given(data=st.data(), source=st.sampled_from(["cloudtrail", "object-created"]))
def test_object_event_with_an_odd_key_or_bucket_is_refused_or_judged(
    world: World, data: st.DataObject, source: str
) -> None:
    if source == "cloudtrail":
        event = world.sample("put-object-sse-s3.json")
        where = event["detail"]["requestParameters"]
        names = ("bucketName", "key")
    else:
        event = world.sample("object-created-sse-s3.json")
        where = event["detail"]
        names = ("bucket", "object")
    field_name = data.draw(st.sampled_from(names))
    value = data.draw(buckets if field_name in ("bucketName", "bucket") else object_keys)
    if field_name == "bucket":
        where["bucket"]["name"] = value
    elif field_name == "object":
        where["object"]["key"] = quote_plus(value, safe="/") if not bad_key(value) else value
    else:
        where[field_name] = value
    bad = bad_bucket(value) if field_name in ("bucketName", "bucket") else bad_key(value) and "%" not in value
    check(call(world, OBJECT, event), event, bad=bad or None)


def filled(size: int, filler: str, prefix: str = "inbox/Q3 report+final 100% ") -> str:
    text = prefix + filler * ((size - len(prefix.encode())) // len(filler.encode()))
    return text + "a" * (size - len(text.encode()))


long_only_when_encoded = st.one_of(
    st.just(LONG_ENCODED_KEY),
    st.builds(filled, st.integers(400, 1_024), st.sampled_from(["é", "文", "\U0001f642"])),
)


@fuzz(60)
@given(decoded=long_only_when_encoded)
def test_object_created_key_longer_than_1024_bytes_only_when_encoded_is_judged(world: World, decoded: str) -> None:
    encoded = quote_plus(decoded, safe="/")
    assert len(encoded.encode()) > 1024 >= len(decoded.encode())
    event = world.sample("object-created-sse-s3.json")
    event["detail"]["object"]["key"] = encoded

    reply = call(world, OBJECT, event)

    check(reply, event)
    assert reply.answer is not None, reply
    expected = "compliant" if decoded == LONG_ENCODED_KEY else "gone"
    assert [r["outcome"] for r in reply.answer["results"]] == [expected], reply.answer


# --- SQS batches ---------------------------------------------------------------------------------------------------

GOOD_RECORDS: dict[str, dict[str, str]] = {  # sample -> how the object it names was written
    "put-object-sse-s3.json": {"ServerSideEncryption": "AES256"},
    "put-object-sse-kms-other-key.json": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "OTHER"},
    "put-object-dsse-other-key.json": {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": "OTHER"},
    "complete-multipart-upload-sse-s3.json": {"ServerSideEncryption": "AES256"},
    "object-created-sse-s3.json": {"ServerSideEncryption": "AES256"},
}
GOOD_NAMES = ("q3 summary.csv", "Ünïcødé 文件.txt", "report+final 100%.txt", "data.parquet")
sqs_text = st.text(st.characters(min_codepoint=0x20, exclude_categories=("Cs",)), max_size=30)


def good_body(world: World, sample: str, key: str) -> str:
    """A real events/ sample for an object that exists and is not compliant, as the compact JSON SQS carries."""
    how = {k: world.other_key_arn if v == "OTHER" else v for k, v in GOOD_RECORDS[sample].items()}
    world.s3.put_object(Bucket=PROTECTED, Key=key, Body=b"good record\n", Metadata={"owner": "fuzz"}, **how)
    event = world.sample(sample)
    if sample.startswith("object-created"):
        event["detail"]["object"]["key"] = quote_plus(key, safe="/")
    else:
        event["detail"]["requestParameters"]["key"] = key
        event["detail"]["resources"][0]["ARN"] = f"arn:aws:s3:::{PROTECTED}/{key}"
    return json.dumps(event, separators=(",", ":"))


def bad_bodies(world: World) -> st.SearchStrategy[str]:
    """SQS bodies that name no valid object write: each must fail its record (or be dropped), never touch AWS."""

    def cloudtrail(**params: Any) -> str:
        event = world.sample("put-object-sse-s3.json")
        event["detail"]["requestParameters"].update(params)
        return json.dumps(event)

    def without(*path: str) -> str:
        event = world.sample("put-object-sse-s3.json")
        drop(event, path)
        return json.dumps(event)

    def renamed(detail_type: str, source: str = "aws.s3", event_name: str = "PutObject") -> str:
        event = world.sample("put-object-sse-s3.json")
        event["detail-type"], event["source"] = detail_type, source
        event["detail"]["eventName"] = event_name
        return json.dumps(event)

    manual = set(MANUAL_OBJECT_FIELDS)
    return st.one_of(
        sqs_text.map(lambda text: "}" + text),  # not JSON
        top_level_non_objects.map(json.dumps),  # JSON, not an object
        st.dictionaries(st.text(max_size=6), json_values, min_size=1)
        .filter(lambda d: not set(d) <= manual and "detail-type" not in d)
        .map(json.dumps),
        st.one_of(st.sampled_from(SURROGATES), st.just(""), st.integers(1_025, 1_100).flatmap(utf8_of_size)).map(
            lambda key: cloudtrail(key=key)
        ),
        st.sampled_from(["", "a", "../x", "a/b", "bucket\x00", "\ud800bucket", "x" * 300, "has space"]).map(
            lambda name: cloudtrail(bucketName=name)
        ),
        st.sampled_from(
            [
                without("detail"),
                without("detail", "requestParameters"),
                without("detail", "requestParameters", "key"),
                without("detail", "requestParameters", "bucketName"),
                renamed("Object Deleted"),
                renamed("AWS API Call via CloudTrail", event_name="DeleteObject"),
                renamed("AWS API Call via CloudTrail", source="aws.kms", event_name="DisableKey"),
                json.dumps({"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": "a"}}}]}),
            ]
        ),
    )


@st.composite
def mixed_batches(draw: st.DrawFn, world: World) -> tuple[list[str], list[str]]:
    """(good samples, bad bodies) for one batch: at least one of each, at most 10 records in all."""
    goods = draw(st.lists(st.sampled_from(sorted(GOOD_RECORDS)), min_size=1, max_size=4))
    bads = draw(st.lists(bad_bodies(world), min_size=1, max_size=10 - len(goods)))
    return goods, bads


@fuzz(100)
@given(data=st.data())
def test_sqs_batch_mixing_good_and_bad_records_loses_no_good_record(world: World, data: st.DataObject) -> None:
    # GIVEN a shuffled batch of good records (objects that exist, not compliant) and bad ones
    goods, bads = data.draw(mixed_batches(world))
    good_keys: dict[str, str] = {}  # messageId -> key
    records = []
    for sample in goods:
        n = next(world.fresh)
        key = f"{BATCH_PREFIX}{n:05d}/{GOOD_NAMES[n % len(GOOD_NAMES)]}"
        good_keys[f"good-{n}"] = key
        records.append(sqs_record(good_body(world, sample, key), f"good-{n}"))
    bad_ids = {f"bad-{i}": body for i, body in enumerate(bads)}
    records += [sqs_record(body, message_id) for message_id, body in bad_ids.items()]
    batch = sqs_batch(data.draw(st.permutations(records)))

    # WHEN the object handler gets it
    reply = call(world, OBJECT, batch)

    # THEN only bad records are reported, every good object ends DSSE-KMS, and nothing else is written
    assert reply.failed is None, reply.failed
    assert reply.answer is not None
    reported = {item["itemIdentifier"] for item in reply.answer["batchItemFailures"]}
    assert reported <= set(bad_ids), f"good records reported as failed: {reported - set(bad_ids)}"
    for key in good_keys.values():
        head = world.s3.head_object(Bucket=PROTECTED, Key=key)
        assert (head["ServerSideEncryption"], head.get("SSEKMSKeyId")) == ("aws:kms:dsse", world.key_arn), key
    copied = [w.params.get("Key") for w in reply.writes if w.operation == "CopyObject"]
    assert sorted(copied) == sorted(good_keys.values()), "one copy per good record, none for a bad one"
    for write in reply.writes:
        if write.operation == "Publish":
            alert = json.loads(json.loads(write.params["Message"])["default"])
            assert alert["key"] in good_keys.values(), alert
        else:
            assert write.service == "s3", write
            assert write.params.get("Key") in good_keys.values(), write


@fuzz(40)
@given(data=st.data())
def test_sqs_batch_of_only_bad_records_returns_every_record_and_writes_nothing(
    world: World, data: st.DataObject
) -> None:
    bodies = data.draw(st.lists(bad_bodies(world), min_size=1, max_size=10))
    records = [sqs_record(body, f"bad-{i}") for i, body in enumerate(bodies)]
    world.generated[OBJECT] += 1
    world.recorder.clear()
    try:
        answer = world.handlers[OBJECT].lambda_handler(sqs_batch(records), LambdaContext())
    except BatchProcessingError:
        pass  # Powertools' answer when every record failed: the whole batch returns to the queue
    else:
        assert {item["itemIdentifier"] for item in answer["batchItemFailures"]} <= {r["messageId"] for r in records}
    assert world.recorder.writes == []


# --- the bucket handler --------------------------------------------------------------------------------------------

BUCKET_FIELDS = {"bucket": str, "dryRun": bool}


@fuzz(150)
@given(event=top_level_non_objects)
def test_bucket_handler_refuses_every_json_value_that_is_not_an_object(world: World, event: Any) -> None:
    check(call(world, BUCKET, event), event, bad=True)


@fuzz(100)
@given(event=random_objects)
def test_bucket_handler_answers_any_json_object(world: World, event: Any) -> None:
    check(call(world, BUCKET, event), event)


@fuzz(150)
@given(
    payload=st.one_of(
        manual_with_a_wrong_type({"bucket": PROTECTED, "dryRun": True}, BUCKET_FIELDS),
        manual_with_missing_or_unknown_fields({"bucket": PROTECTED, "dryRun": True}, BUCKET_FIELDS, ("bucket",)),
    )
)
def test_bucket_manual_payload_with_wrong_types_or_fields_gets_an_error(world: World, payload: Any) -> None:
    check(call(world, BUCKET, payload), payload, bad=True)


@fuzz(150)
@given(bucket=buckets, dry_run=st.booleans())
def test_bucket_manual_payload_with_odd_names_is_answered(world: World, bucket: str, dry_run: bool) -> None:
    payload = {"bucket": bucket, "dryRun": dry_run}
    check(call(world, BUCKET, payload), payload, bad=bad_bucket(bucket) or None)


@fuzz(150)
@given(data=st.data())
def test_bucket_event_missing_envelope_fields_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(without_envelope_fields(world, BUCKET_SAMPLES))
    check(call(world, BUCKET, event), event)


@fuzz(150)
@given(data=st.data())
def test_bucket_truncated_event_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(truncated(world, BUCKET_SAMPLES))
    check(call(world, BUCKET, event), event)


@fuzz(150)
@given(data=st.data())
def test_bucket_event_with_wrong_types_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(retyped(world, BUCKET_SAMPLES))
    check(call(world, BUCKET, event), event)


@fuzz(100)
@given(data=st.data())
def test_bucket_event_with_odd_strings_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(odd_string_fields(world, BUCKET_SAMPLES))
    check(call(world, BUCKET, event), event)


@fuzz(50)
@given(bucket=buckets, sample=st.sampled_from(["create-bucket.json", "delete-bucket-encryption.json"]))
def test_bucket_event_with_an_odd_bucket_name_is_refused_or_judged(world: World, bucket: str, sample: str) -> None:
    event = world.sample(sample)
    event["detail"]["requestParameters"]["bucketName"] = bucket
    check(call(world, BUCKET, event), event, bad=bad_bucket(bucket) or None)


# --- the key guard -------------------------------------------------------------------------------------------------

KEY_FIELDS = {"keyArn": str, "dryRun": bool}


@fuzz(150)
@given(event=top_level_non_objects)
def test_key_guard_refuses_every_json_value_that_is_not_an_object(world: World, event: Any) -> None:
    check(call(world, KEY, event), event, bad=True)


@fuzz(100)
@given(event=random_objects)
def test_key_guard_answers_any_json_object(world: World, event: Any) -> None:
    check(call(world, KEY, event), event)


@fuzz(150)
@given(data=st.data())
def test_key_guard_manual_payload_with_wrong_types_or_fields_gets_an_error(world: World, data: st.DataObject) -> None:
    base = {"keyArn": world.key_arn, "dryRun": True}
    payload = data.draw(
        st.one_of(
            manual_with_a_wrong_type(base, KEY_FIELDS),
            manual_with_missing_or_unknown_fields(base, KEY_FIELDS, ("keyArn",)),
        )
    )
    check(call(world, KEY, payload), payload, bad=True)


@fuzz(150)
@given(key_arn=st.one_of(odd_strings, st.just("alias/dsse-data")), dry_run=st.booleans())
def test_key_guard_manual_payload_with_odd_key_references_is_answered(
    world: World, key_arn: str, dry_run: bool
) -> None:
    payload = {"keyArn": key_arn, "dryRun": dry_run}
    check(call(world, KEY, payload), payload)


@fuzz(150)
@given(data=st.data())
def test_key_event_missing_envelope_fields_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(without_envelope_fields(world, KEY_SAMPLES))
    check(call(world, KEY, event), event)


@fuzz(150)
@given(data=st.data())
def test_key_truncated_event_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(truncated(world, KEY_SAMPLES))
    check(call(world, KEY, event), event)


@fuzz(150)
@given(data=st.data())
def test_key_event_with_wrong_types_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(retyped(world, KEY_SAMPLES))
    check(call(world, KEY, event), event)


@fuzz(100)
@given(data=st.data())
def test_key_event_with_odd_strings_is_answered(world: World, data: st.DataObject) -> None:
    event = data.draw(odd_string_fields(world, KEY_SAMPLES))
    check(call(world, KEY, event), event)


# --- the quota -----------------------------------------------------------------------------------------------------


def test_every_handler_got_at_least_1000_generated_inputs(world: World, request: pytest.FixtureRequest) -> None:
    others = [item for item in request.session.items if item.module is request.module and item is not request.node]
    if not all(item.stash.get(PASSED, False) for item in others):
        pytest.skip("counted only when every other test of this module ran and passed")
    counts = {name: world.generated[name] for name in (OBJECT, BUCKET, KEY)}
    assert {name: count for name, count in counts.items() if count < QUOTA} == {}, counts
