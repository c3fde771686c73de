"""The ``alerts:`` section of driftline.yaml, validated with pydantic.

Every error names the key, the bad value and what is allowed
(:func:`load_alerts_config`, :func:`driftline._models.describe`).
:meth:`AlertsConfig.compiled_rules`
turns the section (presets switched on by name, rules, SLOs) into the
:class:`~driftline.alerts.rules.Rule` objects the engine evaluates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from driftline._models import describe
from driftline._yaml import read_yaml
from driftline.alerts._fields import Duration, _Strict
from driftline.alerts.receivers import ActionConfig, ReceiverConfig
from driftline.alerts.rules import (
    DEFAULT_MIN_SAMPLES,
    InhibitRuleConfig,
    PresetOverride,
    RouteConfig,
    Rule,
    RuleConfig,
    SLOConfig,
    compile_rule,
)
from driftline.errors import ConfigError


def _default_receivers() -> list[ReceiverConfig]:
    names = ("ops", "data-owners", "ml-owners")
    return [ReceiverConfig.model_validate({"name": n, "log": {}}) for n in names]


def _default_route() -> RouteConfig:
    return RouteConfig.model_validate(
        {
            "receiver": "ops",
            "routes": [
                {"receiver": "data-owners", "matchers": ["team=data"]},
                {"receiver": "ml-owners", "matchers": ["team=ml"]},
            ],
        }
    )


def _default_inhibit() -> list[InhibitRuleConfig]:
    return [
        InhibitRuleConfig(
            source_matchers=["alertname=schema_violation"],
            target_matchers=["alertname=~drift_top_feature|missing_spike"],
            equal=["model", "version", "column"],
        ),
        InhibitRuleConfig(
            source_matchers=["severity=critical"],
            target_matchers=["severity=warning"],
            equal=["alertname", "model", "version", "segment", "column"],
        ),
    ]


class AlertsConfig(_Strict):
    """The ``alerts:`` section of driftline.yaml."""

    presets: list[str] | dict[str, PresetOverride | None] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    slos: list[SLOConfig] = Field(default_factory=list)
    route: RouteConfig = Field(default_factory=_default_route)
    receivers: list[ReceiverConfig] = Field(default_factory=_default_receivers)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=_default_inhibit)
    actions: list[ActionConfig] = Field(default_factory=list)
    owners: dict[str, str] = Field(default_factory=dict)
    dashboard_url: str | None = None
    external_url: str = "http://127.0.0.1:8080"
    resolve_timeout: Duration = "1h"
    #: A job run starting this long after its ``scheduled_at`` is late (job_status 2).
    job_late_after: Duration = "5m"
    history_windows: Annotated[int, Field(ge=1, le=10_000)] = 12
    #: Rows a sampled point (performance, estimated, quality, accuracy) needs before a
    #: rule decides on it; a rule's own ``min_samples`` wins. 0 switches the check off.
    min_samples: Annotated[int, Field(ge=0)] = DEFAULT_MIN_SAMPLES
    #: A rule whose precision (true / true + false positives of its rated alerts) is below
    #: this, once ``review_min_rated`` of its alerts are rated either way, is flagged for review.
    review_precision: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    review_min_rated: Annotated[int, Field(ge=1)] = 5

    @field_validator("presets", mode="before")
    @classmethod
    def _presets(cls, v: Any) -> Any:
        """Names must be registered presets; each override is checked by its preset's model."""
        from driftline.alerts.presets import PRESETS

        if not isinstance(v, list | dict):
            return v  # the declared type reports it
        for name in v:
            if not isinstance(name, str) or name not in PRESETS:
                raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS.names())}")
        if isinstance(v, list):
            return v
        out: dict[str, PresetOverride | None] = {}
        for name, override in v.items():
            model = PRESETS[name].config
            if override is None or isinstance(override, model):
                out[name] = override
                continue
            try:
                out[name] = model.model_validate(override)
            except ValidationError as exc:
                raise ValueError(describe(f"alerts.presets.{name}", exc, model)) from None
            _baseline_of(name, out[name])
        return out

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        names = [r.name for r in self.receivers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"receiver names must be unique; repeated: {', '.join(dup)}")
        if self.route.receiver is None:
            raise ValueError("route.receiver: the root route needs a receiver")
        for where, receiver in _route_receivers(self.route, "route"):
            if receiver not in names:
                raise ValueError(
                    f"{where}.receiver: unknown receiver {receiver!r}; "
                    f"allowed: {', '.join(names) or '(none defined)'}"
                )
        rule_names = [r.name for r in self.compiled_rules()]
        dup = sorted({n for n in rule_names if rule_names.count(n) > 1})
        if dup:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dup)}")
        return self

    def compiled_rules(self) -> list[Rule]:
        """Presets, rules and SLO alerts as engine rules, in that order."""
        from driftline.alerts.presets import preset_rule
        from driftline.alerts.slo import slo_rules

        presets = self.presets if isinstance(self.presets, dict) else dict.fromkeys(self.presets)
        least = self.min_samples
        out = [
            compile_rule(preset_rule(n, o), self.owners, min_samples=least)
            for n, o in presets.items()
        ]
        out += [compile_rule(r, self.owners, source="rule", min_samples=least) for r in self.rules]
        for slo in self.slos:
            out += slo_rules(slo, self.owners)
        return out


def _baseline_of(name: str, override: PresetOverride | None) -> None:
    """``baseline_windows`` only on a preset whose threshold is a change against a baseline."""
    from driftline.alerts.presets import PRESETS

    if override is None or "baseline_windows" not in override.model_fields_set:
        return
    if override.baseline_windows is None or PRESETS[name].default_rule.baseline_windows:
        return
    with_baseline = [p.name for p in PRESETS if p.default_rule.baseline_windows]
    raise ValueError(
        f"alerts.presets.{name}.baseline_windows: {name} compares the raw value with its "
        "threshold, not a change against a baseline (a baseline would turn its threshold into "
        f"a relative change); presets with a baseline: {', '.join(with_baseline)}. For a "
        "relative rule on this metric write a rule under alerts.rules"
    )


def _route_receivers(route: RouteConfig, where: str) -> list[tuple[str, str]]:
    out = [(where, route.receiver)] if route.receiver is not None else []
    for i, child in enumerate(route.routes):
        out += _route_receivers(child, f"{where}.routes.{i}")
    return out


# -- loading -------------------------------------------------------------------------


def parse_alerts_config(data: Any, where: str = "alerts") -> AlertsConfig:
    """Validate the ``alerts:`` section; ConfigError names key, value and what is allowed."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"key {where!r} must be a mapping, got {data!r}")
    try:
        return AlertsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(where, exc, AlertsConfig)) from None


def load_alerts_config(path: str | Path) -> AlertsConfig:
    """Read driftline.yaml's ``alerts:`` section (or a file holding just that section)."""
    p = Path(path)
    data = read_yaml(p)
    if isinstance(data, dict) and "alerts" in data:
        section, where = data["alerts"], "alerts"
    else:
        section, where = data, "alerts"
    try:
        return parse_alerts_config(section, where)
    except ConfigError as exc:
        raise ConfigError(f"config file {p}: {exc}") from None
