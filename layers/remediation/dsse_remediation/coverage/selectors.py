"""CloudTrail's event selectors, read as CloudTrail documents them: for one bucket and each object write, the keys
whose writes a selector records.

A trail has basic selectors (`EventSelectors`) or advanced ones (`AdvancedEventSelectors`), never both; "if the event
matches any event selector, the trail processes and logs the event"
(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutEventSelectors.html).

Basic selectors (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_EventSelector.html,
API_DataResource.html): `ReadWriteType` ReadOnly | WriteOnly | All (default All; ReadOnly records no write); a
`DataResource` of Type `AWS::S3::Object` whose Values are ARN prefixes: `arn:aws:s3` every bucket,
`arn:aws:s3:::bucket/` one bucket ("an empty object prefix"), `arn:aws:s3:::bucket/prefix` "objects in this S3 bucket
that match the prefix" (a part of the bucket). A value is matched as the start of the object's ARN, so `arn:aws:s3`
names no bucket of `arn:aws-us-gov` or `arn:aws-cn`: the partition is part of the match. Basic selectors cannot filter
on eventName.

Advanced selectors (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_AdvancedFieldSelector.html,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/filtering-data-events.html): every field selector of one
advanced selector must hold. `eventCategory` Equals `Data` and `resources.type` Equals `AWS::S3::Object` are required
(Equals is their only operator, and readOnly's); `readOnly` absent records reads and writes, `false` writes only,
`true` reads only. `eventName` and `resources.ARN` take Equals, StartsWith, EndsWith (each "includes events that
match") and NotEquals, NotStartsWith, NotEndsWith (each "excludes events that match"): a value is kept when it
matches one of the including values (or the field has none) and none of the excluding ones. So NotStartsWith
`arn:aws:s3:::a/` and `arn:aws:s3:::b/` leaves out both buckets, as the User Guide's "exclude data events for two S3
buckets" example configures (logging-data-events-with-cloudtrail.html). `resources.ARN` with Equals or NotEquals must
be an object's exact ARN, so neither can name a whole bucket; "to log all data events for all objects in a specific
S3 bucket, use the StartsWith operator ... The trailing slash is intentional". EndsWith never matches every key of a
bucket (some key always ends otherwise): it records a part at most.

A field this module cannot evaluate for a write (`userIdentity.arn`, `errorCode`, `sessionCredentialFromConsole`,
`vpcEndpointId`, ...: they depend on who writes and how) makes the selector's writes uncertain: they are reported,
never counted as coverage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .keys import EVERY, NOTHING, Exact, Extent, Keys, Prefix, Suffix, all_of, any_of, extent, negate

# The object writes the object path acts on, as CloudTrail names them (the object rule's eventName list).
WRITE_EVENTS = ("PutObject", "CopyObject", "CompleteMultipartUpload", "PostObject")
S3_OBJECT = "AWS::S3::Object"
# What an S3 object write event carries in the fields a selector may test besides eventName and resources.ARN.
WRITE_FIELDS = {
    "eventCategory": "Data",
    "resources.type": S3_OBJECT,
    "readOnly": "false",
    "eventSource": "s3.amazonaws.com",
    "eventType": "AwsApiCall",
}
EVALUATED = {*WRITE_FIELDS, "eventName", "resources.ARN"}
# AdvancedFieldSelector's operators, in the API's spelling: (name, attribute, includes?)
OPERATORS = (
    ("Equals", "equals", True),
    ("StartsWith", "starts_with", True),
    ("EndsWith", "ends_with", True),
    ("NotEquals", "not_equals", False),
    ("NotStartsWith", "not_starts_with", False),
    ("NotEndsWith", "not_ends_with", False),
)


def object_base(partition: str, bucket: str) -> str:
    """What every object ARN of the bucket starts with: `arn:<partition>:s3:::<bucket>/`."""
    return f"arn:{partition}:s3:::{bucket}/"


def arn_starts_with(base: str, value: str) -> Keys:
    """The bucket's keys whose ARN starts with `value`: all of them (`arn:aws:s3`, `arn:aws:s3:::bucket/`), a prefix
    (`arn:aws:s3:::bucket/logs/`), or none (another bucket, another partition)."""
    if base.startswith(value):
        return EVERY
    if value.startswith(base):
        return Prefix(value[len(base) :])
    return NOTHING


def arn_equals(base: str, value: str) -> Keys:
    """One object's ARN names one key; the bucket's ARN, or `...bucket/` with no key, names no object."""
    return Exact(value[len(base) :]) if value.startswith(base) and len(value) > len(base) else NOTHING


def arn_ends_with(base: str, value: str) -> Keys:
    """The keys whose ARN ends with `value`: those ending with it, and the short keys whose ARN ends with it only
    together with the end of `base` (`EndsWith "t/a.csv"` takes the key `a.csv` of bucket `t`)."""
    short = [Exact(value[i:]) for i in range(1, len(value)) if base.endswith(value[:i])]
    return any_of(Suffix(value), *short)


ARN_OPERATORS = {"equals": arn_equals, "starts_with": arn_starts_with, "ends_with": arn_ends_with}


@dataclass(frozen=True)
class FieldSelector:
    """One AdvancedFieldSelector."""

    field: str
    equals: tuple[str, ...] = ()
    starts_with: tuple[str, ...] = ()
    ends_with: tuple[str, ...] = ()
    not_equals: tuple[str, ...] = ()
    not_starts_with: tuple[str, ...] = ()
    not_ends_with: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> FieldSelector:
        values = {attribute: tuple(raw.get(name) or ()) for name, attribute, _ in OPERATORS}
        return cls(str(raw.get("Field", "")), **values)

    def values(self, including: bool) -> Iterable[tuple[str, str]]:
        """(attribute, value) of the including (Equals, StartsWith, EndsWith) or excluding operators."""
        for _, attribute, includes in OPERATORS:
            if includes is including:
                for value in getattr(self, attribute):
                    yield attribute.removeprefix("not_"), value

    def matches(self, value: str) -> bool:
        """Whether an event whose field holds `value` is kept: it matches an including value (or there is none) and no
        excluding one."""

        def hit(operator: str, wanted: str) -> bool:
            if operator == "equals":
                return value == wanted
            return value.startswith(wanted) if operator == "starts_with" else value.endswith(wanted)

        including = list(self.values(True))
        kept = not including or any(hit(operator, wanted) for operator, wanted in including)
        return kept and not any(hit(operator, wanted) for operator, wanted in self.values(False))

    def keys(self, base: str) -> Keys:
        """A `resources.ARN` field selector: the bucket's keys it keeps."""
        including = [ARN_OPERATORS[operator](base, value) for operator, value in self.values(True)]
        excluding = [ARN_OPERATORS[operator](base, value) for operator, value in self.values(False)]
        kept = any_of(*including) if including else EVERY
        return all_of(kept, negate(any_of(*excluding)))

    @property
    def value_count(self) -> int:
        return sum(len(getattr(self, attribute)) for _, attribute, _ in OPERATORS)


