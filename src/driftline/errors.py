"""One exception tree, rooted at :class:`DriftlineError`.

Every error says what was wrong, where (column, key, field, line) and what is
allowed, so a user can fix the input without reading driftline's code.
"""

from __future__ import annotations


class DriftlineError(Exception):
    """Base class of every error driftline raises on purpose."""


class SchemaError(DriftlineError):
    """A schema mapping names a missing column, or a role/kind that does not fit."""


class InputError(DriftlineError):
    """The data handed to driftline cannot be read or has the wrong shape."""


class ProfileFormatError(DriftlineError):
    """A serialised profile is corrupt, truncated or of an unknown format version."""


class ConfigError(DriftlineError):
    """The configuration file or an option has a bad value."""


class MissingDependencyError(DriftlineError, ImportError):
    """An optional dependency is needed for this feature; the message says how to install it."""


def require(module: str, extra: str) -> None:
    """Raise :class:`MissingDependencyError` with an install hint if ``module`` is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"this feature needs the '{module}' package: pip install 'driftline[{extra}]'"
        )
