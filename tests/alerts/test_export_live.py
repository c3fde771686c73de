"""The exports against the real thing: a real Prometheus scrapes the live demo's collector
and its model service, loads the exported rules, and evaluates every expression of every
exported Grafana dashboard through its HTTP API.

Grafana itself is not available here; the dashboards' template variables are resolved the
way Grafana does it (``label_values`` through the label API, "All" as a regex of every
value) and ``$__rate_interval`` becomes one minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from driftline.alerts.export import dashboards, write_prometheus_rules
from driftline.demo.live import LiveDemo, Story, run
from driftline.demo.rag import RAG
from driftline.demo.service import TUMOR, WINE

from .conftest import PrometheusProcess, prometheus_server

#: A short story: a challenger from the start (it needs 200 labelled requests for a
#: verdict), drift, a slow spell, a failed job run.
TINY = Story(
    challenger_at=0, drift=(2, 6), latency=(3, 4), job_failure_at=2, late_job_at=5, length=10,
)  # fmt: skip
DEMO_MODELS = {TUMOR, WINE}


@dataclass
class Evaluated:
    """What Prometheus answered, by dashboard file and panel title."""

    answers: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    live_alerts: set[tuple[str, str, str, float]] = field(default_factory=set)
    replayed: set[tuple[str, str, str, float]] = field(default_factory=set)
    cli: str = ""
    empty_range: str = ""


def _label_values(prom: PrometheusProcess, definition: str, values: dict[str, str]) -> list[str]:
    """Grafana's ``label_values(metric{...}, label)`` through Prometheus's label API."""
    m = re.fullmatch(r"label_values\((.+), (\w+)\)", definition)
    assert m, definition
    selector = _fill(m.group(1), values)
    if "{" not in selector:
        selector += "{}"
    found: list[str] = prom.get(f"/api/v1/label/{m.group(2)}/values", **{"match[]": selector})
    return found


def _fill(expr: str, values: dict[str, str]) -> str:
    out = expr.replace("$__rate_interval", "1m")
    for name, value in values.items():
        out = out.replace(f"${name}", value)
    return out


def _evaluate(prom: PrometheusProcess, seen: Evaluated) -> None:
    for file, board in dashboards().items():
        values: dict[str, str] = {}
        for var in board["templating"]["list"]:
            if var["type"] != "query":
                continue
            found = _label_values(prom, var["definition"], values)
            seen.variables[(file, var["name"])] = found
            # Grafana's "All": every value as one regex, its backslashes doubled inside the
            # PromQL string (Grafana's prometheusSpecialRegexEscape): `question\\.words`
            escaped = (re.escape(v).replace("\\", "\\\\") for v in found)
            values[var["name"]] = "(" + "|".join(escaped) + ")"
        for panel in board["panels"]:
            for target in panel["targets"]:
                expr = _fill(target["expr"], values)
                seen.answers[(file, panel["title"], target["refId"])] = prom.query(expr)


def _not_exported(demo: LiveDemo) -> list[str]:
    """The panels of the ML and versions dashboards whose collector families have no sample
    in its /metrics yet (their windows are not evaluated yet); of ``a or b``, one side."""
    import httpx

    text = httpx.get(
        f"{demo.url}/metrics", headers={"Authorization": f"Bearer {demo.admin_key}"}, timeout=60
    ).text
    exported = set(re.findall(r"^(driftline_[a-z0-9_]+)\{", text, re.MULTILINE))
    boards = dashboards()
    missing = []
    for name in ("driftline-ml.json", "driftline-versions.json"):
        for panel in boards[name]["panels"]:
            for target in panel["targets"]:
                sides = [set(re.findall(r"driftline_[a-z0-9_]+", side))
                         for side in target["expr"].split("\nor\n")]  # fmt: skip
                if not any(side <= exported for side in sides):
                    missing.append(f"{panel['title']}: {sorted(set().union(*sides) - exported)}")
    return missing


def _replay(demo: LiveDemo, seen: Evaluated) -> None:
    """The live engine's alerts, and the same rules replayed over the demo's stored points
    (here, with the demo's run, to share its two minutes)."""
    from typer.testing import CliRunner

    from driftline.cli import app
    from driftline.demo.live import WINDOW, alerts_config
    from driftline.errors import ConfigError
    from driftline.server.history import replay_from_store

    moved = ("firing", "resolved")
    seen.live_alerts = {
        (e.fingerprint, e.rule, e.to_state, float(e.detail["window_end"]))
        for e in demo.engine.audit()
        if e.kind == "state" and e.to_state in moved
    }
    config = alerts_config(demo.receiver.url, f"{demo.url}/ui")
    result = replay_from_store(
        demo.store, config, model=None, start=demo.start_time,
        end=demo.clock.time() + WINDOW, window_size=WINDOW,
    )  # fmt: skip
    seen.replayed = {
        (t.fingerprint, t.rule, t.to_state.value, float(t.window_end or 0))
        for t in result.transitions
        if t.to_state.value in moved
    }
    try:
        replay_from_store(
            demo.store, config, model=TUMOR, start=demo.start_time - 86400,
            end=demo.start_time - 3600, window_size=WINDOW,
        )  # fmt: skip
    except ConfigError as exc:
        seen.empty_range = str(exc)
    yml = Path(demo.store_url.removeprefix("sqlite:///")).parent / "alerts.yaml"
    yml.write_text(
        "alerts:\n  rules:\n    - {name: drift_1w, metric: drift_detected, op: '>=', "
        "threshold: 1, for: 1, segment: '[*]'}\n"
    )
    r = CliRunner().invoke(
        app, ["alerts", "test", "--from-store", "--store", demo.store_url, "--model", TUMOR,
              "--window", "1m", "--days", "1", "--config", str(yml)],
    )  # fmt: skip
    seen.cli = r.output


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluated]:
    seen = Evaluated()
    where = tmp_path_factory.mktemp("prometheus")
    rule_file, _ = write_prometheus_rules(where / "rules", window=60.0, drift_windows=2)

    def with_prometheus(demo: LiveDemo) -> None:
        config = {
            # a busy machine answers /metrics slowly: a scrape may take a few seconds
            "global": {"scrape_interval": "3s", "scrape_timeout": "3s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(rule_file)],
            "scrape_configs": [
                {
                    "job_name": "driftline-collector",
                    "authorization": {"type": "Bearer", "credentials": demo.admin_key},
                    "static_configs": [{"targets": [demo.url.removeprefix("http://")]}],
                },
                {
                    "job_name": "model-service",
                    "static_configs": [
                        {"targets": [demo.service_metrics_url.split("/")[2]]}
                    ],
                },
            ],
        }  # fmt: skip
        with prometheus_server(where / "server", config) as prom:
            # traffic goes on while Prometheus scrapes, so rates are rates of something; the
            # collector evaluates a window every 12 steps: wait until it has evaluated the
            # windows the dashboards read (a family missing from its /metrics means a window
            # not evaluated yet: the challenger's verdict needs 200 labelled requests, the
            # realized performance a labelled window), then for a scrape after that
            deadline = time.monotonic() + 240
            ready_at: float | None = None
            missing: list[str] = []
            while True:
                demo.step()
                if ready_at is None:
                    missing = _not_exported(demo)
                    ready_at = time.time() if not missing else None
                up = prom.query("count_over_time(up[1m]) and up == 1")
                rate = prom.query("sum(rate(driftline_predictions_total[1m])) > 0")
                scraped = prom.query('timestamp(up{job="driftline-collector"} == 1)')
                if (
                    ready_at is not None
                    and up["status"] == "success"
                    and len(up["data"]["result"]) == 2
                    and rate["data"]["result"]
                    and scraped["data"]["result"]
                ):
                    scrapes = min(float(r["value"][1]) for r in up["data"]["result"])
                    last = float(scraped["data"]["result"][0]["value"][1])
                    if scrapes >= 4 and last > ready_at:
                        break
                assert time.monotonic() < deadline, (
                    f"not ready: panels without their families in /metrics {missing}; up: {up}"
                )
                time.sleep(0.3)
            seen.targets = [t["health"] for t in prom.get("/api/v1/targets")["activeTargets"]]
            _evaluate(prom, seen)
            seen.rules = [r for g in prom.get("/api/v1/rules")["groups"] for r in g["rules"]]
        _replay(demo, seen)

    run(
        port=0, speed=0, once=True, story=TINY,
        store_url=f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.db",
        out=lambda line: None, before_stop=with_prometheus,
    )  # fmt: skip
    yield seen


@pytest.mark.binary("prometheus")
@pytest.mark.slow
def test_every_dashboard_expression_returns_series_for_the_demo_models(live: Evaluated) -> None:
    assert live.targets == ["up", "up"]
    boards = dashboards()
    expected = sum(len(p["targets"]) for b in boards.values() for p in b["panels"])
    assert len(live.answers) == expected
    empty, foreign = [], []
    for key, answer in live.answers.items():
        assert answer["status"] == "success", (key, answer)
        result = answer["data"]["result"]
        if not result:
            empty.append(key)
        models = {r["metric"].get("model") for r in result} - {None}
        if models and not models & DEMO_MODELS:
            foreign.append((key, models))
    assert empty == [], empty
    assert foreign == [], foreign
    # the ML dashboard shows the demo models (the RAG service's question text and embedding
    # drift too), and every feature of the tumour model
    ml = {k[1]: v["data"]["result"] for k, v in live.answers.items() if k[0] == "driftline-ml.json"}
    drift = ml["Drift score per feature (each its method's scale)"]
    assert {r["metric"]["model"] for r in drift} == DEMO_MODELS | {RAG}
    assert {r["metric"]["column"] for r in drift if r["metric"]["model"] == TUMOR} >= {
        "mean_texture",
        "mean_radius",
    }
    realized = ml["Realized performance (latest window with labels)"]
    assert {r["metric"]["model"] for r in realized} == DEMO_MODELS
    # rates are of live traffic: predictions per second are above zero
    service = {
        k[1]: v["data"]["result"]
        for k, v in live.answers.items()
        if k[0] == "driftline-service.json"
    }
    rates = service["Predictions per second"]
    assert any(float(r["value"][1]) > 0 for r in rates), rates


@pytest.mark.binary("prometheus")
@pytest.mark.slow
def test_template_variables_list_the_demo_models_and_versions(live: Evaluated) -> None:
    for (file, name), values in live.variables.items():
        assert values, (file, name)
        if name == "model":
            assert set(values) >= DEMO_MODELS, (file, values)
        if name == "version":
            assert {"v1", "v2", "v3"} <= set(values), (file, values)


@pytest.mark.binary("prometheus")
@pytest.mark.slow
def test_exported_rules_load_and_evaluate_without_error(live: Evaluated) -> None:
    names = {r["name"] for r in live.rules}
    assert {"DriftlineFeatureDrift", "DriftlineEstimatedAccuracyDrop", "DriftlineJobLate"} <= names
    assert len(live.rules) == 43
    bad = [(r["name"], r.get("lastError")) for r in live.rules if r["health"] != "ok"]
    assert bad == []


@pytest.mark.binary("prometheus")
@pytest.mark.slow
def test_replay_from_the_store_reproduces_the_live_alerts(live: Evaluated) -> None:
    """Same rules, same stored points: the same alerts fire and resolve at the same windows.

    Except on metrics of late labels: the live engine judged a window's accuracy when its
    first labels arrived; the store keeps the value after the last ones (docs/alerts.md).
    """
    labelled = {"accuracy_low"}

    def final(alerts: set[tuple[str, str, str, float]]) -> set[tuple[str, str, str, float]]:
        return {a for a in alerts if a[1] not in labelled}

    assert "feature_drift" in {a[1] for a in live.live_alerts}
    assert final(live.replayed) == final(live.live_alerts)


@pytest.mark.binary("prometheus")
@pytest.mark.slow
def test_replay_from_the_store_on_the_command_line(live: Evaluated) -> None:
    assert "no metric points of model 'tumor_classifier' in 1m windows between" in (
        live.empty_range
    )
    assert "its first stored 1m window starts" in live.empty_range
    out = live.cli
    assert "stored 1m windows of tumor_classifier" in out, out
    assert "FIRING   drift_1w" in out and "column=mean_texture" in out, out
