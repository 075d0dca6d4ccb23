"""The errors a caller can act on: bad configuration, a payload that asks for nothing valid, a failed AWS call."""

from __future__ import annotations

from .model import Failure


class ConfigError(ValueError):
    """The deployment's configuration is unusable; the message names the variable and the fix."""


class InvalidRequest(ValueError):
    """A payload that names no valid resource; nothing was read or changed."""


class Held(InvalidRequest):
    """The reader-safety gate holds the bucket: converting it would break a reader or a writer, and nobody accepted
    that. Nothing was written (no job created)."""


class InvalidEvent(InvalidRequest):
    """An event this handler does not understand; nothing was read or changed."""


class AwsFailure(Exception):
    """An AWS call failed; `failure` says what that means to the domain (aws/errors.py classifies it)."""

    def __init__(self, failure: Failure, message: str, code: str = "") -> None:
        super().__init__(message)
        self.failure = failure
        self.code = code
