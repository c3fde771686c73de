"""driftline.yaml for ``driftline serve --config``: the ``collector:`` and ``alerts:`` sections.

:func:`load_serve_config` reads and validates the file; every error names the
file, the key, the bad value and what is allowed. :meth:`ServeConfig.settings`
turns the ``collector:`` section into :class:`~driftline.server.Settings`,
with ``DRIFTLINE_*`` environment variables over the file and command-line
flags over both. Secrets never live in the file: a store URL with a password
goes in an environment variable named by ``store_url_env``, and notifiers name
the variables of their secrets (``*_env``, docs/alerts.md).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from driftline._models import Strict, describe
from driftline._utils.durations import parse_duration
from driftline._utils.llm import PriceTable
from driftline._yaml import read_yaml
from driftline.alerts import AlertsConfig
from driftline.config import DriftSettings
from driftline.errors import ConfigError
from driftline.server.settings import POSITIVE, Settings

TOP_LEVEL = ("collector", "alerts", "check", "prices")
#: Settings fields the ``collector:`` section does not take under their own name.
_NOT_IN_FILE = {"windows", "evaluator"}


def _seconds(v: Any) -> Any:
    """A window size: whole seconds (300) or a duration (5m)."""
    if isinstance(v, bool):
        raise ValueError("a number of seconds or a duration like 5m")
    try:
        seconds = parse_duration(v)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError("a whole, positive number of seconds")
    return int(seconds)


Seconds = Annotated[int, BeforeValidator(_seconds)]


class _Strict(Strict):
    """The collector's sections take values of their own type only (no "8080" for a port)."""

    model_config = ConfigDict(**Strict.model_config, strict=True)


#: How ``collector.windows`` spells a WindowConfig field where the file's form differs.
_WINDOW_FILE_TYPES: dict[str, Any] = {
    "sizes": Annotated[list[Seconds], Field(min_length=1)],  # seconds or durations (5m)
    "seasonal_period": Seconds | None,
    "outliers": Literal["mahalanobis", "isolation_forest", "none"] | None,
    "outlier_prescores": Literal["check", "rescore"],
}


def _dataclass_fields(
    cls: type, skip: frozenset[str] = frozenset(), types: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Pydantic fields for the settings a dataclass declares: its names, its defaults and its
    types (tuples and mappings as YAML lists and mappings; ``types`` where the file differs)."""
    hints = typing.get_type_hints(cls)
    default = cls()
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = (types or {}).get(f.name, hints[f.name])
        if typing.get_origin(tp) is tuple:
            tp = list[typing.get_args(tp)[0]]  # type: ignore[misc]
        elif typing.get_origin(tp) is collections.abc.Mapping:
            tp = dict[typing.get_args(tp)]  # type: ignore[misc]
        value = getattr(default, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        fields[f.name] = (tp, value)
    return fields


class _Section(_Strict):
    """A section whose settings a dataclass of the package declares and validates: its
    ``ConfigError`` becomes the section's validation error (naming the key)."""

    @model_validator(mode="after")
    def _valid(self) -> _Section:
        try:
            self.to_options()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def to_options(self) -> Any:
        """The package's options of this section."""
        raise NotImplementedError


def _section_model(
    name: str, base: type[_Section], cls: type, skip: frozenset[str] = frozenset()
) -> type[_Section]:
    """The section ``base`` with every field of dataclass ``cls`` (but ``skip``) under its
    own name."""
    model = create_model(name, __base__=base, **_dataclass_fields(cls, skip))
    model.__doc__ = base.__doc__
    return model


class _WindowsBase(_Section):
    def to_options(self) -> Any:
        return self.to_config()

    def to_config(self) -> Any:
        """The :class:`WindowConfig` of this section."""
        from driftline.windows import WindowConfig

        values = {k: getattr(self, k) for k in type(self).model_fields}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        if values.get("outliers") == "none":
            values["outliers"] = None
        return WindowConfig(**values)


def _windows_model() -> type[_WindowsBase]:
    """``collector.windows``: every :class:`WindowConfig` setting under its own name, with its
    default; WindowConfig validates (one source of truth for names, defaults and rules)."""
    from driftline.windows import WindowConfig

    fields = _dataclass_fields(WindowConfig, WindowConfig.INTERNAL, _WINDOW_FILE_TYPES)
    model = create_model("WindowsSection", __base__=_WindowsBase, **fields)
    model.__doc__ = "``collector.windows``: how events are windowed (docs/collector.md)."
    return model


WindowsSection = _windows_model()


class _VersionsBase(_Section):
    """``collector.versions``: champion-vs-challenger comparisons in each base window
    (docs/versions.md). ``enabled`` and ``lookback`` are the collector's; the other keys
    are :class:`~driftline.stats.versions.CompareOptions`'s (names, defaults, rules)."""

    enabled: bool = True
    lookback: Seconds = 7 * 86_400

    def to_options(self) -> Any:
        """The evaluator's :class:`RolloutOptions` (None when ``enabled`` is false)."""
        from driftline.stats.versions import CompareOptions
        from driftline.windows.versions import RolloutOptions

        keys = {f.name for f in dataclasses.fields(CompareOptions)}
        compare = CompareOptions(**{k: getattr(self, k) for k in keys})
        options = RolloutOptions(lookback_seconds=self.lookback, compare=compare)
        return options if self.enabled else None


def _versions_model() -> type[_Section]:
    from driftline.stats.versions import CompareOptions

    return _section_model("VersionsSection", _VersionsBase, CompareOptions)


VersionsSection = _versions_model()


class _SlicesBase(_Section):
    """``collector.slices``: the worst-slice search on each window's labelled predictions
    (docs/collector.md, "Worst slices"). ``enabled`` is the collector's; the other keys are
    :class:`~driftline.windows.slices.SliceOptions`'s (names, defaults, rules)."""

    enabled: bool = True

    def to_options(self) -> Any:
        """The evaluator's :class:`SliceOptions` (None when ``enabled`` is false)."""
        from driftline.windows.slices import SliceOptions

        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(SliceOptions)}
        values["columns"] = tuple(values["columns"])
        return SliceOptions(**values) if self.enabled else None


