"""Review candidates: the most anomalous events of a window, for a person to look at.

At ingest the collector scores every event of a version with a reference
(stats/outliers.py); the events above the outlier threshold with the highest
scores, at most :data:`REVIEW_TOP` per window and version (all traffic), are
kept in the window's statistics as ``(score, event_id)``: merged across
replicas and partials like any accumulator (the top of the union is the top
of the tops). The evaluator writes them as the window's ``review.candidates``
point; the review queue (server/review.py, ``/ui/review``) shows them with
the stored event (what the SDK's privacy policy let through) and records a
reviewer's verdict as feedback (and a label) through the ordinary ingest.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np

if TYPE_CHECKING:
    from driftline.windows.points import Points

#: Review candidates kept per window and version.
REVIEW_TOP = 20


def top_candidates(
    scores: np.ndarray, flagged: np.ndarray, events: Sequence[Mapping[str, Any]]
) -> list[tuple[float, str]] | None:
    """The at most :data:`REVIEW_TOP` highest-scoring flagged rows as ``(score, event_id)``."""
    rows = np.flatnonzero(flagged)
    if not rows.size:
        return None
    top = rows[np.argsort(-scores[rows], kind="stable")[:REVIEW_TOP]]
    return [(float(scores[i]), str(events[i]["event_id"])) for i in top]


class ReviewCandidates:
    """The top :data:`REVIEW_TOP` ``(score, event_id)`` of a window; ``update`` merges."""

    def __init__(self) -> None:
        self.items: list[tuple[float, str]] = []

    def update(self, items: Iterable[tuple[float, str]]) -> Self:
        merged = {eid: sc for sc, eid in self.items}
        for sc, eid in items:
            if sc > merged.get(eid, -np.inf):
                merged[eid] = sc
        self.items = heapq.nlargest(REVIEW_TOP, ((sc, eid) for eid, sc in merged.items()))
        return self


def review_point(points: Points, seg: str, candidates: ReviewCandidates) -> None:
    """``review.candidates``: how many, and which (event ids and scores, highest first)."""
    if not candidates.items:
        return
    points.add(
        seg,
        "review.candidates",
        len(candidates.items),
        n=len(candidates.items),
        details={"events": [{"event_id": e, "score": s} for s, e in candidates.items]},
    )
