"""Outlier scores of a batch: the SDK's pre-scores where they can be trusted, else computed.

An SDK that fetched the version's outlier model (``Monitor(score_outliers=True)``,
docs/collector.md, "Outlier scores in the SDK") sends each event with
``outlier: {"score", "model"}``, ``model`` being the tag of the model it used.
For each batch and version the collector then:

* scores the events without a pre-score, as before;
* rescores the events whose tag is not its current model's (``stale``: the
  reference, the method or the column kinds changed since the SDK fetched it),
  and those whose score this method cannot give (``invalid``: a negative
  distance, a forest score outside (0, 1]);
* takes the other pre-scores (``accepted``) after a spot check: it rescores
  :data:`VERIFY_ROWS` of them at random; if any differs from its own score by
  more than 1e-6 (relative), none of the batch's pre-scores is trusted: the
  whole batch is rescored (``mismatch``) and a warning names the event.
  ``windows.outlier_prescores: rescore`` rescores every pre-scored event
  (the SDK then saves the collector nothing, but a sender with an ingest key
  cannot move a score unseen).

Malformed ``outlier`` objects never get here: ingest rejects the event naming
the field (server/ingest.py). Every result is counted
(``driftline_outlier_prescores_total{result}``). Pre-scored events are review
candidates like any other (windows/review.py).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from driftline.schema import Schema
from driftline.stats.outliers import OutlierModel
from driftline.windows.columns import EventBlock
from driftline.windows.events import ArrowEvents
from driftline.windows.review import top_candidates

#: Pre-scores of a batch and version the collector recomputes to check the rest.
VERIFY_ROWS = 2
#: Relative difference above which a pre-score is not the collector's own.
TOLERANCE = 1e-6

log = logging.getLogger("driftline.windows")
#: ``on_result(model, result, n)``: counts pre-scores by result.
OnResult = Callable[[str, str, int], None]
_rng = random.Random()


def wire_kinds(scorer: OutlierModel, schema: Schema) -> dict[str, str]:
    """The live column kind of each of the model's columns (absent ones left out)."""
    cols = schema.columns
    return {c: cols[c].kind.value for c in scorer.columns if c in cols}


def scored(
    block: EventBlock,
    scorer: OutlierModel | None,
    events: Sequence[Mapping[str, Any]],
    schema: Schema,
    *,
    verify: bool = True,
    on_result: OnResult | None = None,
) -> EventBlock:
    """``block`` with each row's outlier flag, when the version has an outlier model, and
    its most anomalous flagged events as review candidates (windows/review.py)."""
    if scorer is None or not block.n_rows:
        return block
    if isinstance(events, ArrowEvents):  # an Arrow batch's: its outlier column, if sent
        got = events.outlier
        pre = [] if got is None else [i for i, o in enumerate(got) if o is not None]
    else:
        pre = [i for i, e in enumerate(events) if "outlier" in e]
    if not pre:
        scores = scorer.score(block.table)
    else:
        scores = _with_prescores(block, scorer, events, schema, pre, verify, on_result)
    block.outliers = scores > scorer.threshold
    block.review = top_candidates(scores, block.outliers, events)
    return block


def _with_prescores(
    block: EventBlock,
    scorer: OutlierModel,
    events: Sequence[Mapping[str, Any]],
    schema: Schema,
    pre: list[int],
    verify: bool,
    on_result: OnResult | None,
) -> np.ndarray:
    if isinstance(events, ArrowEvents) and events.outlier is not None:
        model = events.model[pre[0]]
        outs = [events.outlier[i] for i in pre]
    else:
        model = str(events[pre[0]]["model"])
        outs = [events[i]["outlier"] for i in pre]
    tag = scorer.wire(wire_kinds(scorer, schema))["tag"]
    n = block.n_rows
    rows = np.asarray(pre, dtype=np.int64)
    sent = np.fromiter((o["score"] for o in outs), dtype=np.float64, count=len(outs))
    current = np.fromiter((o["model"] == tag for o in outs), dtype=np.bool_, count=len(outs))
    possible = scorer.possible(sent)
    counts = {
        "stale": int(np.count_nonzero(~current)),
        "invalid": int(np.count_nonzero(current & ~possible)),
    }
    keep = current & possible
    if keep.any() and not verify:
        counts["rescored"] = int(np.count_nonzero(keep))
        keep[:] = False
    if keep.any():
        candidates = np.flatnonzero(keep)
        pick = np.sort(
            np.asarray(_rng.sample(range(candidates.size), min(VERIFY_ROWS, candidates.size)))
        )
        sample = candidates[pick]
        mine = scorer.score(block.table.take(pa.array(rows[sample])))
        bad = ~np.isclose(sent[sample], mine, rtol=TOLERANCE, atol=1e-12)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            log.warning(
                "driftline: model %r: event %r came with outlier score %r, the collector's "
                "is %r (model %s): the batch's %d pre-scores are not used, all rescored",
                model, events[int(rows[sample[j]])]["event_id"], float(sent[sample[j]]),
                float(mine[j]), tag, int(candidates.size),
            )  # fmt: skip
            counts["mismatch"] = int(candidates.size)
            keep[:] = False
        else:
            counts["accepted"] = int(candidates.size)
    scores = np.full(n, np.nan)
    scores[rows[keep]] = sent[keep]
    rest = np.flatnonzero(np.isnan(scores))
    if rest.size == n:
        scores = scorer.score(block.table)
    elif rest.size:
        scores[rest] = scorer.score(block.table.take(pa.array(rest, pa.int64())))
    if on_result is not None:
        for result, k in counts.items():
            if k:
                on_result(model, result, k)
    return scores
