"""Shared bins for a reference and a current profile.

Numeric: quantile bins of the reference, chosen on the profiles' fine
log-linear buckets (so both sides' counts are exact on them), plus an
underflow bin (below the reference minimum) and an overflow bin (above the
reference maximum). Categorical: every category the two profiles hold by name
(all of them while both profiles count exactly); past the exact limit, a
sketched side adds an ``__other__`` bin for the mass its sketch does not name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from driftline.stats.accumulators import CategoryCounts, LogHistogram
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.hellinger import hellinger
from driftline.stats.drift.jensen_shannon import jensen_shannon
from driftline.stats.drift.kl import kl_divergence
from driftline.stats.drift.psi import psi
from driftline.stats.drift.total_variation import total_variation


@dataclass(frozen=True)
class Bins:
    labels: list[str]
    reference: np.ndarray
    current: np.ndarray
    edges: np.ndarray | None = None  # numeric: n_inner + 1 value edges of the inner bins
    #: categorical past the exact limit: (reference, current) counts in the last bin,
    #: ``__other__``, whose categories the sketches do not name
    tails: tuple[int, int] | None = None
    #: largest error of one named count (the sketches' offsets; 0 when exact)
    count_error: int = 0

    @property
    def exact(self) -> bool:
        return self.tails is None and self.count_error == 0

    def split_tails(self) -> Bins:
        """The same bins with ``__other__`` split as if the two tails shared no category.

        Every f-divergence (PSI, KL, Jensen-Shannon, Hellinger, total variation)
        on the true categories lies between its value on these bins (upper) and
        on the lumped bins (lower): the data-processing inequality.
        """
        if self.tails is None:
            return self
        r_tail, c_tail = self.tails
        r = np.append(self.reference[:-1], [r_tail, 0])
        c = np.append(self.current[:-1], [0, c_tail])
        labels = [*self.labels[:-1], "__other__ (reference)", "__other__ (current)"]
        return Bins(labels, r, c)

    def for_display(self, max_categories: int) -> Bins:
        """At most ``max_categories`` named bins (the most frequent), the rest in ``__other__``."""
        if self.edges is not None or len(self.labels) <= max_categories + 1:
            return self
        named = len(self.labels) - (1 if self.tails is not None else 0)
        order = np.argsort(-(self.reference[:named] + self.current[:named]), kind="stable")
        keep = np.sort(order[:max_categories])
        r = np.append(self.reference[keep], self.reference.sum() - self.reference[keep].sum())
        c = np.append(self.current[keep], self.current.sum() - self.current[keep].sum())
        labels = [self.labels[i] for i in keep] + [CategoryCounts.OTHER]
        return Bins(labels, r, c, None, self.tails, self.count_error)


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


def category_bins(ref: CategoryCounts, cur: CategoryCounts) -> Bins:
    """Every category either profile names, then ``__other__`` when a side is sketched.

    While both profiles count exactly (up to their cap of distinct values) the
    bins are all categories of both sides, with exact counts. Past the cap a
    side's counts come from its frequent-items sketch: named categories get the
    sketch's estimate (off by at most its ``max_error``) and the mass the sketch
    does not name goes to ``__other__``; :attr:`Bins.tails` and
    :attr:`Bins.count_error` then say how much is uncertain.
    """
    rn, cn = ref.named(), cur.named()
    keys = list(rn)
    keys += [k for k in cn if k not in rn]
    r = np.array([rn.get(k, 0) for k in keys], dtype=np.int64)
    c = np.array([cn.get(k, 0) for k in keys], dtype=np.int64)
    if not ref.is_exact:  # the sketch's estimate for the current side's categories too
        missing = [i for i, k in enumerate(keys) if k not in rn]
        r[missing] = ref.estimate([keys[i] for i in missing])
    if not cur.is_exact:
        missing = [i for i, k in enumerate(keys) if k not in cn]
        c[missing] = cur.estimate([keys[i] for i in missing])
    order = np.array(
        sorted(range(len(keys)), key=lambda i: (-int(r[i]), -int(c[i]), keys[i])), dtype=np.intp
    )
    labels = [keys[i] for i in order]
    r, c = r[order], c[order]
    if ref.is_exact and cur.is_exact:
        return Bins(labels, r, c)
    r_tail = max(ref.total - int(r.sum()), 0)
    c_tail = max(cur.total - int(c.sum()), 0)
    return Bins(
        [*labels, CategoryCounts.OTHER],
        np.append(r, r_tail).astype(np.int64),
        np.append(c, c_tail).astype(np.int64),
        None,
        (r_tail, c_tail),
        ref.max_error + cur.max_error,
    )


def binned_metric(method: str, bins: Bins, threshold: float, computed: str) -> DriftResult:
    fn = {
        "psi": psi,
        "jensen_shannon": jensen_shannon,
        "kl_divergence": kl_divergence,
        "hellinger": hellinger,
        "total_variation": total_variation,
    }[method]
    res = fn(bins.reference, bins.current, threshold=threshold, computed=computed)
    if bins.exact:
        return res
    split = bins.split_tails()
    hi = fn(split.reference, split.current, threshold=threshold).statistic
    lo = res.statistic
    drifted = True if lo >= threshold else (False if hi < threshold else None)
    res = replace(res, drifted=drifted, details={**res.details, "statistic_range": [lo, hi]})
    return with_sketch(res, bins)


def with_sketch(res: DriftResult, bins: Bins) -> DriftResult:
    """State what the frequent-items sketch leaves uncertain."""
    r_tail, c_tail = bins.tails or (0, 0)
    n_r, n_c = max(int(bins.reference.sum()), 1), max(int(bins.current.sum()), 1)
    return replace(
        res,
        details={
            **res.details,
            "sketch": {
                "unnamed_share_reference": r_tail / n_r,
                "unnamed_share_current": c_tail / n_c,
                "max_count_error": bins.count_error,
                "note": (
                    "past the exact limit the categories the sketches do not name share one "
                    "bin (__other__) and named counts are off by at most max_count_error; "
                    "statistic_range is the value with that bin lumped (lower) and with the "
                    "two sides' unnamed categories disjoint (upper)"
                ),
            },
        },
    )


def _fmt(x: float) -> str:
    return f"{x:.4g}"
