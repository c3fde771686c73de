"""``driftline alerts test``: replay generated traffic with an injected fault against the rules.

The traffic is a small credit-scoring service: four features, a logistic
model, latencies, errors, late labels and an hourly feature pipeline. Every
window's metric points come from driftline's own statistics on that window's
data: :func:`driftline.compare` against a reference profile for drift,
missing values and schema, a KLL quantile sketch for the p99 latency, and
:class:`~driftline.stats.performance.ClassificationMetrics` for accuracy. The
fault is active in windows ``fault[0] <= i < fault[1]``; the windows after it
show whether the alerts resolve.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline._utils.clock import ManualClock
from driftline.alerts.config import AlertsConfig
from driftline.alerts.engine import AlertEngine, Transition
from driftline.alerts.points import ALL_SEGMENTS, MetricPoint
from driftline.alerts.records import Notification, NotifiedAlert
from driftline.alerts.store import AlertStore, MemoryAlertStore
from driftline.errors import ConfigError

#: Fault name -> what it injects.
SCENARIOS: dict[str, str] = {
    "drift": "the top feature 'age' shifts by 1.2 standard deviations",
    "latency": "prediction latency grows tenfold (p99 about 1.3 s)",
    "errors": "3% of predictions fail instead of 0.1%",
    "quality": "the label relationship changes (concept drift): accuracy falls",
    "labels": "labels stop arriving (coverage falls from 80% to 2%)",
    "job": "the hourly feature pipeline fails, then runs late",
    "missing": "30% of 'income' values are missing",
    "schema": "column 'tenure' disappears from the input",
}
FEATURES = ("age", "income", "tenure", "region")
JOB = "feature_pipeline"


@dataclass
class Scenario:
    """What to replay: the fault, how many windows, when the fault is on."""

    name: str
    model: str = "credit_risk"
    version: str = "v1"
    windows: int = 20
    fault: tuple[int, int] = (6, 14)
    window_seconds: float = 300.0
    rows: int = 400
    seed: int = 7
    start: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ConfigError(
                f"--scenario: {self.name!r} is not allowed; allowed: {', '.join(SCENARIOS)}"
            )
        if not 0 <= self.fault[0] < self.fault[1] <= self.windows:
            raise ConfigError(f"fault windows {self.fault} must lie within 0..{self.windows}")

    def faulty(self, i: int) -> bool:
        return self.fault[0] <= i < self.fault[1]


class _Traffic:
    """Generates one window of requests, with or without the fault."""

    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.rng = np.random.default_rng(s.seed)

    def features(self, n: int, fault: bool) -> dict[str, np.ndarray]:
        rng = self.rng
        data: dict[str, np.ndarray] = {
            "age": rng.normal(40.0, 10.0, n),
            "income": rng.lognormal(10.0, 0.5, n),
            "tenure": rng.exponential(5.0, n),
            "region": rng.choice(np.array(["eu", "us", "apac"]), n, p=[0.5, 0.3, 0.2]),
        }
        if fault and self.s.name == "drift":
            data["age"] = data["age"] + 12.0
        if fault and self.s.name == "missing":
            income = data["income"].copy()
            income[rng.random(n) < 0.3] = np.nan
            data["income"] = income
        return data

    @staticmethod
    def logit(data: dict[str, np.ndarray], sign: float = 1.0) -> np.ndarray:
        region = np.where(data["region"] == "eu", 0.4, np.where(data["region"] == "us", -0.2, 0.0))
        income = np.nan_to_num(np.log(data["income"]) - 10.0)
        age = 0.12 * (data["age"] - 40.0)
        out: np.ndarray = sign * (age + 1.6 * income) - 0.15 * (data["tenure"] - 5.0) + region
        return out


def _report_points(
    report: Any, s: Scenario, ws: float, we: float, reference_columns: Sequence[str]
) -> list[MetricPoint]:
    def point(metric: str, column: str, value: float, **labels: str) -> MetricPoint:
        return MetricPoint(s.model, s.version, ALL_SEGMENTS, metric, column, ws, we, value, labels)

    d = report.to_dict()
    out = []
    for name, col in d["columns"].items():
        drift = col.get("drift") or {}
        if drift.get("statistic") is not None:
            out.append(
                point("drift_score", name, float(drift["statistic"]), method=drift["method"])
            )
            out.append(point("drift_detected", name, 1.0 if drift.get("drifted") else 0.0))
        for check in col.get("quality", []):
            if check["check"] == "missing_ratio":
                out.append(point("missing_ratio", name, float(check["value"])))
    violated: set[str] = set()
    for check in d["quality"]:
        cols = check.get("details", {}).get("columns")
        if check["check"] in ("missing_columns", "unexpected_columns", "type_changes") and cols:
            violated.update(cols)
    for name in sorted(set(reference_columns) | violated):
        out.append(point("schema_violations", name, 1.0 if name in violated else 0.0))
    return out


def generate_points(s: Scenario) -> list[list[MetricPoint]]:
    """One list of metric points per window, computed by driftline's statistics."""
    import driftline
    from driftline._utils.metrics import LATENCY_BUCKETS
    from driftline.stats.accumulators import QuantileSketch
    from driftline.stats.performance import ClassificationMetrics

    traffic = _Traffic(s)
    rng = traffic.rng
    reference = driftline.profile(traffic.features(3000, False), seed=s.seed)
    out = []
    for i in range(s.windows):
        fault = s.faulty(i)
        ws = s.start + i * s.window_seconds
        we = ws + s.window_seconds

        def point(
            metric: str, value: float, column: str = "", ws: float = ws, we: float = we,
            **labels: str,
        ) -> MetricPoint:  # fmt: skip
            return MetricPoint(
                s.model, s.version, ALL_SEGMENTS, metric, column, ws, we, value, labels
            )

        data = traffic.features(s.rows, fault)
        proba = 1.0 / (1.0 + np.exp(-traffic.logit(data)))
        truth_logit = traffic.logit(data, -1.0 if fault and s.name == "quality" else 1.0)
        y = (rng.random(s.rows) < 1.0 / (1.0 + np.exp(-truth_logit))).astype(int)
        pred = (proba >= 0.5).astype(int)
        current = dict(data)
        if fault and s.name == "schema":
            del current["tenure"]
        report = driftline.compare(reference, current, seed=s.seed + i + 1)
        points = _report_points(report, s, ws, we, FEATURES)
        # predictions: confidence, accuracy on the labelled share
        points.append(point("confidence_mean", float(np.mean(np.maximum(proba, 1 - proba)))))
        coverage = 0.02 if fault and s.name == "labels" else 0.8
        labelled = rng.random(s.rows) < coverage
        points.append(point("label_coverage", float(labelled.mean())))
        if labelled.sum() >= 2:
            acc = ClassificationMetrics(classes=[0, 1]).update(y[labelled], pred[labelled])
            points.append(point("accuracy", float(acc.results()["accuracy"])))
        # service: latency, errors
        latency = rng.lognormal(math.log(0.04), 0.5, s.rows)
        if fault and s.name == "latency":
            latency = latency * 10.0
        sketch = QuantileSketch().update(latency)
        points.append(point("latency_p99_seconds", float(sketch.quantiles(np.array([0.99]))[0])))
        for le in LATENCY_BUCKETS:
            points.append(point("latency_bucket", float((latency <= le).sum()), le=f"{le:g}"))
        errors = int((rng.random(s.rows) < (0.03 if fault and s.name == "errors" else 0.001)).sum())
        points.append(point("request_count", float(s.rows)))
        points.append(point("error_count", float(errors)))
        points.append(point("error_rate", errors / s.rows))
        # the hourly pipeline job, checked every window
        status = 0.0
        if fault and s.name == "job":
            status = 1.0 if i < (s.fault[0] + s.fault[1]) / 2 else 2.0
        points.append(point("job_status", status, job=JOB))
        out.append(points)
    return out


