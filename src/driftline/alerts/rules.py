"""The ``alerts:`` section of driftline.yaml, validated with pydantic.

Every error names the key, the bad value and what is allowed
(:func:`load_alerts_config`). :meth:`AlertsConfig.compiled_rules` turns the
section (presets switched on by name, rules, SLOs) into the :class:`Rule`
objects the engine evaluates.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from driftline.alerts._time import parse_duration
from driftline.alerts.matchers import Matcher, parse_matchers
from driftline.alerts.points import MetricPoint
from driftline.errors import ConfigError

Severity = Literal["critical", "error", "warning", "info"]
SEVERITIES: tuple[str, ...] = typing.get_args(Severity)
Op = Literal[">", ">=", "<", "<=", "==", "!="]
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
TEMPLATE_VARIABLES = ("$value", "$threshold", "$labels.NAME")


def _listify(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def _duration(v: Any) -> Any:
    if v is None:
        return v
    try:
        parse_duration(v)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return v


def _hold(v: Any) -> Any:
    """``for`` / ``keep_firing_for``: a whole number of windows or a duration string."""
    if isinstance(v, bool):
        raise ValueError("a number of consecutive windows (0, 1, 2, ...) or a duration like 15m")
    if isinstance(v, int):
        if v < 0:
            raise ValueError("a number of windows cannot be negative")
        return v
    if isinstance(v, str):
        return _duration(v)
    raise ValueError("a number of consecutive windows (0, 1, 2, ...) or a duration like 15m")


Selector = Annotated[list[str] | None, BeforeValidator(_listify)]
Duration = Annotated[str | float, BeforeValidator(_duration)]
Hold = Annotated[int | str, BeforeValidator(_hold)]
LabelName = Annotated[str, Field(pattern=NAME_PATTERN)]


def check_template(text: str) -> str:
    """Raise ValueError naming the unknown variable of a ``{{ ... }}`` template."""
    for expr in _TEMPLATE.findall(text):
        if expr in ("$value", "$threshold") or re.fullmatch(r"\$labels\.[A-Za-z_]\w*", expr):
            continue
        raise ValueError(
            f"unknown template variable {{{{ {expr} }}}}; allowed: "
            + ", ".join(f"{{{{ {v} }}}}" for v in TEMPLATE_VARIABLES)
        )
    return text


def render_template(text: str, labels: Mapping[str, str], value: float, threshold: float) -> str:
    """Fill ``{{ $value }}``, ``{{ $threshold }}`` and ``{{ $labels.NAME }}``."""

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr == "$value":
            return f"{value:.4g}"
        if expr == "$threshold":
            return f"{threshold:.4g}"
        if expr.startswith("$labels."):
            return labels.get(expr[len("$labels.") :], "")
        return m.group(0)

    return _TEMPLATE.sub(sub, text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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


class PresetOverride(_Selectors, _Outputs):
    """What a user may change in a preset; unset fields keep the preset's value."""

    threshold: float | None = None
    for_: Hold | None = Field(None, alias="for")
    keep_firing_for: Hold | None = None
    severity: Severity | None = None  # type: ignore[assignment]
    team: str | None = None  # type: ignore[assignment]


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
    baseline: Duration = "30d"
    period: Duration = "30d"
    burn_rates: list[BurnRateConfig] = Field(default_factory=lambda: list(SRE_BURN_RATES))
    severity: Severity = "critical"
    team: str = "ops"

    @model_validator(mode="after")
    def _kind_options(self) -> SLOConfig:
        if self.kind == "latency":
            from driftline.sdk.metrics import LATENCY_BUCKETS

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
        return self


class RetryConfig(_Strict):
    """Delivery attempts: ``attempts`` tries right away, then the outbox retries later."""

    timeout: Duration = "10s"
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff: Duration = "1s"
    max_backoff: Duration = "5m"


class _Secretless(_Strict):
    """Notifier settings; secrets are names of environment variables (``*_env``), never values."""


class WebhookConfig(_Secretless):
    url: str | None = None
    url_env: str | None = None
    format: Literal["alertmanager", "json"] = "alertmanager"
    bearer_token_env: str | None = None
    max_alerts: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (an environment variable)")
        return self


class SlackConfig(_Secretless):
    webhook_url_env: str
    title: str = "driftline"


class PagerDutyConfig(_Secretless):
    routing_key_env: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "driftline"


class EmailConfig(_Secretless):
    to: Annotated[list[str], BeforeValidator(_listify), Field(min_length=1)]
    from_: str = Field(alias="from")
    smarthost: Annotated[str, Field(pattern=r"^[^:\s]+:\d+$")]
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    ca_file: str | None = None


class AlertmanagerConfig(_Secretless):
    url: str | None = None
    url_env: str | None = None
    ttl: Duration = "12h"
    bearer_token_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> AlertmanagerConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (an environment variable)")
        return self


