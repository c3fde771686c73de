"""The model page's LLM and RAG section, from a collector's real points."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .conftest import client, ingest_windows, make_env


async def test_the_llm_section_shows_the_latest_signals_and_their_charts(tmp_path: Path) -> None:
    env = make_env(tmp_path)

    def events_of(w: int, start: float) -> list[dict[str, Any]]:
        score = 0.8 - 0.2 * w
        events = [
            {
                "type": "prediction", "event_id": f"b{w}-{i}", "timestamp": start + i,
                "model": "bot", "version": "v1", "features": {},
                "llm": {"retrieved": [{"id": "kb", "score": score}],
                        "answer_chars": 100 - 20 * w, "empty": False, "refusal": i < w,
                        "session_id": f"s{i}", "query": "where is my order"},
            }
            for i in range(10)
        ]  # fmt: skip
        plain = {"type": "prediction", "event_id": f"p{w}", "timestamp": start, "model": "plain",
                 "version": "v1", "features": {"x": 1.0}}  # fmt: skip
        return [*events, plain]

    end = ingest_windows(env, 3, events_of)
    # users' thumbs on the first window's answers only: their row is of that window
    thumbs = [
        {"type": "feedback", "event_id": f"t{i}", "prediction_id": f"b0-{i}", "model": "bot",
         "version": "v1", "timestamp": end - 5, "kind": "thumbs", "value": "down" if i else "up"}
        for i in range(4)
    ]  # fmt: skip
    assert env.collector.ingest("feedback", thumbs).accepted == 4
    env.collector.tick(force_flush=True)
    async with client(env, "read") as c:
        r = await c.get(f"/ui/models/bot?range=1h&end={end}")
        assert r.status_code == 200
        html = r.text
        summary = html[html.index('data-testid="llm-summary"') :].split("</table>")[0]
        cells = dict(
            re.findall(
                r'data-metric="([a-z_.0-9]+)"[^>]*><td>[^<]*</td><td class="num">([^<]*)<', summary
            )
        )
        assert cells["rag.top1_similarity"] == "0.4"  # the latest window: 0.8 - 2 x 0.2
        assert cells["llm.answer_chars"] == "60"
        assert cells["llm.refusal_ratio"] == "20.0%"
        assert cells["llm.thumbs_down_ratio"] == "75.0%"
        # each row says its window; the thumbs' is an earlier one than the table's newest
        rows = dict(re.findall(r'data-metric="([a-z_.0-9]+)"(.*?)</tr>', summary))
        assert 'data-testid="earlier-window"' in rows["llm.thumbs_down_ratio"]
        assert 'data-testid="earlier-window"' not in rows["rag.top1_similarity"]
        for name in ("llm-retrieval", "llm-answers", "llm-refusals", "llm-users"):
            assert f'data-chart="{name}"' in html
        r = await c.get(f"/ui/models/plain?range=1h&end={end}")
        assert r.status_code == 200 and 'data-testid="llm-section"' not in r.text
