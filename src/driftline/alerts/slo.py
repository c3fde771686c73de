"""Service level objectives with multi-window, multi-burn-rate alerts (SRE workbook, ch. 5).

An SLO turns metric points into good/bad event counts per window:

- ``errors``: bad = ``error_count``, total = ``request_count``;
- ``latency``: bad = ``request_count`` - ``latency_bucket{le=threshold_seconds}``
  (the share of requests slower than a histogram bucket bound);
- ``quality``: each window with a value of ``metric`` (default ``accuracy``) is
  one event, bad when it is more than ``tolerance`` (relative) below the mean
  of the previous ``baseline`` (default 30 days) of windows (``direction:
  above``: above it). With ``every`` (e.g. ``1d``) the event is the mean over
  that period (windows weighted by their ``n``), judged when its last window
  arrives against the previous periods' means: "the daily mean of a KPI within
  5 % of its 30-day baseline".

Error budget = 1 - objective; burn rate over a window = error ratio / budget.
A burn-rate pair fires when both its long and its short window burn faster
than its factor; pairs of one severity are ORed. The tracker emits, per
window, one derived point per severity, ``slo:<name>:<severity>``, whose
value is the largest ``min(long, short) / factor`` of that severity's pairs,
and :func:`slo_rules` makes the rules that fire when it reaches 1.

No traffic: a window with no requests is 0/0 and adds nothing to either count.
A burn window with no requests at all has burn rate 0 (no evidence that the
budget is being spent), so an SLO never fires on silence; pair it with a
``request_count`` rule if no traffic means an outage for you. The error budget
of a period without traffic stays whole.
"""

from __future__ import annotations

import math
import types
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftline._utils.durations import format_duration, parse_duration
from driftline.alerts.points import MetricPoint
from driftline.alerts.rules import Rule, SLOConfig

_Key = tuple[str, str, str, float, float]  # model, version, segment, window start, end


def burn_rate(bad: float, total: float, objective: float) -> float:
    """Error ratio / error budget; 0 when there was no traffic (see the module docstring)."""
    if total <= 0:
        return 0.0
    return (bad / total) / (1.0 - objective)


def budget_remaining(bad: float, total: float, objective: float) -> float:
    """Share of the period's error budget left: 1 untouched, 0 spent, negative overspent."""
    if total <= 0:
        return 1.0
    return 1.0 - bad / ((1.0 - objective) * total)


def slo_rules(cfg: SLOConfig, owners: Mapping[str, str]) -> list[Rule]:
    """One rule per severity of the SLO's burn-rate pairs; they alert as ``slo_<name>``."""
    out = []
    for severity in dict.fromkeys(b.severity for b in cfg.burn_rates):
        pairs = [b for b in cfg.burn_rates if b.severity == severity]
        what = " or ".join(
            f"{format_duration(parse_duration(b.long))}/{format_duration(parse_duration(b.short))}"
            f" > {b.factor:g}x"
            for b in pairs
        )
        labels = {"severity": severity, "team": cfg.team, "slo": cfg.name, **cfg.labels}
        if cfg.owner is not None:
            labels["owner"] = cfg.owner
        elif cfg.model and len(cfg.model) == 1 and cfg.model[0] in owners:
            labels["owner"] = owners[cfg.model[0]]
        annotations = {
            "summary": f"SLO {cfg.name} ({cfg.kind}, objective {cfg.objective:g}) burns its "
            f"error budget {{{{ $value }}}}x faster than {what}",
            **cfg.annotations,
        }
        out.append(
            Rule(
                name=f"slo_{cfg.name}_{severity}",
                alertname=f"slo_{cfg.name}",
                metric=f"slo:{cfg.name}:{severity}",
                op=">=",
                threshold=1.0,
                severity=severity,
                labels=types.MappingProxyType(labels),
                annotations=types.MappingProxyType(annotations),
                for_windows=1,
                keep_windows=0,
                source=f"slo:{cfg.name}",
            )
        )
    return out


@dataclass
class _Series:
    windows: deque[tuple[float, float, float, float]]  # start, end, bad, total
    baseline: deque[tuple[float, float]]  # end, value (quality SLOs)
    period: tuple[float, float, float] | None = None  # start, sum of value*weight, weight


