"""Reading a YAML configuration file with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftline.errors import ConfigError


def read_yaml(path: Path) -> Any:
    """The parsed YAML of ``path``; :class:`ConfigError` names the file and what is wrong."""
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
