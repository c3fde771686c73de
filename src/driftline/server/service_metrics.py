"""Prometheus gauges of the service side of the latest window (stages, resources, checks, cost).

Rendered per scrape with the other monitoring results (server/metrics.py);
docs/collector.md lists every name. Stage names are bounded (50 a window, the
rest share ``__other__``); error fingerprints are ids, so only the number of
groups is exported.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from driftline.server._gauges import MV, gauge_maker

RESOURCE_GAUGES = {
    "resource_cpu_seconds": (
        "driftline_window_cpu_seconds",
        "CPU seconds the model's processes used in the latest window (attributed by busy time).",
    ),
    "resource_gpu_seconds": (
        "driftline_window_gpu_seconds",
        "GPU seconds held by the model's processes in the latest window.",
    ),
    "resource_rss_bytes": (
        "driftline_window_resident_memory_bytes",
        "Resident memory of the model's processes (latest sample of each, summed).",
    ),
    "resource_rss_growth_bytes_per_hour": (
        "driftline_window_memory_growth_bytes_per_hour",
        "How fast the model's resident memory grew in the latest window.",
    ),
    "resource_gpu_utilization_ratio": (
        "driftline_window_gpu_utilization_ratio",
        "GPU busy share (0..1) of the GPU time the model held in the latest window.",
    ),
    "resource_gpu_memory_bytes": (
        "driftline_window_gpu_memory_bytes",
        "Peak GPU memory in use by the model's processes in the latest window.",
    ),
    "stage_unclosed": (
        "driftline_window_stages_unclosed",
        "Stages left open (an exception, a missing end()) in the latest window, closed by the SDK.",
    ),
    "input_violation_ratio": (
        "driftline_window_input_violation_ratio",
        "Share of Monitor.check() calls that found a contract violation in the latest window.",
    ),
}


class ServiceGauges:
    def __init__(self, r: CollectorRegistry) -> None:
        g = gauge_maker(r, *MV)
        self.stage_latency = g(
            "driftline_window_stage_latency_seconds",
            "Latency of one stage of the model's predictions in the latest window "
            "(p50, p95, p99, mean).",
            "stage",
            "quantile",
        )
        self.stage_errors = g(
            "driftline_window_stage_error_ratio",
            "Share of a stage's runs that raised in the latest window.",
            "stage",
        )
        self.stage_share = g(
            "driftline_window_stage_time_share_ratio",
            "A stage's share of the prediction time in the latest window.",
            "stage",
        )
        self.resources = {metric: g(name, doc) for metric, (name, doc) in RESOURCE_GAUGES.items()}
        self.violations = g(
            "driftline_window_input_violations",
            "Contract violations found by Monitor.check() in the latest window, by kind.",
            "kind",
        )
        self.error_groups = g(
            "driftline_window_error_groups",
            "Distinct error groups (type + stack fingerprint) in the latest window.",
        )
        self.cost = g(
            "driftline_window_cost",
            "Cost of the model in the latest window (part: compute, tokens, total).",
            "part",
            "currency",
        )
        self.cost_per_1k = g(
            "driftline_window_cost_per_1k_predictions",
            "Cost per 1,000 predictions in the latest window.",
            "currency",
        )
        self.burn = g(
            "driftline_cost_burn_rate",
            "Cost per day at the latest window's rate over the daily budget (1 = on budget).",
        )
        self._groups: dict[tuple[str, str], int] = {}

    def add(self, p: dict[str, Any], v: float) -> bool:
        """Set the gauge of point ``p`` (value ``v``); False when it is not a service metric."""
        m, ver, col, metric = p["model"], p["version"], p["column"], p["metric"]
        if metric == "stage_latency_seconds":
            self.stage_latency.labels(m, ver, col, p["method"]).set(v)
        elif metric == "stage_error_ratio":
            self.stage_errors.labels(m, ver, col).set(v)
        elif metric == "stage_time_share":
            self.stage_share.labels(m, ver, col).set(v)
        elif metric in self.resources:
            self.resources[metric].labels(m, ver).set(v)
        elif metric == "input_violations":
            self.violations.labels(m, ver, col).set(v)
        elif metric == "error_group":
            n = self._groups[(m, ver)] = self._groups.get((m, ver), 0) + 1
            self.error_groups.labels(m, ver).set(n)
        elif metric in ("cost", "cost_per_1k_predictions"):
            import orjson

            details = p.get("details") or "{}"
            d = orjson.loads(details) if isinstance(details, str | bytes) else details
            currency = str((d or {}).get("currency") or "")
            if metric == "cost":
                self.cost.labels(m, ver, p["method"], currency).set(v)
            else:
                self.cost_per_1k.labels(m, ver, currency).set(v)
        elif metric == "cost_burn_rate":
            self.burn.labels(m, ver).set(v)
        else:
            return False
        return True
