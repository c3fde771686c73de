"""The joint sample behind every multivariate method, rebuilt from a profile's reservoirs.

The columns of one :class:`~driftline.stats.profile.DatasetProfile` share their
reservoir priority keys, so their reservoirs hold the same rows: aligning them
on the keys gives a uniform sample of whole rows, and merged profiles (windows,
Spark partitions) still give one. :class:`Encoder` is fitted on the reference
sample and turns either side into numbers the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.schema import Kind, Role
from driftline.stats.profile import DatasetProfile

#: Kinds that take part: numbers, and categories (levels). Datetimes drift with time by
#: construction, text and embedding reservoirs hold lengths and norms: left out.
_NUMERIC = frozenset({Kind.NUMERIC})
_CATEGORICAL = frozenset({Kind.CATEGORICAL, Kind.BOOLEAN})
_MISSING = "\x00missing"
_OTHER = "\x00other"


@dataclass
class JointSample:
    """Row-aligned sample of one profile: numeric matrix (NaN = missing) and category columns."""

    numeric: np.ndarray
    categorical: dict[str, np.ndarray]
    n_profile_rows: int

    @property
    def n(self) -> int:
        return int(self.numeric.shape[0])


def joint_sample(
    profile: DatasetProfile, numeric: Sequence[str], categorical: Sequence[str]
) -> JointSample:
    """The rows every named column's reservoir holds, ordered by priority key."""
    names = [*numeric, *categorical]
    if not names:
        return JointSample(np.zeros((0, 0)), {}, profile.n_rows)
    keys = np.sort(profile.columns[names[0]].reservoir.keys)
    for name in names[1:]:
        other = profile.columns[name].reservoir.keys
        if other.size != keys.size or not np.array_equal(np.sort(other), keys):
            keys = np.intersect1d(keys, other)
    cols: list[np.ndarray] = []
    cats: dict[str, np.ndarray] = {}
    for name in names:
        res = profile.columns[name].reservoir
        order = np.argsort(res.keys, kind="stable")
        k, v = res.keys[order], res.values[order]
        pos = np.searchsorted(k, keys)
        vals = v[pos]
        if name in categorical:
            cats[name] = vals.astype(object)
        else:
            cols.append(vals.astype(np.float64))
    mat = np.column_stack(cols) if cols else np.zeros((keys.size, 0))
    return JointSample(mat, cats, profile.n_rows)


