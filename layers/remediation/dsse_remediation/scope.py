"""Which buckets are protected: include and exclude patterns over bucket names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .exceptions import ConfigError, InvalidRequest

# Each pattern is matched against the whole name (`fullmatch`, never `$`, which also matches before a trailing
# newline), and `re.ASCII` keeps every class ASCII: a name S3 would refuse is refused here, before any call.
# General purpose bucket names: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
# Directory bucket names end in --<zone-id>--x-s3.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
# Legacy names: buckets created in us-east-1 before March 1, 2018 may hold up to 255 characters, with uppercase
# letters and underscores ("Legacy bucket naming rules", same page). They still exist and still take writes.
_LEGACY_BUCKET_NAME = re.compile(r"[A-Za-z0-9._-]{3,255}", re.ASCII)
_DIRECTORY_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]*--[a-z0-9-]+--x-s3", re.ASCII)
# Only what EventBridge wildcards and IAM ARNs read the same way: "*" (no "?" or "[...]"); legacy characters allowed.
_PATTERN = re.compile(r"[A-Za-z0-9._*-]{1,255}", re.ASCII)
BUCKET_NAME_RULES = "3-63 characters a-z, 0-9, '.', '-' (legacy us-east-1 buckets: up to 255, also A-Z and '_')"


def is_valid_bucket_name(name: str) -> bool:
    return any(pattern.fullmatch(name) for pattern in (_BUCKET_NAME, _LEGACY_BUCKET_NAME, _DIRECTORY_BUCKET))


def require_bucket_name(name: str) -> None:
    """InvalidRequest unless `name` can be an S3 bucket name (general purpose, legacy or directory)."""
    if not is_valid_bucket_name(name):
        raise InvalidRequest(f"bucket {name!r} is not a valid S3 bucket name ({BUCKET_NAME_RULES})")


def is_directory_bucket(name: str) -> bool:
    """S3 Express One Zone directory buckets support SSE-S3 and SSE-KMS only, never DSSE-KMS."""
    return bool(_DIRECTORY_BUCKET.fullmatch(name))


@dataclass(frozen=True)
class Scope:
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    @staticmethod
    def matches(pattern: str, bucket: str) -> bool:
        return fnmatchcase(bucket, pattern)

    def contains(self, bucket: str) -> bool:
        return any(self.matches(p, bucket) for p in self.include) and not any(
            self.matches(p, bucket) for p in self.exclude
        )

    def admitting(self, bucket: str) -> Scope:
        """This scope with `bucket` in it, whatever the patterns say, unless an exclusion pattern other than its own
        name matches it: the stack's canary bucket, which the stack excludes by name for every path but the object
        path (CANARY_BUCKET)."""
        exclude = tuple(pattern for pattern in self.exclude if pattern != bucket)
        include = self.include if bucket in self.include else (*self.include, bucket)
        return Scope(include=include, exclude=exclude)

    def describe(self) -> str:
        text = "include " + ", ".join(self.include)
        return text + (" exclude " + ", ".join(self.exclude) if self.exclude else "")

    @classmethod
    def parse(cls, include: str, exclude: str, variable: str = "PROTECTED_BUCKETS") -> Scope:
        inc = _split(include)
        exc = _split(exclude)
        for name, patterns in ((variable, inc), ("EXCLUDED_BUCKETS", exc)):
            bad = [p for p in patterns if not _PATTERN.fullmatch(p)]
            if bad:
                raise ConfigError(
                    f"{name} has invalid bucket patterns {bad}: use bucket names or shell patterns "
                    "(letters, digits, '.', '-', '_' and '*' as a wildcard), comma-separated"
                )
        if not inc:
            raise ConfigError(f"{variable} is empty: give bucket names or patterns, or * for every bucket")
        return cls(include=tuple(inc), exclude=tuple(exc))


def _split(raw: str) -> list[str]:
    return [p.strip() for p in raw.split(",") if p.strip()]
