"""What issue 16's window signals cost the evaluator, and how often label drift false-alarms.

Per window the evaluator now also computes score metrics (ROC AUC, PR AUC, log
loss, Brier, ECE) from the labelled rows' scores, label drift against the
reference's target, the feedback/KPI points and the worst slices (one segment
key, one string and four numeric features: the default six slice columns, one
and two at a time). This times each on windows of
``--rows`` labelled predictions (real breast-cancer model scores, resampled),
and measures label drift's false-alarm rate: windows of labels drawn from the
reference's own class distribution, ``--trials`` of them, at each window size.

    .venv/bin/python benchmarks/window_signals.py --rows 1000 10000 --trials 200
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from driftline.stats.drift.rules import DriftOptions
from driftline.stats.profile import build_profile
from driftline.store.base import WindowKey
from driftline.windows.config import WindowConfig
from driftline.windows.feedback import feedback_points
from driftline.windows.labelled import label_drift, performance_results
from driftline.windows.points import Points
from driftline.windows.slices import SliceOptions, slice_point


def _best(fn: Any, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    data = load_breast_cancer()
    model = LogisticRegression(max_iter=5000).fit(data.data, data.target)
    proba = model.predict_proba(data.data)
    rng = np.random.default_rng(0)
    ref = build_profile(
        pa.table({"x": data.data[:, 0], "target": data.target}),
        {"x": {"kind": "numeric"}, "target": {"kind": "categorical", "role": "target"}},
    )
    p_ref = np.bincount(data.target) / len(data.target)
    print(
        f"{'rows':>7} {'labels only':>12} {'+ scores':>10} {'label drift':>12} {'feedback':>10}"
        f" {'slices':>10} {'tested':>7}"
    )
    for n in args.rows:
        idx = rng.integers(0, len(data.target), n)
        y = data.target[idx]
        plain = [(int(t), int(p.argmax()), None) for t, p in zip(y, proba[idx], strict=True)]
        scored = [
            (int(t), int(p.argmax()), {"0": float(p[0]), "1": float(p[1])})
            for t, p in zip(y, proba[idx], strict=True)
        ]
        rows = [(None, "thumbs", '"up"' if i % 3 else '"down"') for i in range(n)]
        rows += [(None, "kpi:revenue", str(float(i % 7))) for i in range(n)]
        key = WindowKey("m", "v1", 300, 0)
        sites, plans = ("north", "south", "east"), ("free", "pro", "team")
        sliced = [
            (int(t), int(p.argmax()), {"site": sites[i % 3]},
             {"plan": plans[(i // 3) % 3], **{f"x{j}": float(data.data[idx[i], j])
                                             for j in range(4)}})
            for i, (t, p) in enumerate(zip(y, proba[idx], strict=True))
        ]  # fmt: skip
        found = Points(key, 1.0)
        slice_point(found, "*", sliced, "classification", SliceOptions())
        tested = int(orjson.loads(found.rows[0]["details"])["tested"])
        t_plain = _best(lambda plain=plain: performance_results(plain, "classification"))
        t_scored = _best(lambda scored=scored: performance_results(scored, "classification"))
        t_drift = _best(lambda y=y: label_drift(ref, list(y), DriftOptions()))
        t_fb = _best(
            lambda rows=rows, key=key, n=n: feedback_points(
                Points(key, 1.0), rows, {"*": n}, WindowConfig(), None
            )
        )
        t_slices = _best(
            lambda sliced=sliced, key=key: slice_point(
                Points(key, 1.0), "*", sliced, "classification", SliceOptions()
            )
        )
        print(
            f"{n:>7} {t_plain * 1e3:>10.1f}ms {t_scored * 1e3:>8.1f}ms "
            f"{t_drift * 1e3:>10.1f}ms {t_fb * 1e3:>8.1f}ms {t_slices * 1e3:>8.1f}ms {tested:>7}"
        )
    print(f"\nlabel drift false alarms: labels drawn from the reference's classes {p_ref.round(3)}")
    for n in (50, 300, 3000):
        alarms = 0
        decided = 0
        for _ in range(args.trials):
            labels = rng.choice(2, size=n, p=p_ref)
            r = label_drift(ref, list(labels), DriftOptions())
            assert r is not None
            if r["drifted"] is not None:
                decided += 1
                alarms += bool(r["drifted"])
        print(f"  {n:>5} labels a window: {alarms}/{decided} windows flagged "
              f"({alarms / max(decided, 1):.1%})")  # fmt: skip
    shifted = 0
    for _ in range(args.trials):
        labels = rng.choice(2, size=300, p=[p_ref[0] + 0.15, p_ref[1] - 0.15])
        r = label_drift(ref, list(labels), DriftOptions())
        shifted += bool(r and r["drifted"])
    print(f"  detection, class share moved 15 points, 300 labels: {shifted / args.trials:.1%}")


if __name__ == "__main__":
    main()
