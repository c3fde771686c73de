"""Categorical columns: ID-like detection, overlap with the reference, sketch bounds.

An *ID-like* column has almost all values distinct (order numbers, e-mail
addresses, timestamps stored as strings). Between two samples of such a column
every category distance is near 1 and a homogeneity test has nothing to work
with, whether or not anything changed: drift by category is not measurable, so
the column gets its own status (``computed="id_like"``) with the overlap it
does have (the share of current values never seen in the reference) instead of
a verdict. docs/drift.md explains what a user can do about it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.spatial.distance import jensenshannon

from driftline.schema import Kind, Role
from driftline.stats.column_profile import ColumnProfile
from driftline.stats.drift._bins import Bins

#: A categorical column is ID-like when at least this share of its values is distinct ...
ID_LIKE_RATIO = 0.9
#: ... among at least this many values (a small sample of any column looks unique).
ID_LIKE_MIN_VALUES = 100


def distinct_count(col: ColumnProfile) -> tuple[float, bool]:
    """Distinct categories of ``col``: exact while counted exactly, else the HLL estimate."""
    n = col.categories.n_distinct_exact
    return (float(n), True) if n is not None else (float(col.distinct.estimate), False)


def distinct_ratio(col: ColumnProfile) -> float:
    n = col.present
    return min(distinct_count(col)[0] / n, 1.0) if n > 0 else math.nan


def is_id_like(col: ColumnProfile) -> bool:
    """Categorical, at least ``ID_LIKE_MIN_VALUES`` values, ``ID_LIKE_RATIO`` of them distinct."""
    if col.kind is not Kind.CATEGORICAL or col.present < ID_LIKE_MIN_VALUES:
        return False
    return distinct_ratio(col) >= ID_LIKE_RATIO


def looks_like(col: ColumnProfile, n: int = 200) -> str | None:
    """``"timestamps"`` or ``"numbers"`` when 90% of sampled values parse as such.

    Never ``"numbers"`` for a target or a prediction: class labels such as 0/1 are
    categorical on purpose (docs/cli.md, ``--task``), and "declare it kind: numeric"
    would turn a classifier's labels into a regression's.
    """
    vals = [v for v in col.reservoir.values.tolist() if isinstance(v, str) and v.strip()][:n]
    if not vals:
        return None
    labels = col.spec.role in (Role.TARGET, Role.PREDICTION)
    shapes = (("timestamps", _is_timestamp),) if labels else SHAPES
    for name, parse in shapes:
        if sum(parse(v) for v in vals) >= 0.9 * len(vals):
            return name
    return None


HINTS = {
    "timestamps": "its values look like timestamps stored as strings: declare it "
    "kind: datetime (and role: timestamp if it is the event time; time always moves, so "
    "timestamps are not compared for drift)",
    "numbers": "its values look like numbers stored as strings: declare it kind: numeric",
}


def _is_timestamp(text: str) -> bool:
    t = text.strip()
    if len(t) < 8 or not t[:4].isdigit():
        return False
    try:
        datetime.fromisoformat(t[:-1] + "+00:00" if t.endswith("Z") else t)
    except ValueError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: The shapes :func:`looks_like` tells, in order, with their tests.
SHAPES = (("timestamps", _is_timestamp), ("numbers", _is_number))


@dataclass(frozen=True)
class Overlap:
    """How much of the current side the reference has seen.

    ``unseen_share``: share of current values (rows) whose category the
    reference does not have; ``unseen_distinct``: how many such categories.
    Exact while both profiles count exactly; past that limit estimated from the
    distinct-count sketches (``error`` is one standard error of the share).
    """

    unseen_share: float
    unseen_distinct: float
    examples: list[str]
    exact: bool
    error: float
    #: Jensen-Shannon distance (base 2) on all categories (estimated when not exact)
    jensen_shannon: float


def overlap(ref: ColumnProfile, cur: ColumnProfile) -> Overlap:
    rc, cc = ref.categories, cur.categories
    n_cur = cc.total
    if rc.exact is not None and cc.exact is not None:
        rex, cex = rc.exact, cc.exact
        unseen = {k: v for k, v in cex.items() if k not in rex}
        keys = list(rex) + [k for k in unseen]
        p = np.array([rex.get(k, 0) for k in keys], dtype=np.float64)
        q = np.array([cex.get(k, 0) for k in keys], dtype=np.float64)
        js = float(jensenshannon(p, q, base=2.0)) if p.sum() and q.sum() else 0.0
        return Overlap(
            sum(unseen.values()) / n_cur if n_cur else 0.0,
            float(len(unseen)),
            _examples(unseen),
            True,
            0.0,
            js,
        )
    # past the exact limit: distinct counts of reference, current and their union (HLL)
    r_d, c_d = ref.distinct.estimate, cur.distinct.estimate
    union = copy.deepcopy(ref.distinct).merge(cur.distinct).estimate
    new_distinct = float(np.clip(union - r_d, 0.0, c_d))
    frac = new_distinct / c_d if c_d > 0 else 0.0  # share of current categories not in reference
    err = ref.distinct.relative_error * math.hypot(union, r_d) / c_d if c_d > 0 else 0.0
    named = cc.named()
    unseen_rows, certain = 0.0, {}
    if named:
        keys = list(named)
        ref_counts = rc.estimate(keys)
        for k, rcount in zip(keys, ref_counts.tolist(), strict=True):
            if rc.exact is not None or rcount > rc.max_error:
                if rcount == 0:
                    certain[k] = named[k]
                    unseen_rows += named[k]
            else:  # the reference sketch cannot tell whether it has seen k
                unseen_rows += named[k] * frac
    unseen_rows += max(n_cur - sum(named.values()), 0) * frac
    inter = float(np.clip(r_d + c_d - union, 0.0, min(r_d, c_d)))
    a, b = (inter / r_d if r_d else 0.0), (inter / c_d if c_d else 0.0)
    # assuming values of about equal frequency (what an ID-like column has)
    js = float(jensenshannon([a, 1 - a, 0.0], [b, 0.0, 1 - b], base=2.0)) if r_d and c_d else 0.0
    return Overlap(
        min(unseen_rows / n_cur, 1.0) if n_cur else 0.0,
        new_distinct,
        _examples(certain),
        False,
        min(err, 1.0),
        js,
    )


def id_like_bins(ref: ColumnProfile, cur: ColumnProfile) -> Bins:
    """Three bins (shared, reference only, current only) from the distinct-count sketches.

    For an ID-like column past the exact limit: every value is taken to occur
    about equally often, so the share of each side's values in each bin is the
    share of its distinct values there (the union's size from merged HLLs).
    """
    r_d, c_d = ref.distinct.estimate, cur.distinct.estimate
    union = copy.deepcopy(ref.distinct).merge(cur.distinct).estimate
    inter = float(np.clip(r_d + c_d - union, 0.0, min(r_d, c_d)))
    a = inter / r_d if r_d else 0.0
    b = inter / c_d if c_d else 0.0
    n_r, n_c = ref.categories.total, cur.categories.total
    r = np.array([round(a * n_r), n_r - round(a * n_r), 0], dtype=np.int64)
    c = np.array([round(b * n_c), 0, n_c - round(b * n_c)], dtype=np.int64)
    return Bins(["(in both)", "(reference only)", "(current only)"], r, c)


def _examples(unseen: dict[str, int], n: int = 10) -> list[str]:
    return [k for k, _ in sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def id_like_details(ref: ColumnProfile, cur: ColumnProfile) -> tuple[dict[str, object], Overlap]:
    """The details of an ID-like column's result (why, what overlaps, what to do)."""
    ov = overlap(ref, cur)
    shape = looks_like(ref)
    other = "declare it role: id to drop it, or kind: text to compare value lengths"
    hint = HINTS.get(shape or "", other)
    ratio = distinct_ratio(ref)
    details: dict[str, object] = {
        "reason": (
            f"ID-like: {ratio:.1%} of the reference's values are distinct, so any two "
            f"samples differ by category and drift cannot be measured; {hint}"
        ),
        "distinct_ratio_reference": ratio,
        "distinct_ratio_current": distinct_ratio(cur),
        "unseen_share": ov.unseen_share,
        "unseen_share_exact": ov.exact,
        "unseen_share_error": ov.error,
        "looks_like": shape,
    }
    return details, ov
