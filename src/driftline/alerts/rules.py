"""Alert rules: their configuration (rules, preset overrides, SLOs, routes) and compiled form.

:class:`RuleConfig` and friends are the pydantic models of the ``alerts:``
section's rule-like keys (the whole section is
:class:`~driftline.alerts.config.AlertsConfig`); :func:`compile_rule` turns
one into the :class:`Rule` the engine evaluates on each matching point.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from statistics import NormalDist
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from driftline._utils.durations import parse_duration
from driftline.alerts._fields import (
    NAME_PATTERN,
    Duration,
    Hold,
    LabelName,
    Op,
    Selector,
    Severity,
    _Strict,
)
from driftline.alerts.matchers import Matcher, parse_matchers
from driftline.alerts.points import MetricPoint
from driftline.alerts.templates import check_template

#: ``interval``: a point breaks the threshold only when its whole ``confidence`` interval
#: (value +- z * stderr) does; ``ignore``: the bare value is compared.
Uncertainty = Literal["interval", "ignore"]
Confidence = Annotated[float, Field(gt=0, lt=1)]
#: Rows a sampled point needs before a rule decides on it (``alerts: min_samples:``).
DEFAULT_MIN_SAMPLES = 100


class _Selectors(_Strict):
    """Which points a rule looks at; each is a value or a list of shell-style patterns."""

    model: Selector = None
    version: Selector = None
    segment: Selector = None
    column: Selector = None
    match_labels: dict[str, str] = Field(default_factory=dict)
    window: Duration | None = None


class _Outputs(_Strict):
    severity: Severity = "warning"
    team: str = "ml"
    owner: str | None = None
    labels: dict[LabelName, str] = Field(default_factory=dict)
    annotations: dict[LabelName, str] = Field(default_factory=dict)

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, v: dict[str, str]) -> dict[str, str]:
        for text in v.values():
            check_template(text)
        return v


class RuleConfig(_Selectors, _Outputs):
    """A threshold rule over metric points (docs/alerts.md, "Rules")."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    metric: str
    op: Op = ">"
    threshold: float
    for_: Hold = Field(1, alias="for")
    keep_firing_for: Hold = 0
    baseline_windows: Annotated[int, Field(ge=1)] | None = None
    min_samples: Annotated[int, Field(ge=0)] | None = None
    uncertainty: Uncertainty = "interval"
    confidence: Confidence = 0.95


class PresetOverride(_Selectors, _Outputs):
    """What a user may change in a preset; unset fields keep the preset's value.

    ``baseline_windows`` is for presets that compare with a baseline (their threshold is a
    relative change, e.g. ``accuracy_drop``); on a preset comparing the raw value it is an
    error (:class:`~driftline.alerts.config.AlertsConfig` checks it), since it would turn
    an absolute threshold into a relative one.
    """

    threshold: float | None = None
    for_: Hold | None = Field(None, alias="for")
    keep_firing_for: Hold | None = None
    baseline_windows: Annotated[int, Field(ge=1)] | None = None
    severity: Severity | None = None  # type: ignore[assignment]
    team: str | None = None  # type: ignore[assignment]
    min_samples: Annotated[int, Field(ge=0)] | None = None
    uncertainty: Uncertainty | None = None
    confidence: Confidence | None = None


class BurnRateConfig(_Strict):
    """One multi-window pair: alert when both windows burn faster than ``factor``."""

    long: Duration
    short: Duration
    factor: Annotated[float, Field(gt=0)]
    severity: Severity

    @model_validator(mode="after")
    def _order(self) -> BurnRateConfig:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(f"short window {self.short} must be shorter than long {self.long}")
        return self


#: The SRE workbook's pairs (Alerting on SLOs, table 5-8): page at 14.4x and 6x, ticket at 3x, 1x.
SRE_BURN_RATES: tuple[BurnRateConfig, ...] = (
    BurnRateConfig(long="1h", short="5m", factor=14.4, severity="critical"),
    BurnRateConfig(long="6h", short="30m", factor=6, severity="critical"),
    BurnRateConfig(long="24h", short="2h", factor=3, severity="warning"),
    BurnRateConfig(long="3d", short="6h", factor=1, severity="warning"),
)


