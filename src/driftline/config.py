"""Configuration files, validated with pydantic; errors name the key, value and what is allowed.

For now this holds the ``check`` section read by ``driftline check --config
FILE`` (docs/cli.md). The file is either that section alone or a driftline.yaml
with a top-level ``check:`` key, so the same file can grow the rest of the
configuration later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator

from driftline._models import Strict, describe
from driftline._yaml import read_yaml
from driftline.errors import ConfigError

Gate = Literal["drift", "quality", "performance"]
GATES: tuple[Gate, ...] = ("drift", "quality", "performance")


_Strict = Strict


class DriftSettings(_Strict):
    """Options of :func:`driftline.compare` (docs/drift.md explains each)."""

    method: str = "auto"
    per_column: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    min_samples: Annotated[int, Field(ge=1)] = 30
    n_bins: Annotated[int, Field(ge=2, le=1000)] = 10
    data_driven_thresholds: bool = False
    #: the multivariate methods and their checks (docs/drift.md, "Multivariate drift")
    multivariate: bool = True

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        return _known_method(v)

    @field_validator("per_column")
    @classmethod
    def _per_column(cls, v: dict[str, str]) -> dict[str, str]:
        return {k: _known_method(m) for k, m in v.items()}

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            _known_method(k)
            if x < 0:
                raise ValueError(f"threshold of {k} must be a non-negative number")
        return v


class Bound(_Strict):
    """Allowed range of one performance metric: ``min`` and/or ``max``."""

    min: float | None = None
    max: float | None = None


class CheckConfig(_Strict):
    """The ``check`` section: what ``driftline check`` compares and what makes it fail."""

    columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    drift: DriftSettings = DriftSettings()
    quality: dict[str, float] = Field(default_factory=dict)
    performance: dict[str, Bound] = Field(default_factory=dict)
    fail_on: list[Gate] = Field(default_factory=lambda: list(GATES))
    #: too little data for a verdict: ``error`` (exit 3), ``fail`` (exit 1) or ``warn`` (exit 0)
    on_insufficient: Literal["error", "fail", "warn"] = "error"

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: dict[str, float]) -> dict[str, float]:
        from driftline.stats.quality import QualityThresholds

        try:
            QualityThresholds.from_dict(v)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return v


def _known_method(name: str) -> str:
    from driftline.stats.drift.rules import method_names

    if name not in ("auto", *method_names()):
        raise ValueError(f"unknown drift method; allowed: auto, {', '.join(method_names())}")
    return name


def load_check_config(path: str | Path) -> CheckConfig:
    """Read and validate a check configuration file (YAML); raise ConfigError naming the key."""
    p = Path(path)
    data = read_yaml(p)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {p} must hold a mapping (keys: {', '.join(CheckConfig.model_fields)})"
        )
    section: Any = data.get("check", data) if "check" in data else data
    where = "check." if "check" in data else ""
    if not isinstance(section, dict):
        raise ConfigError(f"{p}: key 'check' must be a mapping, got {section!r}")
    try:
        return CheckConfig.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(_describe(p, where, exc)) from None


def _describe(path: Path, prefix: str, exc: ValidationError) -> str:
    return f"config file {path}: " + describe(prefix.rstrip("."), exc, CheckConfig)
