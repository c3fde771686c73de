"""Grafana provisioning for the SDK's metrics: a datasource, a dashboard provider, dashboards.

Dashboards have ``id: null``, stable uids, a ``datasource`` template variable
and ``$__rate_interval``; :func:`dashboard_problems` checks them (no Grafana
server is needed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftline.errors import ConfigError

DATASOURCE_UID = "driftline-prometheus"
SCHEMA_VERSION = 39


def _panel(
    pid: int, title: str, exprs: list[tuple[str, str]], x: int, y: int, *, unit: str = "short",
    w: int = 12, h: int = 8,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def _query(label: str, metric: str, where: str) -> dict[str, Any]:
    q = f"label_values({metric}{where}, {label})"
    return {
        "name": label,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": q, "refId": f"{label}-values"},
        "definition": q,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {},
        "sort": 1,
    }


def _variables(metric: str, *, column: str = "") -> list[dict[str, Any]]:
    """datasource, model, version (and column, from the metric ``column``) variables."""
    where = '{model=~"$model", version=~"$version"}'
    return [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "refresh": 1,
        },
        _query("model", metric, ""),
        _query("version", metric, '{model=~"$model"}'),
        *([_query("column", column, where)] if column else []),
    ]


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], metric: str, *, column: str = ""
) -> dict[str, Any]:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "tags": ["driftline"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": _variables(metric, column=column)},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """The dashboards by file name: model service health, and model inputs/outputs/jobs."""
    sel = 'model=~"$model", version=~"$version"'
    r = "$__rate_interval"
    service = [
        _panel(1, "Predictions per second", [
            (f"sum by (model, version, outcome) (rate(driftline_predictions_total{{{sel}}}[{r}]))",
             "{{model}} {{version}} {{outcome}}")], 0, 0, unit="reqps"),
        _panel(2, "Error ratio", [
            (f'sum by (model, version) (rate(driftline_predictions_total{{{sel}, outcome="error"}}'
             f"[{r}]))\n/\nsum by (model, version) (rate(driftline_predictions_total{{{sel}}}"
             f"[{r}]))", "{{model}} {{version}}")], 12, 0, unit="percentunit"),
        _panel(3, "Latency p50 / p90 / p95 / p99", [
            (f"histogram_quantile({q}, sum by (model, version, le) "
             f"(rate(driftline_prediction_latency_seconds_bucket{{{sel}}}[{r}])))",
             f"p{int(q * 100)} {{{{model}}}} {{{{version}}}}") for q in (0.5, 0.9, 0.95, 0.99)],
            0, 8, unit="s"),
        _panel(4, "In flight", [
            (f"sum by (model, version) (driftline_predictions_in_flight{{{sel}}})",
             "{{model}} {{version}}")], 12, 8),
        _panel(5, "Errors by type", [
            (f"sum by (model, error_type) (rate(driftline_prediction_errors_total{{{sel}}}[{r}]))",
             "{{model}} {{error_type}}")], 0, 16, unit="reqps"),
        _panel(6, "SDK events dropped / sent", [
            (f'sum by (model, reason) (rate(driftline_sdk_events_dropped_total{{model=~"$model"}}'
             f"[{r}]))", "dropped {{reason}}"),
            (f'sum by (model, kind) (rate(driftline_sdk_events_sent_total{{model=~"$model"}}'
             f"[{r}]))", "sent {{kind}}")], 12, 16, unit="ops"),
    ]  # fmt: skip
    model = [
        _panel(1, "Mean confidence", [
            (f"sum by (model, version) (rate(driftline_prediction_score_sum{{{sel}}}[{r}]))\n/\n"
             f"sum by (model, version) (rate(driftline_prediction_score_count{{{sel}}}[{r}]))",
             "{{model}} {{version}}")], 0, 0, unit="percentunit"),
        _panel(2, "Predicted classes", [
            (f"sum by (model, class) (rate(driftline_predicted_class_total{{{sel}}}[{r}]))",
             "{{model}} {{class}}")], 12, 0, unit="ops"),
        _panel(3, "Missing inputs per request", [
            (f"sum by (model, feature) (rate(driftline_input_missing_total{{{sel}}}[{r}]))\n"
             f"/ on (model) group_left\nsum by (model) (rate(driftline_predictions_total{{{sel}}}"
             f"[{r}]))", "{{model}} {{feature}}")], 0, 8, unit="percentunit"),
        _panel(4, "Job runs by status", [
            (f"sum by (job, status) (increase(driftline_job_runs_total[{r}]))",
             "{{job}} {{status}}")], 12, 8),
        _panel(5, "Hours since last successful job run", [
            ("(time() - driftline_job_last_success_timestamp_seconds) / 3600", "{{job}}")],
            0, 16, unit="h", w=24),
    ]  # fmt: skip
    return {
        "driftline-ml.json": _dashboard(
            "driftline-ml",
            "driftline / drift, data quality, performance",
            _ml_panels(),
            "driftline_window_events",
            column="driftline_drift_score",
        ),
        "driftline-versions.json": _dashboard(
            "driftline-versions",
            "driftline / versions side by side",
            _version_panels(),
            "driftline_window_events",
        ),
        "driftline-service.json": _dashboard(
            "driftline-service", "driftline / model service", service, "driftline_predictions_total"
        ),
        "driftline-model.json": _dashboard(
            "driftline-model",
            "driftline / inputs, outputs, jobs",
            model,
            "driftline_predictions_total",
        ),
    }


#: Every collector replica exports the same monitoring gauges (read from the shared store):
#: ``max by`` keeps one series per model version whatever the number of replicas scraped.
_SEL = 'model=~"$model", version=~"$version"'


def _ml_panels() -> list[dict[str, Any]]:
    """What the collector computes per window (docs/collector.md, "Prometheus metrics")."""
    sel, col = _SEL, f'{_SEL}, column=~"$column"'
    mv = "{{model}} {{version}}"
    return [
        _panel(1, "Drift score per feature (each its method's scale)", [
            (f"max by (model, version, column, method) (driftline_drift_score{{{col}}})",
             f"{mv} {{{{column}}}} ({{{{method}}}})")], 0, 0, w=24, h=9),
        _panel(2, "Drifted features / dataset drift", [
            (f"sum by (model, version) (driftline_drift_detected{{{sel}}})",
             f"{mv} drifted features"),
            (f"max by (model, version) (driftline_dataset_drift_detected{{{sel}}})",
             f"{mv} dataset drift (1 = yes)")], 0, 9),
        _panel(3, "Multivariate drift", [
            (f"max by (model, version, method) (driftline_multivariate_score{{{sel}}})",
             f"{mv} {{{{method}}}}")], 12, 9),
        _panel(4, "Failed data-quality checks", [
            (f"sum by (model, version, check) (driftline_quality_check_failed{{{sel}}})",
             f"{mv} {{{{check}}}}")], 0, 17),
        _panel(5, "Missing share per feature", [
            (f'max by (model, version, column) (driftline_quality_value{{{col}, '
             f'check="missing_ratio"}})', f"{mv} {{{{column}}}}")], 12, 17, unit="percentunit"),
        _panel(6, "Realized performance (latest window with labels)", [
            (f"max by (model, version, metric) (driftline_performance{{{sel}}})",
             f"{mv} {{{{metric}}}}")], 0, 25),
        _panel(7, "Estimated performance (without labels)", [
            (f"max by (model, version, metric, method) (driftline_estimated_performance{{{sel}}})",
             f"{mv} {{{{metric}}}} ({{{{method}}}})")], 12, 25),
        _panel(8, "Label coverage", [
            (f"max by (model, version) (driftline_label_coverage_ratio{{{sel}}})", mv)],
            0, 33, unit="percentunit"),
        _panel(9, "Window latency", [
            (f"max by (model, version, quantile) (driftline_window_latency_seconds{{{sel}}})",
             f"{mv} {{{{quantile}}}}")], 12, 33, unit="s"),
        _panel(10, "Events and error ratio per window", [
            (f"max by (model, version) (driftline_window_events{{{sel}}})", f"{mv} events"),
            (f"max by (model, version) (driftline_window_error_ratio{{{sel}}})",
             f"{mv} error ratio")], 0, 41),
        _panel(11, "Evaluation lag (seconds since the latest window ended)", [
            (f"max by (model, version) (driftline_window_lag_seconds{{{sel}}})", mv)],
            12, 41, unit="s"),
        _panel(12, "Alert outcomes per rule (rated by people)", [
            ("max by (rule, outcome) (driftline_alert_rule_outcomes)",
             "{{rule}} {{outcome}}")], 0, 49),
        _panel(13, "Rules flagged for review (precision under the threshold)", [
            ("max by (rule) (driftline_alert_rule_needs_review)", "{{rule}}")], 12, 49),
        *_outcome_panels(57),
        *_job_panels(81),
    ]  # fmt: skip


def _outcome_panels(y: int) -> list[dict[str, Any]]:
    """Feedback, KPIs and worst slices: each from the latest window that has them
    (docs/collector.md, "Prometheus metrics"), with how old that window is."""
    sel, mv = _SEL, "{{model}} {{version}}"
    return [
        _panel(14, "Feedback per served prediction, by kind", [
            (f"max by (model, version, kind) (driftline_feedback_rate{{{sel}}})",
             f"{mv} {{{{kind}}}}")], 0, y),
        _panel(15, "Feedback values: share of each value, mean of ratings", [
            (f"max by (model, version, kind, value) (driftline_feedback_share{{{sel}}})\nor\n"
             f'label_replace(max by (model, version, kind) (driftline_feedback_mean{{{sel}}}), '
             '"value", "mean", "", "")', f"{mv} {{{{kind}}}}={{{{value}}}}")],
            12, y, unit="percentunit"),
        _panel(16, "KPIs: mean per window", [
            (f"max by (model, version, kpi) (driftline_kpi{{{sel}}})", f"{mv} {{{{kpi}}}}")],
            0, y + 8),
        _panel(17, "Age of the latest window with feedback / KPI values", [
            (f"time() - max by (model, version, kind) "
             f"(driftline_feedback_window_start_timestamp_seconds{{{sel}}})",
             f"{mv} feedback {{{{kind}}}}"),
            (f"time() - max by (model, version, kpi) "
             f"(driftline_kpi_window_start_timestamp_seconds{{{sel}}})",
             f"{mv} KPI {{{{kpi}}}}")], 12, y + 8, unit="s"),
        _panel(18, "Slices significantly worse than the rest (latest window with labels)", [
            (f"max by (model, version) (driftline_slices_significant{{{sel}}})", mv)],
            0, y + 16, w=24),
    ]  # fmt: skip


def _job_panels(y: int) -> list[dict[str, Any]]:
    """Pipeline health from the collector's stored job runs (docs/collector.md)."""
    return [
        _panel(19, "Job status (0 succeeded, 1 failed, 2 late)", [
            ("max by (job) (driftline_job_status)", "{{job}}")], 0, y),
        _panel(20, "Dead-man: time since success / expected interval (above 1: missed)", [
            ("max by (job) (driftline_job_since_success_intervals)", "{{job}}")], 12, y),
        _panel(21, "Numbers the jobs' latest runs reported", [
            ("max by (job, metric) (driftline_job_metric)", "{{job}} {{metric}}")], 0, y + 8),
        _panel(22, "Age of the newest input a job read", [
            ("max by (job) (driftline_job_freshness_seconds)", "{{job}}")], 12, y + 8, unit="s"),
    ]  # fmt: skip


