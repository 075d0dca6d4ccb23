"""The posture document (schema dsse-remediation.posture/v1) as one HTML5 file an auditor keeps.

Self-contained and offline: inline CSS and inline SVG, no script, no font, no image, no link off the page, and a
Content-Security-Policy of `default-src 'none'` so a browser fetches nothing even if a value were to slip through.
Every value of the document is HTML-escaped (bucket names and object keys may hold <, &, quotes and any Unicode).
Accessible: each chart is `role="img"` with an aria-label and a <title> stating its numbers, and the same numbers are
in a table beside it; the six states use the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies) and are named in a legend, never told by colour alone.
Deterministic: the same document renders to the same bytes (no clock, no random ids; buckets in document order).

The sample interval (`source.sample`: dsseKeyShare, low, high) is read as fractions of 1, and percentDsseUnderKey as
a percentage (0-100), as the posture document states them. A percentage is shown rounded down, so an estate at
99.996 % never reads "100.00 %".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

STATES: tuple[str, ...] = ("dsse-key", "dsse-other-key", "sse-kms", "sse-s3", "sse-c", "not-encrypted")
LABELS = {
    "dsse-key": "DSSE-KMS under the key",
    "dsse-other-key": "DSSE-KMS under another key",
    "sse-kms": "SSE-KMS",
    "sse-s3": "SSE-S3",
    "sse-c": "SSE-C",
    "not-encrypted": "Not encrypted",
}
# Okabe & Ito, "Color Universal Design" (2008): bluish green, sky blue, orange, yellow, reddish purple, vermillion.
COLORS = {
    "dsse-key": "#009E73",
    "dsse-other-key": "#56B4E9",
    "sse-kms": "#E69F00",
    "sse-s3": "#F0E442",
    "sse-c": "#CC79A7",
    "not-encrypted": "#D55E00",
}
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_BAR_WIDTH = 600
_BAR_HEIGHT = 28

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{border-bottom:2px solid #ccc;padding-bottom:.2rem;margin-top:2.5rem}
h3{margin-top:1.5rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.meta dt{font-weight:600}
dl.meta dd{margin:0;overflow-wrap:anywhere}
.big{display:flex;gap:2.5rem;flex-wrap:wrap;margin:1rem 0}.big div{font-size:.95rem}
.big strong{display:block;font-size:2.6rem;line-height:1.1}
table{border-collapse:collapse;margin:.75rem 0;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.3rem .55rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#f0f0f0}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
td code{overflow-wrap:anywhere}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.75rem;overflow:auto}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;font-size:.9rem}
.swatch{display:inline-block;width:.9rem;height:.9rem;border:1px solid #333;margin-right:.35rem;vertical-align:-.1rem}
.chart{margin:.3rem 0}.chart figcaption{font-size:.9rem;font-weight:600}
.ok{color:#00613f;font-weight:600}.bad{color:#a33a00;font-weight:600}
.error{border:2px solid #a33a00;padding:.5rem .75rem;background:#fff4ee}
.note{font-size:.9rem;color:#444}
@media print{body{margin:0;max-width:none}h2{break-before:auto}section.bucket{break-inside:avoid-page}}
"""