def _slices_model() -> type[_Section]:
    from driftline.windows.slices import SliceOptions

    return _section_model("SlicesSection", _SlicesBase, SliceOptions)


SlicesSection = _slices_model()


class _LLMBase(_Section):
    """``collector.llm``: thresholds of the LLM/RAG signals (docs/llm.md, "Signals").
    ``enabled`` is the collector's; the other keys are
    :class:`~driftline.windows.llm.LLMOptions`'s (names, defaults, rules); the prices are
    the file's top-level ``prices:``."""

    enabled: bool = True

    def to_options(self, prices: PriceTable | None = None) -> Any:
        """The evaluator's :class:`LLMOptions` (None when ``enabled`` is false)."""
        from driftline.windows.llm import LLMOptions

        keys = {f.name for f in dataclasses.fields(LLMOptions)} - {"prices"}
        values = {k: getattr(self, k) for k in keys}
        options = LLMOptions(**values, prices=prices if prices is not None else PriceTable({}))
        return options if self.enabled else None


def _llm_model() -> type[_Section]:
    from driftline.windows.llm import LLMOptions

    return _section_model("LLMSection", _LLMBase, LLMOptions, skip=frozenset({"prices"}))


LLMSection = _llm_model()


class StreamSection(_Strict):
    """``collector.stream``: feed the collector from NATS JetStream too (server/stream.py)."""

    nats_url: Annotated[str, Field(pattern=r"^(nats|tls)://")]
    stream: Annotated[str, Field(min_length=1)] = "driftline"
    subject: Annotated[str, Field(min_length=1)] = "driftline.events"
    durable: Annotated[str, Field(min_length=1)] = "driftline-collector"
    batch: Annotated[int, Field(ge=1, le=10_000)] = 500


def _collector_model() -> type[BaseModel]:
    """The ``collector:`` section: every Settings field under its own name, plus a few keys."""
    hints = typing.get_type_hints(Settings)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name in _NOT_IN_FILE:
            continue
        default = getattr(Settings(), f.name)
        tp = hints[f.name]
        if f.name in POSITIVE:
            tp = Annotated[tp, Field(gt=0)]
        elif f.name == "port":
            tp = Annotated[int, Field(ge=0, le=65535)]
        fields[f.name] = (tp, default)
    fields["store_url_env"] = (str | None, None)
    fields["dashboard_url"] = (str | None, None)
    fields["windows"] = (WindowsSection, WindowsSection())
    fields["drift"] = (DriftSettings | None, None)
    fields["quality"] = (dict[str, float] | None, None)
    fields["llm"] = (LLMSection, LLMSection())
    fields["versions"] = (VersionsSection, VersionsSection())
    fields["slices"] = (SlicesSection, SlicesSection())
    fields["stream"] = (StreamSection | None, None)
    model: type[BaseModel] = create_model("CollectorSection", __base__=_Strict, **fields)
    model.__doc__ = "``collector:``: the collector's settings (docs/collector.md)."
    return model


CollectorSection = _collector_model()


class ServeFile(_Strict):
    """The whole file as ``serve`` reads it (``check:`` is ``driftline check``'s)."""

    collector: CollectorSection = Field(default_factory=CollectorSection)  # type: ignore[valid-type]
    alerts: AlertsConfig | None = None
    check: dict[str, Any] | None = None
    prices: dict[str, Any] | None = None