def _version_panels() -> list[dict[str, Any]]:
    """The versions of a model next to each other, and challenger against champion."""
    sel = _SEL
    v = "{{model}} {{version}}"
    return [
        _panel(1, "Share of traffic per version", [
            (f"max by (model, version) (driftline_window_events{{{sel}}})\n"
             "/ on (model) group_left\n"
             'sum by (model) (max by (model, version) (driftline_window_events{model=~"$model"}))',
             v)], 0, 0, unit="percentunit"),
        _panel(2, "Estimated accuracy per version", [
            (f'max by (model, version) (driftline_estimated_performance{{{sel}, '
             f'metric="accuracy"}})', v)], 12, 0, unit="percentunit"),
        _panel(3, "Realized accuracy per version", [
            (f'max by (model, version) (driftline_performance{{{sel}, metric="accuracy"}})', v)],
            0, 8, unit="percentunit"),
        _panel(4, "Drifted features per version", [
            (f"sum by (model, version) (driftline_drift_detected{{{sel}}})", v)], 12, 8),
        _panel(5, "p95 latency per version", [
            (f'max by (model, version) (driftline_window_latency_seconds{{{sel}, '
             f'quantile="p95"}})', v)], 0, 16, unit="s"),
        _panel(6, "Error ratio per version", [
            (f"max by (model, version) (driftline_window_error_ratio{{{sel}}})", v)],
            12, 16, unit="percentunit"),
        _panel(7, "Challenger minus champion", [
            (f"max by (model, version, champion, metric) (driftline_version_difference{{{sel}}})",
             "{{model}} {{version}} - {{champion}} {{metric}}")], 0, 24),
        _panel(8, "Challenger verdict (-1 worse, 0 undecided, 1 better)", [
            (f"max by (model, version, champion) (driftline_version_verdict{{{sel}}})",
             "{{model}} {{version}} vs {{champion}}")], 12, 24),
    ]  # fmt: skip


