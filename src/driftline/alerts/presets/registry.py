"""The alert-preset registry: every preset, built-in or plug-in, declared once.

A preset is one module of :mod:`driftline.alerts.presets` that declares an
:class:`AlertPreset` as ``PRESET`` (or several as ``PRESETS``): its name, a
one-line description, the kind of signal it watches, its default rule
(metric, comparison, threshold, ``for`` / ``keep_firing_for`` windows,
severity, team, summary) and the model of what a user may override
(:class:`~driftline.alerts.rules.PresetOverride` or a subclass). Plug-ins come
through the ``driftline.alert_presets`` entry point, or one call,
``PRESETS.register(AlertPreset(...))`` (docs/plugins.md).

Everything that lists or dispatches presets reads :data:`PRESETS`: the
``alerts: presets:`` validation (one key per registered preset, each checked
against its own config model), the compiled rules, ``driftline alerts test``,
``driftline plugins``, the docs table test and the preset contract tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from driftline.alerts.rules import PresetOverride, RuleConfig
from driftline.plugins import Registry, register_modules

#: where each preset's runbook section lives (docs/alerts.md, one anchor per preset)
RUNBOOK = "https://driftline.dev/docs/alerts#{name}"

#: The kinds of signal the built-in presets watch; a plug-in may name its own.
SIGNAL_KINDS: Mapping[str, str] = {
    "service": "latency, errors and traffic of the model service (team ops)",
    "data": "the inputs: missing values, schema, drift, outliers",
    "model": "the outputs and their quality: confidence, accuracy, labels",
    "job": "batch jobs: failed or late runs",
    "ingest": "the collector's own intake: a stream consumer falling behind its broker",
    "version": "versions and rollouts: challengers, runtime environments",
}

#: ``apply(rule, override)``: the preset's rule once a user's override (an instance of
#: the preset's ``config`` model) is known; for presets with settings of their own.
Apply = Callable[[RuleConfig, PresetOverride], RuleConfig]


@dataclass(frozen=True)
class AlertPreset:
    """A preset's declaration: a named rule a user switches on with ``alerts: presets:``.

    ``rule`` holds the fields of a :class:`RuleConfig` other than ``name``
    (``metric``, ``op``, ``threshold``, ``for``, ``keep_firing_for``,
    ``severity``, ``team``, ``annotations: {summary: ...}``, ...); the runbook
    link is added. ``config`` is the model of the override (``presets:
    {name: {...}}``); a subclass of :class:`PresetOverride` may add settings of
    the preset's own, which ``apply`` turns into the final rule.
    """

    name: str
    description: str
    signal: str
    rule: Mapping[str, Any]
    config: type[PresetOverride] = PresetOverride
    apply: Apply | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        from driftline.errors import PluginError

        if not self.name.isidentifier():
            raise PluginError(f"alert preset name {self.name!r}: allowed: a Python identifier")
        if not self.signal.isidentifier():
            raise PluginError(
                f"alert preset {self.name!r}: signal {self.signal!r}; allowed: an identifier "
                f"such as {', '.join(SIGNAL_KINDS)}"
            )
        if not (isinstance(self.config, type) and issubclass(self.config, PresetOverride)):
            raise PluginError(
                f"alert preset {self.name!r}: config must be PresetOverride or a subclass"
            )
        if "name" in self.rule:
            raise PluginError(
                f"alert preset {self.name!r}: the rule takes its name from the preset"
            )
        self.default_rule  # noqa: B018  (validate now: a bad declaration fails on registration)

    @cached_property
    def default_rule(self) -> RuleConfig:
        """The rule as shipped (no override)."""
        from driftline._models import describe
        from driftline.errors import PluginError

        data = dict(self.rule)
        annotations = dict(data.get("annotations") or {})
        annotations.setdefault("runbook_url", RUNBOOK.format(name=self.name))
        data.update(name=self.name, annotations=annotations)
        try:
            return RuleConfig.model_validate(data)
        except ValidationError as exc:
            raise PluginError(
                f"alert preset {self.name!r}: {describe('rule', exc, RuleConfig)}"
            ) from None

    @property
    def metric(self) -> str:
        """The metric the preset's rule watches (docs/alerts.md lists the names)."""
        return self.default_rule.metric

    def to_rule(self, override: PresetOverride | None = None) -> RuleConfig:
        """The preset's rule with the fields set in ``override`` replaced."""
        base = self.default_rule
        if override is None:
            return base
        rule_fields = set(RuleConfig.model_fields)
        changes = {
            k: v
            for k, v in override.model_dump(exclude_unset=True, by_alias=False).items()
            if k in rule_fields
        }
        if "annotations" in changes:
            changes["annotations"] = {**base.annotations, **changes["annotations"]}
        if "labels" in changes:
            changes["labels"] = {**base.labels, **changes["labels"]}
        rule = base.model_copy(update=changes)
        return self.apply(rule, override) if self.apply is not None else rule


#: the built-in modules in the order presets are listed (others follow, by name)
_ORDER = (
    "p99_latency", "error_rate", "drift_top_feature", "multivariate_drift",
    "outlier_share_high", "confidence_collapse", "missing_spike", "schema_violation",
    "job_failed_or_late", "accuracy_drop", "label_coverage_low", "runtime_major_mismatch",
    "challenger_worse",
)  # fmt: skip


def _builtins() -> None:
    register_modules(PRESETS, "driftline.alerts.presets", attrs=("PRESETS", "PRESET"), order=_ORDER)


PRESETS: Registry[AlertPreset] = Registry(
    "alert preset", "driftline.alert_presets", AlertPreset, _builtins
)


def preset_rule(name: str, override: PresetOverride | None) -> RuleConfig:
    """The preset ``name`` with the fields set in ``override`` replaced."""
    return PRESETS[name].to_rule(override)


__all__ = ["PRESETS", "RUNBOOK", "SIGNAL_KINDS", "AlertPreset", "preset_rule"]