class SLOTracker:
    """Turns metric points into good/bad counts and burn-rate points, per SLO and series."""

    def __init__(self, slos: Sequence[SLOConfig]) -> None:
        self.slos = list(slos)
        self._pending: dict[tuple[str, _Key], dict[str, float]] = {}
        self._series: dict[tuple[str, str, str, str], _Series] = {}
        self._status: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def _wanted(self, slo: SLOConfig, p: MetricPoint) -> str | None:
        """Which input of ``slo`` point ``p`` is, if any."""
        from fnmatch import fnmatchcase

        for patterns, value in (
            (slo.model, p.model),
            (slo.version, p.version),
            (slo.segment, p.segment),
        ):
            if patterns is not None and not any(fnmatchcase(value, x) for x in patterns):
                return None
        if slo.kind == "quality":
            return "value" if p.metric == slo.metric and not p.column else None
        if p.metric == "request_count" and not p.column:
            return "total"
        if slo.kind == "errors" and p.metric == "error_count" and not p.column:
            return "bad"
        if slo.kind == "latency" and p.metric == "latency_bucket":
            le = p.labels.get("le")
            try:
                if le is not None and abs(float(le) - float(slo.threshold_seconds or 0)) < 1e-12:
                    return "good"
            except ValueError:
                return None
        return None

    def observe(self, p: MetricPoint) -> list[MetricPoint]:
        """Feed one point; return the burn-rate points of the windows it completes."""
        out = []
        key: _Key = (p.model, p.version, p.segment, p.window_start, p.window_end)
        for slo in self.slos:
            role = self._wanted(slo, p)
            if role is None or math.isnan(p.value):
                continue
            parts = self._pending.setdefault((slo.name, key), {})
            parts[role] = p.value
            counts = self._counts(slo, p, parts)
            if counts is None:
                continue
            del self._pending[(slo.name, key)]
            out += self._window(slo, p, *counts)
        return out

    def _counts(
        self, slo: SLOConfig, p: MetricPoint, parts: Mapping[str, float]
    ) -> tuple[float, float] | None:
        if slo.kind == "errors" and {"bad", "total"} <= parts.keys():
            return min(parts["bad"], parts["total"]), parts["total"]
        if slo.kind == "latency" and {"good", "total"} <= parts.keys():
            return max(parts["total"] - parts["good"], 0.0), parts["total"]
        if slo.kind == "quality" and "value" in parts:
            series = self._get(slo, p)
            value = parts["value"]
            if slo.every is not None:
                closed = self._period(slo, series, p, value)
                if closed is None:
                    return 0.0, 0.0  # the period is still open: no event yet
                value = closed
            horizon = p.window_end - parse_duration(slo.baseline)
            base = [v for end, v in series.baseline if end > horizon]
            series.baseline.append((p.window_end, value))
            if not base:
                return 0.0, 0.0  # the first window (period) sets the baseline: no event yet
            mean = math.fsum(base) / len(base)
            if slo.direction == "above":
                return (1.0 if value > mean * (1 + slo.tolerance) else 0.0), 1.0
            return (1.0 if value < mean * (1 - slo.tolerance) else 0.0), 1.0
        return None

    @staticmethod
    def _period(slo: SLOConfig, series: _Series, p: MetricPoint, value: float) -> float | None:
        """Fold ``p`` into its ``every`` period; the period's weighted mean when ``p`` ends it."""
        every = parse_duration(slo.every or 0)
        start = math.floor(p.window_start / every) * every
        weight = float(p.n) if p.n else 1.0
        if series.period is None or series.period[0] != start:
            series.period = (start, 0.0, 0.0)
        s, total, w = series.period
        series.period = (s, total + value * weight, w + weight)
        if p.window_end < start + every - 1e-9:
            return None
        _, total, w = series.period
        series.period = None
        return total / w if w else None

    def _get(self, slo: SLOConfig, p: MetricPoint) -> _Series:
        k = (slo.name, p.model, p.version, p.segment)
        if k not in self._series:
            self._series[k] = _Series(deque(), deque())
        return self._series[k]

    def _window(
        self, slo: SLOConfig, p: MetricPoint, bad: float, total: float
    ) -> list[MetricPoint]:
        series = self._get(slo, p)
        series.windows.append((p.window_start, p.window_end, bad, total))
        period = parse_duration(slo.period)
        keep = max([period, *(parse_duration(b.long) for b in slo.burn_rates)])
        while series.windows and series.windows[0][1] <= p.window_end - keep:
            series.windows.popleft()
        while series.baseline and series.baseline[0][0] <= p.window_end - parse_duration(
            slo.baseline
        ):
            series.baseline.popleft()
        burns: dict[str, float] = {}
        for length in sorted(
            {parse_duration(x) for b in slo.burn_rates for x in (b.long, b.short)}
        ):
            b, t = _sum(series.windows, p.window_end - length)
            burns[format_duration(length)] = burn_rate(b, t, slo.objective)
        b, t = _sum(series.windows, p.window_end - period)
        self._status[(slo.name, p.model, p.version, p.segment)] = {
            "name": slo.name,
            "kind": slo.kind,
            "objective": slo.objective,
            "period": format_duration(period),
            "error_ratio": b / t if t else None,
            "budget_remaining": budget_remaining(b, t, slo.objective),
            "burn_rates": burns,
        }
        out = []
        for severity in dict.fromkeys(x.severity for x in slo.burn_rates):
            score = 0.0
            for pair in slo.burn_rates:
                if pair.severity != severity:
                    continue
                long_b = burns[format_duration(parse_duration(pair.long))]
                short_b = burns[format_duration(parse_duration(pair.short))]
                score = max(score, min(long_b, short_b) / pair.factor)
            out.append(
                MetricPoint(
                    p.model, p.version, p.segment, f"slo:{slo.name}:{severity}", "",
                    p.window_start, p.window_end, score,
                )
            )  # fmt: skip
        return out

    def status_of(self, name: str, p: MetricPoint) -> dict[str, Any] | None:
        """Burn rates and error budget of SLO ``name`` for ``p``'s series, after its last window."""
        return self._status.get((name, p.model, p.version, p.segment))

    def statuses(self) -> list[dict[str, Any]]:
        return [
            {"model": k[1], "version": k[2], "segment": k[3], **v} for k, v in self._status.items()
        ]


def _sum(windows: deque[tuple[float, float, float, float]], after: float) -> tuple[float, float]:
    """Bad and total events of the windows ending after ``after``."""
    bad = total = 0.0
    for _start, end, b, t in windows:
        if end > after:
            bad += b
            total += t
    return bad, total