class SLOConfig(_Outputs):
    """A service level objective with multi-window, multi-burn-rate alerts (see slo.py)."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    kind: Literal["latency", "errors", "quality"]
    objective: Annotated[float, Field(gt=0, lt=1)]
    model: Selector = None
    version: Selector = None
    segment: Selector = None
    threshold_seconds: Annotated[float, Field(gt=0)] | None = None
    buckets: list[float] | None = None
    metric: str = "accuracy"
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.05
    #: quality SLOs: judge the mean over this period (e.g. 1d: the daily mean, weighted by
    #: each window's n) instead of each window; periods are aligned to UTC midnight.
    every: Duration | None = None
    #: quality SLOs: which side is bad. "below" (accuracy, revenue) or "above" (log loss).
    direction: Literal["below", "above"] = "below"
    baseline: Duration = "30d"
    period: Duration = "30d"
    burn_rates: list[BurnRateConfig] = Field(default_factory=lambda: list(SRE_BURN_RATES))
    severity: Severity = "critical"
    team: str = "ops"

    @model_validator(mode="after")
    def _kind_options(self) -> SLOConfig:
        if self.kind == "latency":
            from driftline._utils.metrics import LATENCY_BUCKETS

            buckets = tuple(self.buckets) if self.buckets else LATENCY_BUCKETS
            if self.threshold_seconds is None:
                raise ValueError("a latency SLO needs threshold_seconds (a histogram bucket bound)")
            if not any(abs(b - self.threshold_seconds) < 1e-12 for b in buckets):
                raise ValueError(
                    f"threshold_seconds {self.threshold_seconds} must be a latency bucket "
                    f"boundary; allowed: {', '.join(f'{b:g}' for b in buckets)}"
                )
        elif self.threshold_seconds is not None:
            raise ValueError(f"threshold_seconds applies to latency SLOs only, not {self.kind}")
        if self.kind != "quality" and (self.every is not None or self.direction != "below"):
            raise ValueError(f"every and direction apply to quality SLOs only, not {self.kind}")
        return self


class RouteConfig(_Strict):
    """A node of the routing tree (Alertmanager's semantics; docs/alerts.md, "Routing")."""

    receiver: str | None = None
    matchers: list[str] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[RouteConfig] = Field(default_factory=list)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v


class InhibitRuleConfig(_Strict):
    """Firing ``source_matchers`` alerts mute ``target_matchers`` alerts with equal labels."""

    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = Field(default_factory=list)

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v


Verdict = Literal["breach", "clear", "unsure"]

_OPS: dict[str, typing.Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class Rule:
    """A compiled rule: what the engine evaluates on each matching point."""

    name: str
    metric: str
    op: str
    threshold: float
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    for_windows: int | None = 1
    for_seconds: float | None = None
    keep_windows: int | None = 0
    keep_seconds: float | None = None
    model: tuple[str, ...] | None = None
    version: tuple[str, ...] | None = None
    segment: tuple[str, ...] | None = None
    column: tuple[str, ...] | None = None
    match_labels: Mapping[str, str] = field(default_factory=dict)
    window_seconds: float | None = None
    baseline_windows: int | None = None
    source: str = "rule"
    alertname: str = ""
    min_samples: int = 0
    uncertainty: str = "interval"
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not self.alertname:
            object.__setattr__(self, "alertname", self.name)

    def selects(self, point: MetricPoint) -> bool:
        """Whether ``point`` belongs to one of this rule's series."""
        if point.metric != self.metric:
            return False
        if (
            self.window_seconds is not None
            and abs(point.window_seconds - self.window_seconds) > 1e-6
        ):
            return False
        for patterns, value in (
            (self.model, point.model),
            (self.version, point.version),
            (self.segment, point.segment),
            (self.column, point.column),
        ):
            if patterns is not None and not any(fnmatchcase(value, p) for p in patterns):
                return False
        return all(point.labels.get(k) == v for k, v in self.match_labels.items())

    def breached(self, value: float) -> bool:
        """Whether ``value`` (or its relative change, with a baseline) breaks the threshold."""
        return _OPS[self.op](value, self.threshold)

    def insufficient(self, point: MetricPoint) -> bool:
        """Whether ``point`` is a sample statistic on fewer than ``min_samples`` rows."""
        return point.n is not None and point.n < self.min_samples

    def judge(self, value: float, stderr: float | None) -> Verdict:
        """``breach``, ``clear`` or ``unsure`` for a compared value and its standard error.

        With ``uncertainty: interval`` and a known ``stderr``, a breach needs the
        whole two-sided ``confidence`` interval beyond the threshold; a value
        beyond it whose interval still reaches it is ``unsure`` (the alert's
        state is held). ``==`` and ``!=`` compare the bare value.
        """
        if not self.breached(value):
            return "clear"
        if self.uncertainty == "ignore" or not stderr or self.op in ("==", "!="):
            return "breach"
        z = NormalDist().inv_cdf(0.5 + self.confidence / 2)
        edge = value + z * stderr if self.op in ("<", "<=") else value - z * stderr
        return "breach" if self.breached(edge) else "unsure"

    @property
    def condition(self) -> str:
        what = "relative change of " if self.baseline_windows else ""
        text = f"{what}{self.metric} {self.op} {self.threshold:g}"
        if self.uncertainty == "interval" and self.op not in ("==", "!="):
            text += f" (whole {self.confidence:.0%} interval)"
        return text


def _hold_parts(hold: int | str | float) -> tuple[int | None, float | None]:
    if isinstance(hold, int) and not isinstance(hold, bool):
        return hold, None
    return None, parse_duration(hold)


def compile_rule(
    cfg: RuleConfig,
    owners: Mapping[str, str],
    *,
    source: str = "",
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> Rule:
    """A :class:`Rule` from its configuration; ``owner`` defaults to the model's owner.

    ``min_samples`` applies when the rule sets none (the ``alerts:`` section's default).
    """
    labels = {"severity": cfg.severity, "team": cfg.team, **cfg.labels}
    if cfg.owner is not None:
        labels["owner"] = cfg.owner
    elif cfg.model and len(cfg.model) == 1 and cfg.model[0] in owners:
        labels["owner"] = owners[cfg.model[0]]
    for_windows, for_seconds = _hold_parts(cfg.for_)
    keep_windows, keep_seconds = _hold_parts(cfg.keep_firing_for)
    return Rule(
        name=cfg.name,
        metric=cfg.metric,
        op=cfg.op,
        threshold=cfg.threshold,
        severity=cfg.severity,
        labels=types.MappingProxyType(labels),
        annotations=types.MappingProxyType(dict(cfg.annotations)),
        for_windows=for_windows,
        for_seconds=for_seconds,
        keep_windows=keep_windows,
        keep_seconds=keep_seconds,
        model=tuple(cfg.model) if cfg.model else None,
        version=tuple(cfg.version) if cfg.version else None,
        segment=tuple(cfg.segment) if cfg.segment else None,
        column=tuple(cfg.column) if cfg.column else None,
        match_labels=types.MappingProxyType(dict(cfg.match_labels)),
        window_seconds=parse_duration(cfg.window) if cfg.window is not None else None,
        baseline_windows=cfg.baseline_windows,
        source=source or f"preset:{cfg.name}",
        min_samples=cfg.min_samples if cfg.min_samples is not None else min_samples,
        uncertainty=cfg.uncertainty,
        confidence=cfg.confidence,
    )


def matchers_of(items: list[str]) -> tuple[Matcher, ...]:
    return parse_matchers(items)
