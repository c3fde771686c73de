"""Prometheus recording and alerting rules for the SDK's metrics, and their promtool tests.

Recording rules get ``model_version:...`` names; alerting rules cover the
metrics of :mod:`driftline.sdk.metrics` (docs/sdk.md); :func:`rule_tests`
writes a ``promtool test rules`` file that checks the alerts fire and stay
quiet as they should.
"""

from __future__ import annotations

import math
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
#: Expected intervals without a successful run before the dead-man rule fires (the
#: ``job_dead_man`` preset's threshold).
DEAD_MAN = 1.5


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


def ml_rules(
    *, window: float, drift_windows: int, accuracy_drop: float, runbook_url: str
) -> list[dict[str, Any]]:  # fmt: skip
    """Alerting rules over the collector's monitoring gauges (docs/collector.md).

    The gauges hold the latest evaluated window, so "held for N windows" is ``for``
    = N x the base window. Every replica exports the same values: ``max by``.
    """
    held = _duration(drift_windows * window)
    baseline = "[7d] offset 1h"

    def drop(family: str) -> str:
        sel = f'{family}{{metric="accuracy"}}'
        by = "model, version" + (", method" if "estimated" in family else "")
        return (
            f"max by ({by}) (avg_over_time({sel}{baseline}))\n-\n"
            f"max by ({by}) ({sel}) > {accuracy_drop:g}"
        )

    return [
        _alert(
            "DriftlineFeatureDrift",
            "max by (model, version, column) (driftline_drift_detected) == 1",
            held, "warning", "ml",
            "{{ $labels.column }} of {{ $labels.model }} {{ $labels.version }} drifted in "
            f"{drift_windows} windows in a row",
            runbook_url,
        ),
        _alert(
            "DriftlineDatasetDrift",
            "max by (model, version) (driftline_dataset_drift_detected) == 1",
            held, "warning", "ml",
            "the inputs of {{ $labels.model }} {{ $labels.version }} drifted as a whole in "
            f"{drift_windows} windows in a row",
            runbook_url,
        ),
        _alert(
            "DriftlineQualityCheckFailed",
            "max by (model, version, column, check) (driftline_quality_check_failed) == 1",
            held, "warning", "data",
            "data-quality check {{ $labels.check }} fails on {{ $labels.column }} of "
            "{{ $labels.model }} {{ $labels.version }}",
            runbook_url,
        ),
        _alert(
            "DriftlineEstimatedAccuracyDrop",
            drop("driftline_estimated_performance"),
            held, "warning", "ml",
            "estimated accuracy ({{ $labels.method }}) of {{ $labels.model }} "
            "{{ $labels.version }} is {{ $value | humanizePercentage }} below its 7-day mean",
            runbook_url,
        ),
        _alert(
            "DriftlineAccuracyDrop",
            drop("driftline_performance"),
            held, "warning", "ml",
            "accuracy (labels) of {{ $labels.model }} {{ $labels.version }} is "
            "{{ $value | humanizePercentage }} below its 7-day mean",
            runbook_url,
        ),
        _alert(
            "DriftlineChallengerWorse",
            "max by (model, version, champion) (driftline_version_verdict) == -1",
            _duration(window), "warning", "ml",
            "challenger {{ $labels.model }} {{ $labels.version }} is worse than "
            "{{ $labels.champion }}",
            runbook_url,
        ),
        _alert(
            "DriftlineRuleNeedsReview",
            "max by (rule) (driftline_alert_rule_needs_review) == 1",
            "1h", "warning", "ml",
            "alert rule {{ $labels.rule }} mostly cries wolf: its precision is under the "
            "review threshold",
            runbook_url,
        ),
        _alert(
            "DriftlineSliceWorse",
            "max by (model, version) (driftline_slices_significant) >= 1",
            _duration(2 * window), "warning", "ml",
            "a slice of {{ $labels.model }} {{ $labels.version }} is significantly worse than "
            "the rest (worst slices on the model page)",
            runbook_url,
        ),
        _alert(
            "DriftlineJobDeadMan",
            f"max by (job) (driftline_job_since_success_intervals) > {DEAD_MAN:g}",
            _duration(window), "critical", "data",
            "job {{ $labels.job }} missed its schedule: no successful run for over "
            f"{DEAD_MAN:g} expected intervals",
            runbook_url,
        ),
        _alert(
            "DriftlineNoRecentWindow",
            f"max by (model, version) (driftline_window_lag_seconds) > {3 * window:g}",
            _duration(window), "warning", "ops",
            "no window of {{ $labels.model }} {{ $labels.version }} evaluated for "
            "{{ $value | humanizeDuration }}: traffic stopped or the collector is stuck",
            runbook_url,
        ),
    ]  # fmt: skip


