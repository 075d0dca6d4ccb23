"""Event routing, with the patterns read from template.yaml and moto's EventBridge pattern matcher.

Every EventBridge sample in events/ reaches exactly the function it is meant for; compliant writes (DSSE under their
bucket's key), the remediation's own copies, failed calls, writes into other accounts' buckets and events about other
keys reach none; out-of-scope buckets reach none where the pattern can tell. With SecurityBusArn, the events the
functions put (one per alert) reach the security account's bus, and nothing else of the default bus's traffic does.

moto's matcher is more lenient than EventBridge's (Event Ruler): it takes an unknown operator as a match, and it ANDs a
field constrained twice where Event Ruler refuses it or keeps one. So the patterns are also checked against what
EventBridge accepts: documented operators only, and no field constrained twice in one alternative.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.events.models import EventPattern

from dsse_remediation.alerts import Alert, Context, bucket_alert, key_alert, object_alert
from dsse_remediation.aws.events import EventForwarder
from dsse_remediation.canary import Probe, ProbeOutcome, canary_alert
from dsse_remediation.model import BucketResult, Encryption, KeyResult, ObjectResult, Outcome
from tests import aws_fidelity
from tests.cfn import OBJECT, SECURITY_BUS, Resolved, routes, rule_patterns, rule_target
from tests.helpers import EVENTS, PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY, load_event

BUCKET, KEY, JOBS = "BucketRemediationFunction", "KeyGuardFunction", "BatchJobsFunction"
DSSE_KEY, OTHER_KEY = PLACEHOLDER_KEY, PLACEHOLDER_OTHER_KEY  # the template's key here (tests/cfn.py), and another
SECRETS_KEY = "arn:aws:kms:us-east-1:123456789012:key/3333cccc-33cc-33cc-33cc-333333333333"
FINANCE_KEY = "arn:aws:kms:us-east-1:123456789012:key/4444dddd-44dd-44dd-44dd-444444444444"
KEY_MAP = f"secrets-*={SECRETS_KEY},finance-*={FINANCE_KEY}"  # two bucket categories, each under its own key
ACCOUNT, PARTNER = "123456789012", "444455556666"

ROUTES: dict[str, str | None] = {
    "put-object-sse-s3.json": OBJECT,
    "post-object-sse-s3.json": OBJECT,  # an HTML-form (browser, presigned POST) upload: a write like any other
    "put-object-sse-kms-other-key.json": OBJECT,
    "put-object-dsse-other-key.json": OBJECT,
    "put-object-dsse-right-key.json": None,  # compliant: dropped by the pre-filter
    "copy-object-dsse-right-key.json": None,  # the remediation's own copy: no loop, no invocation
    "complete-multipart-upload-sse-s3.json": OBJECT,
    "put-object-failed-access-denied.json": None,  # errorCode: nothing was written
    "put-object-versioned-sse-s3.json": OBJECT,
    "put-object-key-with-special-characters.json": OBJECT,
    "put-object-out-of-scope-bucket.json": OBJECT,  # the default scope is every bucket
    "put-object-other-account-bucket.json": None,  # another account's bucket: not ours to fix
    "object-created-sse-s3.json": None,  # S3's own notifications are not routed: the stack uses CloudTrail
    "object-restore-completed.json": None,  # RemediateRestoredArchives is off by default
    "create-bucket.json": BUCKET,
    "create-bucket-out-of-scope.json": BUCKET,
    "put-bucket-encryption-sse-kms.json": BUCKET,
    "put-bucket-encryption-two-rules.json": BUCKET,
    "put-bucket-encryption-dsse-right-key.json": BUCKET,  # checked with one read: no pre-filter on this path
    "delete-bucket-encryption.json": BUCKET,
    "put-bucket-encryption-failed.json": None,
    "put-bucket-website-on-a-dsse-bucket.json": BUCKET,  # the reader-safety gate's watch
    "put-bucket-logging-naming-a-target.json": BUCKET,  # its target bucket is read again
    "kms-disable-key.json": KEY,
    "kms-schedule-key-deletion.json": KEY,
    "kms-put-key-policy.json": KEY,
    "kms-disable-key-rotation.json": KEY,
    "kms-delete-imported-key-material.json": KEY,
    "kms-update-alias.json": None,  # configured by key ARN: alias changes cannot move it
    "kms-delete-alias.json": None,
    "kms-disable-key-unrelated.json": None,  # another key
    "batch-job-status-complete.json": JOBS,  # a finished Batch Operations job: its summary alert
    "batch-job-status-active.json": None,  # not final
    "cloudtrail-stop-logging.json": JOBS,  # a trail change: the coverage checked at once
}


@pytest.fixture(autouse=True)
def _event_ruler_arrays() -> Iterator[None]:
    with aws_fidelity.applied():
        yield


def reached(found: Mapping[str, list[EventPattern]], event: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, patterns in found.items() if any(p.matches_event(dict(event)) for p in patterns))


def test_every_eventbridge_sample_has_an_expected_route() -> None:
    samples = {p.name for p in EVENTS.glob("*.json") if "detail-type" in load_event(p.name)}
    assert samples == set(ROUTES)


@pytest.mark.parametrize(("name", "expected"), ROUTES.items())
def test_each_sample_reaches_exactly_its_function(name: str, expected: str | None) -> None:
    assert reached(routes(Resolved()), load_event(name)) == ([expected] if expected else [])


class TestObjectPreFilter:
    """The pattern drops what is already compliant, whatever fields the event carries."""

    @pytest.fixture
    def object_patterns(self) -> list[EventPattern]:
        return routes(Resolved())[OBJECT]

    def _write(self, response: Any) -> dict[str, Any]:
        event = load_event("put-object-sse-s3.json")
        event["detail"]["responseElements"] = response
        return event

    @pytest.mark.parametrize(
        ("response", "invokes"),
        [
            pytest.param(
                {
                    "x-amz-server-side-encryption": "aws:kms:dsse",
                    "x-amz-server-side-encryption-aws-kms-key-id": DSSE_KEY,
                },
                False,
                id="dsse-right-key",
            ),
            pytest.param({"x-amz-server-side-encryption": "aws:kms:dsse"}, True, id="dsse-no-key-reported"),
            pytest.param(
                {"x-amz-server-side-encryption-aws-kms-key-id": DSSE_KEY},
                True,
                id="right-key-no-algorithm",
            ),
            pytest.param({"x-amz-server-side-encryption": "AES256"}, True, id="sse-s3"),
            pytest.param({}, True, id="no-encryption-reported"),
            pytest.param(None, True, id="responseElements-null"),
        ],
    )
    def test_compliant_writes_are_dropped_and_everything_else_delivered(
        self, object_patterns: list[EventPattern], response: Any, invokes: bool
    ) -> None:
        event = self._write(response)
        if response == {}:
            del event["detail"]["responseElements"]

        assert any(p.matches_event(event) for p in object_patterns) is invokes


@pytest.mark.parametrize(
    ("protected", "excluded", "bucket", "invokes"),
    [
        ("*", "", "example-protected-bucket", True),
        ("*", "example-excluded-*", "example-excluded-bucket", False),
        ("*", "example-excluded-*,tmp-*", "example-protected-bucket", True),
        ("example-protected-*,finance-*", "", "example-protected-bucket", True),
        ("example-protected-*,finance-*", "", "finance-ledger", True),
        ("example-protected-*,finance-*", "", "example-excluded-bucket", False),
        ("example-protected-bucket", "", "example-protected-bucket", True),
        ("example-protected-bucket", "", "example-protected-bucket-2", False),
    ],
)
def test_scope_is_applied_in_the_pattern(protected: str, excluded: str, bucket: str, invokes: bool) -> None:
    template = Resolved(
        {
            "DsseKmsKeyArn": DSSE_KEY,
            "ProtectedBuckets": protected,
            "ExcludedBuckets": excluded,
        }
    )
    event = load_event("put-object-sse-s3.json")
    event["detail"]["requestParameters"]["bucketName"] = bucket

    assert (OBJECT in reached(routes(template), event)) is invokes


def object_write(bucket: str, algorithm: str | None, key: str | None) -> dict[str, Any]:
    """A PutObject into `bucket` whose response reports `algorithm` and `key` (None: not reported)."""
    event = load_event("put-object-sse-s3.json")
    event["detail"]["requestParameters"]["bucketName"] = bucket
    event["detail"]["resources"] = [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/reports/2026/q3-summary.csv"},
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
    ]
    response = {"x-amz-server-side-encryption": algorithm, "x-amz-server-side-encryption-aws-kms-key-id": key}
    event["detail"]["responseElements"] = {name: value for name, value in response.items() if value is not None}
    return event


def invokes_object_function(template: Resolved, event: Mapping[str, Any]) -> bool:
    return OBJECT in reached(routes(template), event)


class TestBucketOwner:
    """CloudTrail delivers a requester's object events to the requester's account too: a write by this account into
    a partner's bucket is not ours to fix. The bucket entry of detail.resources names the owner's account."""

    SCOPES = [
        pytest.param({}, id="every-bucket"),
        pytest.param({"ExcludedBuckets": "example-excluded-*"}, id="exclusions"),
        pytest.param({"ProtectedBuckets": "example-*"}, id="named"),
        pytest.param({"BucketKeyMap": KEY_MAP}, id="key-map"),
        pytest.param({"BucketKeyMap": KEY_MAP, "ProtectedBuckets": "example-*,secrets-*"}, id="key-map-named"),
    ]

    def _write_into_bucket_of(self, owner: str | None) -> dict[str, Any]:
        event = load_event("put-object-sse-s3.json")
        (bucket,) = [r for r in event["detail"]["resources"] if r["type"] == "AWS::S3::Bucket"]
        if owner is None:
            del bucket["accountId"]
        else:
            bucket["accountId"] = owner
        return event

    @pytest.mark.parametrize("parameters", SCOPES)
    def test_own_buckets_are_delivered(self, parameters: dict[str, str]) -> None:
        assert invokes_object_function(Resolved(parameters), self._write_into_bucket_of(ACCOUNT))

    @pytest.mark.parametrize("parameters", SCOPES)
    def test_other_accounts_buckets_are_dropped(self, parameters: dict[str, str]) -> None:
        assert not invokes_object_function(Resolved(parameters), self._write_into_bucket_of(PARTNER))

    @pytest.mark.parametrize("parameters", SCOPES)
    def test_an_event_that_names_no_owner_is_left_to_the_function(self, parameters: dict[str, str]) -> None:
        assert invokes_object_function(Resolved(parameters), self._write_into_bucket_of(None))

    def test_the_owner_is_read_from_the_bucket_entry_not_the_object_entry(self) -> None:
        """The object entry carries no accountId; a foreign bucket is dropped all the same. Event Ruler matches a
        field of an array of objects against every element (the fidelity patch makes moto do the same); and since
        no alternative constrains two fields of detail.resources (checked below), Event Ruler's array consistency
        (two fields must come from one element) cannot make it differ from moto here."""
        event = self._write_into_bucket_of(PARTNER)
        event["detail"]["resources"].reverse()

        assert not invokes_object_function(Resolved(), event)


class TestRestoredArchives:
    """S3's "Object Restore Completed" reaches the object function only with RemediateRestoredArchives, in scope."""

    def test_routed_only_with_the_opt_in(self) -> None:
        event = load_event("object-restore-completed.json")

        assert not invokes_object_function(Resolved(), event)
        assert invokes_object_function(Resolved({"RemediateRestoredArchives": "true"}), event)

    @pytest.mark.parametrize(
        ("protected", "excluded", "bucket", "invokes"),
        [
            ("*", "example-excluded-*", "example-protected-bucket", True),
            ("*", "example-excluded-*", "example-excluded-bucket", False),
            ("example-protected-*", "", "example-protected-bucket", True),
            ("example-protected-*", "", "example-excluded-bucket", False),
        ],
    )
    def test_the_bucket_scope_applies(self, protected: str, excluded: str, bucket: str, invokes: bool) -> None:
        template = Resolved(
            {"RemediateRestoredArchives": "true", "ProtectedBuckets": protected, "ExcludedBuckets": excluded}
        )
        event = load_event("object-restore-completed.json")
        event["detail"]["bucket"]["name"] = bucket

        assert invokes_object_function(template, event) is invokes

    def test_object_writes_are_unaffected(self) -> None:
        assert routes(Resolved({"RemediateRestoredArchives": "true"}))[OBJECT][0].matches_event(
            load_event("put-object-sse-s3.json")
        )


