"""The alert engine: rules over metric points -> alert states -> grouped notifications.

Two calls drive it, both on the injected clock:

- :meth:`AlertEngine.ingest` evaluates the rules on new metric points, in
  window order, and moves each alert through inactive -> pending -> firing ->
  resolved (``for`` consecutive windows to fire, ``keep_firing_for`` clear
  windows to resolve);
- :meth:`AlertEngine.tick` resolves alerts whose series stopped reporting
  (``resolve_timeout``), flushes notification groups that are due
  (``group_wait`` / ``group_interval`` / ``repeat_interval``) to the
  dispatcher, and retries undelivered notifications from the outbox.

Silences and inhibition mute notifications, not state. Every state change,
silence, acknowledgement and outcome is recorded in the store's audit log.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from driftline.alerts._time import format_duration, parse_duration
from driftline.alerts.config import AlertsConfig
from driftline.alerts.context import build_context, render_annotations
from driftline.alerts.matchers import Matcher, match_all, parse_matchers
from driftline.alerts.model import (
    Alert,
    AlertState,
    AuditEvent,
    Notification,
    NotifiedAlert,
    Outcome,
    Silence,
    fingerprint,
)
from driftline.alerts.points import MetricPoint
from driftline.alerts.routing import Route
from driftline.alerts.rules import Rule
from driftline.alerts.store import AlertStore, MemoryAlertStore
from driftline.errors import ConfigError, InputError
from driftline.sdk.clock import Clock, SystemClock

ENGINE = "engine"
#: Resolved alerts stay this long for acks and outcome labels; the audit log keeps them forever.
KEEP_RESOLVED = 7 * 86400.0


class Sink(Protocol):
    """Where the engine hands notifications and action calls (the dispatcher, or a recorder)."""

    def submit(self, notification: Notification) -> None: ...
    def submit_action(self, alert: NotifiedAlert) -> None: ...
    def retry_due(self) -> None: ...


@dataclass(frozen=True)
class Transition:
    """One state change, as returned by :meth:`AlertEngine.ingest` and :meth:`~AlertEngine.tick`."""

    at: float
    fingerprint: str
    rule: str
    from_state: AlertState
    to_state: AlertState
    labels: Mapping[str, str]
    value: float
    window_end: float | None


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


@dataclass
class _Group:
    key: str
    route: Route
    labels: dict[str, str]
    created_at: float
    next_flush: float
    fingerprints: set[str] = field(default_factory=set)
    sent: dict[str, str] = field(default_factory=dict)  # fingerprint -> status last sent
    last_sent_at: float | None = None


class AlertEngine:
    """Evaluates rules on metric points and notifies receivers; see the module docstring."""

    def __init__(
        self,
        config: AlertsConfig | None = None,
        *,
        store: AlertStore | None = None,
        clock: Clock | None = None,
        sink: Sink | None = None,
        rules: Sequence[Rule] | None = None,
    ) -> None:
        from driftline.alerts.slo import SLOTracker

        self.config = config if config is not None else AlertsConfig()
        self.store: AlertStore = store if store is not None else MemoryAlertStore()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.sink = sink
        self.rules: tuple[Rule, ...] = tuple(
            rules if rules is not None else self.config.compiled_rules()
        )
        self.route = Route.build(self.config.route)
        self.send_resolved = {r.name: r.send_resolved for r in self.config.receivers}
        self.inhibit_rules = [
            (parse_matchers(r.source_matchers), parse_matchers(r.target_matchers), tuple(r.equal))
            for r in self.config.inhibit_rules
        ]
        self.resolve_timeout = parse_duration(self.config.resolve_timeout)
        self.slo = SLOTracker(self.config.slos)
        self._lock = threading.RLock()
        self._alerts: dict[str, Alert] = {a.fingerprint: a for a in self.store.load_alerts()}
        self._baselines: dict[str, deque[float]] = {}
        self._last_window: dict[str, float] = {}
        self._windows: dict[tuple[str, str, str, float], dict[tuple[str, str], MetricPoint]] = {}
        self._groups: dict[str, _Group] = {}
        self._silences: list[Silence] | None = None
        for alert in self._alerts.values():
            if alert.state is AlertState.FIRING:
                self._join_groups(alert, self.clock.time())

    # -- evaluation -----------------------------------------------------------------
    def ingest(self, points: Iterable[MetricPoint]) -> list[Transition]:
        """Evaluate every rule on ``points`` (in window order); return the state changes."""
        ordered = sorted(points, key=lambda p: (p.window_end, p.window_start))
        out: list[Transition] = []
        with self._lock:
            for point in ordered:
                self._remember(point)
            for point in ordered:
                derived = self.slo.observe(point)
                for p in (point, *derived):
                    for rule in self.rules:
                        if rule.selects(p):
                            out += self._evaluate(rule, p)
        return out

    def _remember(self, p: MetricPoint) -> None:
        key = (p.model, p.version, p.segment, p.window_seconds)
        window = self._windows.get(key)
        latest = next(iter(window.values())).window_end if window else -math.inf
        if p.window_end > latest:
            self._windows[key] = window = {}
        if window is not None and p.window_end >= latest:
            window[(p.metric, p.column)] = p

    def _labels(self, rule: Rule, p: MetricPoint) -> dict[str, str]:
        labels = {"alertname": rule.alertname, **rule.labels, **p.series_labels()}
        labels.setdefault("owner", self.config.owners.get(p.model, labels.get("team", "")))
        labels["window"] = format_duration(p.window_seconds)
        return labels

    def _evaluate(self, rule: Rule, p: MetricPoint) -> list[Transition]:
        labels = self._labels(rule, p)
        fp = fingerprint(labels)
        last = self._last_window.get(fp)
        if last is not None and p.window_end <= last:
            return []  # a window already evaluated: the state machine only moves forward
        self._last_window[fp] = p.window_end
        alert = self._alerts.get(fp)
        if alert is None:
            alert = Alert(fingerprint=fp, rule=rule.name, labels=labels, annotations={})
        gap = alert.last_window_end is not None and p.window_start > alert.last_window_end + 1e-6
        value = self._compared_value(rule, fp, p.value)
        alert.last_window_end = p.window_end
        alert.last_seen = self.clock.time()
        if math.isnan(value):  # no data (or a baseline still warming up): no decision
            if alert.state is AlertState.PENDING:
                alert.breaches = 0
                moved = [self._move(alert, AlertState.INACTIVE, p)]
                self._persist(alert)
                return moved
            return []
        breach = rule.breached(value)
        if rule.baseline_windows and not breach:
            self._baselines.setdefault(fp, deque(maxlen=rule.baseline_windows)).append(p.value)
        if not breach and alert.state in (AlertState.INACTIVE, AlertState.RESOLVED):
            return []
        alert.value, alert.threshold = value, rule.threshold
        out: list[Transition] = []
        if breach:
            if gap and alert.state is AlertState.PENDING:
                alert.breaches = 0
            alert.breaches += 1
            alert.clears, alert.clear_since = 0, None
            if alert.state in (AlertState.INACTIVE, AlertState.RESOLVED):
                alert.active_since, alert.fired_at, alert.resolved_at = p.window_start, None, None
                alert.acked_by = alert.acked_at = alert.outcome = None
                alert.breaches = 1
                out.append(self._move(alert, AlertState.PENDING, p))
            self._refresh(alert, rule, p)
            held = (rule.for_windows is not None and alert.breaches >= rule.for_windows) or (
                rule.for_seconds is not None
                and p.window_end - (alert.active_since or p.window_start) >= rule.for_seconds
            )
            if held and alert.state is AlertState.PENDING:
                alert.fired_at = p.window_end
                out.append(self._move(alert, AlertState.FIRING, p))
                self._fired(alert)
        elif alert.state is AlertState.PENDING:
            alert.breaches = 0
            out.append(self._move(alert, AlertState.INACTIVE, p))
        elif alert.state is AlertState.FIRING:
            alert.clears += 1
            if alert.clear_since is None:
                alert.clear_since = p.window_start
            over = (rule.keep_windows is not None and alert.clears > rule.keep_windows) or (
                rule.keep_seconds is not None
                and p.window_start - alert.clear_since >= rule.keep_seconds
            )
            if over:
                alert.resolved_at = p.window_end
                alert.breaches = 0
                out.append(self._move(alert, AlertState.RESOLVED, p))
        self._persist(alert)
        return out

    def _compared_value(self, rule: Rule, fp: str, value: float) -> float:
        if not rule.baseline_windows:
            return value
        history = self._baselines.get(fp)
        if history is None or len(history) < rule.baseline_windows or math.isnan(value):
            if not math.isnan(value):
                self._baselines.setdefault(fp, deque(maxlen=rule.baseline_windows)).append(value)
            return math.nan  # warming up: no decision yet
        base = math.fsum(history) / len(history)
        return (value - base) / abs(base) if base else math.nan

    def _refresh(self, alert: Alert, rule: Rule, p: MetricPoint) -> None:
        window = self._windows.get((p.model, p.version, p.segment, p.window_seconds), {})
        extra: dict[str, Any] = {}
        if rule.source.startswith("slo:"):
            status = self.slo.status_of(rule.source[4:], p)
            if status is not None:
                extra["slo"] = status
        ctx = build_context(
            rule,
            p,
            alert.labels,
            value=alert.value,
            since=alert.active_since or p.window_start,
            window_points=window.values(),
            dashboard_url=self.config.dashboard_url,
            extra=extra,
        )
        alert.context = ctx
        alert.annotations = render_annotations(rule, alert.labels, ctx)

    def _move(
        self, alert: Alert, to: AlertState, p: MetricPoint | None, actor: str = ENGINE
    ) -> Transition:
        before = alert.state
        alert.state = to
        now = self.clock.time()
        detail: dict[str, Any] = {"value": None if math.isnan(alert.value) else alert.value}
        if p is not None:
            detail["window_end"] = p.window_end
        if to is AlertState.FIRING:
            detail["episode"] = alert.fired_at
        self.store.record(
            AuditEvent(
                at=now,
                kind="state",
                fingerprint=alert.fingerprint,
                rule=alert.rule,
                actor=actor,
                from_state=before.value,
                to_state=to.value,
                detail=detail,
            )
        )
        if to in (AlertState.FIRING, AlertState.RESOLVED):
            self._join_groups(alert, now)
        return Transition(
            at=now,
            fingerprint=alert.fingerprint,
            rule=alert.rule,
            from_state=before,
            to_state=to,
            labels=dict(alert.labels),
            value=alert.value,
            window_end=None if p is None else p.window_end,
        )

    def _persist(self, alert: Alert) -> None:
        if alert.state is AlertState.INACTIVE:
            if self._alerts.pop(alert.fingerprint, None) is not None:
                self.store.delete_alert(alert.fingerprint)
            return
        self._alerts[alert.fingerprint] = alert
        self.store.save_alert(alert)

    def _fired(self, alert: Alert) -> None:
        if self.sink is None or self.muted_by(alert) is not None:
            return
        self.sink.submit_action(NotifiedAlert.of(alert, self._generator_url(alert)))

    # -- grouping and notification --------------------------------------------------
    def _join_groups(self, alert: Alert, now: float) -> None:
        for route in self.route.match(alert.labels):
            key, group_labels = route.group_key(alert.labels)
            key = f"{route.receiver}/{key}"
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(
                    key=key,
                    route=route,
                    labels=group_labels,
                    created_at=now,
                    next_flush=now + route.group_wait,
                )
            group.fingerprints.add(alert.fingerprint)

    def tick(self) -> list[Notification]:
        """Resolve stale alerts, flush due groups, retry the outbox; return what was sent."""
        with self._lock:
            now = self.clock.time()
            self._resolve_stale(now)
            self._silences = self.store.silences()
            sent = [n for g in list(self._groups.values()) if (n := self._flush(g, now))]
            self._silences = None
            self._prune(now)
        if self.sink is not None:
            for notification in sent:
                self.sink.submit(notification)
            self.sink.retry_due()
        return sent

    def _resolve_stale(self, now: float) -> None:
        for alert in list(self._alerts.values()):
            if not alert.active or alert.last_seen is None:
                continue
            if now - alert.last_seen >= self.resolve_timeout:
                if alert.state is AlertState.FIRING:
                    alert.resolved_at = now
                    self._move(alert, AlertState.RESOLVED, None, actor="engine (no data)")
                else:
                    self._move(alert, AlertState.INACTIVE, None, actor="engine (no data)")
                alert.breaches = 0
                self._persist(alert)

    def _order(self, fp: str) -> tuple[tuple[str, str], ...]:
        alert = self._alerts.get(fp)
        return tuple(sorted(alert.labels.items())) if alert is not None else ()

    def _prune(self, now: float) -> None:
        """Forget resolved alerts after :data:`KEEP_RESOLVED` (their audit trail stays)."""
        grouped = {fp for g in self._groups.values() for fp in g.fingerprints}
        for alert in list(self._alerts.values()):
            if (
                alert.state is AlertState.RESOLVED
                and alert.fingerprint not in grouped
                and (alert.resolved_at or now) < now - KEEP_RESOLVED
            ):
                del self._alerts[alert.fingerprint]
                self.store.delete_alert(alert.fingerprint)

    def _flush(self, group: _Group, now: float) -> Notification | None:
        if now < group.next_flush:
            return None
        route = group.route
        send_resolved = self.send_resolved.get(route.receiver, True)
        current: dict[str, str] = {}
        for fp in sorted(group.fingerprints, key=self._order):
            alert = self._alerts.get(fp)
            if alert is None:
                continue
            if alert.state is AlertState.FIRING and self.muted_by(alert) is None:
                current[fp] = "firing"
            elif alert.state is AlertState.RESOLVED and group.sent.get(fp) == "firing":
                current[fp] = "resolved"
        group.next_flush = now + route.group_interval
        for fp in [fp for fp in group.sent if fp not in current]:
            del group.sent[fp]  # muted since it was sent: notify again when unmuted
        changed = any(group.sent.get(fp) != st for fp, st in current.items())
        unacked = any(
            st == "firing" and self._alerts[fp].acked_by is None for fp, st in current.items()
        )
        repeat = (
            group.last_sent_at is not None
            and now - group.last_sent_at >= route.repeat_interval
            and unacked
        )
        firing_now = any(st == "firing" for st in current.values())
        if group.last_sent_at is None and not firing_now:
            changed = False
        if not (changed or repeat) or not current:
            self._forget(group, current)
            return None
        alerts = [
            NotifiedAlert.of(self._alerts[fp], self._generator_url(self._alerts[fp]))
            for fp, st in current.items()
            if st == "firing" or send_resolved
        ]
        group.sent = {fp: st for fp, st in current.items() if st == "firing"}
        group.last_sent_at = now
        self._forget(group, current)
        if not alerts:
            return None
        return Notification(
            receiver=route.receiver,
            group_key=group.key,
            group_labels=dict(group.labels),
            alerts=tuple(alerts),
            external_url=self.config.external_url,
            created_at=now,
        )

    def _forget(self, group: _Group, current: Mapping[str, str]) -> None:
        """Drop resolved or vanished alerts from a group, and the group once empty."""
        for fp in list(group.fingerprints):
            alert = self._alerts.get(fp)
            if alert is None or (alert.state is not AlertState.FIRING and fp not in group.sent):
                group.fingerprints.discard(fp)
                group.sent.pop(fp, None)
        for fp, st in current.items():
            if st == "resolved":
                group.fingerprints.discard(fp)
                group.sent.pop(fp, None)
        if not group.fingerprints:
            del self._groups[group.key]

    def _generator_url(self, alert: Alert) -> str:
        return f"{self.config.external_url.rstrip('/')}/alerts/{alert.fingerprint}"

    # -- muting -----------------------------------------------------------------------
    def muted_by(self, alert: Alert) -> str | None:
        """``silence:<id>`` or ``inhibited:<fingerprint>`` when the alert is muted, else None."""
        now = self.clock.time()
        silences = self._silences if self._silences is not None else self.store.silences()
        for silence in silences:
            if silence.mutes(alert.labels, now):
                return f"silence:{silence.id}"
        for source_m, target_m, equal in self.inhibit_rules:
            if not match_all(target_m, alert.labels):
                continue
            for other in self._alerts.values():
                if (
                    other.fingerprint != alert.fingerprint
                    and other.state is AlertState.FIRING
                    and match_all(source_m, other.labels)
                    and all(other.labels.get(k, "") == alert.labels.get(k, "") for k in equal)
                ):
                    return f"inhibited:{other.fingerprint}"
        return None

    def add_silence(
        self,
        matchers: Sequence[str] | Mapping[str, str],
        *,
        created_by: str,
        comment: str,
        duration: str | float | None = None,
        ends_at: float | None = None,
        starts_at: float | None = None,
    ) -> Silence:
        """Mute matching alerts until ``ends_at`` or for ``duration``; needs author and comment."""
        if not created_by.strip() or not comment.strip():
            raise InputError("a silence needs created_by and a comment (who and why)")
        try:
            parsed: tuple[Matcher, ...] = parse_matchers(matchers)
        except ValueError as exc:
            raise InputError(f"silence: {exc}") from None
        if not parsed:
            raise InputError("a silence needs at least one matcher (it would mute everything)")
        start = self.clock.time() if starts_at is None else starts_at
        if (duration is None) == (ends_at is None):
            raise InputError("a silence needs exactly one of duration or ends_at")
        end = ends_at if ends_at is not None else start + parse_duration(duration or 0)
        if end <= start:
            raise InputError(f"silence ends_at ({end}) must be after starts_at ({start})")
        silence = Silence(uuid.uuid4().hex, parsed, start, end, created_by, comment)
        with self._lock:
            self.store.save_silence(silence)
            self.store.record(
                AuditEvent(
                    at=self.clock.time(),
                    kind="silence",
                    fingerprint="",
                    rule="",
                    actor=created_by,
                    to_state="active",
                    detail=silence.to_dict(),
                )
            )
        return silence

    def expire_silence(self, silence_id: str, by: str) -> Silence:
        """End a silence now."""
        with self._lock:
            found = [s for s in self.store.silences() if s.id == silence_id]
            if not found:
                raise InputError(f"no silence with id {silence_id!r}")
            now = self.clock.time()
            old = found[0]
            silence = Silence(
                old.id, old.matchers, old.starts_at, min(old.ends_at, now), old.created_by,
                old.comment, expired_by=by,
            )  # fmt: skip
            self.store.save_silence(silence)
            self.store.record(
                AuditEvent(now, "silence", "", "", by, "active", "expired", silence.to_dict())
            )
        return silence

    # -- people -----------------------------------------------------------------------
    def acknowledge(self, fp: str, by: str, comment: str = "") -> Alert:
        """Someone is on it: no more repeat notifications for this alert until it resolves."""
        with self._lock:
            alert = self._get(fp)
            if alert.state is not AlertState.FIRING:
                raise InputError(f"alert {fp} is {alert.state.value}; only firing alerts are acked")
            alert.acked_by, alert.acked_at = by, self.clock.time()
            self._persist(alert)
            self.store.record(
                AuditEvent(
                    alert.acked_at, "ack", fp, alert.rule, by, alert.state.value,
                    alert.state.value, {"comment": comment},
                )
            )  # fmt: skip
            return alert

    def set_outcome(self, fp: str, outcome: Outcome | str, by: str, comment: str = "") -> Alert:
        """Label a fired alert true_positive, false_positive or not_actionable."""
        try:
            label = Outcome(outcome)
        except ValueError:
            allowed = ", ".join(o.value for o in Outcome)
            raise InputError(f"outcome {outcome!r} is not allowed; allowed: {allowed}") from None
        with self._lock:
            alert = self._get(fp)
            if alert.fired_at is None:
                raise InputError(f"alert {fp} never fired; only fired alerts get an outcome")
            alert.outcome = label.value
            self._persist(alert)
            self.store.record(
                AuditEvent(
                    self.clock.time(), "outcome", fp, alert.rule, by, alert.state.value,
                    alert.state.value,
                    {"outcome": label.value, "episode": alert.fired_at, "comment": comment},
                )
            )  # fmt: skip
            return alert

    def precision(self) -> dict[str, RulePrecision]:
        """Per rule: fired episodes and their outcome labels (the last label of each episode)."""
        fired: dict[str, set[tuple[str, Any]]] = {r.name: set() for r in self.rules}
        labels: dict[tuple[str, Any], tuple[str, str]] = {}
        for e in self.store.audit():
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

    # -- reading --------------------------------------------------------------------------
    def _get(self, fp: str) -> Alert:
        alert = self._alerts.get(fp)
        if alert is None:
            raise InputError(f"no alert with fingerprint {fp!r}")
        return alert

    def alerts(self, state: AlertState | str | None = None) -> list[Alert]:
        """Known alerts (pending, firing, resolved), optionally of one state."""
        with self._lock:
            want = AlertState(state) if state is not None else None
            return sorted(
                (a for a in self._alerts.values() if want is None or a.state is want),
                key=lambda a: (a.rule, a.fingerprint),
            )

    def alert(self, fp: str) -> Alert:
        with self._lock:
            return self._get(fp)

    def audit(self, fp: str | None = None) -> list[AuditEvent]:
        return self.store.audit(fp)

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise ConfigError(f"no rule named {name!r}; known: {', '.join(r.name for r in self.rules)}")