@dataclass
class RecordingSink:
    """The engine's sink when nothing is sent: keeps notifications and action calls."""

    notifications: list[Notification] = field(default_factory=list)
    actions: list[NotifiedAlert] = field(default_factory=list)
    acknowledged: list[Notification] = field(default_factory=list)

    def submit(self, notification: Notification) -> None:
        self.notifications.append(notification)

    def submit_action(self, alert: NotifiedAlert) -> None:
        self.actions.append(alert)

    def submit_acknowledge(self, notification: Notification, by: str) -> None:
        self.acknowledged.append(notification)

    def retry_due(self) -> None:
        return None


@dataclass
class Replay:
    """What happened: state changes and notifications, with the scenario's timeline."""

    scenario: Scenario
    transitions: list[Transition]
    notifications: list[Notification]
    engine: AlertEngine

    def offset(self, t: float) -> str:
        minutes = (t - self.scenario.start) / 60
        return f"+{minutes:.0f}m" if minutes.is_integer() else f"+{minutes:.1f}m"

    def fired(self) -> list[str]:
        """Names of the rules that reached firing, in order."""
        return list(dict.fromkeys(t.rule for t in self.transitions if t.to_state.value == "firing"))


def replay(
    s: Scenario,
    config: AlertsConfig,
    *,
    store: AlertStore | None = None,
    sink_factory: Callable[[ManualClock, AlertStore], Any] | None = None,
    tick_seconds: float = 30.0,
) -> Replay:
    """Feed the scenario's windows to an engine on a manual clock; tick every ``tick_seconds``."""
    clock = ManualClock(s.start + s.window_seconds)  # the first window has just closed
    store = store if store is not None else MemoryAlertStore()
    sink = sink_factory(clock, store) if sink_factory is not None else RecordingSink()
    engine = AlertEngine(config, store=store, clock=clock, sink=sink)
    transitions: list[Transition] = []
    notifications: list[Notification] = []
    steps = max(1, round(s.window_seconds / tick_seconds))
    for points in generate_points(s):
        transitions += engine.ingest(points)
        for _ in range(steps):  # ticks until the next window closes
            notifications += engine.tick()
            clock.advance(s.window_seconds / steps)
    for _ in range(int(600 // tick_seconds)):  # let the last groups flush
        clock.advance(tick_seconds)
        notifications += engine.tick()
    return Replay(s, transitions, notifications, engine)
