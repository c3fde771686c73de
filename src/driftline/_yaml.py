"""The one YAML reader: every file driftline reads (config, schema) goes through it.

Errors name the file and what is wrong, as the error class the caller's
domain uses (:class:`ConfigError` for configuration, :class:`SchemaError`
for schema files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftline.errors import ConfigError, DriftlineError


def read_yaml(
    path: str | Path, *, what: str = "config file", error: type[DriftlineError] = ConfigError
) -> Any:
    """The parsed YAML of ``path`` (None for an empty file); ``error`` names the file."""
    import yaml

    p = Path(path)
    try:
        return yaml.safe_load(p.read_text())
    except OSError as exc:
        raise error(f"cannot read {what} {p}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{what} {p} is not valid YAML: {exc}") from exc
