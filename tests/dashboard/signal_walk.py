"""Every signal reaches a person (issue 16): checks run on the live demo of test_demo.py.

While the demo still serves (its ``before_stop``), :func:`walk` records:

- the bar: every metric name the collector wrote to its store, and its job
  runs, with the ``/metrics`` scrape, the dashboard pages and, for each alert
  metric of ``driftline.signals.SIGNALS``, whether a rule on it fires on the
  points the collector's own feed gives the engine (a fresh engine whose rule
  threshold is the largest value seen);
- links: Chromium visits every dashboard page, follows every link on it, and
  every link in every notification the webhook received.

test_demo.py asserts on what was recorded: a signal added without a
``/metrics`` family, a dashboard element or an alert metric fails there.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from driftline.demo.live import LiveDemo
from driftline.demo.service import TUMOR, WINE
from driftline.signals import SIGNALS, Signal


@dataclass
class Walked:
    metrics: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # name -> (model, v)
    latest: set[str] = field(default_factory=set)  # metrics of versions' latest base window
    jobs: set[str] = field(default_factory=set)
    scrape: str = ""
    pages: dict[str, str] = field(default_factory=dict)
    fired: dict[str, list[str]] = field(default_factory=dict)  # alert metric -> rules fired
    offered: dict[str, int] = field(default_factory=dict)  # alert metric -> points
    links: dict[str, int] = field(default_factory=dict)  # url -> status
    broken: list[str] = field(default_factory=list)
    notification_links: int = 0
    alert_pages: set[str] = field(default_factory=set)


def _stored_metrics(demo: LiveDemo) -> dict[str, set[tuple[str, str]]]:
    from sqlalchemy import select

    from driftline.store.tables import metric_points as t

    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with demo.store.engine.connect() as conn:  # type: ignore[attr-defined]
        q = select(t.c.metric, t.c.model, t.c.version).distinct()
        for metric, model, version in conn.execute(q):
            out[str(metric)].add((str(model), str(version)))
    return dict(out)


def _alerts_fire(demo: LiveDemo, names: set[str]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Feed every stored point through the collector's feed into a fresh engine whose rules
    (one per alert metric, its threshold the largest value seen) must each fire."""
    from driftline.alerts import AlertEngine, MemoryAlertStore, parse_alerts_config
    from driftline.server.alerting import PointFeed

    cursors = MemoryAlertStore()
    for name in ("points:60", "jobs"):
        cursors.set_cursor(name, 0.0)
    feed = PointFeed(
        demo.store, cursors, 60, demo.clock.time(), job_late_after=300.0,
        now_fn=demo.clock.time,
    )  # fmt: skip
    points = feed.read()
    by_metric: dict[str, list[Any]] = defaultdict(list)
    for p in points:
        if not math.isnan(p.value):
            by_metric[p.metric].append(p)
    offered = {m: len(v) for m, v in by_metric.items()}
    rules = []
    for i, metric in enumerate(sorted(names)):
        matching = [
            m
            for m in by_metric
            if m == metric or (metric.endswith((".", "_")) and m.startswith(metric))
        ]
        if not matching:
            continue
        top = max(p.value for m in matching for p in by_metric[m])
        rules += [
            {"name": f"r{i}_{j}", "metric": m, "op": ">=", "threshold": top, "for": 1,
             "min_samples": 0, "uncertainty": "ignore"}
            for j, m in enumerate(matching)
        ]  # fmt: skip
    cfg = parse_alerts_config({"rules": rules, "receivers": [{"name": "log", "log": {}}],
                               "route": {"receiver": "log"}})  # fmt: skip
    engine = AlertEngine(cfg, store=MemoryAlertStore(), clock=demo.clock)
    engine.ingest(sorted(points, key=lambda p: p.window_start))
    fired: dict[str, list[str]] = defaultdict(list)
    for a in engine.alerts():
        if a.state.value in ("firing", "pending", "resolved"):
            metric = str(a.context.get("metric") or "")
            fired[metric].append(a.rule)
    return offered, dict(fired)


