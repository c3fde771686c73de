"""The routing tree: which receivers get an alert, and how its notifications are grouped.

Alertmanager's semantics (ECOSYSTEM.md): the root matches every alert;
children are tried depth-first in order; the first matching child wins unless
it has ``continue: true``; a node whose children all miss is itself the match.
Children inherit ``receiver``, ``group_by`` and the three intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from driftline._utils.durations import parse_duration
from driftline.alerts.matchers import Matcher, match_all, parse_matchers
from driftline.alerts.rules import RouteConfig

DEFAULT_GROUP_BY: tuple[str, ...] = ("model", "owner")
GROUP_WAIT = 30.0
GROUP_INTERVAL = 300.0
REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True)
class Route:
    """A node of the tree with its inherited settings resolved."""

    path: str  # "route", "route.routes.0", ...
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    routes: tuple[Route, ...]

    @classmethod
    def build(cls, cfg: RouteConfig, parent: Route | None = None, path: str = "route") -> Route:
        def pick(value: str | float | None, inherited: float, default: float) -> float:
            if value is not None:
                return parse_duration(value)
            return inherited if parent is not None else default

        receiver = cfg.receiver or (parent.receiver if parent is not None else "")
        node = cls(
            path=path,
            receiver=receiver,
            matchers=parse_matchers(cfg.matchers),
            continue_=cfg.continue_,
            group_by=tuple(cfg.group_by)
            if cfg.group_by is not None
            else (parent.group_by if parent is not None else DEFAULT_GROUP_BY),
            group_wait=pick(cfg.group_wait, parent.group_wait if parent else 0, GROUP_WAIT),
            group_interval=pick(
                cfg.group_interval, parent.group_interval if parent else 0, GROUP_INTERVAL
            ),
            repeat_interval=pick(
                cfg.repeat_interval, parent.repeat_interval if parent else 0, REPEAT_INTERVAL
            ),
            routes=(),
        )
        children = tuple(cls.build(c, node, f"{path}.routes.{i}") for i, c in enumerate(cfg.routes))
        object.__setattr__(node, "routes", children)
        return node

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that take an alert with ``labels`` (at least the root)."""
        return self._match(labels) or [self]

    def _match(self, labels: Mapping[str, str]) -> list[Route]:
        if not match_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child._match(labels)
            found += hits
            if hits and not child.continue_:
                break
        return found or [self]

    def group_key(self, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """The group an alert joins on this route: a key and the grouping labels."""
        if "..." in self.group_by:  # Alertmanager's "group by every label"
            group = dict(sorted(labels.items()))
        else:
            group = {k: labels.get(k, "") for k in self.group_by}
        body = ",".join(f'{k}="{v}"' for k, v in group.items())
        return f"{self.path}:{{{body}}}", group