def dashboard_problems(d: dict[str, Any]) -> list[str]:
    """What Grafana provisioning would reject or mishandle in dashboard ``d`` (empty if none)."""
    import re

    problems = []
    if d.get("id", "missing") is not None:
        problems.append("id must be null in provisioned dashboards")
    uid = d.get("uid")
    if not isinstance(uid, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid):
        problems.append(f"uid {uid!r} must be 1-40 letters, digits, - or _")
    if not 36 <= int(d.get("schemaVersion", 0)) <= 41:
        problems.append(f"schemaVersion {d.get('schemaVersion')} is not about 39")
    names = [v.get("name") for v in d.get("templating", {}).get("list", [])]
    if "datasource" not in names:
        problems.append("no datasource template variable")
    ids = [p.get("id") for p in d.get("panels", [])]
    if len(ids) != len(set(ids)) or any(not isinstance(i, int) for i in ids):
        problems.append(f"panel ids must be unique integers: {ids}")
    text = json.dumps(d)
    if "${DS_" in text or "__inputs" in d:
        problems.append("__inputs / ${DS_...} placeholders do not work in provisioned files")
    for p in d.get("panels", []):
        g = p.get("gridPos", {})
        if g.get("x", 0) + g.get("w", 0) > 24 or g.get("w", 0) < 1 or g.get("h", 0) < 1:
            problems.append(f"panel {p.get('id')}: gridPos {g} is outside the 24-column grid")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            for window in re.findall(r"(?:rate|increase)\([^\[]*\[([^\]]+)\]", expr):
                if window != "$__rate_interval":
                    problems.append(f"panel {p.get('id')}: use $__rate_interval, not [{window}]")
            if t.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(
                    f"panel {p.get('id')}: target must use the ${{datasource}} variable"
                )
    return problems


