"""The evidence file an auditor keeps: the posture document rendered as one offline HTML5 page. Each test parses the
page with the standard library's html.parser, as a browser would, instead of searching the raw text."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from typing import Any

import pytest

from dsse_remediation.evidence.html import STATES, human_bytes, percent, render

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
HOSTILE_KEY = "</code><script>alert('x')</script>&amp;\"quoted\" 'single' <img src=http://evil.example/x> ünïcødé 🔐"
HOSTILE_BUCKET = "bucket<b>&\"'"


class Page(HTMLParser):
    """The parsed page: tags in a stack (every opened tag must close, in order), text, and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.titles: list[str] = []
        self._in_title = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "title":
            self._in_title += 1
            self.titles.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "title":
            self._in_title -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_title:
            self.titles[-1] += data

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def counts(**given: int) -> dict[str, int]:
    return {state: given.get(state.replace("-", "_"), 0) for state in STATES}


def bucket(name: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "bucket": name,
        "source": {
            "kind": "inventory",
            "inventoryDate": "2026-12-05T01:00:00Z",
            "manifest": f"s3://example-inventory/{name}/cfg/2026-12-05T01-00Z/manifest.json",
            "sample": None,
        },
        "current": {
            "objects": counts(dsse_key=90, sse_s3=10),
            "bytes": counts(dsse_key=9 * 1024**3, sse_s3=1024**3),
        },
        "noncurrent": {"objects": counts(sse_kms=5, not_encrypted=1), "bytes": counts(sse_kms=5_000, not_encrypted=10)},
        "percentDsseUnderKey": {"objects": 84.9056, "bytes": 89.99999},
        "largestNotDsse": [
            {"key": "exports/2026/big.parquet", "versionId": "v1", "size": 1024**3, "state": "sse-s3", "current": True}
        ],
        "noncurrentDebt": {
            "objects": 6,
            "bytes": 5_010,
            "lockedObjects": 2,
            "lockedUntil": "2027-06-01T00:00:00Z",
            "lifecycleRule": {
                "ID": "dsse-retire-noncurrent",
                "Status": "Enabled",
                "Filter": {},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            },
        },
        "error": None,
    }
    document.update(overrides)
    return document


def posture(*buckets: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "dsse-remediation.posture/v1",
        "generatedAt": "2026-12-06T20:00:00Z",
        "generatedBy": "arn:aws:sts::123456789012:assumed-role/Auditor/jane",
        "account": "123456789012",
        "region": "us-east-1",
        "partition": "aws",
        "key": KEY,
        "states": list(STATES),
        "buckets": list(buckets),
        "total": {
            "current": {
                "objects": counts(dsse_key=90, sse_s3=10),
                "bytes": counts(dsse_key=9 * 1024**3, sse_s3=1024**3),
            },
            "noncurrent": {"objects": counts(sse_kms=5), "bytes": counts(sse_kms=5_000)},
            "percentDsseUnderKey": {"objects": 85.71, "bytes": 89.9999},
        },
        "compliant": False,
        "exitCode": 1,
    }


def test_the_page_is_well_formed_html5_with_every_opened_tag_closed() -> None:
    html = render(posture(bucket("example-protected-bucket"), bucket("example-other-bucket")))
    page = parse(html)

    assert html.startswith("<!DOCTYPE html>\n")
    assert page.problems == []
    assert page.stack == []


def test_nothing_on_the_page_reaches_the_network() -> None:
    html = render(posture(bucket("example-protected-bucket")))
    page = parse(html)

    assert page.named("script") == []
    assert page.named("link") == []
    assert page.named("img") == []
    fetching = [attrs for _, attrs in page.tags for name in ("src", "href") if name in attrs]
    assert all(str(attrs.get("href", "")).startswith("#") for attrs in fetching)
    assert "http://" not in html.lower().replace("http-equiv", "")
    assert "https://" not in html.lower()
    policy = [attrs for attrs in page.named("meta") if attrs.get("http-equiv") == "Content-Security-Policy"]
    assert policy
    assert "default-src 'none'" in str(policy[0]["content"])


def test_the_page_names_the_key_the_account_and_who_generated_it_when() -> None:
    text = parse(render(posture())).all_text

    for value in (KEY, "123456789012", "us-east-1", "aws", "2026-12-06T20:00:00Z", "assumed-role/Auditor/jane"):
        assert value in text


def test_each_bucket_and_its_percentages_appear_rounded_down() -> None:
    text = parse(render(posture(bucket("example-protected-bucket"), bucket("example-other-bucket")))).all_text

    assert "example-protected-bucket" in text
    assert "example-other-bucket" in text
    assert "84.90 %" in text
    assert "89.99 %" in text
    assert "85.71 %" in text  # the estate


