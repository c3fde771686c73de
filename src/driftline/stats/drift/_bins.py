"""Shared bins for a reference and a current profile.

Numeric: quantile bins of the reference, chosen on the profiles' fine
log-linear buckets (so both sides' counts are exact on them), plus an
underflow bin (below the reference minimum) and an overflow bin (above the
reference maximum). Categorical: the reference's categories by frequency (up
to a cap), the current side's unseen categories, and an ``__other__`` bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from driftline.stats.accumulators import CategoryCounts, LogHistogram


@dataclass(frozen=True)
class Bins:
    labels: list[str]
    reference: np.ndarray
    current: np.ndarray
    edges: np.ndarray | None = None  # numeric: n_inner + 1 value edges of the inner bins


def _assign(hist: LogHistogram, lo_key: int, cuts: np.ndarray) -> np.ndarray:
    """Counts of ``hist`` in [under, inner bins..., over] for the given cut keys."""
    out = np.zeros(cuts.size + 2, dtype=np.int64)
    if hist.keys.size == 0:
        return out
    pos = np.searchsorted(cuts, hist.keys, side="left") + 1
    pos = np.where(hist.keys < lo_key, 0, pos)
    np.add.at(out, pos, hist.counts)
    return out


def numeric_bins(ref: LogHistogram, cur: LogHistogram, n_bins: int = 10) -> Bins:
    """Reference quantile bins (on fine buckets) plus under/overflow bins."""
    if ref.keys.size == 0:
        return Bins([], np.zeros(0, np.int64), np.zeros(0, np.int64), None)
    cum = np.cumsum(ref.counts)
    total = cum[-1]
    targets = total * np.arange(1, n_bins) / n_bins
    cut_idx = np.unique(np.searchsorted(cum, targets, side="left"))
    cuts = np.unique(np.append(ref.keys[cut_idx], ref.keys[-1]))
    lo_key = int(ref.keys[0])
    r = _assign(ref, lo_key, cuts)
    c = _assign(cur, lo_key, cuts)
    lowers = ref.lower_bound(np.append(lo_key, cuts + 1))
    labels = (
        ["< min"]
        + [f"[{_fmt(lowers[i])}, {_fmt(lowers[i + 1])})" for i in range(cuts.size)]
        + ["> max"]
    )
    return Bins(labels, r, c, lowers)


def fine_bins(ref: LogHistogram, cur: LogHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both histograms on the union of their fine buckets: (edges, ref counts, cur counts)."""
    keys = np.union1d(ref.keys, cur.keys)
    r = np.zeros(keys.size, dtype=np.int64)
    c = np.zeros(keys.size, dtype=np.int64)
    r[np.searchsorted(keys, ref.keys)] = ref.counts
    c[np.searchsorted(keys, cur.keys)] = cur.counts
    edges = ref.lower_bound(np.append(keys, keys[-1] + 1)) if keys.size else np.zeros(1)
    return edges, r, c


def category_bins(ref: CategoryCounts, cur: CategoryCounts, max_categories: int = 200) -> Bins:
    """Reference top categories, unseen current categories, and the rest in ``__other__``."""
    rc, cc = ref.counts(), cur.counts()
    other = CategoryCounts.OTHER
    ref_order = [k for k, _ in sorted(rc.items(), key=lambda kv: -kv[1]) if k != other]
    keep = ref_order[:max_categories]
    unseen = [k for k, _ in sorted(cc.items(), key=lambda kv: -kv[1]) if k not in rc and k != other]
    keep += unseen[: max(0, max_categories - len(keep)) or 20]
    kept = set(keep)
    r = [rc.get(k, 0) for k in keep]
    c = [cc.get(k, 0) for k in keep]
    r_other = sum(v for k, v in rc.items() if k not in kept)
    c_other = sum(v for k, v in cc.items() if k not in kept)
    labels = list(keep)
    if r_other or c_other:
        labels.append(other)
        r.append(r_other)
        c.append(c_other)
    return Bins(labels, np.array(r, dtype=np.int64), np.array(c, dtype=np.int64))


def _fmt(x: float) -> str:
    return f"{x:.4g}"
