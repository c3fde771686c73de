"""The review queue: the most anomalous events per model and window, and reviewers' verdicts.

The queue is read, not kept: each evaluated window of a version with a
reference holds its ``review.candidates`` point (windows/review.py, at most
20 events, the highest outlier scores), and the queue joins those with the
stored events, so it is bounded (20 per window and version, the newest
windows first, ``limit`` items a page) and follows the store's retention: an
event purged with the raw events shows as purged and can no longer be
judged. What a reviewer sees is what the event holds in the store, i.e. what
the SDK's privacy policy let leave the process (hashed, masked, dropped
fields stay so).

A verdict goes in through the ordinary ingest, with the reviewer's key: a
``feedback`` record of kind ``review`` (value ``{"verdict", "reviewer",
"note"}``; verdicts ``fine``, ``bad_input``, ``attack``) and, with a label, a
``label`` record for the prediction. Verdicts give the outlier and abuse
alerts of the event's windows an outcome, so the rules' precision
(docs/alerts.md) counts reviewed events:

- ``attack`` or ``bad_input`` on an event of a window in which an outlier or
  abuse alert of that model version fired labels the alert ``true_positive``:
  one bad event is what the alert was for.
- ``fine`` labels an outlier alert (``outlier_share``, boundary probing, range
  jumps) ``false_positive`` once at least :data:`MIN_REVIEWED` of its windows'
  candidates (all of them, when there are fewer) are judged and every judged
  one is ``fine``: a reviewer who finds the most anomalous events of the
  alert's windows ordinary says the alert showed nothing to act on. One
  ``fine`` alone does not (the next candidate may be the attack). Bursts
  (``abuse.burst``) get no false positive from ``fine``: their near-identical
  requests are ordinary inputs, not the outlier candidates the queue shows.

The queue only changes an outcome it set itself (``no outcome``, or one whose
audit comment starts with ``review queue:``): a later ``attack`` turns a
review's ``false_positive`` into ``true_positive``; a person's label on the
Alerts page is never overwritten.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, Any

import orjson

from driftline.errors import InputError
from driftline.store.base import MetricQuery, Store

if TYPE_CHECKING:
    from driftline.server.auth import Principal
    from driftline.server.collector import Collector

VERDICTS = ("fine", "bad_input", "attack")
#: The feedback kind of a verdict.
KIND = "review"
#: Alert metrics about anomalous inputs: their alerts get an outcome from a verdict.
ALERT_METRICS = ("outlier_share", "abuse.burst", "abuse.boundary_probing", "abuse.range_jump")
#: Alert metrics whose outlier candidates are what the alert flagged: all ``fine`` -> FP.
FINE_METRICS = ("outlier_share", "abuse.boundary_probing", "abuse.range_jump")
#: Judged candidates an alert needs, every one ``fine``, before it is a false positive.
MIN_REVIEWED = 3
#: Audit comment prefix of the outcomes the review queue sets (and may change again).
BY_REVIEW = "review queue:"
MAX_NOTE = 500
_SEQUENCE = itertools.count()


def queue(
    store: Store,
    model: str,
    window_size: int,
    start: float,
    end: float,
    *,
    version: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The candidates of the windows starting in ``[start, end)``, newest window first,
    highest score first within a window; each with its stored event and latest verdict."""
    points = store.metric_points(
        MetricQuery(
            model=model, version=version, segment="*", metric="review.candidates",
            window_size=window_size, start=start, end=end, limit=10_000,
        )
    )  # fmt: skip
    items: list[dict[str, Any]] = []
    for p in sorted(points, key=lambda p: (-p["window_start"], p["version"])):
        details = orjson.loads(p["details"] or "{}")
        for c in details.get("events") or []:
            items.append(
                {
                    "event_id": str(c["event_id"]),
                    "score": float(c["score"]),
                    "version": p["version"],
                    "window_start": p["window_start"],
                    "window_size": p["window_size"],
                }
            )
            if len(items) >= limit:
                break
        if len(items) >= limit:
            break
    payloads = store.event_payloads(model, [i["event_id"] for i in items])
    events = {k: orjson.loads(v) for k, v in payloads.items()}
    pids = [str(e.get("prediction_id") or eid) for eid, e in events.items()]
    latest: dict[str, dict[str, Any]] = {}
    for f in store.feedback_for(model, pids, KIND):
        latest[str(f["prediction_id"])] = {**orjson.loads(f["value"] or "null"), "at": f["ts"]}
    for item in items:
        e = events.get(item["event_id"])
        if e is None:
            item.update(purged=True, event=None, prediction_id=None, verdict=None)
            continue
        pid = str(e.get("prediction_id") or item["event_id"])
        item.update(
            purged=False,
            prediction_id=pid,
            verdict=latest.get(pid),
            event={
                k: e.get(k)
                for k in ("timestamp", "features", "prediction", "scores", "segment", "tags")
            },
        )
    return items


