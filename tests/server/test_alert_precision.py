"""Alert precision per rule: rated alerts -> the API, /metrics and the Alerts page; a rule
that mostly cries wolf is flagged for review."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from driftline.alerts import MetricPoint, parse_alerts_config
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store

T0 = 1_767_225_600.0
W = 300.0


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], object]]:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    keys = {s: create_key(store, clock, name=s, scopes=(s,))[0] for s in ("admin", "read")}
    alerts = parse_alerts_config(
        {
            "rules": [
                {"name": "noisy", "metric": "error_rate", "op": ">", "threshold": 0.01,
                 "for": 1, "segment": "[*]"},
                {"name": "useful", "metric": "drift_detected", "op": ">=", "threshold": 1,
                 "for": 1, "segment": "[*]"},
                {"name": "quiet", "metric": "accuracy", "op": "<", "threshold": 0.5, "for": 1},
            ],
            "receivers": [{"name": "log", "log": {}}],
            "route": {"receiver": "log"},
            "inhibit_rules": [],
            "review_min_rated": 3,
        }
    )  # fmt: skip
    app = create_app(Settings(), store, clock, background=False, alerts=alerts)
    engine = app.state.collector.alerts.engine
    # six episodes per rule: breach one window, clear the next (keep_firing_for 0)
    for i in range(12):
        on = i % 2 == 0
        engine.ingest(
            [
                MetricPoint("m", "v1", "*", "error_rate", "", T0 + i * W, T0 + (i + 1) * W,
                            0.05 if on else 0.0),
                MetricPoint("m", "v1", "*", "drift_detected", "x", T0 + i * W,
                            T0 + (i + 1) * W, 1.0 if on else 0.0),
            ]
        )  # fmt: skip
        clock.advance(W)
        for a in engine.alerts():
            if on and a.state.value == "firing":
                # noisy: 1 true, 4 false, 1 unrated; useful: 5 true, 1 not actionable
                k = i // 2
                if a.rule == "noisy" and k < 5:
                    engine.set_outcome(
                        a.fingerprint, "true_positive" if k == 0 else "false_positive", by="ana"
                    )
                if a.rule == "useful":
                    engine.set_outcome(a.fingerprint, "not_actionable" if k == 5 else
                                       "true_positive", by="ana")  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        yield client, keys, store
    store.close()


async def test_precision_per_rule_in_the_api_metrics_and_page(
    served: tuple[httpx.AsyncClient, dict[str, str], object],
) -> None:
    client, keys, _ = served
    auth = {"Authorization": f"Bearer {keys['read']}"}
    r = await client.get("/v1/alerts/precision", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    rules = {row["rule"]: row for row in body["rules"]}
    assert (body["review_precision"], body["review_min_rated"]) == (0.5, 3)
    noisy, useful, quiet = rules["noisy"], rules["useful"], rules["quiet"]
    assert (noisy["fired"], noisy["true_positive"], noisy["false_positive"]) == (6, 1, 4)
    assert noisy["precision"] == pytest.approx(0.2) and noisy["needs_review"] is True
    assert (useful["true_positive"], useful["not_actionable"]) == (5, 1)
    assert useful["precision"] == 1.0 and useful["needs_review"] is False
    assert useful["actionable_precision"] == pytest.approx(5 / 6)
    assert quiet["fired"] == 0 and quiet["precision"] is None and not quiet["needs_review"]

    text = (await client.get("/metrics", headers=auth)).text
    assert 'driftline_alert_rule_precision_ratio{rule="noisy"} 0.2' in text
    assert 'driftline_alert_rule_needs_review{rule="noisy"} 1.0' in text
    assert 'driftline_alert_rule_needs_review{rule="useful"} 0.0' in text
    assert 'driftline_alert_rule_outcomes{outcome="unrated",rule="noisy"} 1.0' in text
    assert 'driftline_alert_rule_precision_ratio{rule="quiet"}' not in text  # not rated

    page = (await client.get("/ui/alerts", headers=auth)).text
    table = page.split('data-testid="precision"')[1].split("</table>")[0]
    row = table.split('data-rule="noisy"')[1].split("</tr>")[0]
    assert "20%" in row and 'data-testid="needs-review"' in row
    assert "needs-review" not in table.split('data-rule="useful"')[1].split("</tr>")[0]


async def test_precision_needs_a_key_of_the_default_project(
    served: tuple[httpx.AsyncClient, dict[str, str], object],
) -> None:
    client, _, store = served
    key, _ = create_key(
        store,  # type: ignore[arg-type]
        ManualClock(T0), name="team", scopes=("read",), project="team-a",
    )  # fmt: skip
    r = await client.get("/v1/alerts/precision", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403 and "default project" in r.text
    text = (await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})).text
    assert "driftline_alert_rule_precision_ratio" not in text
    assert (await client.get("/v1/alerts/precision")).status_code == 401