@dataclass(frozen=True)
class Recorded:
    """What one selector (or trail) records of one bucket's writes: per write event, the keys whose writes it records
    for certain; the fields it filters on that cannot be evaluated (its writes are then uncertain, not counted)."""

    keys: Mapping[str, Keys] = field(default_factory=lambda: dict.fromkeys(WRITE_EVENTS, NOTHING))
    uncertain: tuple[str, ...] = ()  # e.g. ("userIdentity.arn",)

    def extent(self, event: str) -> Extent:
        return extent(self.keys[event])

    @property
    def anything(self) -> bool:
        return any(self.extent(event) is not Extent.NONE for event in WRITE_EVENTS)

    def __or__(self, other: Recorded) -> Recorded:
        keys = {event: any_of(self.keys[event], other.keys[event]) for event in WRITE_EVENTS}
        return Recorded(keys, tuple(dict.fromkeys(self.uncertain + other.uncertain)))


NOTHING_RECORDED = Recorded()


@dataclass(frozen=True)
class DataResource:
    type: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class BasicSelector:
    """One EventSelector."""

    read_write_type: str = "All"  # ReadOnly | WriteOnly | All
    data_resources: tuple[DataResource, ...] = ()

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> BasicSelector:
        resources = tuple(
            DataResource(str(r.get("Type", "")), tuple(r.get("Values") or ())) for r in raw.get("DataResources") or ()
        )
        return cls(str(raw.get("ReadWriteType") or "All"), resources)

    def records(self, base: str) -> Recorded:
        if self.read_write_type == "ReadOnly":
            return NOTHING_RECORDED
        values = [value for resource in self.data_resources if resource.type == S3_OBJECT for value in resource.values]
        keys = any_of(*(arn_starts_with(base, value) for value in values))
        return Recorded(dict.fromkeys(WRITE_EVENTS, keys))

    def why_not(self, base: str) -> str:
        """Why it records none of the bucket's writes (when it records none)."""
        if self.read_write_type == "ReadOnly":
            return "a basic selector logs read-only events (ReadWriteType ReadOnly)"
        if not any(resource.type == S3_OBJECT for resource in self.data_resources):
            return "a basic selector logs no S3 data events (no AWS::S3::Object data resource)"
        return "a basic selector's S3 data resources do not include this bucket"

    @property
    def value_count(self) -> int:
        return sum(len(resource.values) for resource in self.data_resources)