DSSE = "aws:kms:dsse"


class TestBucketKeyMap:
    """With a map of bucket categories, a write is compliant when it is DSSE under its own bucket's key: those cause
    no invocation; everything else is delivered. The same in every scope configuration."""

    SCOPES = [
        pytest.param({}, id="every-bucket"),
        pytest.param({"ExcludedBuckets": "logs-*,tmp-*"}, id="exclusions"),
        pytest.param({"ProtectedBuckets": "secrets-*,finance-*,app-*"}, id="named"),
    ]

    @pytest.mark.parametrize("parameters", SCOPES)
    @pytest.mark.parametrize(
        ("bucket", "algorithm", "key", "invokes"),
        [
            pytest.param("secrets-vault", DSSE, SECRETS_KEY, False, id="category-bucket-own-key"),
            pytest.param("finance-ledger", DSSE, FINANCE_KEY, False, id="other-category-bucket-own-key"),
            pytest.param("app-data", DSSE, DSSE_KEY, False, id="unmapped-bucket-default-key"),
            pytest.param("secrets-vault", DSSE, DSSE_KEY, True, id="category-bucket-default-key"),
            pytest.param("secrets-vault", DSSE, FINANCE_KEY, True, id="category-bucket-other-category-key"),
            pytest.param("secrets-vault", DSSE, OTHER_KEY, True, id="category-bucket-unknown-key"),
            pytest.param("finance-ledger", DSSE, SECRETS_KEY, True, id="other-category-bucket-wrong-key"),
            pytest.param("app-data", DSSE, SECRETS_KEY, True, id="unmapped-bucket-category-key"),
            pytest.param("app-data", DSSE, OTHER_KEY, True, id="unmapped-bucket-unknown-key"),
            pytest.param("secrets-vault", "aws:kms", SECRETS_KEY, True, id="category-key-but-sse-kms"),
            pytest.param("secrets-vault", "AES256", None, True, id="category-bucket-sse-s3"),
            pytest.param("secrets-vault", DSSE, None, True, id="dsse-no-key-reported"),
            pytest.param("secrets-vault", None, SECRETS_KEY, True, id="key-but-no-algorithm-reported"),
            pytest.param("app-data", None, None, True, id="no-encryption-reported"),
        ],
    )
    def test_writes_under_their_bucket_key_are_dropped_and_everything_else_delivered(
        self, parameters: dict[str, str], bucket: str, algorithm: str | None, key: str | None, invokes: bool
    ) -> None:
        template = Resolved(parameters | {"BucketKeyMap": KEY_MAP})

        assert invokes_object_function(template, object_write(bucket, algorithm, key)) is invokes

    @pytest.mark.parametrize(
        ("parameters", "bucket"),
        [
            pytest.param({"ExcludedBuckets": "logs-*,tmp-*"}, "logs-2026", id="excluded"),
            pytest.param({"ProtectedBuckets": "secrets-*,finance-*,app-*"}, "other-team", id="not-protected"),
        ],
    )
    @pytest.mark.parametrize(
        ("algorithm", "key"),
        [
            pytest.param("AES256", None, id="sse-s3"),
            pytest.param(DSSE, DSSE_KEY, id="dsse-default-key"),
            pytest.param("aws:kms", OTHER_KEY, id="sse-kms-unknown-key"),
        ],
    )
    def test_out_of_scope_buckets_stay_out(
        self, parameters: dict[str, str], bucket: str, algorithm: str, key: str | None
    ) -> None:
        template = Resolved(parameters | {"BucketKeyMap": KEY_MAP})

        assert not invokes_object_function(template, object_write(bucket, algorithm, key))

    def test_without_a_map_the_default_key_is_every_buckets_key(self) -> None:
        template = Resolved()

        assert not invokes_object_function(template, object_write("secrets-vault", DSSE, DSSE_KEY))
        assert invokes_object_function(template, object_write("secrets-vault", DSSE, SECRETS_KEY))

    @pytest.mark.parametrize(
        ("entry", "accepted"),
        [
            ("", True),  # no map
            (f"secrets-*={SECRETS_KEY}", True),
            (f"Legacy_Bucket.2017={SECRETS_KEY}", True),  # legacy us-east-1 names: capitals, "_" and "."
            (f'secrets"]}}={SECRETS_KEY}', False),  # would break out of the pattern's JSON
            ("secrets-*=alias/secrets", False),  # an alias never equals the key ARN CloudTrail logs
            ("secrets-*", False),
            (f"secrets-*={SECRETS_KEY}={SECRETS_KEY}", False),
        ],
    )
    def test_each_entry_is_checked_before_it_reaches_a_pattern_or_a_policy(self, entry: str, accepted: bool) -> None:
        """CloudFormation applies a CommaDelimitedList's AllowedPattern to each entry (the template reference,
        Parameters, AllowedPattern)."""
        allowed = Resolved().template["Parameters"]["BucketKeyMap"]["AllowedPattern"]

        assert (re.fullmatch(allowed, entry) is not None) is accepted

    @pytest.mark.parametrize("key", [DSSE_KEY, SECRETS_KEY, FINANCE_KEY])
    def test_the_key_guard_watches_every_key_of_the_map(self, key: str) -> None:
        event = load_event("kms-disable-key.json")
        event["detail"]["resources"][0]["ARN"] = key

        assert reached(routes(Resolved({"BucketKeyMap": KEY_MAP})), event) == [KEY]

    def test_the_key_guard_ignores_other_keys(self) -> None:
        event = load_event("kms-disable-key.json")
        event["detail"]["resources"][0]["ARN"] = OTHER_KEY

        assert reached(routes(Resolved({"BucketKeyMap": KEY_MAP})), event) == []