def _duration(seconds: float) -> str:
    """A Prometheus duration (``15m``, ``90s``)."""
    s = round(seconds)
    for unit, size in (("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def prometheus_rules(
    *, latency_threshold: float = 1.0, error_ratio: float = 0.005, objective: float = 0.999,
    runbook_url: str = "https://driftline.dev/docs/alerts", window: float = 300.0,
    drift_windows: int = 3, accuracy_drop: float = 0.05,
) -> dict[str, Any]:  # fmt: skip
    """The rule file as a dict: recording rules, alerting rules over the SDK's metrics, and
    alerting rules over the collector's monitoring results (``window``: the collector's base
    window in seconds; drift and failed checks must hold ``drift_windows`` windows)."""
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
    if not (window >= 1 and float(window).is_integer()):
        raise ConfigError(f"--window {window:g}s is not allowed: whole seconds, at least 1")
    if drift_windows < 1:
        raise ConfigError(f"--drift-windows {drift_windows} is not allowed: at least 1")
    if not 0 < accuracy_drop < 1:
        raise ConfigError(f"--accuracy-drop {accuracy_drop:g} is not allowed: between 0 and 1")
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
            {
                "name": "driftline_ml",
                "rules": ml_rules(
                    window=window, drift_windows=drift_windows, accuracy_drop=accuracy_drop,
                    runbook_url=runbook_url,
                ),
            },
        ]
    }  # fmt: skip


def _labels(alert: dict[str, Any], **extra: str) -> dict[str, str]:
    return {**alert["labels"], **extra}


def _annotations(alert: dict[str, Any], **labels: str) -> dict[str, str]:
    from driftline.alerts.templates import render_template

    return {k: render_template(v, labels, 0.0, 0.0) for k, v in alert["annotations"].items()}


