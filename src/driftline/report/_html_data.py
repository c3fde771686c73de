"""The JSON the HTML report's charts are drawn from: bins and per-chunk series, never rows."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from driftline.report._severity import ordered_columns

MAX_CATEGORIES_SHOWN = 30
OTHER = "__other__"  # the drift bins' bucket for categories beyond their cap


def chunk_columns(report: Mapping[str, Any], chunks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Columns with a verdict in some chunk: most chunks drifted first, then report order."""
    order = [n for n, _ in ordered_columns(report)]
    names = {
        n for c in chunks for n, v in c["columns"].items() if v["drift"].get("drifted") is not None
    }

    def bad(n: str) -> int:
        return sum(1 for c in chunks if c["columns"].get(n, {}).get("drift", {}).get("drifted"))

    return sorted((n for n in order if n in names), key=lambda n: -bad(n))


def chunk_perf_metrics(chunks: Sequence[Mapping[str, Any]], limit: int = 4) -> list[str]:
    """The headline metrics to chart per chunk: the estimated ones, else the first realized."""
    estimated: dict[str, None] = {}
    realized: dict[str, None] = {}
    for c in chunks:
        perf = c.get("performance") or {}
        estimated.update(dict.fromkeys(perf.get("estimated") or {}))
        realized.update(dict.fromkeys(perf.get("realized") or {}))
    return list(estimated or realized)[:limit]


def _perf_series(
    report: Mapping[str, Any], chunks: Sequence[Mapping[str, Any]], metric: str
) -> dict[str, Any]:
    def get(c: Mapping[str, Any], part: str) -> Any:
        value = ((c.get("performance") or {}).get(part) or {}).get(metric)
        return value.get("value") if isinstance(value, Mapping) else value

    def bound(c: Mapping[str, Any], side: str) -> Any:
        est = ((c.get("performance") or {}).get("estimated") or {}).get(metric) or {}
        return est.get(side)

    return {
        "metric": metric,
        "realized": [get(c, "realized") for c in chunks],
        "estimated": [get(c, "estimated") for c in chunks],
        "lower": [bound(c, "lower") for c in chunks],
        "upper": [bound(c, "upper") for c in chunks],
        "reference": ((report.get("performance") or {}).get("reference") or {}).get(metric),
    }


def short(n: int) -> str:
    for div, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def chart_data(report: Mapping[str, Any], chunks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    dists = {}
    for name, col in report.get("columns", {}).items():
        dist = col.get("distribution")
        if dist:
            dists[name] = top_bins(dist)
    out: dict[str, Any] = {"distributions": dists}
    out["projections"] = {
        name: col["projection"]
        for name, col in report.get("columns", {}).items()
        if col.get("projection")
    }
    if chunks:
        labels = [chunk_label(c) for c in chunks]
        columns: dict[str, Any] = {}
        for name in chunk_columns(report, chunks):
            series = [c["columns"].get(name, {}).get("drift", {}) for c in chunks]
            columns[name] = {
                "method": next((s.get("method") for s in series if s.get("method")), ""),
                "statistic": [s.get("statistic") for s in series],
                "threshold": [s.get("threshold") for s in series],
                "drifted": [bool(s.get("drifted")) for s in series],
            }
        n_drifted = [len(c["dataset"].get("drifted_columns", [])) for c in chunks]
        perf = {m: _perf_series(report, chunks, m) for m in chunk_perf_metrics(chunks)}
        out["chunks"] = {
            "labels": labels,
            "columns": columns,
            "n_drifted": n_drifted,
            "max_drifted": max(n_drifted, default=0),
            "names": [
                ", ".join(c["dataset"].get("drifted_columns", [])[:8]) or "-" for c in chunks
            ],
            "performance": perf,
        }
    return out


def chunk_label(chunk: Mapping[str, Any]) -> str:
    start, end = chunk.get("start"), chunk.get("end")
    if isinstance(start, int) and isinstance(end, int):
        return f"rows {short(start)}–{short(end)}"
    return str(start)


def top_bins(dist: Mapping[str, Any]) -> dict[str, Any]:
    """Numeric bins as they are; categories cut to the most frequent ones plus '(other)'."""
    bins, ref, cur = list(dist["bins"]), list(dist["reference"]), list(dist["current"])
    if dist.get("edges") is None and (len(bins) > MAX_CATEGORIES_SHOWN or OTHER in bins):
        named = [i for i, b in enumerate(bins) if b != OTHER]
        order = sorted(named, key=lambda i: -max(ref[i] or 0, cur[i] or 0))
        keep = sorted(order[: MAX_CATEGORIES_SHOWN - 1], key=lambda i: -(ref[i] or 0))
        rest = [i for i in range(len(bins)) if i not in set(keep)]
        bins = [bins[i] for i in keep]
        ref, cur = (
            [ref[i] for i in keep] + [_sum(ref, rest)],
            [cur[i] for i in keep] + [_sum(cur, rest)],
        )
        bins.append("(all other)")
    edges = dist.get("edges")
    if edges is not None and len(edges) == len(bins) - 1:
        bins = (
            [f"< {_compact(edges[0])}"]
            + [f"{_compact(a)}–{_compact(b)}" for a, b in itertools.pairwise(edges)]
            + [f"> {_compact(edges[-1])}"]
        )
    return {"bins": [str(b) for b in bins], "reference": ref, "current": cur}


def _sum(values: Sequence[float | None], idx: Sequence[int]) -> float:
    return float(sum(values[i] or 0.0 for i in idx))


def _compact(x: float) -> str:
    """3 significant digits with k/M/B suffixes: 29443.7 -> '29.4k'."""
    a = abs(x)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"