def _walk_links(demo: LiveDemo, page: Any, seen: Walked) -> None:
    """Every link on every dashboard page (as Chromium renders it, signed in) and in every
    notification the webhook received, requested over HTTP; 4xx/5xx or a link to the
    broken ``/ui/models/?version=`` page is a broken link."""
    start = [
        "/ui/?range=1h", f"/ui/models/{TUMOR}?range=1h&version=v1",
        f"/ui/models/{TUMOR}?range=1h&version=v2", f"/ui/models/{WINE}?range=1h&version=v3",
        f"/ui/models/{TUMOR}?range=1h&version=v1&segment=site%3Dnorth",
        "/ui/alerts?range=1h", "/ui/jobs?range=1h",
        f"/ui/models/{TUMOR}/compare?range=1h&a=v1&b=v2",
    ]  # fmt: skip
    here = urlsplit(demo.url).netloc
    targets: dict[str, str] = {}  # url -> where it was found
    for path in start:
        url = demo.url + path
        targets.setdefault(url, "start")
        page.goto(url)
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            full = str(href).split("#")[0]
            if urlsplit(full).netloc == here and urlsplit(full).scheme.startswith("http"):
                targets.setdefault(full, path)
        for alert_href in hrefs:
            if "/ui/alerts/" in str(alert_href) and len(seen.alert_pages) < 5:
                seen.alert_pages.add(str(alert_href).split("#")[0])
    for url in sorted(seen.alert_pages):  # an alert's own page links on (explain, model)
        page.goto(url)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            full = str(href).split("#")[0]
            if urlsplit(full).netloc == here:
                targets.setdefault(full, url)
    for message in demo.receiver.messages():
        for url in _urls(message.get("body")):
            seen.notification_links += 1
            targets.setdefault(url, "notification")
    auth = {"Authorization": f"Bearer {demo.admin_key}"}
    with httpx.Client(headers=auth, timeout=60, follow_redirects=True) as client:
        for url, where in sorted(targets.items()):
            if urlsplit(url).netloc != here or "/logout" in url or "/login" in url:
                continue
            r = client.get(url)
            seen.links[url] = r.status_code
            if r.status_code >= 400 or "/ui/models/?" in str(r.url):
                seen.broken.append(f"{url} (on {where}) -> {r.status_code} {r.url}")


def _urls(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("http") else []
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return []


def walk(demo: LiveDemo, page: Any, seen: Walked) -> None:
    """Record what the checks need, while ``demo`` still serves (``page``: signed in)."""
    seen.metrics = _stored_metrics(demo)
    seen.latest = {
        str(p["metric"])
        for p in demo.store.latest_points(60)
        if p["segment"] == "*" and p["value"] is not None
    }
    seen.jobs = {r["job"] for r in demo.store.job_runs(None, 1000)}
    auth = {"Authorization": f"Bearer {demo.admin_key}"}
    with httpx.Client(base_url=demo.url, headers=auth, timeout=60) as client:
        seen.scrape = client.get("/metrics").text
        for model, version in {mv for mvs in seen.metrics.values() for mv in mvs}:
            if model:
                seen.pages[f"model {model} {version}"] = client.get(
                    f"/ui/models/{model}", params={"version": version, "range": "1h"}
                ).text
        seen.pages["jobs"] = client.get("/ui/jobs", params={"range": "1h"}).text
        seen.pages["compare"] = client.get(
            f"/ui/models/{TUMOR}/compare", params={"a": "v1", "b": "v2", "range": "1h"}
        ).text
    names = {a for s in SIGNALS for a in s.alert}
    seen.offered, seen.fired = _alerts_fire(demo, names)
    _walk_links(demo, page, seen)


def page_of(seen: Walked, signal: Signal, pairs: set[tuple[str, str]]) -> list[str]:
    """The pages where ``signal`` should have its element."""
    if signal.page == "jobs":
        return [seen.pages["jobs"]]
    if signal.page == "compare":
        return [seen.pages["compare"]]
    return [seen.pages[f"model {m} {v}"] for m, v in sorted(pairs)]