def rule_tests(
    rules: dict[str, Any], rule_file: str, latency_threshold: float, window: float = 300.0,
    drift_windows: int = 3,
) -> dict[str, Any]:  # fmt: skip
    """``promtool test rules`` cases: errors and slow requests fire; a healthy service is
    quiet; drift held ``drift_windows`` windows fires, drift that comes and goes does not;
    an estimated accuracy drop fires."""
    alerts = {r["alert"]: r for g in rules["groups"][1:] for r in g["rules"]}
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
        # evaluations fall on every window's start (and on every minute)
        "evaluation_interval": _duration(math.gcd(int(window), 60)),
        "tests": [
            *_ml_tests(alerts, window, drift_windows),
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


def _ml_tests(alerts: dict[str, Any], window: float, n: int) -> list[dict[str, Any]]:
    """The collector's gauges, one sample per window: what fires and what stays quiet."""
    mv = 'model="credit_risk",version="v1"'
    labels = {"model": "credit_risk", "version": "v1"}

    def expect(name: str, value: float, **extra: str) -> dict[str, Any]:
        from driftline.alerts.templates import render_template

        rule = alerts[name]
        every = extra if "job" in extra else {**labels, **extra}  # job alerts: by job only
        return {
            "exp_labels": _labels(rule, **every),
            "exp_annotations": {
                k: render_template(v, every, value, 0.0) for k, v in rule["annotations"].items()
            },
        }

    def at(windows: float) -> str:
        return _duration(windows * window)

    # samples every evaluation step (a scrape sees the latest window's value all along;
    # a sample an hour old would be stale): seq((v, w), ...) holds v for w windows
    tick = math.gcd(int(window), 60)
    k = int(window) // tick
    step = _duration(tick)

    def seq(*parts: tuple[float | str, float]) -> str:
        return " ".join(f"{v}x{int(k * w) - 1}" for v, w in parts)

    held = n + 4  # windows of drift from window 4 on: firing once held n windows
    # estimated accuracy 0.92 for more than the baseline's offset (1h), then 0.80
    good = math.ceil(3600 / window) + 4
    fires = (good + n + 2) * window
    # what avg_over_time(...[7d] offset 1h) sees then: the samples up to 1h before
    seen = [0.92 if i < good * k else 0.8 for i in range(int((fires - 3600) // tick) + 1)]
    baseline = sum(seen) / len(seen)
    return [
        {
            "interval": step,
            "input_series": [
                # drift from window 4 on; the other column flaps (never n windows in a row)
                {"series": f'driftline_drift_detected{{{mv},column="age"}}',
                 "values": seq((0, 4), (1, held + 4))},
                {"series": f'driftline_drift_detected{{{mv},column="income"}}',
                 "values": seq(*[(1, 1), (0, 1)] * (held // 2 + 5))},
                {"series": f'driftline_estimated_performance{{{mv},metric="accuracy",'
                           'method="cbpe"}', "values": seq((0.92, good), (0.8, n + 8))},
                {"series": f'driftline_window_lag_seconds{{{mv}}}', "values": seq((30, good))},
            ],
            "alert_rule_test": [
                {"eval_time": at(4 + n - 1), "alertname": "DriftlineFeatureDrift",
                 "exp_alerts": []},
                {"eval_time": at(4 + n), "alertname": "DriftlineFeatureDrift",
                 "exp_alerts": [expect("DriftlineFeatureDrift", 1.0, column="age")]},
                {"eval_time": at(good + n + 2), "alertname": "DriftlineEstimatedAccuracyDrop",
                 "exp_alerts": [
                     expect("DriftlineEstimatedAccuracyDrop", baseline - 0.8, method="cbpe")]},
                {"eval_time": at(good - 1), "alertname": "DriftlineEstimatedAccuracyDrop",
                 "exp_alerts": []},
                {"eval_time": at(good - 1), "alertname": "DriftlineNoRecentWindow",
                 "exp_alerts": []},
            ],
        },
        {
            "interval": step,
            "input_series": [
                # the collector stopped evaluating: the lag grows by one window per window
                {"series": f'driftline_window_lag_seconds{{{mv}}}',
                 "values": f"{seq((30, 6))} 30+{tick:g}x{10 * k}"},
            ],
            "alert_rule_test": [
                {"eval_time": at(8), "alertname": "DriftlineNoRecentWindow", "exp_alerts": []},
                {"eval_time": at(12), "alertname": "DriftlineNoRecentWindow",
                 "exp_alerts": [expect("DriftlineNoRecentWindow", 30 + 6 * window)]},
            ],
        },
        {
            "interval": step,
            "input_series": [
                # the job stops after window 4: a quarter interval more each window
                {"series": 'driftline_job_since_success_intervals{job="feature_refresh"}',
                 "values": f"{seq((0.5, 4))} 0.5+{0.25 / k:g}x{12 * k}"},
                # a worse slice in one window, then in every window from window 6 on
                {"series": f"driftline_slices_significant{{{mv}}}",
                 "values": seq((0, 2), (1, 1), (0, 3), (2, 10))},
            ],
            "alert_rule_test": [
                {"eval_time": at(8), "alertname": "DriftlineJobDeadMan", "exp_alerts": []},
                {"eval_time": at(11), "alertname": "DriftlineJobDeadMan",
                 "exp_alerts": [expect("DriftlineJobDeadMan", 2.25, job="feature_refresh")]},
                {"eval_time": at(5), "alertname": "DriftlineSliceWorse", "exp_alerts": []},
                {"eval_time": at(9), "alertname": "DriftlineSliceWorse",
                 "exp_alerts": [expect("DriftlineSliceWorse", 2.0)]},
            ],
        },
    ]  # fmt: skip


def write_prometheus_rules(
    output: Path, *, latency_threshold: float = 1.0, error_ratio: float = 0.005,
    objective: float = 0.999, runbook_url: str = "https://driftline.dev/docs/alerts",
    window: float = 300.0, drift_windows: int = 3, accuracy_drop: float = 0.05,
) -> list[Path]:  # fmt: skip
    """Write ``driftline.rules.yml`` and ``driftline.rules.test.yml`` into the directory
    ``output``; when ``output`` names a ``.yml``/``.yaml`` file, the rules go to that file
    and the promtool tests beside it (``rules.yml`` -> ``rules.test.yml``)."""
    import yaml

    rules = prometheus_rules(
        latency_threshold=latency_threshold, error_ratio=error_ratio, objective=objective,
        runbook_url=runbook_url, window=window, drift_windows=drift_windows,
        accuracy_drop=accuracy_drop,
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
    tests = rule_tests(rules, rule_path.name, latency_threshold, window, drift_windows)
    test_path.write_text(yaml.safe_dump(tests, sort_keys=False, width=100))
    return [rule_path, test_path]
