"""Abuse and adversarial-input signals of a window (docs/collector.md, "Abuse signals").

Three points, each a flag (1 flagged, 0 not, none when the window cannot tell)
with the figures in ``details``:

* ``abuse.burst``: bursts of near-identical requests from one client. An
  event names its client in ``tags.client`` (hash it in the SDK's privacy
  policy: ``"tags.client": "hash"``; the collector only ever counts the value
  it receives). Its fingerprint is the client plus its features, numbers
  rounded to 3 significant digits, so requests that differ only in noise
  collide. Flagged when one fingerprint has at least :data:`BURST_MIN`
  requests and at least :data:`BURST_SHARE` of the window's events with a
  client. Counts are exact while a window holds at most
  :data:`MAX_FINGERPRINTS` distinct fingerprints; beyond, the rarest are
  dropped (a burst is by definition not rare). Events without ``tags.client``
  are not counted; a window without any gets no point.
* ``abuse.boundary_probing`` (per numeric feature): many values at the edges
  of the reference's range. The edge bands are the outer :data:`EDGE` of the
  reference's min-max range at each end (inside the range; values beyond it
  are ``quality.out_of_range``'s); the share of the window's sampled values in
  them is tested against the reference sample's own share (one-sided
  binomial test): flagged when p < :data:`ALPHA` and the share is at least
  :data:`BOUNDARY_FACTOR` times the expected one and :data:`BOUNDARY_MIN`
  absolute. Computed on the reservoir samples (up to 1,000 values a window by
  default); under :data:`MIN_VALUES` values: no point.
* ``abuse.range_jump`` (per column, method ``out_of_range`` or
  ``unseen_categories``): a sudden jump of the share of out-of-range values or
  unseen categories against the same column's previous
  :data:`BASELINE_WINDOWS` windows (pooled): flagged when a one-sided
  two-proportion test gives p < :data:`ALPHA`, the share at least doubled and
  rose by at least :data:`JUMP_MIN`. Fewer than 2 previous windows: none.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from driftline.windows.points import Points

BURST_MIN = 20
BURST_SHARE = 0.05
MAX_FINGERPRINTS = 5000
EDGE = 0.01
ALPHA = 0.001
BOUNDARY_FACTOR = 3.0
BOUNDARY_MIN = 0.05
MIN_VALUES = 50
BASELINE_WINDOWS = 12
JUMP_MIN = 0.02
#: quality checks whose share ``abuse.range_jump`` watches
JUMP_CHECKS = ("out_of_range", "unseen_categories")


def _rounded(v: Any) -> Any:
    if isinstance(v, float) and math.isfinite(v) and v != 0.0:
        return float(f"{v:.3g}")
    return v


def fingerprints(events: Sequence[Mapping[str, Any]]) -> dict[int, tuple[str, str]] | None:
    """Row -> (client, fingerprint) of the events that name a client (``tags.client``)."""
    out: dict[int, tuple[str, str]] = {}
    for i, e in enumerate(events):
        tags = e.get("tags")
        client = tags.get("client") if tags else None
        if client is None or isinstance(client, dict | list):
            continue
        features = e.get("features") or {}
        body = orjson.dumps(
            [str(client), sorted((k, _rounded(v)) for k, v in features.items())],
            option=orjson.OPT_SERIALIZE_NUMPY,
            default=str,
        )
        out[i] = (str(client), hashlib.blake2b(body, digest_size=8).hexdigest())
    return out or None


class BurstCounter:
    """Requests per (client, fingerprint) of a window: ``update``, ``merge``, ``to_dict``."""

    def __init__(self) -> None:
        self.counts: dict[str, list[Any]] = {}  # fingerprint -> [client, count]
        self.n = 0  # events with a client

    def update(self, rows: Iterable[tuple[str, str]]) -> None:
        for client, fp in rows:
            hit = self.counts.get(fp)
            if hit is None:
                self.counts[fp] = [client, 1]
            else:
                hit[1] += 1
            self.n += 1
        self._prune()

    def merge(self, other: BurstCounter) -> None:
        for fp, (client, count) in other.counts.items():
            hit = self.counts.get(fp)
            if hit is None:
                self.counts[fp] = [client, count]
            else:
                hit[1] += count
        self.n += other.n
        self._prune()

    def _prune(self) -> None:
        if len(self.counts) > 2 * MAX_FINGERPRINTS:
            keep = sorted(self.counts.items(), key=lambda kv: -kv[1][1])[:MAX_FINGERPRINTS]
            self.counts = dict(keep)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "counts": self.counts}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> BurstCounter:
        out = cls()
        if d:
            out.n = int(d.get("n", 0))
            out.counts = {str(k): [str(v[0]), int(v[1])] for k, v in d["counts"].items()}
        return out


def burst_point(points: Points, seg: str, bursts: BurstCounter) -> None:
    if not bursts.n:
        return
    top = sorted(bursts.counts.values(), key=lambda cv: -cv[1])[:3]
    largest = top[0][1] if top else 0
    share = largest / bursts.n
    flagged = largest >= BURST_MIN and share >= BURST_SHARE
    points.add(
        seg,
        "abuse.burst",
        1.0 if flagged else 0.0,
        status="fail" if flagged else "ok",
        n=bursts.n,
        details={
            "largest": largest,
            "share": share,
            "top": [{"client": c, "requests": k, "share": k / bursts.n} for c, k in top],
            "distinct": len(bursts.counts),
            "rule": f">= {BURST_MIN} near-identical requests from one client and >= "
            f"{BURST_SHARE:.0%} of the window",
        },
    )


def boundary_points(points: Points, seg: str, reference: Any, current: Any) -> None:
    """``abuse.boundary_probing`` per numeric feature (profiles of reference and window)."""
    from scipy.stats import binomtest

    from driftline.schema import Kind, Role

    for spec in current.schema:
        if spec.kind is not Kind.NUMERIC or spec.role is not Role.FEATURE:
            continue
        ref_col = reference.columns.get(spec.name)
        cur_col = current.columns.get(spec.name)
        if ref_col is None or cur_col is None or not ref_col.moments.n:
            continue
        lo, hi = float(ref_col.moments.min), float(ref_col.moments.max)
        width = hi - lo
        cur = _finite(cur_col.reservoir.sample())
        ref = _finite(ref_col.reservoir.sample())
        if not math.isfinite(width) or width <= 0 or cur.size < MIN_VALUES or not ref.size:
            continue  # a constant reference column has no edges; too few values say nothing
        band = EDGE * width
        k = _at_edges(cur, lo, hi, band)
        expected = (_at_edges(ref, lo, hi, band) + 1) / (ref.size + 2)
        share = k / cur.size
        p = float(binomtest(k, cur.size, expected, alternative="greater").pvalue)
        flagged = p < ALPHA and share >= BOUNDARY_FACTOR * expected and share >= BOUNDARY_MIN
        points.add(
            seg,
            "abuse.boundary_probing",
            1.0 if flagged else 0.0,
            column=spec.name,
            status="fail" if flagged else "ok",
            n=cur.size,
            details={
                "share": share, "expected": expected, "p_value": p,
                "band": [[lo, lo + band], [hi - band, hi]], "at_edges": k,
            },
        )  # fmt: skip


def _at_edges(v: np.ndarray, lo: float, hi: float, band: float) -> int:
    inside = (v >= lo) & (v <= hi)
    return int(np.count_nonzero(inside & ((v <= lo + band) | (v >= hi - band))))


def _finite(v: Any) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.kind not in "fiu":
        return np.zeros(0)
    f: np.ndarray = a.astype(np.float64)
    out: np.ndarray = f[np.isfinite(f)]
    return out


def jump_points(points: Points, previous: Iterable[Mapping[str, Any]]) -> None:
    """``abuse.range_jump`` per column and watched check, against the previous windows."""
    from scipy.stats import norm

    base: dict[tuple[str, str, str], list[float]] = {}  # (seg, check, column) -> [hits, n, w]
    for r in previous:
        check = str(r["metric"]).removeprefix("quality.")
        if check not in JUMP_CHECKS or r["value"] is None or not r["n"]:
            continue
        b = base.setdefault((r["segment"], check, r["column"]), [0.0, 0.0, 0.0])
        b[0] += float(r["value"]) * int(r["n"])
        b[1] += int(r["n"])
        b[2] += 1
    for row in list(points.rows):
        check = str(row["metric"]).removeprefix("quality.")
        if check not in JUMP_CHECKS or row["value"] is None or not row["n"]:
            continue
        seg, column = row["segment"], row["column"]
        hist = base.get((seg, check, column))
        if hist is None or hist[2] < 2:
            continue
        n1, p1 = int(row["n"]), float(row["value"])
        n0, p0 = hist[1], hist[0] / hist[1]
        pooled = (p1 * n1 + p0 * n0) / (n1 + n0)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0)) if 0 < pooled < 1 else 0.0
        p = float(norm.sf((p1 - p0) / se)) if se > 0 else (0.0 if p1 > p0 else 1.0)
        flagged = p < ALPHA and p1 >= 2 * p0 and p1 - p0 >= JUMP_MIN
        points.add(
            seg,
            "abuse.range_jump",
            1.0 if flagged else 0.0,
            column=column,
            method=check,
            status="fail" if flagged else "ok",
            n=n1,
            details={"share": p1, "baseline": p0, "baseline_windows": int(hist[2]), "p_value": p},
        )
