"""Which columns feed a profile's performance accumulator, and how (:class:`PerformanceSpec`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from driftline.errors import InputError
from driftline.schema import Kind, Role, Schema
from driftline.stats.performance._labels import Label, normalise_classes

TASKS = ("classification", "regression", "binary", "multiclass")
_SEPARATORS = "_-.:= "


@dataclass(frozen=True)
class PerformanceSpec:
    """Which columns feed the performance accumulator, and how."""

    target: str
    prediction: str | None = None
    scores: tuple[str, ...] = ()
    task: str = "classification"  # "classification" or "regression"
    classes: tuple[Label, ...] | None = None
    segments: tuple[str, ...] = ()
    max_segments: int = 20
    on_unnormalised: str = "raise"
    exact_cap: int = 100_000

    def __post_init__(self) -> None:
        if self.task not in ("classification", "regression"):
            raise InputError(f"task: allowed values are {', '.join(TASKS)}, got {self.task!r}")
        if self.prediction is None and not (self.scores and self.task == "classification"):
            raise InputError(
                f"performance of target {self.target!r} needs a prediction column "
                "(or score columns for a classifier)"
            )
        if self.on_unnormalised not in ("raise", "renormalise"):
            raise InputError("on_unnormalised: allowed values are 'raise', 'renormalise'")

    @property
    def columns(self) -> list[str]:
        return [self.target, *([self.prediction] if self.prediction else []), *self.scores]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["scores"], d["segments"] = list(self.scores), list(self.segments)
        d["classes"] = None if self.classes is None else list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PerformanceSpec:
        classes = d.get("classes")
        return cls(
            target=str(d["target"]),
            prediction=d.get("prediction"),
            scores=tuple(d.get("scores") or ()),
            task=str(d.get("task", "classification")),
            classes=None if classes is None else tuple(classes),
            segments=tuple(d.get("segments") or ()),
            max_segments=int(d.get("max_segments", 20)),
            on_unnormalised=str(d.get("on_unnormalised", "raise")),
            exact_cap=int(d.get("exact_cap", 100_000)),
        )

    @classmethod
    def infer(
        cls,
        schema: Schema,
        *,
        task: str | None = None,
        classes: Sequence[Any] | None = None,
        strict: bool = True,
        **options: Any,
    ) -> PerformanceSpec | None:
        """The spec the schema's roles imply; None without a target or a prediction/score.

        An ambiguous schema (two targets, two predictions, non-numeric scores)
        raises :class:`InputError`, or with ``strict=False`` gives None.
        """
        if task is not None and task not in TASKS:
            raise InputError(f"task: allowed values are {', '.join(TASKS)}, got {task!r}")
        targets = schema.with_role(Role.TARGET)
        predictions = schema.with_role(Role.PREDICTION)
        scores = tuple(schema.with_role(Role.SCORE))
        for role, names in (("target", targets), ("prediction", predictions)):
            if len(names) > 1:
                if not strict:
                    return None
                raise InputError(
                    f"the schema has {len(names)} {role} columns ({', '.join(names)}); "
                    f"performance needs one: give the others another role"
                )
        if not targets or not (predictions or scores):
            return None
        target = schema[targets[0]]
        if task is None:  # score columns mean a classifier, whatever the target's values
            numeric = target.kind is Kind.NUMERIC and not scores
            task = "regression" if numeric else "classification"
        task = "classification" if task in ("binary", "multiclass") else task
        if task == "regression" and scores:
            raise InputError(
                f"task regression takes no score columns, but {list(scores)} have role score: "
                "drop them (--scores) or make the task classification (--task)"
            )
        bad = [schema[s].name for s in scores if schema[s].kind is not Kind.NUMERIC]
        if bad and task == "classification":
            if not strict:
                return None
            raise InputError(f"score column(s) {bad} must be numeric probabilities")
        fixed: tuple[Label, ...] | None = None
        if classes is not None:
            fixed = tuple(normalise_classes(list(classes)))
        elif task == "classification" and len(scores) > 1:
            fixed = tuple(classes_from_names(scores))
        return cls(
            target=target.name,
            prediction=predictions[0] if predictions else None,
            scores=scores,
            task=task,
            classes=fixed,
            segments=tuple(schema.with_role(Role.SEGMENT)),
            **options,
        )


def classes_from_names(columns: Sequence[str]) -> list[Label]:
    """Class labels from score column names: a shared prefix up to a separator is dropped."""
    names = [str(c) for c in columns]
    prefix = _common_prefix(names)
    cut = max((prefix.rfind(s) for s in _SEPARATORS), default=-1) + 1
    labels = [n[cut:] for n in names]
    if all(_is_int(x) for x in labels):
        return normalise_classes([int(x) for x in labels], "score columns")
    return normalise_classes(labels, "score columns")


def _common_prefix(names: list[str]) -> str:
    lo, hi = min(names), max(names)
    i = 0
    while i < min(len(lo), len(hi)) and lo[i] == hi[i]:
        i += 1
    return lo[:i]


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()
