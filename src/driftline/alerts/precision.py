"""Outcome labels per rule: how often each rule's alerts were worth acting on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from driftline.alerts.records import AuditEvent, Outcome


@dataclass(frozen=True)
class RulePrecision:
    """Outcome labels of one rule's fired alerts."""

    rule: str
    fired: int
    true_positive: int
    false_positive: int
    not_actionable: int

    @property
    def labelled(self) -> int:
        return self.true_positive + self.false_positive + self.not_actionable

    @property
    def precision(self) -> float | None:
        """TP / (TP + FP); None before any alert was labelled either way."""
        n = self.true_positive + self.false_positive
        return self.true_positive / n if n else None

    @property
    def actionable_precision(self) -> float | None:
        """TP / all labelled: also counts 'not actionable' as noise."""
        return self.true_positive / self.labelled if self.labelled else None

    def needs_review(self, below: float, min_rated: int) -> bool:
        """True when ``min_rated`` alerts are rated true or false positive and the
        precision is under ``below``: the rule mostly cries wolf."""
        rated = self.true_positive + self.false_positive
        p = self.precision
        return rated >= min_rated and p is not None and p < below

    def to_dict(self, below: float, min_rated: int) -> dict[str, Any]:
        """JSON-ready, with the review verdict under the given threshold."""
        return {
            "rule": self.rule,
            "fired": self.fired,
            "true_positive": self.true_positive,
            "false_positive": self.false_positive,
            "not_actionable": self.not_actionable,
            "precision": self.precision,
            "actionable_precision": self.actionable_precision,
            "needs_review": self.needs_review(below, min_rated),
        }


def rule_precision(rules: Iterable[str], audit: Iterable[AuditEvent]) -> dict[str, RulePrecision]:
    """Per rule: fired episodes and their outcome labels (the last label of each episode)."""
    fired: dict[str, set[tuple[str, Any]]] = {name: set() for name in rules}
    labels: dict[tuple[str, Any], tuple[str, str]] = {}
    for e in audit:
        if e.kind == "state" and e.to_state == "firing":
            fired.setdefault(e.rule, set()).add((e.fingerprint, e.detail.get("episode")))
        elif e.kind == "outcome":
            labels[(e.fingerprint, e.detail.get("episode"))] = (e.rule, e.detail["outcome"])
    out = {}
    for rule, episodes in fired.items():
        counts = {o.value: 0 for o in Outcome}
        for key, (r, outcome) in labels.items():
            if r == rule and key in episodes:
                counts[outcome] += 1
        out[rule] = RulePrecision(
            rule, len(episodes), counts["true_positive"], counts["false_positive"],
            counts["not_actionable"],
        )  # fmt: skip
    return out