def _e(value: Any) -> str:
    """The text of any document value, escaped for element content and for quoted attributes."""
    return escape("" if value is None else str(value), quote=True)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def human_bytes(count: int) -> str:
    """1536 -> '1.50 KiB' (IEC units, as S3 Storage Lens and the AWS CLI's --human-readable use binary multiples)."""
    size, unit = float(count), 0
    while abs(size) >= 1024 and unit < len(_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return f"{count} B" if unit == 0 else f"{size:.2f} {_UNITS[unit]}"


def percent(value: Any) -> str:
    """A percentage rounded down to two decimals ('99.99 %'), '< 0.01 %' for a sliver, 'n/a' when the document has
    none (nothing counted)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "n/a"
    if value >= 100:
        return "100.00 %"
    if 0 < value < 0.01:
        return "< 0.01 %"  # a share that exists is never shown as none
    return f"{math.floor(value * 100) / 100:.2f} %"


def _fraction(value: Any) -> str:
    return percent(value * 100) if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"


def _counts(section: Any, measure: str, states: Sequence[str]) -> dict[str, int]:
    found = _map(_map(section).get(measure))
    return {state: _int(found.get(state)) for state in states}


def _sum(*parts: Mapping[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for state, count in part.items():
            total[state] = total.get(state, 0) + count
    return total


def _states(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The document's states in its order when it lists exactly the six known ones, else the known order."""
    listed = tuple(str(state) for state in _list(document.get("states")))
    return listed if sorted(listed) == sorted(STATES) else STATES


def _bar(label: str, counts: Mapping[str, int], states: Sequence[str]) -> str:
    """A stacked horizontal bar of bytes by state: role=img, its numbers in aria-label and <title>."""
    total = sum(counts.values())
    parts = [f"{LABELS[s]} {human_bytes(counts[s])} ({_share(counts[s], total)})" for s in states if counts[s]]
    summary = f"{label}: " + ("; ".join(parts) if parts else "no bytes")
    body = [f"<title>{_e(summary)}</title>"]
    if total == 0:
        body.append(
            f'<rect x="0" y="0" width="{_BAR_WIDTH}" height="{_BAR_HEIGHT}" fill="#eeeeee" stroke="#999999"></rect>'
        )
    # A state that holds any byte gets at least 1 of the 600 units, so a sliver stays visible; the rest scale down.
    raw = {state: max(counts[state] / total * _BAR_WIDTH, 1.0) for state in states if counts[state]} if total else {}
    scale = _BAR_WIDTH / sum(raw.values()) if raw else 1.0
    x = 0.0
    for state in states:
        if not counts[state]:
            continue
        width = raw[state] * scale
        tip = f"{LABELS[state]}: {human_bytes(counts[state])} ({_share(counts[state], total)})"
        body.append(
            f'<rect x="{x:.3f}" y="0" width="{width:.3f}" height="{_BAR_HEIGHT}" fill="{COLORS[state]}" '
            f'stroke="#333333" stroke-width="0.5"><title>{_e(tip)}</title></rect>'
        )
        x += width
    return (
        f'<figure class="chart"><figcaption>{_e(label)}</figcaption>'
        f'<svg role="img" aria-label="{_e(summary)}" width="100%" '
        f'viewBox="0 0 {_BAR_WIDTH} {_BAR_HEIGHT}" preserveAspectRatio="none" height="{_BAR_HEIGHT}">'
        + "".join(body)
        + "</svg></figure>"
    )


def _share(part: int, total: int) -> str:
    return percent(part / total * 100) if total else "n/a"


def _legend(states: Sequence[str]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{COLORS[s]}"></span>{_e(LABELS[s])} (<code>{_e(s)}</code>)</li>'
        for s in states
    )
    return f'<ul class="legend" aria-label="Chart legend">{items}</ul>'


def _num(count: int) -> str:
    return f'<td class="n">{count:,}</td>'


def _size(count: int) -> str:
    return f'<td class="n">{_e(human_bytes(count))}<br><small>{count:,} bytes</small></td>'


def _state_table(caption: str, current: Mapping[str, Any], noncurrent: Mapping[str, Any], states: Sequence[str]) -> str:
    """Objects and bytes by state, current and noncurrent: the charts' numbers, exactly."""
    columns = {
        "co": _counts(current, "objects", states),
        "cb": _counts(current, "bytes", states),
        "no": _counts(noncurrent, "objects", states),
        "nb": _counts(noncurrent, "bytes", states),
    }
    rows = [
        f'<tr><th scope="row">{_e(LABELS[s])}</th>{_num(columns["co"][s])}{_size(columns["cb"][s])}'
        f"{_num(columns['no'][s])}{_size(columns['nb'][s])}</tr>"
        for s in states
    ]
    totals = {name: sum(values.values()) for name, values in columns.items()}
    rows.append(
        f'<tr><th scope="row">Total</th>{_num(totals["co"])}{_size(totals["cb"])}'
        f"{_num(totals['no'])}{_size(totals['nb'])}</tr>"
    )
    return (
        f'<table><caption>{_e(caption)}</caption><thead><tr><th scope="col">State</th>'
        '<th scope="col">Current objects</th><th scope="col">Current bytes</th>'
        '<th scope="col">Noncurrent objects</th><th scope="col">Noncurrent bytes</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _big_numbers(shares: Mapping[str, Any]) -> str:
    return (
        '<div class="big">'
        f"<div><strong>{_e(percent(shares.get('bytes')))}</strong>of bytes DSSE-KMS under the key</div>"
        f"<div><strong>{_e(percent(shares.get('objects')))}</strong>of objects DSSE-KMS under the key</div>"
        "</div>"
    )


def _header(document: Mapping[str, Any]) -> str:
    compliant = document.get("compliant") is True
    verdict = (
        '<span class="ok">yes: everything in scope is DSSE-KMS under the key</span>'
        if compliant
        else '<span class="bad">no: something in scope is not DSSE-KMS under the key</span>'
    )
    rows = [
        ("KMS key", f"<code>{_e(document.get('key'))}</code>"),
        ("Account", _e(document.get("account"))),
        ("Region", _e(document.get("region"))),
        ("Partition", _e(document.get("partition"))),
        ("Generated at", f"<time>{_e(document.get('generatedAt'))}</time> (UTC)"),
        (
            "Generated by",
            f"<code>{_e(document.get('generatedBy'))}</code>" if document.get("generatedBy") else "unknown",
        ),
        ("Compliant", f"{verdict} (exit status {_e(document.get('exitCode'))})"),
        ("Schema", f"<code>{_e(document.get('schema'))}</code>"),
    ]
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="meta">{items}</dl>'


def _estate(document: Mapping[str, Any], states: Sequence[str]) -> str:
    total = _map(document.get("total"))
    current, noncurrent = _map(total.get("current")), _map(total.get("noncurrent"))
    everything = _sum(_counts(current, "bytes", states), _counts(noncurrent, "bytes", states))
    return (
        '<section aria-labelledby="estate"><h2 id="estate">Estate</h2>'
        + _big_numbers(_map(total.get("percentDsseUnderKey")))
        + _legend(states)
        + _bar("Estate: bytes by state, all versions", everything, states)
        + _bar("Estate: bytes by state, current versions", _counts(current, "bytes", states), states)
        + _bar("Estate: bytes by state, noncurrent versions", _counts(noncurrent, "bytes", states), states)
        + _state_table("Estate: objects and bytes by state", current, noncurrent, states)
        + "</section>"
    )


def _summary(buckets: Sequence[Mapping[str, Any]], states: Sequence[str]) -> str:
    if not buckets:
        return '<section aria-labelledby="buckets"><h2 id="buckets">Buckets</h2><p>No bucket in scope.</p></section>'
    rows = []
    for index, bucket in enumerate(buckets, 1):
        name = f'<a href="#bucket-{index}"><code>{_e(bucket.get("bucket"))}</code></a>'
        if bucket.get("error"):
            rows.append(f'<tr><td>{name}</td><td colspan="4" class="bad">not measured: {_e(bucket["error"])}</td></tr>')
            continue
        shares = _map(bucket.get("percentDsseUnderKey"))
        left = sum(
            count
            for part in ("current", "noncurrent")
            for state, count in _counts(bucket.get(part), "bytes", states).items()
            if state != "dsse-key"
        )
        rows.append(
            f'<tr><td>{name}</td><td class="n">{_e(percent(shares.get("bytes")))}</td>'
            f'<td class="n">{_e(percent(shares.get("objects")))}</td>{_size(left)}'
            f"<td>{_source_line(_map(bucket.get('source')))}</td></tr>"
        )
    return (
        '<section aria-labelledby="buckets"><h2 id="buckets">Buckets</h2><table><caption>Per bucket</caption>'
        '<thead><tr><th scope="col">Bucket</th><th scope="col">DSSE under the key (bytes)</th>'
        '<th scope="col">DSSE under the key (objects)</th><th scope="col">Bytes not DSSE under the key</th>'
        f'<th scope="col">Source</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>'
    )


def _source_line(source: Mapping[str, Any]) -> str:
    if source.get("kind") == "inventory":
        return f"S3 Inventory of {_e(source.get('inventoryDate') or 'unknown date')}"
    if source.get("kind") == "scan":
        return "listing and HeadObject of every version"
    return _e(source.get("kind") or "unknown")


def _source(source: Mapping[str, Any]) -> str:
    lines = [f"<p><strong>Source:</strong> {_source_line(source)}"]
    if source.get("manifest"):
        lines.append(f" (manifest <code>{_e(source['manifest'])}</code>)")
    lines.append(".</p>")
    sample = source.get("sample")
    if isinstance(sample, Mapping):
        confidence = sample.get("confidence")
        level = f"{confidence * 100:g} %" if isinstance(confidence, int | float) else "unstated"
        lines.append(
            f"<p><strong>Estimate, not a count:</strong> the key of {_int(sample.get('checked')):,} of "
            f"{_int(sample.get('population')):,} DSSE-KMS versions was checked; "
            f"{_e(_fraction(sample.get('dsseKeyShare')))} of them are under the key, a {_e(level)} confidence "
            f"interval of {_e(_fraction(sample.get('low')))} to {_e(_fraction(sample.get('high')))}. "
            "The counts of the DSSE-KMS states below are extrapolated from that sample.</p>"
        )
    return "".join(lines)


def _debt(debt: Mapping[str, Any]) -> str:
    if not debt:
        return ""
    rule = debt.get("lifecycleRule")
    shown = (
        "<p>The <code>NoncurrentVersionExpiration</code> lifecycle rule that would retire them, for review. "
        "<strong>This report never applies it</strong>: expiring noncurrent versions deletes them for good.</p>"
        f"<pre>{_e(json.dumps(rule, indent=2, sort_keys=True, ensure_ascii=False))}</pre>"
        if rule
        else "<p>No lifecycle rule is proposed.</p>"
    )
    locked = _int(debt.get("lockedObjects"))
    lock_line = (
        f" {locked:,} of them are under Object Lock retention until <time>{_e(debt.get('lockedUntil'))}</time>."
        if locked
        else ""
    )
    return (
        "<h4>Noncurrent-version debt</h4>"
        f"<p>{_int(debt.get('objects')):,} noncurrent versions not DSSE-KMS under the key, "
        f"{_e(human_bytes(_int(debt.get('bytes'))))} ({_int(debt.get('bytes')):,} bytes).{lock_line}</p>" + shown
    )


def _largest(objects: Sequence[Any]) -> str:
    rows = [
        f"<tr><td><code>{_e(item.get('key'))}</code></td><td><code>{_e(item.get('versionId'))}</code></td>"
        f"{_size(_int(item.get('size')))}<td>{_e(LABELS.get(str(item.get('state')), item.get('state')))}</td>"
        f"<td>{'current' if item.get('current') else 'noncurrent'}</td></tr>"
        for item in objects
        if isinstance(item, Mapping)
    ]
    if not rows:
        return "<h4>Largest objects left</h4><p>None: nothing left to convert.</p>"
    return (
        "<h4>Largest objects left</h4><table><caption>Largest versions not DSSE-KMS under the key</caption>"
        '<thead><tr><th scope="col">Key</th><th scope="col">Version</th><th scope="col">Size</th>'
        f'<th scope="col">State</th><th scope="col">Version is</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _bucket(index: int, bucket: Mapping[str, Any], states: Sequence[str]) -> str:
    name = bucket.get("bucket")
    head = (
        f'<section class="bucket" aria-labelledby="bucket-{index}"><h3 id="bucket-{index}"><code>{_e(name)}</code></h3>'
    )
    if bucket.get("error"):
        return (
            head + f'<p class="error" role="alert"><strong>Not measured.</strong> {_e(bucket["error"])}</p>'
            "<p>Its objects are not in the totals above.</p></section>"
        )
    current, noncurrent = _map(bucket.get("current")), _map(bucket.get("noncurrent"))
    label = f"Bucket {name}"
    return (
        head
        + _source(_map(bucket.get("source")))
        + _big_numbers(_map(bucket.get("percentDsseUnderKey")))
        + _bar(f"{label}: bytes by state, current versions", _counts(current, "bytes", states), states)
        + _bar(f"{label}: bytes by state, noncurrent versions", _counts(noncurrent, "bytes", states), states)
        + _state_table(f"{label}: objects and bytes by state", current, noncurrent, states)
        + _debt(_map(bucket.get("noncurrentDebt")))
        + _largest(_list(bucket.get("largestNotDsse")))
        + "</section>"
    )


def render(document: Mapping[str, Any]) -> str:
    """The whole evidence file for one posture document: a str of HTML5, UTF-8 when written."""
    states = _states(document)
    buckets = [bucket for bucket in _list(document.get("buckets")) if isinstance(bucket, Mapping)]
    title = f"DSSE-KMS posture of account {document.get('account') or 'unknown'}, {document.get('generatedAt') or ''}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title.strip().rstrip(','))}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title.strip().rstrip(','))}</h1>"
        '<p class="note">What share of the data is DSSE-KMS under the approved key, old versions included. '
        "Delete markers are not counted.</p>"
        + _header(document)
        + "</header><main>"
        + _estate(document, states)
        + _summary(buckets, states)
        + "".join(_bucket(index, bucket, states) for index, bucket in enumerate(buckets, 1))
        + "</main></body></html>\n"
    )