@dataclass(frozen=True)
class AdvancedSelector:
    """One AdvancedEventSelector: all its field selectors must hold."""

    fields: tuple[FieldSelector, ...]
    name: str | None = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> AdvancedSelector:
        fields = tuple(FieldSelector.from_api(f) for f in raw.get("FieldSelectors") or ())
        return cls(fields, raw.get("Name") or None)

    def of(self, name: str) -> list[FieldSelector]:
        return [selector for selector in self.fields if selector.field == name]

    def records(self, base: str) -> Recorded:
        if self.why_not_data() is not None:
            return NOTHING_RECORDED
        arn = all_of(*(selector.keys(base) for selector in self.of("resources.ARN")))
        names = self.of("eventName")
        keys = {event: arn if all(selector.matches(event) for selector in names) else NOTHING for event in WRITE_EVENTS}
        uncertain = tuple(dict.fromkeys(s.field for s in self.fields if s.field not in EVALUATED))
        if uncertain:  # which of its writes it keeps depends on who writes and how: none counts as recorded
            return Recorded(uncertain=uncertain) if any(k != NOTHING for k in keys.values()) else NOTHING_RECORDED
        return Recorded(keys)

    def why_not_data(self) -> str | None:
        """Why it records no S3 object write of any bucket, or None."""
        categories = self.of("eventCategory")
        if not categories or not all(selector.matches("Data") for selector in categories):
            named = ", ".join(value for selector in categories for value in selector.equals) or "no eventCategory"
            return f"an advanced selector logs {named} events, not data events"
        types = self.of("resources.type")
        if not types or not all(selector.matches(S3_OBJECT) for selector in types):
            named = ", ".join(value for selector in types for value in selector.equals) or "no resources.type"
            return f"an advanced selector logs {named} data events, not {S3_OBJECT}"
        if not all(selector.matches("false") for selector in self.of("readOnly")):
            return "an advanced selector logs read-only events (readOnly true)"
        for name in ("eventSource", "eventType"):
            if not all(selector.matches(WRITE_FIELDS[name]) for selector in self.of(name)):
                return f"an advanced selector's {name} condition leaves out S3 object writes ({WRITE_FIELDS[name]})"
        return None

    def why_not(self, base: str) -> str:
        """Why it records none of the bucket's writes (when it records none)."""
        reason = self.why_not_data()
        if reason is not None:
            return reason
        if not any(all(selector.matches(event) for selector in self.of("eventName")) for event in WRITE_EVENTS):
            return f"an advanced selector's eventName condition keeps no object write ({', '.join(WRITE_EVENTS)})"
        uncertain = self.records(base).uncertain
        if uncertain:
            return f"an advanced selector filters on {', '.join(uncertain)}, which coverage cannot evaluate"
        return "an advanced selector's resources.ARN condition leaves out this bucket"

    @property
    def value_count(self) -> int:
        return sum(selector.value_count for selector in self.fields)


Selector = BasicSelector | AdvancedSelector


def parse_selectors(answer: Mapping[str, Any]) -> tuple[Selector, ...]:
    """GetEventSelectors' answer: its advanced selectors when it has any, else its basic ones (a trail has one kind;
    PutEventSelectors with one kind overwrites the other)."""
    advanced = answer.get("AdvancedEventSelectors") or ()
    if advanced:
        return tuple(AdvancedSelector.from_api(raw) for raw in advanced)
    return tuple(BasicSelector.from_api(raw) for raw in answer.get("EventSelectors") or ())
