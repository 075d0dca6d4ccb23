"""The gate every write path asks: one read of a bucket per TTL, its cached verdict forgotten by a configuration
change, and the owner's acceptance read from the bucket tag, the stack parameter or the CLI — never guessed."""

from __future__ import annotations

from dataclasses import dataclass, field

from dsse_remediation.gate.facts import ALL_USERS, BucketAccess, PublicAccessBlock
from dsse_remediation.gate.gate import ReaderGate
from dsse_remediation.gate.safety import ACCEPT_TAG, Safety
from tests.helpers import ACCOUNT_ID, PLACEHOLDER_KEY

PRIVATE = "example-private"
WEBSITE = "example-website"


@dataclass
class Reader:
    """aws/bucket_access.py as the gate sees it: the facts of each bucket, and how often each was read."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def read(self, bucket: str, key_arn: str) -> BucketAccess:
        self.reads.append(bucket)
        return BucketAccess(
            bucket,
            ACCOUNT_ID,
            key_arn,
            website=bucket == WEBSITE,
            tags=self.tags.get(bucket, {}),
        )


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_is_read_once_per_ttl_whatever_the_number_of_objects() -> None:
    reader, clock = Reader(), Clock()
    gate = ReaderGate(reader, ttl=300, clock=clock)

    for _ in range(10):
        gate.object_verdict(PRIVATE, PLACEHOLDER_KEY, {})
    clock.now = 299
    gate.verdict(PRIVATE, PLACEHOLDER_KEY)
    clock.now = 300
    gate.verdict(PRIVATE, PLACEHOLDER_KEY)

    assert reader.reads == [PRIVATE, PRIVATE]


def test_a_configuration_change_makes_the_next_verdict_read_the_bucket_again() -> None:
    reader = Reader()
    gate = ReaderGate(reader, clock=Clock())
    gate.verdict(WEBSITE, PLACEHOLDER_KEY)

    gate.forget(WEBSITE)
    gate.verdict(WEBSITE, PLACEHOLDER_KEY)

    assert reader.reads == [WEBSITE, WEBSITE]


def test_an_unsafe_bucket_blocks_until_someone_accepts_and_the_acceptance_names_who() -> None:
    reader = Reader()

    held = ReaderGate(reader, clock=Clock()).verdict(WEBSITE, PLACEHOLDER_KEY)
    reader.tags[WEBSITE] = {ACCEPT_TAG: "CHG-1042 (J. Doe)"}
    tagged = ReaderGate(reader, clock=Clock()).verdict(WEBSITE, PLACEHOLDER_KEY)
    by_parameter = ReaderGate(Reader(), ("example-web*",), clock=Clock()).verdict(WEBSITE, PLACEHOLDER_KEY)
    by_cli = ReaderGate(Reader(), accepted_by="arn:aws:iam::123456789012:user/jane", clock=Clock()).verdict(
        WEBSITE, PLACEHOLDER_KEY
    )

    assert (held.safety, held.blocks, held.accepted_by) == (Safety.UNSAFE, True, None)
    assert (tagged.blocks, tagged.accepted_by) == (False, f"the bucket tag {ACCEPT_TAG}=CHG-1042 (J. Doe)")
    assert by_parameter.accepted_by == "the stack parameter AcceptReaderImpactBuckets (example-web*)"
    assert by_cli.accepted_by == "arn:aws:iam::123456789012:user/jane"
    assert "impact accepted by arn:aws:iam::123456789012:user/jane" in by_cli.describe()


def test_an_empty_tag_or_another_buckets_pattern_accepts_nothing() -> None:
    reader = Reader(tags={WEBSITE: {ACCEPT_TAG: "  "}})

    verdict = ReaderGate(reader, ("example-private*",), clock=Clock()).verdict(WEBSITE, PLACEHOLDER_KEY)

    assert (verdict.blocks, verdict.accepted_by) == (True, None)


def test_a_public_read_object_in_a_private_bucket_is_held_on_its_own() -> None:
    gate = ReaderGate(Reader(), clock=Clock())
    public = {"GrantRead": f'uri="{ALL_USERS}"'}

    assert gate.verdict(PRIVATE, PLACEHOLDER_KEY).blocks is False
    assert gate.object_verdict(PRIVATE, PLACEHOLDER_KEY, public).blocks is True
    assert gate.object_verdict(PRIVATE, PLACEHOLDER_KEY, {}).blocks is False


def test_ignore_public_acls_neutralises_a_public_read_object() -> None:
    @dataclass
    class Blocking(Reader):
        def read(self, bucket: str, key_arn: str) -> BucketAccess:
            return BucketAccess(bucket, ACCOUNT_ID, key_arn, account_block=PublicAccessBlock(ignore_public_acls=True))

    gate = ReaderGate(Blocking(), clock=Clock())

    assert gate.object_verdict(PRIVATE, PLACEHOLDER_KEY, {"GrantRead": f'uri="{ALL_USERS}"'}).blocks is False