def write_grafana(output: Path, *, prometheus_url: str = "http://127.0.0.1:9090") -> list[Path]:
    """Write provisioning/datasources, provisioning/dashboards and dashboards/*.json."""
    import yaml

    ds_dir = output / "provisioning" / "datasources"
    prov_dir = output / "provisioning" / "dashboards"
    dash_dir = output / "dashboards"
    for d in (ds_dir, prov_dir, dash_dir):
        d.mkdir(parents=True, exist_ok=True)
    datasource = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "driftline Prometheus",
                "type": "prometheus",
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": False,
                "jsonData": {"timeInterval": "15s"},
            }
        ],
    }
    provider = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "driftline",
                "orgId": 1,
                "folder": "driftline",
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": True,
                "options": {"path": "/var/lib/grafana/dashboards/driftline"},
            }
        ],
    }
    written = [ds_dir / "driftline.yaml", prov_dir / "driftline.yaml"]
    written[0].write_text(yaml.safe_dump(datasource, sort_keys=False))
    written[1].write_text(yaml.safe_dump(provider, sort_keys=False))
    for name, board in dashboards().items():
        problems = dashboard_problems(board)
        if problems:  # pragma: no cover - a bug in the dashboards above
            raise ConfigError(f"dashboard {name}: " + "; ".join(problems))
        path = dash_dir / name
        path.write_text(json.dumps(board, indent=2) + "\n")
        written.append(path)
    return written
