"""The model page's LLM / RAG section: retrieval, answers, users, judges, tokens and cost.

Shown when the version has ``rag.*``/``llm.*``/``judge.*`` points in the range
(docs/llm.md, "Signals"); each chart reads the points of one or a few metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftline.server.dashboard import charts
from driftline.server.dashboard.queries import Series
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import MetricQuery, Store

#: (metric, column or None for every column, method or None) -> trace name
_Trace = tuple[str, str | None, str | None, str]


@dataclass
class LLMSummary:
    """The latest value of each headline signal, for the table above the charts."""

    label: str
    metric: str
    value: float | None
    kind: str  # "pct", "num", "score" or "money"
    n: int = 0
    #: the window the value is of: the latest with this signal (judge results and users'
    #: thumbs arrive after their requests, so theirs is often an earlier one)
    window_start: float | None = None
    #: an earlier window than the newest in the table
    earlier: bool = False


@dataclass
class LLMPanel:
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: list[LLMSummary] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)


_HEADLINE = (
    ("Top-1 retrieval similarity", "rag.top1_similarity", "score"),
    ("Requests with a high-similarity retrieval", "rag.high_similarity_ratio", "pct"),
    ("Citation coverage", "rag.citation_coverage", "pct"),
    ("Mean answer length (chars)", "llm.answer_chars", "num"),
    ("Refused answers", "llm.refusal_ratio", "pct"),
    ("Empty answers", "llm.empty_answer_ratio", "pct"),
    ("Rephrased requests", "llm.rephrase_ratio", "pct"),
    ("Abandoned sessions", "llm.abandon_ratio", "pct"),
    ("Thumbs down (of thumbs given)", "llm.thumbs_down_ratio", "pct"),
    ("Cost of the window", "llm.cost", "money"),
)


def llm_panel(
    store: Store,
    tr: TimeRange,
    model: str,
    version: str,
    segment: str,
    x_range: tuple[float, float] | None = None,
    limit: int = 5000,
) -> LLMPanel | None:
    """The section's charts and latest values; None when the range has no LLM points."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def points(metric: str) -> list[dict[str, Any]]:
        if metric not in cache:
            seg = "*" if metric.startswith(("judge.", "llm.thumbs")) else segment
            rows = store.metric_points(
                MetricQuery(
                    model=model, version=version, segment=seg, metric=metric,
                    window_size=tr.window_size, start=tr.start, end=tr.end, limit=limit,
                )
            )  # fmt: skip
            cache[metric] = sorted(rows, key=lambda r: r["window_start"])
        return cache[metric]

    if not points("llm.requests") and not points("judge.calls"):
        return None
    panel = LLMPanel()

    def series(metric: str, column: str | None = "", method: str | None = None) -> Series:
        s = Series()
        for r in points(metric):
            if column is not None and r["column"] != column:
                continue
            if method is not None and r["method"] != method:
                continue
            s.add(float(r["window_start"]), r["value"])
        return s

    def columns(metric: str) -> list[str]:
        return sorted({str(r["column"]) for r in points(metric)})

    line: Callable[..., dict[str, Any]] = charts.line
    f = panel.figures
    f["retrieval"] = line(
        "Retrieval: similarity of the best and of all retrieved items, and the SLO share",
        [
            ("top-1 similarity (mean)", series("rag.top1_similarity")),
            ("top-k similarity (mean)", series("rag.topk_similarity")),
            ("share with a high-similarity retrieval", series("rag.high_similarity_ratio")),
            ("citation coverage", series("rag.citation_coverage")),
        ],
        zero=True,
        x_range=x_range,
    )
    f["answers"] = line(
        "Answer length (mean characters)",
        [("answer length", series("llm.answer_chars"))],
        x_range=x_range,
    )
    f["refusals"] = line(
        "Empty and refused answers",
        [
            ("refused", series("llm.refusal_ratio")),
            ("empty", series("llm.empty_answer_ratio")),
        ],
        percent=True,
        x_range=x_range,
    )
    f["users"] = line(
        "Users: rephrased requests and abandoned sessions",
        [
            ("rephrased", series("llm.rephrase_ratio")),
            ("abandoned", series("llm.abandon_ratio")),
            ("thumbs down (of thumbs)", series("llm.thumbs_down_ratio")),
        ],
        percent=True,
        x_range=x_range,
    )
    judge_cols = columns("judge.score")
    if judge_cols:
        f["judges"] = line(
            "Judge scores (mean per judge and criterion)",
            [(c, series("judge.score", c)) for c in judge_cols],
            zero=True,
            x_range=x_range,
        )
    panel.judges = sorted(set(columns("judge.calls")))
    if panel.judges:
        traces = []
        for j in panel.judges:
            traces += [
                (f"{j}: calls", series("judge.calls", j)),
                (f"{j}: failures", series("judge.failures", j)),
                (f"{j}: skipped", series("judge.skipped", j)),
            ]
        f["judge_outcomes"] = line("Judge outcomes per window", traces, x_range=x_range)
    if points("llm.prompt_tokens"):
        f["tokens"] = line(
            "Tokens per window",
            [
                ("prompt", series("llm.prompt_tokens")),
                ("completion", series("llm.completion_tokens")),
            ],
            x_range=x_range,
        )
        f["cost"] = line("Cost per window", [("cost", series("llm.cost"))], x_range=x_range)
    stages = sorted({str(r["method"]) for r in points("llm.stage_latency_seconds")})
    if stages:
        f["stages"] = line(
            "Latency per stage (mean ms)",
            [(s, series("llm.stage_latency_seconds", "", s)) for s in stages],
            scale=1000.0,
            x_range=x_range,
        )
    for label, metric, kind in _HEADLINE:
        rows = [r for r in points(metric) if r["column"] == ""]
        if rows:
            last = rows[-1]
            if kind == "money" and last.get("method"):
                label = f"{label} ({last['method']})"  # the price table's currency
            panel.summary.append(
                LLMSummary(label, metric, last["value"], kind, int(last["n"]), last["window_start"])
            )
    for c in judge_cols:
        rows = [r for r in points("judge.score") if r["column"] == c]
        if rows:
            last = rows[-1]
            summary = LLMSummary(
                f"Judge {c}", "judge.score", last["value"], "score", last["n"], last["window_start"]
            )
            panel.summary.append(summary)
    newest = max((s.window_start or 0.0 for s in panel.summary), default=0.0)
    for s in panel.summary:
        s.earlier = s.window_start is not None and s.window_start < newest
    return panel