def test_the_estate_and_each_bucket_have_labelled_bar_charts_whose_numbers_are_also_in_a_table() -> None:
    page = parse(render(posture(bucket("example-protected-bucket"))))
    charts = page.named("svg")

    assert len(charts) == 3 + 2  # estate: all, current, noncurrent; the bucket: current, noncurrent
    assert all(chart.get("role") == "img" and chart.get("aria-label") for chart in charts)
    current = next(label for label in (c["aria-label"] for c in charts) if "example-protected-bucket" in str(label))
    assert "DSSE-KMS under the key 9.00 GiB (90.00 %)" in str(current)
    assert "SSE-S3 1.00 GiB (10.00 %)" in str(current)
    assert any("DSSE-KMS under the key 9.00 GiB" in title for title in page.titles)
    assert "9,663,676,416 bytes" in page.all_text  # the same 9 GiB, exactly, in the table


def test_a_hostile_key_and_bucket_name_are_text_never_markup() -> None:
    document = posture(bucket(HOSTILE_BUCKET, largestNotDsse=[{"key": HOSTILE_KEY, "size": 1, "state": "sse-c"}]))
    document["key"] = HOSTILE_KEY
    html = render(document)
    page = parse(html)

    assert page.named("script") == []
    assert page.named("img") == []
    assert page.named("b") == []
    assert page.problems == []
    assert page.stack == []
    assert page.all_text.count(HOSTILE_KEY) == 2  # the header and the largest objects, as typed
    assert HOSTILE_BUCKET in page.all_text
    assert any(HOSTILE_BUCKET in str(chart.get("aria-label")) for chart in page.named("svg"))


def test_an_empty_estate_renders_and_says_there_is_no_bucket() -> None:
    document = posture()
    document["total"] = {"current": {}, "noncurrent": {}, "percentDsseUnderKey": {"objects": None, "bytes": None}}
    page = parse(render(document))

    assert page.problems == []
    assert page.stack == []
    assert "No bucket in scope." in page.all_text
    assert "n/a" in page.all_text


def test_a_bucket_that_could_not_be_measured_is_shown_as_an_error_not_as_zeros() -> None:
    failed = {"bucket": "example-denied-bucket", "error": "AccessDenied: s3:ListBucketVersions <denied> & more"}
    page = parse(render(posture(bucket("example-protected-bucket"), failed)))

    assert page.problems == []
    assert page.stack == []
    assert "AccessDenied: s3:ListBucketVersions <denied> & more" in page.all_text
    assert "not measured" in page.all_text.lower()
    assert len(page.named("svg")) == 3 + 2  # no charts for the bucket that failed


def test_the_lifecycle_rule_is_shown_as_json_and_said_never_to_be_applied() -> None:
    page = parse(render(posture(bucket("example-protected-bucket"))))
    blocks = [text for text in page.text if "NoncurrentVersionExpiration" in text and "{" in text]

    assert json.loads(blocks[0])["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert "never applies it" in page.all_text
    assert "2 of them are under Object Lock retention until 2027-06-01T00:00:00Z" in page.all_text


def test_a_sampled_inventory_states_its_interval_as_an_estimate() -> None:
    sample = {
        "checked": 400,
        "population": 1_000_000,
        "confidence": 0.95,
        "dsseKeyShare": 0.9,
        "low": 0.87,
        "high": 0.93,
    }
    source = {"kind": "inventory", "inventoryDate": "2026-12-05T01:00:00Z", "manifest": None, "sample": sample}
    text = " ".join(parse(render(posture(bucket("example-protected-bucket", source=source)))).all_text.split())

    assert "Estimate, not a count" in text
    assert "400 of 1,000,000 DSSE-KMS versions" in text
    assert "a 95 % confidence interval of 87.00 % to 93.00 %" in text
    assert "S3 Inventory of 2026-12-05T01:00:00Z" in text


def test_the_same_document_renders_to_the_same_bytes() -> None:
    document = posture(bucket("example-protected-bucket"), bucket("example-other-bucket"))

    assert render(document) == render(copy.deepcopy(document))


def test_a_document_missing_optional_parts_still_renders() -> None:
    page = parse(render({"buckets": [{"bucket": "bare"}]}))

    assert page.problems == []
    assert page.stack == []
    assert "bare" in page.all_text


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.50 KiB"), (5 * 1024**3, "5.00 GiB"), (3 * 1024**5, "3.00 PiB")],
)
def test_bytes_are_shown_in_binary_units(count: int, shown: str) -> None:
    assert human_bytes(count) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (100, "100.00 %"),
        (99.999, "99.99 %"),
        (0.004, "< 0.01 %"),
        (0, "0.00 %"),
        (None, "n/a"),
        (float("nan"), "n/a"),
        (True, "n/a"),
    ],
)
def test_percentages_are_rounded_down_and_absent_ones_say_so(value: Any, shown: str) -> None:
    assert percent(value) == shown


def test_a_sliver_of_bytes_stays_visible_in_its_bar() -> None:
    tiny = bucket("example-protected-bucket")
    tiny["current"]["bytes"] = counts(dsse_key=10**12, not_encrypted=1)
    page = parse(render(posture(tiny)))
    chart = next(
        c for c in page.named("svg") if "example-protected-bucket: bytes by state, current" in str(c.get("aria-label"))
    )

    assert "Not encrypted 1 B (< 0.01 %)" in str(chart["aria-label"])
    widths = [float(str(attrs["width"])) for attrs in page.named("rect")]
    assert min(widths) >= 0.99  # 1 of 600 units, scaled by 600/601
