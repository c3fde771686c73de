"""The model page's "Inside the service" section, from a collector's real points."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from driftline._utils.llm import PriceTable

from .conftest import WINDOW, client, ingest_windows, make_env

FP = "0123456789abcdef"


def _event(w: int, i: int, start: float, slow: bool) -> dict[str, Any]:
    rerank = 0.200 if slow else 0.020
    e: dict[str, Any] = {
        "type": "prediction", "event_id": f"e{w}-{i}", "timestamp": start + i, "model": "rag",
        "version": "v1", "features": {"x": 1.0}, "latency_ms": (0.010 + rerank) * 1000,
        "stages": [
            {"name": "retrieve", "latency_ms": 10.0, "status": "ok"},
            {"name": "rerank", "latency_ms": rerank * 1000, "status": "ok"},
        ],
    }  # fmt: skip
    if i == 0:
        e["resources"] = {
            "instance": "p1", "interval_s": 10.0, "cpu_seconds": 3.6, "rss_bytes": 300 * 2**20,
            "gpu_status": "absent", "gpus": [], "n_gpus": 0, "share": 1.0,
        }  # fmt: skip
    if i == 1:
        e["status"] = "error"
        e["error"] = {
            "type": "KeyError", "fingerprint": FP, "message": "doc 42 missing",
            "frames": [{"module": "app.rerank", "function": "Reranker.score", "line": 12}],
        }  # fmt: skip
        e["trace_id"] = "4bf92f3577b34da6a3ce929d0e0e4736"
    return e


def _events(w: int, start: float, slow: bool) -> list[dict[str, Any]]:
    return [_event(w, i, start, slow) for i in range(20)]


async def test_the_section_names_the_stage_that_made_p99_worse(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    dash = env.app.state.dashboard
    dash.settings = dataclasses.replace(
        dash.settings, trace_url="https://jaeger.test/trace/{trace_id}"
    )
    ev = env.collector.evaluator
    prices = PriceTable.from_mapping({"currency": "EUR", "cpu_hour": 36.0})
    ev.options = dataclasses.replace(ev.options, costs=prices)
    end = ingest_windows(env, 4, lambda w, start: _events(w, start, slow=w == 3))
    async with client(env, "read") as c:
        r = await c.get(f"/ui/models/rag?range=1h&end={end}")
    assert r.status_code == 200
    html = r.text
    section = html[html.index('data-testid="service-section"') :].split("</section>")[0]
    worst = re.search(r'data-testid="worst-stage">(.*?)</p>', section, re.S)
    assert worst is not None
    assert "rerank</span> made p99 worse" in worst.group(1)
    assert "from 20 ms to 200 ms" in worst.group(1)
    assert 'data-stage="retrieve"' in section and 'class="row-bad" data-stage="rerank"' in section
    assert "300.0 MiB" in section and "no GPU seen" in section
    # the latest window's table says the same figure in the same unit (it read "3.15e+08"
    # under "Resident memory (bytes)" beside "300.0 MB" here)
    other = re.sub(r"<[^>]+>", " ", html[html.index("Resident memory (MiB)") :][:200])
    assert other.split()[3] == "300.0", other
    growth = re.search(r"<td>Memory growth</td><td[^>]*>(.*?)</td>", section, re.S)
    assert growth is not None
    assert "MiB/h" in growth.group(1) or "needs a process sampled over" in growth.group(1)
    # 3.6 CPU seconds per window at 36 EUR an hour: 0.036 EUR per window of 20 predictions
    per_1k = re.search(r'data-testid="cost-per-1k">([^<]*)<', section)
    assert per_1k is not None and per_1k.group(1).strip() == "1.80 EUR"
    groups = section[section.index('data-testid="error-groups"') :]
    assert "KeyError" in groups and "app.rerank.Reranker.score:12" in groups
    assert re.search(r'<td class="num">4</td>', groups)  # one per window, four windows
    link = 'href="https://jaeger.test/trace/4bf92f3577b34da6a3ce929d0e0e4736"'
    assert link in groups


def test_trace_url_must_be_an_http_link_with_the_trace_id() -> None:
    import pytest

    from driftline.errors import ConfigError
    from driftline.server import Settings

    assert Settings(trace_url="https://t.example/{trace_id}").trace_url
    for bad in ("javascript:alert(1)//{trace_id}", "https://t.example/trace"):
        with pytest.raises(ConfigError, match="allowed: an http"):
            Settings(trace_url=bad)


def _windows(p99s: list[float], runs: int | list[int] = 30) -> list[tuple[int, float, int]]:
    n = runs if isinstance(runs, list) else [runs] * len(p99s)
    return [(i * WINDOW, v, k) for i, (v, k) in enumerate(zip(p99s, n, strict=True))]


def test_a_stage_is_worse_only_above_its_own_baseline_with_enough_runs() -> None:
    """The "made p99 worse" rule (issue 17): against the earlier windows with 20+ runs (at
    least 3), the latest p99 must be a fifth and 3 robust standard deviations (1.4826 MAD)
    above their median."""
    from driftline.server.dashboard.service import judge_stage

    # a clear jump over a steady baseline
    assert judge_stage(_windows([0.020, 0.021, 0.019, 0.200]))[2:] == ("worse", None)
    # 30 % above the median but inside the stage's own spread (a noisy stage): not worse
    # (the old "grew by a fifth" rule called it worse)
    last, before, verdict, _ = judge_stage(_windows([0.020, 0.040, 0.025, 0.0325]))
    assert (before, verdict) == (0.025, "ok") and last > 1.2 * before
    # above every earlier window but only 10 % over their median: not worse
    assert judge_stage(_windows([0.020, 0.020, 0.020, 0.022]))[2] == "ok"
    # a regression that has lasted two windows already is still named in the third
    lasting = _windows([0.020, 0.021, 0.019, 0.020, 0.022, 0.020, 0.280, 0.290, 0.285])
    assert judge_stage(lasting)[2] == "worse"
    # too few runs in the latest window: a p99 of 5 runs is its maximum
    got = judge_stage(_windows([0.020, 0.020, 0.020, 0.500], [30, 30, 30, 5]))
    assert got[2:] == ("insufficient_data", "5 runs in the latest window; its p99 is "
                                            "compared from 20")  # fmt: skip
    # earlier windows with too few runs do not make a baseline
    got = judge_stage(_windows([0.020, 0.020, 0.020, 0.500], [30, 8, 30, 30]))
    assert got[2] == "insufficient_data"
    assert got[3] == "2 earlier window(s) with 20+ runs; the baseline needs 3"
    assert judge_stage([])[2] == "insufficient_data"


async def test_the_section_says_insufficient_data_rather_than_naming_a_stage(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path)
    # one earlier window only: no baseline
    end = ingest_windows(env, 2, lambda w, start: _events(w, start, slow=w == 1))
    async with client(env, "read") as c:
        r = await c.get(f"/ui/models/rag?range=1h&end={end}")
    section = r.text[r.text.index('data-testid="service-section"') :].split("</section>")[0]
    worst = re.search(r'data-testid="worst-stage">(.*?)</p>', section, re.S)
    assert worst is not None and "</span> made p99 worse" not in worst.group(1)
    assert "Insufficient data to say which stage made p99 worse" in worst.group(1)
    assert "rerank: 1 earlier window(s) with 20+ runs; the baseline needs 3" in worst.group(1)
    assert 'class="row-bad"' not in section
