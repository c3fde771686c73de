"""driftline: monitoring for machine-learning models in production."""

from __future__ import annotations

from driftline.errors import (
    ConfigError,
    DriftlineError,
    InputError,
    ProfileFormatError,
    SchemaError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DriftlineError",
    "InputError",
    "ProfileFormatError",
    "SchemaError",
    "__version__",
]
