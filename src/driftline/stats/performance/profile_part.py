"""The prediction-quality part of a :class:`~driftline.stats.profile.DatasetProfile`.

When a schema names a target column and a prediction column (and/or score
columns), every ``DatasetProfile.update`` also folds the batch into a
:class:`ClassificationMetrics` or :class:`RegressionMetrics`, so batch,
chunked, online (window) and distributed profiles all carry their realized
performance and merge it like every other accumulator.

- Task: score columns, or a categorical or boolean target, mean classification
  (binary with two classes), a numeric target regression (a 0/1 target is
  read as classes: :func:`driftline.schema.settle_task`);
  ``PerformanceSpec(task=...)`` overrides it (or set the target's kind).
- Classes: given (``classes=``), else the names of several score columns (one
  per class, e.g. ``p_cat``/``p_dog``: a common prefix up to a separator is
  dropped), else for one score column the two labels of the first labelled
  batch (0/1 and booleans need none), else learned from the labels (no scores).
  With fixed classes a label of another class is excluded and counted
  (``excluded["unknown_class"]``), never folded in.
- Rows with a missing target are unlabelled: counted, excluded. A batch
  without the target column at all (labels come later) is all unlabelled.
- Top-class confidence (mean max probability) is summed over *all* rows with
  valid scores, labelled or not, for the confidence-collapse signal.
- Per segment column, one accumulator per value: exact for the first
  ``max_segments`` values seen; later values go to ``"__other__"`` (so with
  more values than that, which values get their own entry depends on arrival
  order), missing values to ``"__missing__"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from typing_extensions import Self

from driftline.errors import InputError, ProfileFormatError
from driftline.stats._codec import pack, unpack
from driftline.stats.performance._arrow import (
    MISSING,
    label_values,
    numeric_column,
    segment_codes,
)
from driftline.stats.performance._labels import Label, normalise_labels
from driftline.stats.performance.classification import ClassificationMetrics
from driftline.stats.performance.regression import RegressionMetrics
from driftline.stats.performance.spec import PerformanceSpec, classes_from_names

Accumulator = ClassificationMetrics | RegressionMetrics
OTHER = "__other__"
_VERSION = 1


# -- the part ---------------------------------------------------------------------------


@dataclass
class _Batch:
    y_true: npt.NDArray[Any]
    y_pred: npt.NDArray[Any] | None
    scores: npt.NDArray[np.float64] | None

    def take(self, rows: npt.NDArray[np.intp]) -> _Batch:
        return _Batch(
            self.y_true[rows],
            None if self.y_pred is None else self.y_pred[rows],
            None if self.scores is None else self.scores[rows],
        )


class PerformancePart:
    """Performance state of a dataset profile (module docstring); accumulator-shaped."""

    _KIND = "performance"

    def __init__(self, spec: PerformanceSpec) -> None:
        self.spec = spec
        self.n_rows = 0
        self.n_unlabelled = 0
        self.n_bad_label = 0  # numeric targets that are not numbers (regression)
        self.confidence_sum = 0.0
        self.confidence_n = 0
        self.confidence_invalid = 0
        self.acc: Accumulator | None = None
        self.segments: dict[str, dict[str, Accumulator]] = {s: {} for s in spec.segments}
        if spec.task == "regression":
            self.acc = RegressionMetrics(exact_cap=spec.exact_cap)
        elif spec.classes is not None or not spec.scores:
            self.acc = self._classifier(spec.classes)

    @property
    def task(self) -> str | None:
        """``"binary"``, ``"multiclass"`` or ``"regression"`` (None: classes not known yet)."""
        if isinstance(self.acc, RegressionMetrics):
            return "regression"
        if self.acc is None:
            return "binary" if len(self.spec.scores) == 1 else None
        if not self.acc.classes and self.spec.classes is None:
            return None
        return "binary" if self.acc.binary else "multiclass"

    @property
    def classes(self) -> list[Label]:
        return list(self.acc.classes) if isinstance(self.acc, ClassificationMetrics) else []

    @property
    def n_labelled(self) -> int:
        return self.n_rows - self.n_unlabelled - self.n_bad_label

    @property
    def mean_confidence(self) -> float | None:
        """Mean top-class probability over every row with valid scores."""
        return self.confidence_sum / self.confidence_n if self.confidence_n else None

    def _classifier(self, classes: Sequence[Label] | None) -> ClassificationMetrics:
        return ClassificationMetrics(
            None if classes is None else list(classes),
            exact_cap=self.spec.exact_cap,
            on_unnormalised=self.spec.on_unnormalised,  # type: ignore[arg-type]
            on_unknown_class="exclude" if classes is not None else "raise",
        )

    def _empty(self) -> Accumulator:
        if isinstance(self.acc, RegressionMetrics) or self.spec.task == "regression":
            return RegressionMetrics(exact_cap=self.spec.exact_cap)
        assert isinstance(self.acc, ClassificationMetrics)
        return self._classifier(self.acc.classes if self.acc.fixed else None)

    def _hint(self, exc: InputError) -> str:
        """How to name score columns when their names gave classes the labels are not."""
        if len(self.spec.scores) < 2 or "but the classes are" not in str(exc):
            return ""
        return (
            "; the classes are read from the score column names (a shared prefix up to a "
            "separator dropped: proba_0, proba_1 -> 0, 1): name each score column after its "
            "class"
        )

    # -- update -------------------------------------------------------------------------

    def update(self, table: pa.Table) -> Self:
        """Fold a batch in; every check runs before any state changes."""
        spec = self.spec
        n = table.num_rows
        if n == 0:
            return self
        try:
            batch, labelled, n_bad = self._read(table)
        except InputError as exc:
            raise InputError(f"performance ({self._where()}): {exc}{self._hint(exc)}") from exc
        conf = self._confidence(batch.scores)
        acc = self.acc
        if acc is None and labelled.any():
            acc = self._classifier(self._binary_classes(batch.take(np.flatnonzero(labelled))))
        seg_rows = {s: segment_codes(table.column(s)) for s in spec.segments}
        if acc is not None:
            sub = batch.take(np.flatnonzero(labelled))
            try:
                self._fold(acc, sub)
            except InputError as exc:
                raise InputError(f"performance ({self._where()}): {exc}{self._hint(exc)}") from exc
        # -- no errors past this point --
        self.acc = acc
        self.n_rows += n
        self.n_unlabelled += int(n - labelled.sum() - n_bad)
        self.n_bad_label += n_bad
        self.confidence_sum += conf[0]
        self.confidence_n += conf[1]
        self.confidence_invalid += conf[2]
        if acc is not None:
            rows = np.flatnonzero(labelled)
            for name, (codes, values) in seg_rows.items():
                self._update_segment(name, codes[rows], values, batch.take(rows))
        return self

    def _where(self) -> str:
        s = self.spec
        parts = [f"target column {s.target!r}"]
        if s.prediction:
            parts.append(f"prediction column {s.prediction!r}")
        if s.scores:
            parts.append(f"score columns {list(s.scores)}")
        return ", ".join(parts)

    def _read(self, table: pa.Table) -> tuple[_Batch, npt.NDArray[np.bool_], int]:
        spec = self.spec
        n_bad = 0
        if spec.target not in table.column_names:  # no labels yet: every row unlabelled
            nulls = pa.chunked_array([pa.nulls(table.num_rows, pa.float64())])
            table = table.append_column(spec.target, nulls)
        pred: npt.NDArray[Any] | None = None
        if spec.task == "regression":
            y, n_bad_t = numeric_column(table.column(spec.target), spec.target)
            bad = np.zeros(y.size, dtype=bool)
            if n_bad_t:  # values that are not numbers: neither labelled nor unlabelled
                raw = table.column(spec.target)
                present = ~np.asarray(raw.is_null().to_numpy(zero_copy_only=False), dtype=bool)
                bad = present & np.isnan(y)
                n_bad = int(bad.sum())
            labelled = ~np.isnan(y) & ~bad
            if spec.prediction:
                pred, n_bad_p = numeric_column(table.column(spec.prediction), spec.prediction)
                if n_bad_p:
                    raise InputError(
                        f"prediction column {spec.prediction!r}: {n_bad_p} values are not numbers"
                    )
            return _Batch(y, pred, None), labelled, n_bad
        y_raw = label_values(table.column(spec.target))
        _, missing, _ = normalise_labels(y_raw, f"target column {spec.target!r}")
        if spec.prediction:
            pred = label_values(table.column(spec.prediction))
        scores = None
        if spec.scores:
            cols = [numeric_column(table.column(s), s) for s in spec.scores]
            for s, (_, n_bad_s) in zip(spec.scores, cols, strict=True):
                if n_bad_s:
                    raise InputError(f"score column {s!r}: {n_bad_s} values are not numbers")
            scores = cols[0][0] if len(cols) == 1 else np.column_stack([c[0] for c in cols])
        return _Batch(y_raw, pred, scores), ~missing, 0

    def _binary_classes(self, batch: _Batch) -> list[Label]:
        """The two classes of a one-score classifier, from its first labelled batch."""
        seen: set[Label] = set()
        for values, field in ((batch.y_true, "target"), (batch.y_pred, "prediction")):
            if values is None:
                continue
            labels, missing, _ = normalise_labels(values, field)
            seen |= {v.item() for v in np.unique(labels[~missing])}
        if len(seen) == 2:
            return sorted(seen)
        if seen <= {0, 1}:
            return [0, 1]
        raise InputError(
            f"performance ({self._where()}): one score column means P(positive) of two "
            f"classes, but the first labelled rows show {sorted(map(str, seen))}; "
            "pass classes=[negative, positive]"
        )

    def _fold(self, acc: Accumulator, batch: _Batch) -> None:
        if isinstance(acc, RegressionMetrics):
            assert batch.y_pred is not None
            acc.update(batch.y_true, batch.y_pred)
        else:
            acc.update(batch.y_true, batch.y_pred, batch.scores)

    def _confidence(self, scores: npt.NDArray[np.float64] | None) -> tuple[float, int, int]:
        """(sum of top-class probabilities, rows, rows with a score outside [0, 1])."""
        if scores is None or scores.size == 0:
            return 0.0, 0, 0
        if scores.ndim == 1:
            top = np.maximum(scores, 1.0 - scores)
            valid = (scores >= -1e-6) & (scores <= 1 + 1e-6)  # NaN fails both
            nan = np.isnan(scores)
        else:
            top = scores.max(axis=1)
            valid = (scores.min(axis=1) >= -1e-6) & (top <= 1 + 1e-6)
            nan = np.isnan(top)
        return float(top[valid].sum()), int(valid.sum()), int((~nan & ~valid).sum())

    def _update_segment(
        self, name: str, codes: npt.NDArray[np.int64], values: list[str], batch: _Batch
    ) -> None:
        accs = self.segments[name]
        if codes.size == 0:
            return
        slots: list[str] = []  # the entry each code goes to
        named = {v for v in accs if v not in (MISSING, OTHER)}
        present = set(np.unique(codes).tolist())
        for code, value in enumerate(values):
            if value not in named and value != MISSING:
                if len(named) >= self.spec.max_segments:
                    value = OTHER
                elif code in present:
                    named.add(value)
            slots.append(value)
        names = list(dict.fromkeys(slots))
        slot_of = np.array([names.index(v) for v in slots], dtype=np.int64)[codes]
        order = np.argsort(slot_of, kind="stable")
        bounds = np.flatnonzero(np.diff(slot_of[order])) + 1
        for rows in np.split(order, bounds):
            value = names[int(slot_of[rows[0]])]
            acc = accs.get(value) or self._empty()
            self._fold(acc, batch.take(rows))
            accs[value] = acc

    # -- merge / serialise --------------------------------------------------------------

    def merge(self, other: PerformancePart) -> Self:
        """Fold ``other`` in (same columns and task; merged accumulators are new objects)."""
        a, b = self.spec, other.spec
        if (a.target, a.prediction, a.scores, a.task) != (b.target, b.prediction, b.scores, b.task):
            raise InputError(
                f"cannot merge performance of {a.columns} ({a.task}) with {b.columns} ({b.task})"
            )
        if self.acc is None:
            self.acc = None if other.acc is None else _copy(other.acc)
        elif other.acc is not None:
            self.acc = self.acc.merge(other.acc)  # type: ignore[arg-type]
        self.n_rows += other.n_rows
        self.n_unlabelled += other.n_unlabelled
        self.n_bad_label += other.n_bad_label
        self.confidence_sum += other.confidence_sum
        self.confidence_n += other.confidence_n
        self.confidence_invalid += other.confidence_invalid
        for name, theirs in other.segments.items():
            mine = self.segments.setdefault(name, {})
            for value, acc in theirs.items():
                named = [v for v in mine if v not in (MISSING, OTHER)]
                if (
                    value not in mine
                    and value not in (MISSING, OTHER)
                    and len(named) >= a.max_segments
                ):
                    value = OTHER
                mine[value] = _copy(acc) if value not in mine else mine[value].merge(acc)  # type: ignore[arg-type]
        return self

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        if self.acc is not None:
            arrays["acc"] = np.frombuffer(self.acc.to_bytes(), dtype=np.uint8)
        segs: dict[str, list[str]] = {}
        for name, accs in self.segments.items():
            segs[name] = list(accs)
            for i, acc in enumerate(accs.values()):
                arrays[f"seg:{name}:{i}"] = np.frombuffer(acc.to_bytes(), dtype=np.uint8)
        scalars = {
            "spec": self.spec.to_dict(),
            "n_rows": self.n_rows,
            "n_unlabelled": self.n_unlabelled,
            "n_bad_label": self.n_bad_label,
            "confidence": [self.confidence_sum, self.confidence_n, self.confidence_invalid],
            "segments": segs,
        }
        return pack(self._KIND, _VERSION, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> PerformancePart:
        _, s, a = unpack(cls._KIND, data, _VERSION)
        try:
            spec = PerformanceSpec.from_dict(s["spec"])
            load = RegressionMetrics if spec.task == "regression" else ClassificationMetrics
            part = cls(replace(spec))
            part.acc = load.from_bytes(a["acc"].tobytes()) if "acc" in a else None
            part.n_rows, part.n_unlabelled = int(s["n_rows"]), int(s["n_unlabelled"])
            part.n_bad_label = int(s["n_bad_label"])
            c_sum, c_n, c_bad = s["confidence"]
            part.confidence_sum, part.confidence_n = float(c_sum), int(c_n)
            part.confidence_invalid = int(c_bad)
            part.segments = {
                name: {
                    str(v): load.from_bytes(a[f"seg:{name}:{i}"].tobytes())
                    for i, v in enumerate(values)
                }
                for name, values in s["segments"].items()
            }
        except (KeyError, TypeError, ValueError, InputError) as exc:
            raise ProfileFormatError(f"performance: corrupt data ({exc})") from exc
        return part

    # -- results ------------------------------------------------------------------------

    def results(self) -> dict[str, Any] | None:
        """The accumulator's result dict (None before any labelled row of a one-score model)."""
        return None if self.acc is None else self.acc.results()

    def segment_results(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{segment column: {value: results}}``, largest segments first."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name, accs in self.segments.items():
            res = {v: acc.results() for v, acc in accs.items()}
            out[name] = dict(sorted(res.items(), key=lambda kv: (-int(kv[1]["n"]), kv[0])))
        return out


def _copy(acc: Accumulator) -> Accumulator:
    """An independent copy (merging must never share state with the other profile)."""
    return type(acc).from_bytes(acc.to_bytes())


__all__ = [
    "MISSING",
    "OTHER",
    "PerformancePart",
    "PerformanceSpec",
    "classes_from_names",
]