# --- what EventBridge accepts ---------------------------------------------------------------------------------------

# Every configuration the patterns depend on, every opt-in on.
CONFIGURATIONS = [
    pytest.param(parameters | {"RemediateRestoredArchives": "true", "PreventionPolicy": "true"}, id=name)
    for name, parameters in {
        "defaults": {},
        "exclusions": {"ExcludedBuckets": "logs-*,tmp-*"},
        "named": {"ProtectedBuckets": "secrets-*,finance-*,app-*"},
        "key-map": {"BucketKeyMap": KEY_MAP},
        "key-map-exclusions": {"BucketKeyMap": KEY_MAP, "ExcludedBuckets": "logs-*,tmp-*"},
        "key-map-named": {"BucketKeyMap": KEY_MAP, "ProtectedBuckets": "secrets-*,finance-*,app-*"},
        "organization": {"SecurityBusArn": "arn:aws:events:us-east-1:999988887777:event-bus/results"},
        "canary-named": {"CanarySchedule": "rate(15 minutes)", "ProtectedBuckets": "secrets-*,finance-*,app-*"},
        "canary-key-map-named": {
            "CanarySchedule": "rate(15 minutes)",
            "BucketKeyMap": KEY_MAP,
            "ProtectedBuckets": "secrets-*,finance-*,app-*",
        },
    }.items()
]

# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "cidr", "exists", "wildcard"}
ANYTHING_BUT_OF = {"prefix", "suffix", "equals-ignore-case", "wildcard"}  # {"anything-but": {<one of these>: ...}}
PREFIX_SUFFIX_OF = {"equals-ignore-case"}  # {"prefix": {"equals-ignore-case": ...}}


def unknown_operators(pattern: Mapping[str, Any], path: str = "") -> list[str]:
    """Operators EventBridge does not document, where they are. Field names are free; "$or" takes a list of
    patterns; a field's list holds values or one-operator objects."""
    found: list[str] = []
    for name, value in pattern.items():
        here = f"{path}.{name}" if path else name
        if name == "$or":
            if not isinstance(value, list) or len(value) < 2:
                found.append(f"{here}: $or needs a list of at least 2 patterns")
                continue
            for option in value:
                found += unknown_operators(option, here)
        elif isinstance(value, Mapping):
            found += unknown_operators(value, here)
        else:
            for matcher in value:
                if not isinstance(matcher, Mapping):
                    continue  # a value to match exactly
                if len(matcher) != 1:
                    found.append(f"{here}: one operator per object, not {sorted(matcher)}")
                    continue
                ((operator, argument),) = matcher.items()
                inner = {"anything-but": ANYTHING_BUT_OF, "prefix": PREFIX_SUFFIX_OF, "suffix": PREFIX_SUFFIX_OF}
                if operator not in OPERATORS:
                    found.append(f"{here}: {operator}")
                elif isinstance(argument, Mapping):
                    allowed = inner.get(operator, set())
                    found += [f"{here}: {operator} {name}" for name in argument if name not in allowed]
    return found


