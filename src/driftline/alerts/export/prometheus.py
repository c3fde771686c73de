"""Prometheus recording and alerting rules for the SDK's metrics, and their promtool tests.

Recording rules get ``model_version:...`` names; alerting rules cover the
metrics of :mod:`driftline.sdk.metrics` (docs/sdk.md); :func:`rule_tests`
writes a ``promtool test rules`` file that checks the alerts fire and stay
quiet as they should.
"""

from __future__ import annotations

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
    from driftline._utils.metrics import LATENCY_BUCKETS

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
    from driftline._utils.metrics import LATENCY_BUCKETS

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
    """Write ``driftline.rules.yml`` and ``driftline.rules.test.yml`` into the directory
    ``output``; when ``output`` names a ``.yml``/``.yaml`` file, the rules go to that file
    and the promtool tests beside it (``rules.yml`` -> ``rules.test.yml``)."""
    import yaml

    rules = prometheus_rules(
        latency_threshold=latency_threshold, error_ratio=error_ratio, objective=objective,
        runbook_url=runbook_url,
    )  # fmt: skip
    if output.suffix.lower() in (".yml", ".yaml") and not output.is_dir():
        output.parent.mkdir(parents=True, exist_ok=True)
        rule_path = output
        test_path = output.with_name(f"{output.stem}.test{output.suffix}")
    else:
        output.mkdir(parents=True, exist_ok=True)
        rule_path = output / "driftline.rules.yml"
        test_path = output / "driftline.rules.test.yml"
    rule_path.write_text(yaml.safe_dump(rules, sort_keys=False, width=100))
    tests = rule_tests(rules, rule_path.name, latency_threshold)
    test_path.write_text(yaml.safe_dump(tests, sort_keys=False, width=100))
    return [rule_path, test_path]
