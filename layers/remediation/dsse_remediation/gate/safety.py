"""The gate's answer for one bucket: safe, safe with side effects (listed), or unsafe because of each reason given,
each with what to do about it and the AWS page that says why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ACCEPT_TAG = "dsse-remediation:accept-reader-impact"  # a bucket tag whose non-empty value records who accepted


class Safety(StrEnum):
    SAFE = "safe"
    SIDE_EFFECTS = "safe-with-side-effects"  # converting breaks no reader or writer, but costs or changes something
    UNSAFE = "unsafe"  # converting would break a reader or a writer: no write without an acceptance


@dataclass(frozen=True)
class Finding:
    """One reason (unsafe) or side effect: a stable code for filters, what happens, what to do, the source."""

    code: str  # e.g. "website-endpoint", "cloudfront-oai", "cross-account-reader", "replication-without-kms"
    what: str  # what would break or change, naming the principal, rule or setting
    fix: str  # what to do about it
    source: str  # the AWS documentation page that says so

    def __str__(self) -> str:
        return f"{self.what} ({self.fix})"


@dataclass(frozen=True)
class ReaderVerdict:
    bucket: str
    reasons: tuple[Finding, ...] = ()  # each makes the bucket unsafe
    side_effects: tuple[Finding, ...] = ()  # reported, never blocking
    accepted_by: str | None = None  # who accepted the impact (the tag's value, the stack parameter, the CLI flag)

    @property
    def safety(self) -> Safety:
        if self.reasons:
            return Safety.UNSAFE
        return Safety.SIDE_EFFECTS if self.side_effects else Safety.SAFE

    @property
    def blocks(self) -> bool:
        """No write at all: unsafe and nobody accepted the impact."""
        return bool(self.reasons) and not self.accepted_by

    def describe(self) -> str:
        """One line for a result's reason, an alert or the CLI."""
        if not self.reasons:
            if not self.side_effects:
                return "safe: converting it breaks no reader or writer"
            return "safe with side effects: " + "; ".join(effect.what for effect in self.side_effects)
        text = "unsafe: " + "; ".join(str(reason) for reason in self.reasons)
        if self.accepted_by:
            text += f" — impact accepted by {self.accepted_by}"
        return text
