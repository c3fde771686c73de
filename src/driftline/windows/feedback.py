"""Feedback and KPI points of a window (docs/collector.md, "Feedback and KPIs").

Feedback records (``POST /v1/feedback``: thumbs, clicks, overrides, ratings)
and KPI values (``POST /v1/kpis``, ``Monitor.kpi``) belong to the window of
the prediction they name, and to its segments; a KPI sent without a
prediction belongs to the window of its timestamp (all traffic). Judge results
(kinds ``judge.*``) are left to windows/llm.py. Per window and segment:

- ``feedback.rate`` (column = kind): records of the kind per served
  prediction (can exceed 1 when one prediction gets several, e.g. clicks);
- ``feedback.share`` (column = kind, method = value): share of the kind's
  records with that value, for string or boolean values (at most
  :data:`MAX_VALUES` values a kind, the rest as ``__other__``);
- ``feedback.mean`` (column = kind): mean of numeric values (ratings);
- ``kpi.<name>``: mean of the KPI's values, ``details.sum`` their sum.

Each point carries ``n`` and ``details.stderr``, so alert rules can ask for a
minimum sample and compare intervals (docs/alerts.md).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from driftline.signals import KPI_PREFIX
from driftline.stats.performance.uncertainty import proportion_se
from driftline.windows.config import ALL, OTHER, WindowConfig
from driftline.windows.llm import JUDGE_PREFIX
from driftline.windows.points import Points

#: Distinct values of one feedback kind that get their own ``feedback.share`` point.
MAX_VALUES = 20


def _value_key(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    text = v if isinstance(v, str) else orjson.dumps(v).decode()
    return text[:64]


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _mean_se(values: Sequence[float]) -> tuple[float, float | None]:
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    var = math.fsum((x - mean) ** 2 for x in values) / (n - 1)
    return mean, math.sqrt(var / n)


def feedback_points(
    points: Points,
    rows: Iterable[tuple[str | None, str, str]],
    served: Mapping[str, int],
    config: WindowConfig,
    segments: Iterable[str] | None,
) -> None:
    """Add the window's feedback and KPI points; ``served``: served predictions per segment."""
    known = list(segments) if segments is not None else None
    values: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for payload, kind, value in rows:
        if kind.startswith(JUDGE_PREFIX):
            continue  # a judge's result is no user feedback: it has its judge.* points
        segs = [ALL]
        if payload is not None:
            segs = config.segments_of(orjson.loads(payload).get("segment"), known)
        v = orjson.loads(value) if value else None
        for seg in segs:
            values[(seg, kind)].append(v)
    for (seg, kind), vs in sorted(values.items()):
        if kind.startswith(KPI_PREFIX):
            nums = [float(v) for v in vs if _number(v)]
            if nums:
                mean, se = _mean_se(nums)
                points.add(
                    seg, "kpi." + kind[len(KPI_PREFIX) :], mean, n=len(nums),
                    details={"stderr": se, "sum": math.fsum(nums)},
                )  # fmt: skip
            continue
        n_served = served.get(seg, 0)
        points.add(
            seg, "feedback.rate", len(vs) / n_served if n_served else None, column=kind,
            n=n_served,
            details={"count": len(vs), "stderr": proportion_se(min(len(vs), n_served), n_served)
                     if n_served else None},
        )  # fmt: skip
        nums = [float(v) for v in vs if _number(v)]
        if nums and len(nums) == len(vs):
            mean, se = _mean_se(nums)
            points.add(seg, "feedback.mean", mean, column=kind, n=len(nums),
                       details={"stderr": se})  # fmt: skip
            continue
        counts = Counter(_value_key(v) for v in vs)
        top = counts.most_common(MAX_VALUES)
        rest = len(vs) - sum(c for _, c in top)
        shares = [*top, *([(OTHER, rest)] if rest else [])]
        for key, c in shares:
            points.add(
                seg, "feedback.share", c / len(vs), column=kind, method=key, n=len(vs),
                details={"count": c, "stderr": proportion_se(c, len(vs))},
            )  # fmt: skip
