"""``driftline export``: Prometheus rules and Grafana provisioning for the SDK's metrics.

Prometheus: recording rules (``model_version:...`` names) and alerting rules
over the metrics of :mod:`driftline.sdk.metrics` (docs/sdk.md), plus a
``promtool test rules`` file that checks the alerts fire and stay quiet as
they should. Grafana: a datasource file with a fixed uid, a dashboard
provider file and dashboards with ``id: null``, stable uids, a ``datasource``
template variable and ``$__rate_interval`` (checked by :func:`dashboard_problems`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftline.errors import ConfigError

RATE_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
#: SRE workbook pairs: (long, short, factor, severity).
BURN_PAIRS = (
    ("1h", "5m", 14.4, "critical"),
    ("6h", "30m", 6.0, "critical"),
    ("1d", "2h", 3.0, "warning"),
    ("3d", "6h", 1.0, "warning"),
)
BY = "model, version"
DATASOURCE_UID = "driftline-prometheus"
SCHEMA_VERSION = 39


def _go(x: float) -> str:
    from prometheus_client.utils import floatToGoString

    return str(floatToGoString(x))  # type: ignore[no-untyped-call]


def recording_rules(latency_threshold: float) -> list[dict[str, str]]:
    le = _go(latency_threshold)
    out = []
    for w in RATE_WINDOWS:
        total = f"sum by ({BY}) (rate(driftline_predictions_total[{w}]))"
        errors = f'sum by ({BY}) (rate(driftline_predictions_total{{outcome="error"}}[{w}]))'
        fast = (
            f'sum by ({BY}) (rate(driftline_prediction_latency_seconds_bucket{{le="{le}"}}[{w}]))'
        )
        count = f"sum by ({BY}) (rate(driftline_prediction_latency_seconds_count[{w}]))"
        out.append({"record": f"model_version:driftline_predictions:rate{w}", "expr": total})
        out.append(
            {
                "record": f"model_version:driftline_prediction_errors:ratio_rate{w}",
                "expr": f"{errors}\n/\n{total}",
            }
        )
        out.append(
            {
                "record": f"model_version:driftline_prediction_slow:ratio_rate{w}",
                "expr": f"1 - (\n{fast}\n/\n{count}\n)",
            }
        )
    out.append(
        {
            "record": "model_version:driftline_prediction_latency_seconds:p99_rate5m",
            "expr": "histogram_quantile(0.99, sum by (model, version, le) "
            "(rate(driftline_prediction_latency_seconds_bucket[5m])))",
        }
    )
    return out


def _alert(
    name: str, expr: str, for_: str, severity: str, team: str, summary: str, runbook: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, "team": team}
    rule["annotations"] = {
        "summary": summary,
        "runbook_url": f"{runbook.rstrip('/')}#{name.lower()}",
    }
    return rule


def alerting_rules(
    *, latency_threshold: float, error_ratio: float, objective: float, runbook_url: str,
    job_max_age: float = 25 * 3600,
) -> list[dict[str, Any]]:  # fmt: skip
    budget = 1.0 - objective
    rules = [
        _alert(
            "DriftlineHighP99Latency",
            "model_version:driftline_prediction_latency_seconds:p99_rate5m"
            f" > {latency_threshold:g}",
            "15m", "critical", "ops",
            "p99 latency of {{ $labels.model }} {{ $labels.version }} is over "
            f"{latency_threshold:g}s",
            runbook_url,
        ),
        _alert(
            "DriftlineHighErrorRate",
            f"model_version:driftline_prediction_errors:ratio_rate5m > {error_ratio:g}",
            "15m", "critical", "ops",
            "{{ $labels.model }} {{ $labels.version }} fails more than "
            f"{error_ratio:.2%} of its predictions",
            runbook_url,
        ),
    ]  # fmt: skip
    for slo_name, metric in (("Errors", "prediction_errors"), ("Latency", "prediction_slow")):
        for severity in ("critical", "warning"):
            pairs = [p for p in BURN_PAIRS if p[3] == severity]
            expr = "\nor\n".join(
                f"(\n  model_version:driftline_{metric}:ratio_rate{long} > ({f:g} * {budget:g})\n"
                f"and\n  model_version:driftline_{metric}:ratio_rate{short}"
                f" > ({f:g} * {budget:g})\n)"
                for long, short, f, _ in pairs
            )
            kind = "page" if severity == "critical" else "ticket"
            rules.append(
                _alert(
                    f"Driftline{slo_name}BudgetBurn{kind.title()}",
                    expr, "2m" if severity == "critical" else "15m", severity, "ops",
                    f"{{{{ $labels.model }}}} burns its {slo_name.lower()} error budget "
                    f"(SLO {objective:g}) too fast",
                    runbook_url,
                )
            )  # fmt: skip
    rules += [
        _alert(
            "DriftlineConfidenceCollapse",
            f"sum by ({BY}) (rate(driftline_prediction_score_sum[15m]))\n/\n"
            f"sum by ({BY}) (rate(driftline_prediction_score_count[15m])) < 0.6",
            "15m", "warning", "ml",
            "mean confidence of {{ $labels.model }} {{ $labels.version }} collapsed",
            runbook_url,
        ),
        _alert(
            "DriftlineMissingInputSpike",
            "sum by (model, version, feature) (rate(driftline_input_missing_total[5m]))\n"
            "/ on (model, version) group_left\n"
            f"sum by ({BY}) (rate(driftline_predictions_total[5m])) > 0.05",
            "10m", "warning", "data",
            "feature {{ $labels.feature }} of {{ $labels.model }} is missing in over 5% of "
            "requests",
            runbook_url,
        ),
        _alert(
            "DriftlineJobFailed",
            'increase(driftline_job_runs_total{status="failed"}[1h]) > 0',
            "", "warning", "data", "job {{ $labels.job }} failed in the last hour", runbook_url,
        ),
        _alert(
            "DriftlineJobLate",
            f"time() - driftline_job_last_success_timestamp_seconds > {job_max_age:g}",
            "5m", "warning", "data",
            "job {{ $labels.job }} has not succeeded for "
            f"{job_max_age / 3600:g} hours",
            runbook_url,
        ),
        _alert(
            "DriftlineSDKDroppingEvents",
            "sum by (model, reason) (increase(driftline_sdk_events_dropped_total[15m])) > 0",
            "", "warning", "ops",
            "the driftline SDK in {{ $labels.model }} drops events ({{ $labels.reason }})",
            runbook_url,
        ),
    ]  # fmt: skip
    return rules


def prometheus_rules(
    *, latency_threshold: float = 1.0, error_ratio: float = 0.005, objective: float = 0.999,
    runbook_url: str = "https://driftline.dev/docs/alerts",
) -> dict[str, Any]:  # fmt: skip
    """The rule file as a dict (groups of recording and alerting rules)."""
    from driftline.sdk.metrics import LATENCY_BUCKETS

    if not any(abs(b - latency_threshold) < 1e-12 for b in LATENCY_BUCKETS):
        raise ConfigError(
            f"--latency-threshold {latency_threshold:g} must be a latency bucket boundary; "
            f"allowed: {', '.join(f'{b:g}' for b in LATENCY_BUCKETS)}"
        )
    if not 0 < objective < 1:
        raise ConfigError(f"--slo {objective:g} is not allowed: it must lie between 0 and 1")
    if not 0 < error_ratio < 1:
        raise ConfigError(f"--error-ratio {error_ratio:g} is not allowed: between 0 and 1")
    return {
        "groups": [
            {"name": "driftline_recording", "rules": recording_rules(latency_threshold)},
            {
                "name": "driftline_alerts",
                "rules": alerting_rules(
                    latency_threshold=latency_threshold,
                    error_ratio=error_ratio,
                    objective=objective,
                    runbook_url=runbook_url,
                ),
            },
        ]
    }


def _labels(alert: dict[str, Any], **extra: str) -> dict[str, str]:
    return {**alert["labels"], **extra}


def _annotations(alert: dict[str, Any], **labels: str) -> dict[str, str]:
    from driftline.alerts.templates import render_template

    return {k: render_template(v, labels, 0.0, 0.0) for k, v in alert["annotations"].items()}


def rule_tests(rules: dict[str, Any], rule_file: str, latency_threshold: float) -> dict[str, Any]:
    """``promtool test rules`` cases: errors and slow requests fire; a healthy service is quiet."""
    alerts = {r["alert"]: r for r in rules["groups"][1]["rules"]}
    from driftline.sdk.metrics import LATENCY_BUCKETS

    mv = 'model="credit_risk",version="v1"'
    ok = f'driftline_predictions_total{{{mv},outcome="ok"}}'
    err = f'driftline_predictions_total{{{mv},outcome="error"}}'

    def buckets(slow: bool) -> list[dict[str, str]]:
        series = []
        for b in (*LATENCY_BUCKETS, float("inf")):
            fast_enough = b >= (2.5 if slow else 0.05)
            le = "+Inf" if b == float("inf") else _go(b)
            series.append(
                {
                    "series": f'driftline_prediction_latency_seconds_bucket{{{mv},le="{le}"}}',
                    "values": "0+100x120" if fast_enough else "0x120",
                }
            )
        series.append(
            {"series": f"driftline_prediction_latency_seconds_count{{{mv}}}", "values": "0+100x120"}
        )
        return series

    labels = {"model": "credit_risk", "version": "v1"}

    def expect(name: str) -> dict[str, Any]:
        return {
            "exp_labels": _labels(alerts[name], **labels),
            "exp_annotations": _annotations(alerts[name], **labels),
        }

    return {
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": ok, "values": "0+100x120"},
                    {"series": err, "values": "0+10x120"},
                    *buckets(slow=False),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "DriftlineHighErrorRate", "exp_alerts": []},
                    {
                        "eval_time": "30m",
                        "alertname": "DriftlineHighErrorRate",
                        "exp_alerts": [expect("DriftlineHighErrorRate")],
                    },
                    {
                        "eval_time": "30m",
                        "alertname": "DriftlineErrorsBudgetBurnPage",
                        "exp_alerts": [expect("DriftlineErrorsBudgetBurnPage")],
                    },
                    {"eval_time": "30m", "alertname": "DriftlineHighP99Latency", "exp_alerts": []},
                ],
                "promql_expr_test": [
                    {
                        "expr": "model_version:driftline_prediction_errors:ratio_rate5m",
                        "eval_time": "30m",
                        "exp_samples": [
                            {
                                "labels": "model_version:driftline_prediction_errors:ratio_rate5m"
                                f"{{{mv}}}",
                                "value": 10 / 110,
                            }
                        ],
                    }
                ],
            },
            {
                "interval": "1m",
                "input_series": [{"series": ok, "values": "0+100x120"}, *buckets(slow=True)],
                "alert_rule_test": [
                    {
                        "eval_time": "30m",
                        "alertname": "DriftlineHighP99Latency",
                        "exp_alerts": [expect("DriftlineHighP99Latency")],
                    },
                    {
                        "eval_time": "30m",
                        "alertname": "DriftlineLatencyBudgetBurnPage",
                        "exp_alerts": [expect("DriftlineLatencyBudgetBurnPage")],
                    },
                    {"eval_time": "30m", "alertname": "DriftlineHighErrorRate", "exp_alerts": []},
                ],
            },
        ],
    }


def write_prometheus_rules(
    output: Path, *, latency_threshold: float = 1.0, error_ratio: float = 0.005,
    objective: float = 0.999, runbook_url: str = "https://driftline.dev/docs/alerts",
) -> list[Path]:  # fmt: skip
    """Write ``driftline.rules.yml`` and ``driftline.rules.test.yml`` into ``output``."""
    import yaml

    rules = prometheus_rules(
        latency_threshold=latency_threshold, error_ratio=error_ratio, objective=objective,
        runbook_url=runbook_url,
    )  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    rule_path = output / "driftline.rules.yml"
    test_path = output / "driftline.rules.test.yml"
    rule_path.write_text(yaml.safe_dump(rules, sort_keys=False, width=100))
    tests = rule_tests(rules, rule_path.name, latency_threshold)
    test_path.write_text(yaml.safe_dump(tests, sort_keys=False, width=100))
    return [rule_path, test_path]


# -- Grafana -------------------------------------------------------------------------


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
