"""The live demo, bounded: a short story in a few real seconds; the dashboard shows it all."""

from __future__ import annotations

from pathlib import Path

import httpx

from driftline.demo.live import DRIFT_COLUMN, LiveDemo, Story, run
from driftline.demo.service import TUMOR, WINE

SHORT = Story(
    challenger_at=2, drift=(3, 10), latency=(4, 7), job_failure_at=5, late_job_at=8, length=12
)


def test_live_demo_shows_drift_challenger_and_alerts(tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    lines: list[str] = []

    def check(demo: LiveDemo) -> None:
        auth = {"Authorization": f"Bearer {demo.admin_key}"}
        with httpx.Client(base_url=demo.url, headers=auth, timeout=30) as client:
            for name, path in {
                "overview": "/ui/?range=1h",
                "model": f"/ui/models/{TUMOR}?range=1h&version=v1",
                "compare": f"/ui/models/{TUMOR}/compare?range=1h&a=v1&b=v2",
                "alerts": "/ui/alerts?range=1h",
                "jobs": "/ui/jobs?range=1h",
            }.items():
                r = client.get(path)
                assert r.status_code == 200, (path, r.text[:500])
                seen[name] = r.text
            seen["messages"] = "\n".join(m["summary"] for m in demo.receiver.messages())
            seen["fired"] = " ".join(
                e.rule for e in demo.engine.audit() if e.kind == "state" and e.to_state == "firing"
            )
            r = client.get("/ui/", follow_redirects=False, headers={"Authorization": ""})
            seen["anonymous"] = str(r.status_code)

    demo = run(
        port=0,
        speed=0,
        once=True,
        story=SHORT,
        store_url=f"sqlite:///{tmp_path}/demo.db",
        out=lines.append,
        before_stop=check,
    )
    assert not demo.started  # stopped after the bounded run
    assert any("Dashboard:  http://127.0.0.1:" in line for line in lines)

    # the overview lists every model version, the challenger with about 10% of the traffic
    overview = seen["overview"]
    for model, version in ((TUMOR, "v1"), (TUMOR, "v2"), (WINE, "v3")):
        assert f'data-model="{model}" data-version="{version}"' in overview
    v2_row = overview.split('data-version="v2"')[1].split("</tr>")[0]
    share = float(v2_row.split('<span class="muted">(')[1].split("%")[0])
    assert 4 <= share <= 20, share
    assert "v2" in seen["compare"] and "Share of traffic" in seen["compare"]

    # the drifted column is the first row of the drift table and fired an alert
    drift_rows = seen["model"].split('data-testid="drift-table"')[1]
    assert drift_rows.split("<tbody>")[1].split("</a>")[0].endswith(DRIFT_COLUMN)
    assert "feature_drift" in seen["fired"]
    assert "p99_latency" in seen["fired"]
    assert f"{DRIFT_COLUMN} of {TUMOR} v1 drifted" in seen["messages"]
    assert "[firing]" in seen["messages"] and "[resolved]" in seen["messages"]
    assert "feature_drift" in seen["alerts"] and 'data-testid="inbox"' in seen["alerts"]
    assert "feature_refresh" in seen["jobs"] and "row-bad" in seen["jobs"]
    assert seen["anonymous"] == "303"  # no key, no dashboard: sent to sign in
    # the references carry labels and class probabilities: accuracy is estimated (CBPE)
    assert "estimated without labels by CBPE" in seen["model"]
    assert 'class="est cbpe"' in seen["overview"]


def test_live_demo_command_registers_with_typer() -> None:
    import typer
    from typer.testing import CliRunner

    from driftline.demo.live import live_demo_command

    app = typer.Typer(add_completion=False)
    app.command("live-demo")(live_demo_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["live-demo", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--duration", "--speed", "--once", "--store"):
        assert option in result.output