def alternatives(pattern: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[list[tuple[str, ...]]]:
    """The fields each alternative of a pattern constrains, as Event Ruler compiles it: every "$or" forks the
    alternatives built so far (https://github.com/aws/event-ruler, JsonRuleCompiler.parseIntoOrRelationship)."""
    found: list[list[tuple[str, ...]]] = [[]]
    for name, value in pattern.items():
        if name == "$or":
            found = [done + more for done in found for option in value for more in alternatives(option, path)]
        elif isinstance(value, Mapping):
            found = [done + more for done in found for more in alternatives(value, (*path, name))]
        else:
            found = [[*done, (*path, name)] for done in found]
    return found


def array_fields_together(pattern: Mapping[str, Any], array: tuple[str, ...]) -> list[list[str]]:
    """Alternatives that constrain more than one field inside the array of objects at `array`: Event Ruler then
    requires them to match in one element (array consistency), which moto's flattened matching does not model."""
    found = []
    for fields in alternatives(pattern):
        inside = sorted(".".join(f) for f in fields if f[: len(array)] == array and len(f) > len(array))
        if len(inside) > 1:
            found.append(inside)
    return found


def fields_constrained_twice(pattern: Mapping[str, Any]) -> set[str]:
    """Event Ruler keeps one condition per field in an alternative: a second one is refused ("Path ... cannot be
    allowed multiple times") or replaces the first (JsonRuleCompiler.writeRules), where moto would AND them."""
    return {".".join(f) for fields in alternatives(pattern) for f in fields if fields.count(f) > 1}


@pytest.mark.parametrize("parameters", CONFIGURATIONS)
def test_every_operator_is_one_eventbridge_documents(parameters: dict[str, str]) -> None:
    patterns = rule_patterns(Resolved(parameters))
    found = {name: unknown_operators(pattern) for name, pattern in patterns.items()}

    assert {name: problems for name, problems in found.items() if problems} == {}


@pytest.mark.parametrize("parameters", CONFIGURATIONS)
def test_moto_and_event_ruler_read_each_alternative_alike(parameters: dict[str, str]) -> None:
    """No field constrained twice, and at most one field of detail.resources, in any alternative."""
    patterns = rule_patterns(Resolved(parameters))
    found = {name: fields_constrained_twice(pattern) for name, pattern in patterns.items()}
    together = {name: array_fields_together(pattern, ("detail", "resources")) for name, pattern in patterns.items()}

    assert {name: fields for name, fields in found.items() if fields} == {}
    assert {name: fields for name, fields in together.items() if fields} == {}


def test_the_checks_catch_what_moto_lets_through() -> None:
    """moto matches a misspelled operator, and ANDs a field constrained twice; the checks above refuse both."""
    misspelled = {"detail": {"state": [{"anything-bt": "running"}]}}
    bad_inner = {"detail": {"state": [{"anything-but": {"wildcrd": "run*"}}]}}
    twice = {"detail": {"bucket": ["a"], "$or": [{"bucket": [{"prefix": "b"}]}, {"key": ["k"]}]}}

    assert EventPattern.load(json.dumps(misspelled)).matches_event({"detail": {"state": "running"}})
    assert unknown_operators(misspelled) == ["detail.state: anything-bt"]
    assert unknown_operators(bad_inner) == ["detail.state: anything-but wildcrd"]
    assert fields_constrained_twice(twice) == {"detail.bucket"}
    together = {"detail": {"resources": {"type": ["AWS::S3::Bucket"], "accountId": ["1"]}}}
    assert array_fields_together(together, ("detail", "resources")) == [
        ["detail.resources.accountId", "detail.resources.type"]
    ]
    assert unknown_operators({"a": [{"prefix": {"equals-ignore-case": "x"}}], "$or": [{"b": ["1"]}, {"c": [2]}]}) == []


def test_eventbridge_pattern_size_quota_holds_for_the_documented_maximum() -> None:
    """The BucketKeyMap description promises 3 categories with ProtectedBuckets=* and 1 with named buckets, for
    patterns of about 20 characters, within EventBridge's default 2,048-character quota ("Event pattern size",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html)."""

    def longest(parameters: dict[str, str]) -> int:
        """The longest pattern: the rules' JSON strings as written, SAM's patterns as compact JSON."""
        template = Resolved(parameters | {"RemediateRestoredArchives": "true"})
        raw = [
            template.value(resource["Properties"]["EventPattern"])
            for name, resource in template.template["Resources"].items()
            if resource["Type"] == "AWS::Events::Rule" and template.exists(name)
        ]
        compact = [json.dumps(pattern, separators=(",", ":")) for pattern in rule_patterns(template).values()]
        return max(len(text) for text in raw + compact)

    def key_map(categories: int) -> str:
        return ",".join(f"category{n:02d}-buckets-*={SECRETS_KEY[:-2]}{n:02d}" for n in range(categories))

    assert longest({"BucketKeyMap": key_map(3)}) <= 2048
    assert longest({"BucketKeyMap": key_map(4)}) > 2048  # the description is not too cautious either
    assert longest({"BucketKeyMap": key_map(1), "ProtectedBuckets": "secrets-*,finance-*,app-data"}) <= 2048
    assert longest({"BucketKeyMap": key_map(9)}) <= 4096
    assert longest({"BucketKeyMap": key_map(5), "ProtectedBuckets": "secrets-*,finance-*,app-data"}) <= 4096
    # The canary adds its bucket to the named buckets, twice with a map: room for the longest name S3 allows (63).
    canary = {"CanarySchedule": "rate(15 minutes)", "ProtectedBuckets": "secrets-*,finance-*,app-data"}
    longer = 2 * (63 - len(Resolved().value({"Ref": "CanaryBucket"})))
    assert longest(canary | {"BucketKeyMap": key_map(1)}) + longer <= 2048
    assert longest(canary | {"BucketKeyMap": key_map(5)}) + longer <= 4096
    assert longest({"CanarySchedule": "rate(15 minutes)", "BucketKeyMap": key_map(3)}) <= 2048  # "*": unchanged


@pytest.mark.parametrize("restores", ["true", "false"])
def test_the_queues_accept_exactly_the_rules_that_deliver_to_them(restores: str) -> None:
    """EventBridge delivers to an SQS queue only when its policy allows the rule (aws:SourceArn): the object queue
    from the rules that target it, the delivery DLQ from every rule."""
    template = Resolved({"RemediateRestoredArchives": restores})
    rules = [name for name in rule_patterns(template) if name in template.template["Resources"]]
    sam_rules = [name for name in rule_patterns(template) if name not in template.template["Resources"]]

    def allowed(policy: str) -> list[str]:
        (statement,) = template.value(template.resource(policy)["Properties"]["PolicyDocument"])["Statement"]
        arns: list[str] = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        return sorted(arns)

    def arn(rule: str) -> str:
        return str(template.value({"Fn::GetAtt": [rule, "Arn"]}))

    to_queue = [rule for rule in rules if rule_target(template, rule) == OBJECT]
    expected_rules = ["ObjectWritesRule"] + (["RestoredArchivesRule"] if restores == "true" else [])
    assert sorted(to_queue) == sorted(expected_rules)
    assert allowed("ObjectEventsQueuePolicy") == sorted(arn(rule) for rule in to_queue)
    assert allowed("EventDeliveryDLQPolicy") == sorted(arn(rule) for rule in rules + sam_rules)


class TestBatchJobStatus:
    """S3 records Batch Operations job status changes in CloudTrail (JobStatusChanged, "AWS Service Event via
    CloudTrail"); the batch jobs function receives the final ones, of every job (it keeps its own by their role)."""

    @staticmethod
    def _status(status: str, **detail: Any) -> dict[str, Any]:
        event = load_event("batch-job-status-complete.json")
        event["detail"]["serviceEventDetails"]["status"] = status
        event["detail"].update(detail)
        return dict(event)

    @pytest.mark.parametrize(
        ("status", "invokes"),
        [
            ("Complete", True),
            ("Failed", True),
            ("Cancelled", True),
            # Documented job states that are not final, and whose summary would be premature.
            ("New", False),
            ("Preparing", False),
            ("Ready", False),
            ("Active", False),
            ("Pausing", False),
            ("Paused", False),
            ("Completing", False),
            ("Failing", False),
            ("Cancelling", False),
            ("Suspended", False),
        ],
    )
    def test_only_final_states_reach_the_batch_jobs_function(self, status: str, invokes: bool) -> None:
        assert reached(routes(Resolved()), self._status(status)) == ([JOBS] if invokes else [])

    def test_job_creation_and_other_service_events_do_not(self) -> None:
        created = self._status("Complete", eventName="JobCreated")
        other = self._status("Complete", eventSource="kms.amazonaws.com")

        assert reached(routes(Resolved()), created) == []
        assert reached(routes(Resolved()), other) == []

    @pytest.mark.parametrize("parameters", CONFIGURATIONS)
    def test_the_rule_does_not_depend_on_the_scope(self, parameters: dict[str, str]) -> None:
        """Jobs are the stack's own whatever the buckets in scope: the function tells them apart by their role."""
        assert reached(routes(Resolved(parameters)), self._status("Complete")) == [JOBS]

    def test_failed_deliveries_are_retried_then_dead_lettered_like_the_other_rules(self) -> None:
        template = Resolved()
        (target,) = template.value(template.resource("BatchJobStatusRule")["Properties"]["Targets"])
        (other,) = template.value(template.resource("ObjectWritesRule")["Properties"]["Targets"])

        assert target["RetryPolicy"] == other["RetryPolicy"]
        assert target["DeadLetterConfig"] == other["DeadLetterConfig"]
        permission = template.value(template.resource("BatchJobStatusPermission")["Properties"])
        assert permission == {
            "FunctionName": template.value({"Fn::GetAtt": ["BatchJobsFunction", "Arn"]}),
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "SourceArn": template.value({"Fn::GetAtt": ["BatchJobStatusRule", "Arn"]}),
        }


class TestScheduledCoverageCheck:
    """The coverage check runs daily by default on its own schedule (CoverageSchedule), off when empty."""

    def test_on_by_default_it_sends_the_coverage_payload_to_the_batch_jobs_function(self) -> None:
        template = Resolved()
        schedule = template.value(template.resource("ScheduledCoverageCheck")["Properties"])

        assert schedule["ScheduleExpression"] == "rate(1 day)"
        assert schedule["Target"]["Arn"] == template.value({"Fn::GetAtt": ["BatchJobsFunction", "Arn"]})
        assert json.loads(schedule["Target"]["Input"]) == {"coverage": {}}
        assert [(s["Action"], s["Resource"]) for s in template.role_statements("ScheduledCoverageCheckRole")] == [
            ("lambda:InvokeFunction", template.value({"Fn::GetAtt": ["BatchJobsFunction", "Arn"]}))
        ]

    def test_off_when_empty(self) -> None:
        template = Resolved({"CoverageSchedule": ""})

        assert not template.exists("ScheduledCoverageCheck")
        assert not template.exists("ScheduledCoverageCheckRole")

    @pytest.mark.parametrize("name", ["StopLogging", "DeleteTrail", "PutEventSelectors", "UpdateTrail"])
    def test_each_trail_change_reaches_the_batch_jobs_function_unless_it_failed(self, name: str) -> None:
        event = load_event("cloudtrail-stop-logging.json")
        event["detail"]["eventName"] = name
        assert reached(routes(Resolved()), event) == [JOBS]
        event["detail"]["errorCode"] = "AccessDenied"
        assert reached(routes(Resolved()), event) == []


class TestScheduledBackstop:
    """The backstop runs on an EventBridge Scheduler schedule, off unless BackstopSchedule names a rate or cron."""

    def test_off_by_default(self) -> None:
        template = Resolved()

        assert not template.exists("ScheduledBackstop")
        assert not template.exists("ScheduledBackstopRole")

    @pytest.mark.parametrize("expression", ["rate(1 day)", "cron(0 3 * * ? *)"])
    def test_on_with_an_expression_it_sends_the_backstop_payload_to_the_batch_jobs_function(
        self, expression: str
    ) -> None:
        template = Resolved({"BackstopSchedule": expression})
        schedule = template.value(template.resource("ScheduledBackstop")["Properties"])

        assert template.exists("ScheduledBackstop")
        assert schedule["ScheduleExpression"] == expression
        assert schedule["Target"]["Arn"] == template.value({"Fn::GetAtt": ["BatchJobsFunction", "Arn"]})
        assert json.loads(schedule["Target"]["Input"]) == load_event("backstop-scheduled.json")

    def test_its_role_may_invoke_the_batch_jobs_function_and_nothing_else(self) -> None:
        template = Resolved({"BackstopSchedule": "rate(1 day)"})
        trust = template.value(template.resource("ScheduledBackstopRole")["Properties"]["AssumeRolePolicyDocument"])

        assert [(s["Action"], s["Resource"]) for s in template.role_statements("ScheduledBackstopRole")] == [
            ("lambda:InvokeFunction", template.value({"Fn::GetAtt": ["BatchJobsFunction", "Arn"]}))
        ]
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [
            ("", True),
            ("rate(1 day)", True),
            ("rate(12 hours)", True),
            ("cron(0 3 * * ? *)", True),
            ("1 day", False),
            ("daily", False),
        ],
    )
    def test_the_parameter_takes_an_expression_or_nothing(self, value: str, accepted: bool) -> None:
        allowed = Resolved().template["Parameters"]["BackstopSchedule"]["AllowedPattern"]

        assert (re.fullmatch(allowed, value) is not None) is accepted


