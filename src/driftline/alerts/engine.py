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
Notification groups live in :mod:`~driftline.alerts.grouping` (saved in the
store, so a restart resends nothing); silences, acknowledgements and outcomes
in :mod:`~driftline.alerts.people`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftline._utils.clock import Clock, SystemClock
from driftline._utils.durations import format_duration, parse_duration
from driftline.alerts.config import AlertsConfig
from driftline.alerts.context import build_context, render_annotations
from driftline.alerts.grouping import Group, Groups
from driftline.alerts.matchers import match_all, parse_matchers
from driftline.alerts.people import HumanInput
from driftline.alerts.points import MetricPoint
from driftline.alerts.records import (
    Alert,
    AlertState,
    AuditEvent,
    Notification,
    NotifiedAlert,
    Silence,
    Sink,
    fingerprint,
)
from driftline.alerts.routing import Route
from driftline.alerts.rules import Rule
from driftline.alerts.store import AlertStore, MemoryAlertStore
from driftline.errors import ConfigError, InputError

log = logging.getLogger("driftline.alerts")

ENGINE = "engine"
#: Resolved alerts stay this long for acks and outcome labels; the audit log keeps them forever.
KEEP_RESOLVED = 7 * 86400.0


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


class AlertEngine(HumanInput):
    """Evaluates rules on metric points and notifies receivers; see the module docstring."""

    def __init__(
        self,
        config: AlertsConfig | None = None,
        *,
        store: AlertStore | None = None,
        clock: Clock | None = None,
        sink: Sink | None = None,
        rules: Sequence[Rule] | None = None,
        context_hook: Callable[[MetricPoint], Mapping[str, Any]] | None = None,
    ) -> None:
        from driftline.alerts.slo import SLOTracker

        #: More context for an alert on a point (the collector adds recent changes); a hook
        #: that fails is logged and skipped: alerting goes on without it.
        self.context_hook = context_hook
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
        # windows already evaluated per alert: a restart must not replay them
        self._last_window: dict[str, float] = {
            fp: a.last_window_end for fp, a in self._alerts.items() if a.last_window_end is not None
        }
        self._windows: dict[tuple[str, str, str, float], dict[tuple[str, str], MetricPoint]] = {}
        self.groups = Groups(self.route, self.store)
        self._silences: list[Silence] | None = None
        now = self.clock.time()
        for alert in self._alerts.values():
            if alert.state is AlertState.FIRING and not self.groups.holding(alert.fingerprint):
                self.groups.join(alert, now)  # a group lost (or re-routed): notify once more
        self.groups.save(now)

    #: False on a collector replica that does not hold the alerting lease: its alerts are
    #: re-read from the store before a person acts on them (server/collector.py).
    leading = True

    def reload(self) -> None:
        """Re-read alerts, groups and silences from the store (another replica changed them)."""
        with self._lock:
            self._alerts = {a.fingerprint: a for a in self.store.load_alerts()}
            self._last_window = {
                fp: a.last_window_end
                for fp, a in self._alerts.items()
                if a.last_window_end is not None
            }
            self.groups = Groups(self.route, self.store)
            self._silences = None

    def sync_people(self) -> None:
        """Take the acks, outcome labels and silences people stored through another replica."""
        with self._lock:
            for stored in self.store.load_alerts():
                alert = self._alerts.get(stored.fingerprint)
                if alert is not None and alert.fired_at == stored.fired_at:
                    alert.acked_by, alert.acked_at = stored.acked_by, stored.acked_at
                    alert.outcome = stored.outcome
            self._silences = None

    def before_people(self) -> None:
        """Called before a person's action: a replica that does not lead reads the store."""
        if not self.leading:
            self.reload()

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
            self.groups.save(self.clock.time())
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
        if rule.insufficient(p):  # too few rows to decide: the state is held as it is
            if fp in self._alerts:
                alert.last_window_end = p.window_end
                alert.last_seen = self.clock.time()
                self._persist(alert)
            return []
        value, scale = self._compared_value(rule, fp, p.value)
        alert.last_window_end = p.window_end
        alert.last_seen = self.clock.time()
        if math.isnan(value):  # no data (or a baseline still warming up): no decision
            if alert.state is AlertState.PENDING:
                alert.breaches = 0
                moved = [self._move(alert, AlertState.INACTIVE, p)]
                self._persist(alert)
                return moved
            return []
        verdict = rule.judge(value, None if p.stderr is None else p.stderr / scale)
        breach = verdict == "breach"
        if rule.baseline_windows and verdict == "clear":
            self._baselines.setdefault(fp, deque(maxlen=rule.baseline_windows)).append(p.value)
        if not breach and alert.state in (AlertState.INACTIVE, AlertState.RESOLVED):
            return []
        if verdict == "unsure":  # beyond the threshold, within the uncertainty: hold the state
            self._persist(alert)
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

    def _compared_value(self, rule: Rule, fp: str, value: float) -> tuple[float, float]:
        """The value the threshold applies to, and the factor its standard error is divided by."""
        if not rule.baseline_windows:
            return value, 1.0
        history = self._baselines.get(fp)
        if history is None or len(history) < rule.baseline_windows or math.isnan(value):
            if not math.isnan(value):
                self._baselines.setdefault(fp, deque(maxlen=rule.baseline_windows)).append(value)
            return math.nan, 1.0  # warming up: no decision yet
        base = math.fsum(history) / len(history)
        return ((value - base) / abs(base), abs(base)) if base else (math.nan, 1.0)

    def _refresh(self, alert: Alert, rule: Rule, p: MetricPoint) -> None:
        window = self._windows.get((p.model, p.version, p.segment, p.window_seconds), {})
        extra: dict[str, Any] = {}
        if rule.source.startswith("slo:"):
            status = self.slo.status_of(rule.source[4:], p)
            if status is not None:
                extra["slo"] = status
        if self.context_hook is not None:
            try:
                extra.update(self.context_hook(p))
            except Exception:  # never let context break alerting
                log.exception("alert context hook failed for rule %s", rule.name)
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
        if to is AlertState.RESOLVED:
            alert.last_resolved_at = alert.resolved_at
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
            self.groups.join(alert, now)
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
        recent = (alert.last_resolved_at or -math.inf) >= self.clock.time() - KEEP_RESOLVED
        if alert.state is AlertState.INACTIVE and not recent:
            if self._alerts.pop(alert.fingerprint, None) is not None:
                self.store.delete_alert(alert.fingerprint)
            return
        self._alerts[alert.fingerprint] = alert
        self.store.save_alert(alert)

    def _fired(self, alert: Alert) -> None:
        if self.sink is None or self.muted_by(alert) is not None:
            return
        self.sink.submit_action(NotifiedAlert.of(alert, self._generator_url(alert)))

    # -- notification -----------------------------------------------------------------
    def tick(self) -> list[Notification]:
        """Resolve stale alerts, flush due groups, retry the outbox; return what was sent."""
        with self._lock:
            now = self.clock.time()
            self._resolve_stale(now)
            self._silences = self.store.silences()
            sent = [n for g in self.groups if (n := self._flush(g, now))]
            self._silences = None
            self._prune(now)
            self.groups.save(now)
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

    def _prune(self, now: float) -> None:
        """Forget resolved alerts after :data:`KEEP_RESOLVED` (their audit trail stays)."""
        grouped = {fp for g in self.groups for fp in g.fingerprints}
        for alert in list(self._alerts.values()):
            if alert.fingerprint in grouped:
                continue
            if (
                alert.state is AlertState.RESOLVED
                and (alert.resolved_at or now) < now - KEEP_RESOLVED
            ) or (  # quiet since an episode resolved (kept so the dashboard lists it)
                alert.state is AlertState.INACTIVE
                and (alert.last_resolved_at or now) < now - KEEP_RESOLVED
            ):
                del self._alerts[alert.fingerprint]
                self.store.delete_alert(alert.fingerprint)

    def _flush(self, group: Group, now: float) -> Notification | None:
        return self.groups.flush(
            group,
            now,
            self._alerts,
            muted=lambda a: self.muted_by(a) is not None,
            send_resolved=self.send_resolved.get(group.route.receiver, True),
            url_of=self._generator_url,
            external_url=self.config.external_url,
        )

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
