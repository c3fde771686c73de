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


def _variables(metric: str) -> list[dict[str, Any]]:
    def query(label: str, where: str) -> dict[str, Any]:
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

    return [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "refresh": 1,
        },
        query("model", ""),
        query("version", '{model=~"$model"}'),
    ]


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]], metric: str) -> dict[str, Any]:
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
        "templating": {"list": _variables(metric)},
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
        _panel(3, "Latency p50 / p99", [
            (f"histogram_quantile({q}, sum by (model, version, le) "
             f"(rate(driftline_prediction_latency_seconds_bucket{{{sel}}}[{r}])))",
             f"p{int(q * 100)} {{{{model}}}} {{{{version}}}}") for q in (0.5, 0.99)],
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