class TestCanaryWrites:
    """The canary's write (SSE-S3 by its bucket's default) reaches the object function whatever ProtectedBuckets
    names: its bucket's generated name is added to the named buckets; its remediated copy is dropped like any."""

    CANARY = {"CanarySchedule": "rate(15 minutes)"}

    @pytest.mark.parametrize(
        "parameters",
        [
            pytest.param({}, id="every-bucket"),
            pytest.param({"ExcludedBuckets": "logs-*,tmp-*"}, id="exclusions"),
            pytest.param({"ProtectedBuckets": "secrets-*,finance-*"}, id="named"),
            pytest.param({"BucketKeyMap": KEY_MAP, "ProtectedBuckets": "secrets-*,finance-*"}, id="key-map-named"),
        ],
    )
    def test_the_canarys_write_reaches_the_object_function_and_its_remediation_does_not(
        self, parameters: dict[str, str]
    ) -> None:
        template = Resolved(parameters | self.CANARY)
        bucket = template.value({"Ref": "CanaryBucket"})

        assert invokes_object_function(template, object_write(bucket, "AES256", None))
        assert invokes_object_function(template, object_write(bucket, None, None))  # the default's, unreported
        assert not invokes_object_function(template, object_write(bucket, DSSE, DSSE_KEY))

    def test_without_the_canary_named_buckets_are_the_parameters(self) -> None:
        named = {"ProtectedBuckets": "secrets-*,finance-*"}
        bucket = Resolved(self.CANARY).value({"Ref": "CanaryBucket"})

        assert not invokes_object_function(Resolved(named), object_write(bucket, "AES256", None))
        assert invokes_object_function(Resolved(named | self.CANARY), object_write(bucket, "AES256", None))