@dataclass(frozen=True)
class ServeConfig:
    """A validated driftline.yaml: the collector's settings and the alerts, if configured."""

    path: Path | None
    collector: Any  # a CollectorSection
    alerts: AlertsConfig | None
    #: ``prices:``, per LLM model (docs/llm.md, "Prices") and of compute (docs/service.md,
    #: "Cost"): token cost and the cost points in the collector
    prices: PriceTable = dataclasses.field(default_factory=lambda: PriceTable({}))

    def settings(self, env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """Settings from the file, then ``DRIFTLINE_*`` variables, then non-None ``flags``."""
        env = os.environ if env is None else env
        c = self.collector
        values = {k: getattr(c, k) for k in type(c).model_fields if k not in _EXTRA_KEYS}
        if c.store_url_env is not None:
            values["store_url"] = _env_url(env, c.store_url_env)
        values["windows"] = c.windows.to_config()  # validated when the file was read
        values["evaluator"] = self._evaluator()
        from_env = Settings.from_env(env)
        for f in dataclasses.fields(Settings):
            if f"DRIFTLINE_{f.name.upper()}" in env:
                values[f.name] = getattr(from_env, f.name)
        if any(f"DRIFTLINE_{k}" in env for k in _WINDOW_VARS):
            values["windows"] = from_env.windows
        values.update({k: v for k, v in flags.items() if v is not None})
        try:
            return Settings(**values)
        except ConfigError as exc:
            raise ConfigError(f"{self._where('collector')}: {exc}") from None

    def _evaluator(self) -> Any:
        """The evaluator's drift and quality options (as ``driftline check``'s, minus gates)."""
        from driftline.stats.drift.rules import DriftOptions
        from driftline.stats.quality import QualityThresholds

        options = Settings().evaluator
        d = self.collector.drift
        if d is not None:
            drift = DriftOptions(
                method=d.method, per_column=dict(d.per_column), thresholds=dict(d.thresholds),
                alpha=d.alpha, min_samples=d.min_samples, n_bins=d.n_bins,
            )  # fmt: skip
            options = dataclasses.replace(options, drift=drift)
        if self.collector.quality is not None:
            try:
                quality = QualityThresholds.from_dict(dict(self.collector.quality))
            except ConfigError as exc:
                raise ConfigError(f"{self._where('collector.quality')}: {exc}") from None
            options = dataclasses.replace(options, quality=quality)
        llm = self.collector.llm.to_options(self.prices)
        # one table: token cost (LLM signals) and the cost points (docs/service.md, "Cost")
        costs = self.prices if self.prices.configured else None
        rollouts = self.collector.versions.to_options()
        slices = self.collector.slices.to_options()
        return dataclasses.replace(options, llm=llm, costs=costs, rollouts=rollouts, slices=slices)

    def external_url(self, settings: Settings) -> str:
        """Where people reach the dashboard: ``dashboard_url``, else the listening address."""
        url = self.collector.dashboard_url
        if url:
            return str(url).rstrip("/")
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        return f"http://{host}:{settings.port}/ui"

    @property
    def stream(self) -> StreamSection | None:
        """``collector.stream``: the broker the collector also reads events from, if any."""
        section: StreamSection | None = self.collector.stream
        return section

    def alerts_for(self, settings: Settings) -> AlertsConfig | None:
        """The alerts, with links to this collector's dashboard unless the file sets them."""
        if self.alerts is None:
            return None
        given = self.alerts.model_fields_set
        base = self.external_url(settings)
        changes: dict[str, Any] = {}
        if "external_url" not in given:
            changes["external_url"] = base
        if "dashboard_url" not in given:
            changes["dashboard_url"] = base + EXPLAIN_LINK
        return self.alerts.model_copy(update=changes) if changes else self.alerts

    def _where(self, key: str) -> str:
        return f"config file {self.path}: key {key!r}" if self.path else f"key {key!r}"


#: The dashboard link of an alert: /ui/explain sends the visitor to the view that explains it
#: (the column for drift, the model for model metrics, the Jobs page for job alerts).
EXPLAIN_LINK = (
    "/explain?alertname={{ $labels.alertname | urlquery }}&model={{ $labels.model | urlquery }}"
    "&version={{ $labels.version | urlquery }}&segment={{ $labels.segment | urlquery }}"
    "&column={{ $labels.column | urlquery }}&job={{ $labels.job | urlquery }}"
)

_EXTRA_KEYS = {
    "store_url_env", "dashboard_url", "windows", "drift", "quality", "llm", "versions",
    "slices", "stream",
}  # fmt: skip
_WINDOW_VARS = ("WINDOW_SIZES", "WINDOW_GRACE_SECONDS", "SEGMENT_KEYS")


def _env_url(env: Mapping[str, str], var: str) -> str:
    value = env.get(var, "")
    if not value:
        raise ConfigError(
            f"key 'collector.store_url_env': environment variable {var} is not set "
            "(it holds the store URL)"
        )
    return value


def parse_serve_config(data: Any, path: Path | None = None) -> ServeConfig:
    """Validate the file's content; ConfigError names the key, value and what is allowed."""
    prefix = f"config file {path}: " if path else ""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix}the file must hold a mapping with keys {', '.join(TOP_LEVEL)}")
    unknown = sorted(str(k) for k in data if k not in TOP_LEVEL)
    if unknown:
        raise ConfigError(
            f"{prefix}unknown key {unknown[0]!r}; allowed at the top level: {', '.join(TOP_LEVEL)}"
        )
    for key in ("collector", "alerts"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise ConfigError(f"{prefix}key {key!r} must be a mapping, got {data[key]!r}")
    try:
        collector = CollectorSection.model_validate(data.get("collector") or {})
    except ValidationError as exc:
        raise ConfigError(prefix + _describe_collector(exc)) from None
    alerts = None
    if "alerts" in data:
        try:
            alerts = AlertsConfig.model_validate(data.get("alerts") or {})
        except ValidationError as exc:
            raise ConfigError(prefix + describe("alerts", exc, AlertsConfig)) from None
    if data.get("check") is not None:
        _check_section(data["check"], prefix)
    _check_store_url(collector, prefix)
    drift = collector.drift  # type: ignore[attr-defined]
    if drift is not None and drift.data_driven_thresholds:
        raise ConfigError(
            f"{prefix}key 'collector.drift.data_driven_thresholds': applies to driftline check "
            "(thresholds from the reference's own chunks), not to the collector's windows"
        )
    if alerts is not None:
        _check_alerts(alerts, min(collector.windows.sizes), prefix)  # type: ignore[attr-defined]
    try:
        prices = PriceTable.from_mapping(data.get("prices"))
    except ConfigError as exc:
        raise ConfigError(f"{prefix}key {exc}") from None
    return ServeConfig(path, collector, alerts, prices)


def load_serve_config(path: str | Path) -> ServeConfig:
    """Read driftline.yaml (YAML) and validate the sections ``serve`` uses."""
    p = Path(path)
    data = read_yaml(p)
    return parse_serve_config(data, p)


_SECTIONS: dict[str, type[BaseModel]] = {"windows": WindowsSection, "drift": DriftSettings}


def _describe_collector(exc: ValidationError) -> str:
    return describe("collector", exc, CollectorSection)


def _check_section(section: Any, prefix: str) -> None:
    from driftline.config import CheckConfig

    if not isinstance(section, dict):
        raise ConfigError(f"{prefix}key 'check' must be a mapping, got {section!r}")
    try:
        CheckConfig.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(prefix + describe("check", exc, CheckConfig)) from None


def _check_store_url(collector: Any, prefix: str) -> None:
    url, env = collector.store_url, collector.store_url_env
    if url is not None and env is not None:
        raise ConfigError(
            f"{prefix}keys 'collector.store_url' and 'collector.store_url_env': give one, not both"
        )
    if url is not None:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            raise ConfigError(
                f"{prefix}key 'collector.store_url': the URL holds a password; secrets are not "
                "allowed in the file: put the URL in an environment variable and name it with "
                "'collector.store_url_env'"
            )


def _check_alerts(alerts: AlertsConfig, base: int, prefix: str) -> None:
    """What the collector cannot feed: window sizes other than its base window."""
    from driftline._utils.durations import format_duration

    presets = alerts.presets if isinstance(alerts.presets, dict) else dict.fromkeys(alerts.presets)
    rules = alerts.compiled_rules()
    keys: dict[str, str] = {}
    for name in presets:
        keys[name] = f"alerts.presets.{name}"
    for i, r in enumerate(alerts.rules):
        keys[r.name] = f"alerts.rules.{i}"
    for rule in rules:
        key = keys.get(rule.name)
        if key is None:
            continue  # an SLO's rules: their inputs are checked below
        if rule.window_seconds is not None and abs(rule.window_seconds - base) > 1e-6:
            raise ConfigError(
                f"{prefix}key {key + '.window'!r}: value "
                f"{format_duration(rule.window_seconds)!r} is not allowed: the collector "
                f"alerts on its base window only; allowed: {format_duration(base)}"
            )


__all__ = ["CollectorSection", "ServeConfig", "load_serve_config", "parse_serve_config"]
