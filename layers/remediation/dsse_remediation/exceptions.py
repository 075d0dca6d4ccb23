"""The errors a caller can act on: bad configuration, or a payload that asks for nothing valid."""


class ConfigError(ValueError):
    """The deployment's configuration is unusable; the message names the variable and the fix."""


class InvalidRequest(ValueError):
    """A payload that names no valid resource; nothing was read or changed."""


class InvalidEvent(InvalidRequest):
    """An event this handler does not understand; nothing was read or changed."""