class TestScheduledCanary:
    """The canary runs on an EventBridge Scheduler schedule, off unless CanarySchedule names a rate or cron, and
    never in alert-only mode (nothing would remediate its write)."""

    CANARY_RESOURCES = (
        "CanaryBucket",
        "CanaryBucketPolicy",
        "CanaryLogs",
        "CanaryFunction",
        "ScheduledCanary",
        "ScheduledCanaryRole",
        "CanaryMissedAlarm",
        "CanaryFunctionErrorsAlarm",
    )

    @pytest.mark.parametrize(
        "parameters",
        [{}, {"CanarySchedule": "rate(15 minutes)", "Mode": "alert-only"}],
        ids=["default", "alert-only"],
    )
    def test_off_by_default_and_in_alert_only_mode_nothing_of_it_exists(self, parameters: dict[str, str]) -> None:
        template = Resolved(parameters)
        conditional = [n for n, r in template.template["Resources"].items() if r.get("Condition") == "RunsCanary"]

        assert sorted(conditional) == sorted(self.CANARY_RESOURCES)
        assert [name for name in self.CANARY_RESOURCES if template.exists(name)] == []
        assert template.function_environment(OBJECT)["CANARY_BUCKET"] == ""

    def test_on_it_sends_one_tick_to_the_canary_function_evenly_spaced(self) -> None:
        template = Resolved({"CanarySchedule": "rate(15 minutes)"})
        schedule = template.value(template.resource("ScheduledCanary")["Properties"])

        assert all(template.exists(name) for name in self.CANARY_RESOURCES)
        assert schedule["ScheduleExpression"] == "rate(15 minutes)"
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["Target"]["Arn"] == template.value({"Fn::GetAtt": ["CanaryFunction", "Arn"]})
        assert json.loads(schedule["Target"]["Input"]) == load_event("canary-scheduled.json")

    def test_its_role_may_invoke_the_canary_function_and_nothing_else(self) -> None:
        template = Resolved({"CanarySchedule": "rate(15 minutes)"})
        trust = template.value(template.resource("ScheduledCanaryRole")["Properties"]["AssumeRolePolicyDocument"])

        assert [(s["Action"], s["Resource"]) for s in template.role_statements("ScheduledCanaryRole")] == [
            ("lambda:InvokeFunction", template.value({"Fn::GetAtt": ["CanaryFunction", "Arn"]}))
        ]
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}

    def test_its_bucket_is_sse_s3_private_tls_only_and_empties_itself(self) -> None:
        template = Resolved({"CanarySchedule": "rate(15 minutes)"})
        bucket = template.value(template.resource("CanaryBucket")["Properties"])
        (statement,) = template.value(template.resource("CanaryBucketPolicy")["Properties"])["PolicyDocument"][
            "Statement"
        ]
        (rule,) = bucket["LifecycleConfiguration"]["Rules"]

        (default,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert default["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
        assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert "VersioningConfiguration" not in bucket
        assert (rule["Prefix"], rule["ExpirationInDays"]) == ("canary/", 1)
        assert (statement["Effect"], statement["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})

    @pytest.mark.parametrize(
        ("value", "accepted"),
        [("", True), ("rate(15 minutes)", True), ("cron(0/15 * * * ? *)", True), ("15 minutes", False)],
    )
    def test_the_parameter_takes_an_expression_or_nothing(self, value: str, accepted: bool) -> None:
        allowed = Resolved().template["Parameters"]["CanarySchedule"]["AllowedPattern"]

        assert (re.fullmatch(allowed, value) is not None) is accepted


class TestForwardResults:
    """The forwarding rule (SecurityBusArn) takes every event the functions put, one per alert, to the security
    account's bus; nothing else on the default bus (CloudTrail's events, S3's, Security Hub's) goes there."""

    BUS = "arn:aws:events:us-east-1:999988887777:event-bus/dsse-remediation-results"

    @pytest.fixture
    def found(self) -> dict[str, list[EventPattern]]:
        return routes(Resolved({"SecurityBusArn": self.BUS}))

    @staticmethod
    def delivered(alert: Alert) -> dict[str, Any]:
        """The event EventForwarder puts for this alert, as the default bus delivers it to its rules."""
        entries: list[dict[str, Any]] = []

        class Client:
            def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
                entries.extend(Entries)
                return {"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}]}

        EventForwarder(lambda: Client()).forward(alert)  # type: ignore[arg-type, return-value]
        (entry,) = entries
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": ACCOUNT,
            "time": "2026-11-20T09:15:04Z",
            "region": "us-east-1",
            "resources": [],
            "detail": json.loads(entry["Detail"]),
        }

    @staticmethod
    def alerts() -> list[Alert]:
        context = Context("remediate", ACCOUNT, "us-east-1")
        found = []
        for outcome in (Outcome.REMEDIATED, Outcome.WOULD_REMEDIATE, Outcome.UNREMEDIABLE, Outcome.FAILED):
            obj = ObjectResult(bucket="b", key="k", outcome=outcome, reason="r", before=Encryption("AES256"))
            found.append(object_alert(obj, context))
            found.append(bucket_alert(BucketResult(bucket="b", outcome=outcome, reason="r"), context))
        found.append(key_alert(KeyResult(key_arn=DSSE_KEY, outcome=Outcome.FAILED, reason="disabled"), context))
        for outcome in (ProbeOutcome.PASSED, ProbeOutcome.MISSED):  # the canary's heartbeat, and its miss
            probe = Probe(
                bucket="b",
                key="canary/20261120T091502Z",
                written_at=datetime(2026, 11, 20, 9, 15, 2, tzinfo=UTC),
                outcome=outcome,
                reason="r",
                age_seconds=900.0,
                slo_seconds=300,
                encryption=Encryption("AES256"),
                expected_key_arn=DSSE_KEY,
            )
            found.append(canary_alert(probe, context))
        return found

    def test_every_event_the_functions_put_reaches_the_security_bus_and_no_function(
        self, found: dict[str, list[EventPattern]]
    ) -> None:
        for alert in self.alerts():
            event = self.delivered(alert)

            assert reached(found, event) == [SECURITY_BUS], alert.subject
            assert event["detail"]["account"] == ACCOUNT

    @pytest.mark.parametrize(("name", "expected"), ROUTES.items())
    def test_the_default_buss_other_traffic_keeps_its_routes_and_never_leaves(
        self, found: dict[str, list[EventPattern]], name: str, expected: str | None
    ) -> None:
        assert reached(found, load_event(name)) == ([expected] if expected else [])

    @pytest.mark.parametrize(
        ("source", "detail_type"),
        [
            ("dsse-remediation", "Something else"),
            ("my-app", "DSSE-KMS remediation result"),  # another producer borrowing the detail-type
            ("aws.securityhub", "Security Hub Findings - Imported"),  # the findings this stack imports
            ("aws.s3", "AWS API Call via CloudTrail"),
        ],
    )
    def test_lookalikes_stay_in_the_account(
        self, found: dict[str, list[EventPattern]], source: str, detail_type: str
    ) -> None:
        event = self.delivered(self.alerts()[0]) | {"source": source, "detail-type": detail_type}

        assert SECURITY_BUS not in reached(found, event)

    def test_without_a_security_bus_nothing_is_forwarded(self) -> None:
        template = Resolved()

        assert not template.exists("ForwardResultsRule")
        assert SECURITY_BUS not in routes(template)
        assert rule_target(Resolved({"SecurityBusArn": self.BUS}), "ForwardResultsRule") == SECURITY_BUS
