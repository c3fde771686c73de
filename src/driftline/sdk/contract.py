"""Input checks before inference: ``mon.check(features)`` (docs/sdk.md, "Input checks").

A :class:`Contract` is what the reference promises about each feature: its
kind, whether it is required (never missing in the reference, unless told
otherwise), the trained range of a numeric feature (the reference's min and
max) and the categories a categorical feature had (when the reference counted
them exactly). :meth:`Contract.check` returns the violations of one input,
synchronously, in microseconds: a plain loop over precompiled tuples, no
allocation when the input is fine.

Violation kinds: ``missing`` (a required feature absent, None or NaN),
``type`` (a string where a number is expected, a number where a category is,
...), ``out_of_range`` (a number outside the trained range), ``unseen_category``
and ``unexpected`` (a feature the reference does not have).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from driftline.sdk.errors import SDKConfigError

KINDS = ("missing", "type", "out_of_range", "unseen_category", "unexpected")
_NONE: tuple[()] = ()
_ABSENT = object()


class Violation(NamedTuple):
    """One broken promise: the feature, the kind (see :data:`KINDS`) and the value sent."""

    feature: str
    kind: str
    value: Any = None


class Contract:
    """Per feature: kind, required, trained range or known categories (see module docs)."""

    def __init__(self, features: Mapping[str, Mapping[str, Any]]) -> None:
        self.features = {str(k): dict(v) for k, v in features.items()}
        numeric, categorical, boolean, other = [], [], [], []
        for name, spec in self.features.items():
            kind = spec.get("kind")
            required = bool(spec.get("required", False))
            if kind == "numeric":
                lo = spec.get("min")
                hi = spec.get("max")
                numeric.append(
                    (
                        name,
                        -math.inf if lo is None else float(lo),
                        math.inf if hi is None else float(hi),
                        required,
                    )
                )
            elif kind == "categorical":
                cats = spec.get("categories")
                categorical.append((name, None if cats is None else frozenset(cats), required))
            elif kind == "boolean":
                boolean.append((name, required))
            elif kind is not None:
                other.append((name, required))
            else:
                raise SDKConfigError(f"contract feature {name!r}: kind is required")
        self._numeric = tuple(numeric)
        self._categorical = tuple(categorical)
        self._boolean = tuple(boolean)
        self._other = tuple(other)
        self._names = frozenset(self.features)
        self._n = len(self.features)

    # -- building -------------------------------------------------------------------
    @classmethod
    def from_profile(
        cls, profile: Any, *, required: Sequence[str] | None = None, margin: float = 0.0
    ) -> Contract:
        """The contract of a reference :class:`~driftline.DatasetProfile` (its features).

        ``required``: the features that must be present (default: those never
        missing in the reference); ``margin``: widen each trained range by this
        share of its width on both sides.
        """
        from driftline.schema import Kind, Role

        out: dict[str, dict[str, Any]] = {}
        for spec in profile.schema:
            if spec.role is not Role.FEATURE:
                continue
            col = profile.columns[spec.name]
            must = (
                (col.missing == 0 and col.count > 0)
                if required is None
                else (spec.name in required)
            )
            entry: dict[str, Any] = {"required": bool(must)}
            if spec.kind is Kind.NUMERIC:
                entry["kind"] = "numeric"
                lo, hi = col.moments.min, col.moments.max
                if col.moments.n and math.isfinite(lo) and math.isfinite(hi):
                    pad = (hi - lo) * margin
                    entry["min"], entry["max"] = lo - pad, hi + pad
            elif spec.kind is Kind.BOOLEAN:
                entry["kind"] = "boolean"
            elif spec.kind is Kind.CATEGORICAL:
                entry["kind"] = "categorical"
                cats = col.categories
                if cats.is_exact:
                    entry["categories"] = sorted(cats.counts())
            else:
                entry["kind"] = spec.kind.value
            out[spec.name] = entry
        return cls(out)

    @classmethod
    def from_data(cls, data: Any, **kwargs: Any) -> Contract:
        """The contract of reference data (a DataFrame, Arrow table or file path)."""
        from driftline import profile

        return cls.from_profile(profile(data), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contract:
        features = data.get("features")
        if not isinstance(features, Mapping):
            raise SDKConfigError("a contract is an object with 'features': {name: {kind, ...}}")
        return cls(features)

    @classmethod
    def fetch(
        cls,
        url: str,
        model: str,
        version: str,
        *,
        api_key: str | None = None,
        margin: float = 0.0,
        timeout: float = 10.0,
    ) -> Contract:
        """The contract of ``model``/``version``'s reference from a collector (a read key),
        ``GET {url}/v1/models/{model}/versions/{version}/contract``; raises SDKConfigError."""
        import urllib.error
        import urllib.parse
        import urllib.request

        q = urllib.parse.quote
        target = (
            f"{url.rstrip('/')}/v1/models/{q(model, safe='')}/versions/{q(version, safe='')}"
            f"/contract?margin={margin}"
        )
        req = urllib.request.Request(target)
        if api_key:
            req.add_header("Authorization", f"Bearer {api_key}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return cls.from_dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            raise SDKConfigError(
                f"cannot fetch the contract of {model}/{version} from {url}: HTTP {exc.code} "
                f"{exc.read()[:200]!r}"
            ) from exc
        except (OSError, ValueError) as exc:
            raise SDKConfigError(
                f"cannot fetch the contract of {model}/{version} from {url}: {exc}"
            ) from exc

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        return p

    @classmethod
    def load(cls, path: str | Path) -> Contract:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise SDKConfigError(f"cannot read the contract {path}: {exc}") from exc

    # -- the check (request thread) ----------------------------------------------------
    def check(self, features: Mapping[str, Any]) -> Sequence[Violation]:
        """The violations of one input (an empty tuple when it keeps the contract)."""
        out: list[Violation] | None = None
        get = features.get
        for name, lo, hi, required in self._numeric:
            v = get(name, _ABSENT)
            t = v.__class__
            if t is float or t is int:
                if lo <= v <= hi:
                    continue
                if v != v:  # NaN: missing
                    if not required:
                        continue
                    kind = "missing"
                else:
                    kind = "out_of_range"
            elif v is None or v is _ABSENT:
                if not required:
                    continue
                kind = "missing"
            else:
                slow = _numeric_slow(v, lo, hi, required)
                if slow is None:
                    continue
                kind = slow
            if out is None:
                out = []
            out.append(Violation(name, kind, None if v is _ABSENT else v))
        for name, cats, required in self._categorical:
            v = get(name, _ABSENT)
            if v.__class__ is str:
                if cats is None or v in cats:
                    continue
                kind = "unseen_category"
            elif v is None or v is _ABSENT:
                if not required:
                    continue
                kind = "missing"
            elif v.__class__ is int or v.__class__ is bool:
                # the profile keeps integer categories as their text
                text = ("true" if v else "false") if v.__class__ is bool else str(v)
                if cats is None or text in cats:
                    continue
                kind = "unseen_category"
            else:
                kind = "type"
            if out is None:
                out = []
            out.append(Violation(name, kind, None if v is _ABSENT else v))
        for name, required in self._boolean:
            v = get(name, _ABSENT)
            if v is True or v is False:
                continue
            if v is None or v is _ABSENT:
                if not required:
                    continue
                kind = "missing"
            else:
                kind = "type"
            if out is None:
                out = []
            out.append(Violation(name, kind, None if v is _ABSENT else v))
        for name, required in self._other:
            if required and get(name) is None:
                if out is None:
                    out = []
                out.append(Violation(name, "missing", None))
        if len(features) > self._n or (out is None and not features.keys() <= self._names):
            extra = [k for k in features if k not in self._names]
            if extra:
                if out is None:
                    out = []
                out.extend(Violation(str(k), "unexpected", features[k]) for k in extra)
        return _NONE if out is None else out


def _numeric_slow(v: Any, lo: float, hi: float, required: bool) -> str | None:
    """numpy scalars and other numbers; None when fine."""
    if isinstance(v, bool | str | bytes):
        return "type"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "type"
    if f != f:
        return "missing" if required else None
    return None if lo <= f <= hi else "out_of_range"


class CheckCounts:
    """Checks and violations of one version, counted from any thread (atomic operations)."""

    __slots__ = ("_calls", "_read", "violations")

    def __init__(self) -> None:
        self._calls = itertools.count()
        self._read = 0
        #: one tuple of violation kinds per violating call (deque appends are atomic)
        self.violations: deque[tuple[str, ...]] = deque()

    def count(self, violations: Sequence[Violation]) -> None:
        next(self._calls)
        if violations:
            self.violations.append(tuple(v.kind for v in violations))

    def take(self) -> dict[str, Any] | None:
        """What was counted since the last take (the shipper thread); None when nothing."""
        total = next(self._calls)  # itself one extra count: subtract it below
        calls = total - self._read
        self._read = total + 1
        bad: dict[str, int] = {}
        violating = 0
        while self.violations:
            kinds = self.violations.popleft()
            violating += 1
            for k in kinds:
                bad[k] = bad.get(k, 0) + 1
        if not calls and not violating:
            return None
        return {"calls": calls, "violating": violating, "violations": bad}


def merge_counts(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    bad = dict(old.get("violations") or {})
    for k, n in (new.get("violations") or {}).items():
        bad[k] = bad.get(k, 0) + n
    return {
        "calls": old["calls"] + new["calls"],
        "violating": old["violating"] + new["violating"],
        "violations": bad,
    }