def record(
    collector: Collector,
    who: Principal | None,
    model: str,
    event_id: str,
    verdict: str,
    *,
    label: Any = None,
    note: str = "",
    reviewer: str = "",
) -> dict[str, Any]:
    """Store a reviewer's verdict on ``event_id`` as feedback (and ``label`` as a label)."""
    if verdict not in VERDICTS:
        raise InputError(f"verdict {verdict!r} is not allowed; allowed: {', '.join(VERDICTS)}")
    if len(note) > MAX_NOTE:
        raise InputError(f"note: at most {MAX_NOTE} characters, got {len(note)}")
    if isinstance(label, dict | list):
        raise InputError("label must be a string, number or boolean")
    payload = collector.store.event_payloads(model, [event_id]).get(event_id)
    if payload is None:
        raise LookupError(f"no stored event {event_id!r} of model {model!r} (purged or unknown)")
    e = orjson.loads(payload)
    now = collector.clock.time()
    pid, version = str(e.get("prediction_id") or event_id), str(e["version"])
    # ordered by time, then by this process's sequence; unique across replicas
    stamp = f"{int(now * 1000):014d}-{next(_SEQUENCE):08d}-{uuid.uuid4().hex[:8]}"
    base = {"prediction_id": pid, "model": model, "version": version, "timestamp": now}
    value = {"verdict": verdict, "reviewer": reviewer, "note": note, "event_id": event_id}
    fb = {"type": "feedback", "event_id": f"review-{stamp}", "kind": KIND, "value": value, **base}
    out: dict[str, Any] = {"feedback": collector.ingest("feedback", [fb], who).body()}
    if label is not None:
        lb = {"type": "label", "event_id": f"review-label-{stamp}", "label": label, **base}
        out["label"] = collector.ingest("label", [lb], who).body()
    out["alerts"] = _outcome(collector, model, version, float(e.get("ts") or now), verdict,
                             reviewer, event_id)  # fmt: skip
    return out


def _outcome(
    collector: Collector,
    model: str,
    version: str,
    ts: float,
    verdict: str,
    reviewer: str,
    event_id: str,
) -> list[str]:
    """Give the fired outlier/abuse alerts of the event's windows an outcome (module doc)."""
    if collector.alerts is None:
        return []
    engine = collector.alerts.engine
    base = collector.settings.windows.base
    done = []
    for alert in engine.alerts():
        labels = alert.labels
        if labels.get("model") != model or labels.get("version") not in (None, version):
            continue
        rule = next((r for r in engine.rules if r.name == alert.rule), None)
        if rule is None or rule.metric not in ALERT_METRICS or alert.fired_at is None:
            continue
        if not _covers(alert, ts, base) or not _ours(engine, alert):
            continue
        if verdict == "fine":
            if rule.metric not in FINE_METRICS or alert.outcome == "false_positive":
                continue  # (a review's true_positive whose attack was re-judged fine may go)
            reviewed = _all_fine(collector, model, version, alert, base)
            if reviewed is None:
                continue
            outcome = "false_positive"
            comment = f"{BY_REVIEW} {reviewed} candidates judged, every one fine"
        else:
            if alert.outcome == "true_positive":
                continue
            outcome = "true_positive"
            comment = f"{BY_REVIEW} {verdict} on event {event_id}"
        engine.set_outcome(alert.fingerprint, outcome, reviewer or "review", comment)
        done.append(alert.fingerprint)
    return done


def _ours(engine: Any, alert: Any) -> bool:
    """Whether the alert has no outcome, or one the review queue set (this episode)."""
    if alert.outcome is None:
        return True
    for e in reversed(engine.store.audit(alert.fingerprint)):
        if e.kind == "outcome":
            return str(e.detail.get("comment", "")).startswith(BY_REVIEW)
    return False


def _all_fine(collector: Collector, model: str, version: str, alert: Any, base: int) -> int | None:
    """How many of the alert's windows' candidates are judged, if at least
    ``min(MIN_REVIEWED, candidates)`` are and every one is ``fine``; else None."""
    first = alert.active_since if alert.active_since is not None else alert.fired_at - base
    last = float(alert.resolved_at) if alert.resolved_at else collector.clock.time() + base
    items = queue(collector.store, model, base, float(first), last, version=version, limit=10_000)
    judged = [i["verdict"]["verdict"] for i in items if i.get("verdict")]
    if not judged or len(judged) < min(MIN_REVIEWED, len(items)):
        return None
    return len(judged) if all(v == "fine" for v in judged) else None


def _covers(alert: Any, ts: float, base: int) -> bool:
    """Whether the event at ``ts`` lies in the windows the alert was firing for."""
    first = alert.active_since if alert.active_since is not None else alert.fired_at - base
    last = float(alert.resolved_at) if alert.resolved_at else float("inf")
    return float(first) <= ts < last