class LogConfig(_Strict):
    level: Literal["info", "warning", "error"] = "warning"


class ReceiverConfig(_Strict):
    """A named destination; one receiver may use several notifiers."""

    name: str
    send_resolved: bool = True
    webhook: WebhookConfig | None = None
    slack: SlackConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    email: EmailConfig | None = None
    alertmanager: AlertmanagerConfig | None = None
    log: LogConfig | None = None
    retry: RetryConfig = RetryConfig()


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


class ActionConfig(_Strict):
    """Call a URL once when a matching alert starts firing (e.g. start a retraining run)."""

    name: str
    matchers: list[str] = Field(default_factory=list)
    url: str | None = None
    url_env: str | None = None
    method: Literal["POST", "PUT"] = "POST"
    bearer_token_env: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)
    retry: RetryConfig = RetryConfig()

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v

    @model_validator(mode="after")
    def _one_url(self) -> ActionConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (an environment variable)")
        return self


def _default_receivers() -> list[ReceiverConfig]:
    return [ReceiverConfig(name=n, log=LogConfig()) for n in ("ops", "data-owners", "ml-owners")]


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
    history_windows: Annotated[int, Field(ge=1, le=10_000)] = 12

    @field_validator("presets")
    @classmethod
    def _presets(
        cls, v: list[str] | dict[str, PresetOverride | None]
    ) -> list[str] | dict[str, PresetOverride | None]:
        from driftline.alerts.presets import PRESETS

        for name in v:
            if name not in PRESETS:
                raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
        return v

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
        out = [compile_rule(preset_rule(n, o), self.owners) for n, o in presets.items()]
        out += [compile_rule(r, self.owners, source="rule") for r in self.rules]
        for slo in self.slos:
            out += slo_rules(slo, self.owners)
        return out


def _route_receivers(route: RouteConfig, where: str) -> list[tuple[str, str]]:
    out = [(where, route.receiver)] if route.receiver is not None else []
    for i, child in enumerate(route.routes):
        out += _route_receivers(child, f"{where}.routes.{i}")
    return out


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

    @property
    def condition(self) -> str:
        what = "relative change of " if self.baseline_windows else ""
        return f"{what}{self.metric} {self.op} {self.threshold:g}"


def _hold_parts(hold: int | str | float) -> tuple[int | None, float | None]:
    if isinstance(hold, int) and not isinstance(hold, bool):
        return hold, None
    return None, parse_duration(hold)


def compile_rule(cfg: RuleConfig, owners: Mapping[str, str], *, source: str = "") -> Rule:
    """A :class:`Rule` from its configuration; ``owner`` defaults to the model's owner."""
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
    )


def matchers_of(items: list[str]) -> tuple[Matcher, ...]:
    return parse_matchers(items)


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
        raise ConfigError(describe(where, exc)) from None


def load_alerts_config(path: str | Path) -> AlertsConfig:
    """Read driftline.yaml's ``alerts:`` section (or a file holding just that section)."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from exc
    if isinstance(data, dict) and "alerts" in data:
        section, where = data["alerts"], "alerts"
    else:
        section, where = data, "alerts"
    try:
        return parse_alerts_config(section, where)
    except ConfigError as exc:
        raise ConfigError(f"config file {p}: {exc}") from None


def describe(prefix: str, exc: ValidationError) -> str:
    """One line per pydantic error: the dotted key, the bad value and what is allowed."""
    lines = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"] if not str(x).startswith(("function-", "list[", "dict["))]
        loc = [x for x in loc if x not in ("int", "str", "float", "PresetOverride")]
        key = ".".join([prefix, *loc]) if loc else prefix
        if err["type"] == "extra_forbidden":
            parent = _model_at(err["loc"][:-1])
            allowed = ", ".join(_keys(parent)) if parent is not None else "see docs/alerts.md"
            lines.append(f"unknown key {key!r}; allowed: {allowed}")
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if isinstance(value, dict) and err["type"] == "value_error":
            lines.append(f"key {key!r}: {msg}")
        else:
            lines.append(f"key {key!r}: value {value!r} is not allowed: {msg}")
    return "; ".join(lines)


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = AlertsConfig
    for part in loc:
        if isinstance(part, int) or (part not in model.model_fields and not _by_alias(model, part)):
            continue
        name = part if part in model.model_fields else _by_alias(model, part)
        assert name is not None
        found = _submodel(model.model_fields[name].annotation)
        if found is None:
            return None
        model = found
    return model


def _by_alias(model: type[BaseModel], alias: str) -> str | None:
    for name, f in model.model_fields.items():
        if f.alias == alias:
            return name
    return None


def _submodel(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _submodel(typing.get_args(tp)[0])
    if origin in (list, dict, typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = _submodel(arg)
            if found is not None:
                return found
    return None