@dataclass
class Selection:
    """Which columns take part and why the others do not."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


def select_columns(
    ref: DatasetProfile, cur: DatasetProfile, max_distinct_ratio: float = 0.5
) -> Selection:
    """Feature columns of both profiles with the same kind; the reason for each one left out."""
    sel = Selection()
    for name, r in ref.columns.items():
        if r.spec.role is not Role.FEATURE:
            continue
        c = cur.columns.get(name)
        if c is None:
            sel.excluded[name] = "not in the current data"
        elif c.kind is not r.kind:
            sel.excluded[name] = f"kind differs ({r.kind.value} vs {c.kind.value})"
        elif r.kind in _NUMERIC:
            sel.numeric.append(name)
        elif r.kind in _CATEGORICAL:
            distinct = r.distinct.estimate
            if r.present > 1000 and distinct > max_distinct_ratio * r.present:
                sel.excluded[name] = f"ID-like: about {round(distinct)} distinct values"
            else:
                sel.categorical.append(name)
        else:
            sel.excluded[name] = f"{r.kind.value} columns are not used"
    return sel


class Encoder:
    """Reference-fitted encoding: numeric columns standardised, categories by level.

    Numeric: missing values become the reference median, then ``(x - mean) / std``
    of the reference; a column constant in the reference is dropped (its change is
    a univariate matter). Categories: the ``max_levels`` most frequent reference
    levels keep their own code, the rest share "other", missing is a level of its
    own; ``frequency`` gives each row its level's reference frequency (one number
    per column), ``codes`` the level index (for the classifier).
    """

    def __init__(self, max_levels: int = 20) -> None:
        self.max_levels = max_levels
        self.numeric: list[str] = []
        self.categorical: list[str] = []
        self.dropped: dict[str, str] = {}
        self.median = np.zeros(0)
        self.mean = np.zeros(0)
        self.std = np.zeros(0)
        self.levels: dict[str, list[str]] = {}
        self.freq: dict[str, np.ndarray] = {}
        self._keep = np.zeros(0, dtype=bool)

    def fit(self, ref: JointSample, numeric: Sequence[str], categorical: Sequence[str]) -> Encoder:
        x = ref.numeric
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: NaN
            med = np.nanmedian(x, axis=0) if x.shape[0] else np.full(x.shape[1], np.nan)
        med = np.where(np.isfinite(med), med, 0.0)
        filled = np.where(np.isfinite(x), x, med)
        std = filled.std(axis=0) if x.shape[0] else np.zeros(x.shape[1])
        keep = std > 1e-12 * np.maximum(1.0, np.abs(filled.mean(axis=0) if x.shape[0] else 0))
        for i, name in enumerate(numeric):
            if not keep[i]:
                self.dropped[name] = "constant in the reference sample"
        self._keep = keep
        self.numeric = [n for n, k in zip(numeric, keep.tolist(), strict=True) if k]
        self.median, self.std = med[keep], std[keep]
        self.mean = filled.mean(axis=0)[keep] if x.shape[0] else np.zeros(0)
        for name in categorical:
            vals = _levels_of(ref.categorical[name])
            uniq, counts = np.unique(vals, return_counts=True)
            if uniq.size < 2:
                self.dropped[name] = "constant in the reference sample"
                continue
            order = np.argsort(-counts, kind="stable")
            top = [str(u) for u in uniq[order][: self.max_levels]]
            self.levels[name] = [*top, _OTHER]
            codes = self._codes(name, vals)
            self.freq[name] = np.bincount(codes, minlength=len(top) + 1) / max(vals.size, 1)
            self.categorical.append(name)
        return self

    @property
    def n_features(self) -> int:
        return len(self.numeric) + len(self.categorical)

    def _codes(self, name: str, vals: np.ndarray) -> np.ndarray:
        lookup = {v: i for i, v in enumerate(self.levels[name])}
        other = len(self.levels[name]) - 1
        return np.fromiter((lookup.get(v, other) for v in vals), dtype=np.int64, count=vals.size)

    def raw_numeric(self, s: JointSample) -> np.ndarray:
        """The kept numeric columns, unscaled, NaN for missing or non-finite values."""
        x = s.numeric[:, self._keep] if s.numeric.size else np.zeros((s.n, 0))
        return np.where(np.isfinite(x), x, np.nan)

    def scaled_numeric(self, s: JointSample) -> np.ndarray:
        x = self.raw_numeric(s)
        x = np.where(np.isnan(x), self.median, x)
        return (x - self.mean) / self.std

    def codes(self, s: JointSample) -> np.ndarray:
        """Level codes per categorical column (n x k, int)."""
        cols = [self._codes(n, _levels_of(s.categorical[n])) for n in self.categorical]
        return np.column_stack(cols) if cols else np.zeros((s.n, 0), dtype=np.int64)

    def frequency(self, s: JointSample) -> np.ndarray:
        """Reference frequency of each row's level, standardised (n x k)."""
        from driftline._utils.outlier_wire import standardised_frequency

        out = [
            # by the mean and spread of a row's level frequency over the reference
            standardised_frequency(
                self.freq[name], self._codes(name, _levels_of(s.categorical[name]))
            )
            for name in self.categorical
        ]
        return np.column_stack(out) if out else np.zeros((s.n, 0))

    def design(self, s: JointSample) -> np.ndarray:
        """Scaled numeric columns then standardised level frequencies (no missing values)."""
        return np.column_stack([self.scaled_numeric(s), self.frequency(s)])

    def feature_names(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def describe(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical)}


def _levels_of(values: np.ndarray) -> np.ndarray:
    return np.array([_MISSING if v is None else str(v) for v in values], dtype=object)
